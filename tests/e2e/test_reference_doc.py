#!/usr/bin/python3
"""doc/reference.md says what the database and the listener say.

The reference is regenerated from the live catalog and the listener
binary into a temporary file and compared with the committed one, so a
COMMENT ON changed in sql/*.sql without "make reference" fails here.
Then, independently of the generator, the committed file is checked
against the catalog and the listener: every object the extension owns
is named in it with its comment text, and every listener setting and
command-line option appears in it.
"""
import difflib
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import TOP, Tap, listener_binary, psql  # noqa: E402

DOC = os.path.join(TOP, "doc", "reference.md")
GEN = os.path.join(TOP, "scripts", "gen-reference.py")
MEMBERS = """
SELECT CASE d.classid WHEN 'pg_proc'::regclass THEN 'routine'
                      WHEN 'pg_type'::regclass THEN 'type'
                      ELSE 'relation' END,
       coalesce(pc.relnamespace, pp.pronamespace, pt.typnamespace)
           ::regnamespace::text || '.'
           || coalesce(pc.relname, pp.proname, pt.typname),
       coalesce(obj_description(d.objid, d.classid::regclass::name), '')
FROM pg_depend d
LEFT JOIN pg_class pc ON d.classid = 'pg_class'::regclass AND pc.oid = d.objid
LEFT JOIN pg_proc pp ON d.classid = 'pg_proc'::regclass AND pp.oid = d.objid
LEFT JOIN pg_type pt ON d.classid = 'pg_type'::regclass AND pt.oid = d.objid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgtrade')
  AND d.classid IN ('pg_proc'::regclass, 'pg_type'::regclass,
                    'pg_class'::regclass)
  AND coalesce(pc.relkind, 'r') <> 'S'
ORDER BY 1, 2
"""


def flat(text):
    """Text with its white space runs made single spaces."""
    return " ".join(text.split())


t = Tap(7)
listener = listener_binary()

with tempfile.TemporaryDirectory() as tmp:
    fresh = os.path.join(tmp, "reference.md")
    with open(fresh, "w") as out:
        gen = subprocess.run(["/usr/bin/python3", GEN, "--listener", listener],
                             stdout=out, stderr=subprocess.PIPE, text=True)
    t.ok(gen.returncode == 0, "gen-reference.py runs against the sandbox",
         gen.stderr)
    with open(fresh) as f:
        generated = f.read()

committed = ""
if os.path.exists(DOC):
    with open(DOC) as f:
        committed = f.read()
diff = list(difflib.unified_diff(committed.splitlines(),
                                 generated.splitlines(),
                                 "doc/reference.md", "regenerated",
                                 lineterm="", n=1))
t.ok(gen.returncode == 0 and not diff,
     "doc/reference.md is what the catalog and the listener say now",
     "run \"make reference\"; first differences:\n"
     + "\n".join(diff[:40]))

# Independent of the generator: read the committed file as a user would.
members = psql(MEMBERS)
headings = set(re.findall(r"^### (\S+)$", committed, re.M))
signatures = set(re.findall(r"^    (?:CALL )?([\w.]+)\(", committed, re.M))
missing = [name for kind, name, _ in members
           if name not in (signatures if kind == "routine" else headings)]
t.ok(members and not missing,
     "every table, view, routine and type the extension owns is in it",
     "%d objects; missing: %s" % (len(members), missing[:20]))

doc_flat = flat(committed).replace("\\|", "|")
wrong = sorted({name for _, name, comment in members
                if not comment or flat(comment) not in doc_flat})
t.ok(members and not wrong,
     "each one's COMMENT ON text is in it word for word",
     "uncommented, or not as in the catalog: %s" % wrong[:20])

described = subprocess.run([listener, "--describe-config"],
                           capture_output=True, text=True)
settings = [line.split("\t") for line in described.stdout.splitlines()]
t.ok(described.returncode == 0 and len(settings) > 0
     and all(len(s) == 7 and s[6] for s in settings),
     "the listener describes each of its settings in one line",
     described.stderr + "\n".join("\t".join(s) for s in settings
                                  if len(s) != 7 or not s[6]))
absent = [s[0] for s in settings if "`%s`" % s[0] not in committed]
t.ok(settings and not absent,
     "every listener setting is in it", "missing: %s" % absent)

help_text = subprocess.run([listener, "--help"], capture_output=True,
                           text=True).stdout
options = sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", help_text)))
for s in settings:
    options += [f.strip() for f in s[5].split(",") if f.strip()]
absent = sorted({o for o in options if o not in committed})
t.ok(len(options) > len(settings) / 2 and not absent,
     "every listener command-line option is in it", "missing: %s" % absent)
t.done()
