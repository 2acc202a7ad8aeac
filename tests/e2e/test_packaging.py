#!/usr/bin/python3
"""make install DESTDIR=... stages every file and touches nothing else.

A package build runs "make install DESTDIR=stage" and packs the stage:
a file installed outside it would be missing from the package and would
change the build machine.  The expected list is made here from the
sources (the control file's version, the SQL parts, the C files), not
from what the install did; so are the install script's content and the
modes.  The system directories an install writes to are compared before
and after.  The same with PREFIX=/usr checks that the listener's unit
follows the binary.

META.json, the PGXN distribution metadata, must parse, carry the
control file's version and name files that exist.

The installed systemd unit must start the installed binary, name the
installed example config, keep its hardening, and pass
"systemd-analyze verify" without a word (it needs no running systemd).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import TOP, Tap  # noqa: E402

PG_CONFIG = "/usr/lib/postgresql/15/bin/pg_config"


def pg_config(flag):
    return subprocess.run([PG_CONFIG, flag], check=True, capture_output=True,
                          text=True).stdout.strip()


def control_version():
    with open(os.path.join(TOP, "extension", "pgtrade.control")) as f:
        m = re.search(r"^default_version\s*=\s*'([^']*)'", f.read(), re.M)
    return m.group(1)


SHAREDIR = pg_config("--sharedir")
PKGLIBDIR = pg_config("--pkglibdir")
WITH_LLVM = "--with-llvm" in pg_config("--configure")
VERSION = control_version()
C_FILES = sorted(f[:-2] for f in os.listdir(os.path.join(TOP, "extension",
                                                         "src"))
                 if f.endswith(".c"))


def expected(prefix):
    """Installed path (without DESTDIR) -> mode, for an install with
    listener PREFIX prefix."""
    ext = SHAREDIR + "/extension/"
    want = {
        ext + "pgtrade.control": 0o644,
        ext + "pgtrade--%s.sql" % VERSION: 0o644,
        **{ext + n: 0o644 for n in os.listdir(os.path.join(
            TOP, "extension", "releases")) if n.endswith(".sql")},
        PKGLIBDIR + "/pgtrade.so": 0o755,
        prefix + "/bin/pgtrade-listener": 0o755,
        prefix + "/lib/systemd/system/pgtrade-listener.service": 0o644,
        prefix + "/share/doc/pgtrade-listener/pgtrade-listener.conf.example":
            0o644,
    }
    if WITH_LLVM:
        want[PKGLIBDIR + "/bitcode/pgtrade.index.bc"] = 0o644
        for name in C_FILES:
            want[PKGLIBDIR + "/bitcode/pgtrade/src/%s.bc" % name] = 0o644
    return want


def staged(stage):
    """Files under the stage, as installed paths -> mode."""
    out = {}
    for root, _dirs, files in os.walk(stage):
        for name in files:
            path = os.path.join(root, name)
            out[path[len(stage):]] = os.stat(path).st_mode & 0o7777
    return out


# Where an install without DESTDIR writes; none of them may change.
WATCHED = [SHAREDIR + "/extension", PKGLIBDIR, "/usr/local", "/usr/bin",
           "/usr/lib/systemd/system", "/etc/systemd", "/etc/pgtrade",
           "/usr/share/doc"]


def snapshot():
    """Every path under the watched directories with size, mtime and
    mode."""
    seen = {}
    for top in WATCHED:
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                path = os.path.join(root, name)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                seen[path] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return seen


def make_install(stage, *extra):
    return subprocess.run(["make", "-s", "-C", TOP, "install",
                           "DESTDIR=" + stage] + list(extra),
                          capture_output=True, text=True)


def sql_parts():
    d = os.path.join(TOP, "sql")
    parts = sorted(f for f in os.listdir(d)
                   if re.match(r"[0-9].*\.sql$", f))
    data = b""
    for f in parts:
        with open(os.path.join(d, f), "rb") as fh:
            data += fh.read()
    return data


def unit_value(path, key):
    """The last value of a unit setting (systemd's rule for most keys)."""
    value = None
    with open(path) as f:
        for line in f:
            if line.startswith(key + "="):
                value = line[len(key) + 1:].strip()
    return value


# The unit's hardening, as reviewed: setting -> value
HARDENING = {
    "User": "pgtrade", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
    "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "Restart": "on-failure", "RestartPreventExitStatus": "2",
}


def check_unit(t, stage):
    """The systemd unit assertions (6), on the default install."""
    unit = stage + "/usr/local/lib/systemd/system/pgtrade-listener.service"
    binary = "/usr/local/bin/pgtrade-listener"
    argv = (unit_value(unit, "ExecStart") or "").split()
    t.ok(argv[:1] == [binary] and WANT.get(binary) == 0o755
         and os.access(stage + binary, os.X_OK),
         "the unit starts the binary make install puts in place", argv)
    doc = (unit_value(unit, "Documentation") or "").replace("file:", "", 1)
    t.ok(doc in WANT and os.path.isfile(stage + doc),
         "the example config the unit names is installed", doc)
    with open(os.path.join(TOP, "listener",
                           "pgtrade-listener.conf.example")) as f:
        example = f.read()
    conf = argv[argv.index("-c") + 1] if "-c" in argv[:-1] else None
    t.ok(conf is not None and ("Install as %s," % conf) in example,
         "the unit reads the config file the example says to create", conf)
    t.eq({k: unit_value(unit, k) for k in HARDENING}, HARDENING,
         "the unit keeps its hardening settings")
    with open(unit) as f:
        text = f.read()
    t.ok(not re.search(r"^\s*Environment=.*(PASSWORD|password=)", text,
                       re.M),
         "the unit holds no password")
    if not shutil.which("systemd-analyze"):
        t.ok(True, "systemd-analyze verify # SKIP systemd-analyze absent")
        return
    # verify checks that ExecStart exists: point it at the staged binary
    vdir = tempfile.mkdtemp(prefix="pgtrade-unit-")
    copy = os.path.join(vdir, "pgtrade-listener.service")
    with open(copy, "w") as f:
        f.write(text.replace("ExecStart=" + binary,
                             "ExecStart=" + stage + binary))
    r = subprocess.run(["systemd-analyze", "verify", copy],
                       capture_output=True, text=True)
    t.ok(r.returncode == 0 and not (r.stdout + r.stderr).strip(),
         "systemd-analyze verify finds nothing to report",
         r.stdout + r.stderr)
    shutil.rmtree(vdir)


def readme_license():
    """The first paragraph of the README's License section."""
    with open(os.path.join(TOP, "README.md")) as f:
        text = f.read()
    m = re.search(r"^## License\n\n(.+?)(\n\n|\Z)", text, re.M | re.S)
    return m.group(1).strip() if m else None


# PGXN's license keys for the licenses a README names
LICENSE_KEYS = {"PostgreSQL License.": "postgresql"}
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def check_meta(t):
    """The META.json assertions (8)."""
    try:
        with open(os.path.join(TOP, "META.json")) as f:
            meta = json.load(f)
        t.ok(isinstance(meta, dict), "META.json parses as JSON")
    except (OSError, ValueError) as e:
        t.ok(False, "META.json parses as JSON", e)
        meta = {}
    need = ["name", "abstract", "description", "version", "maintainer",
            "license", "provides", "meta-spec", "prereqs", "resources",
            "generated_by", "tags"]
    t.eq([k for k in need if k not in meta], [],
         "META.json has every field the distribution needs")
    t.eq(meta.get("meta-spec", {}).get("version"), "1.0.0",
         "META.json follows meta-spec 1.0.0")
    provided = meta.get("provides", {}).get("pgtrade", {})
    t.eq((meta.get("name"), meta.get("version"), provided.get("version")),
         ("pgtrade", VERSION, VERSION),
         "META.json's versions are the control file's default_version")
    t.eq(meta.get("license"), LICENSE_KEYS.get(readme_license()),
         "META.json's license is the README's License section")
    files = [provided.get("file"), provided.get("docfile")]
    t.ok(all(f and os.path.isfile(os.path.join(TOP, f)) for f in files),
         "the files META.json names exist", files)
    req = meta.get("prereqs", {}).get("runtime", {}).get("requires", {})
    t.ok(req.get("PostgreSQL") == "15.0.0" and "pg_cron" in req
         and all(SEMVER.match(v) for v in req.values()),
         "META.json requires PostgreSQL 15 and pg_cron at run time", req)
    tags = meta.get("tags")
    t.ok(isinstance(tags, list) and tags
         and all(isinstance(x, str) and x for x in tags),
         "META.json's tags are a list of strings", tags)


WANT = expected("/usr/local")
WANT_USR = expected("/usr")
t = Tap(23)
check_meta(t)

tmp = tempfile.mkdtemp(prefix="pgtrade-destdir-")
stage = os.path.join(tmp, "stage")
before = snapshot()
r = make_install(stage)
after = snapshot()
t.ok(r.returncode == 0, "make install DESTDIR=stage succeeds",
     r.stdout + r.stderr)
have = staged(stage)
t.eq(sorted(have), sorted(WANT),
     "the stage holds the extension, the listener, its unit and example")
t.eq({p: oct(m) for p, m in have.items()},
     {p: oct(m) for p, m in WANT.items() if p in have},
     "each staged file has its mode (programs 0755, data 0644)")
changed = sorted(p for p in set(before) | set(after)
                 if before.get(p) != after.get(p))
t.eq(changed, [], "nothing outside the stage was written or removed")
check_unit(t, stage)

script = stage + SHAREDIR + "/extension/pgtrade--%s.sql" % VERSION
with open(script, "rb") as f:
    t.ok(f.read() == sql_parts(),
         "the install script is sql/[0-9]*.sql concatenated in name order")

# A stale file in the stage's extension directory goes, as it would in
# the system directory; the system's own copy stays.
stale = stage + SHAREDIR + "/extension/pgtrade--0.0.1.sql"
with open(stale, "w") as f:
    f.write("-- stale\n")
before = snapshot()
r = make_install(stage)
t.ok(r.returncode == 0 and not os.path.exists(stale)
     and snapshot() == before,
     "a second install removes a stale script under DESTDIR only",
     r.stdout + r.stderr)

# PREFIX=/usr: the listener's files move, the unit names the new binary.
stage2 = os.path.join(tmp, "stage-usr")
before = snapshot()
r = make_install(stage2, "PREFIX=/usr")
have = staged(stage2)
t.ok(r.returncode == 0 and sorted(have) == sorted(WANT_USR)
     and snapshot() == before,
     "PREFIX=/usr stages the listener under /usr only",
     "\n".join(sorted(set(have) ^ set(WANT_USR))) + r.stderr)
unit = stage2 + "/usr/lib/systemd/system/pgtrade-listener.service"
exec_start = (unit_value(unit, "ExecStart") or "").split()
t.eq(exec_start[:1], ["/usr/bin/pgtrade-listener"],
     "with PREFIX=/usr the unit starts /usr/bin/pgtrade-listener")
with open(unit) as f:
    text = f.read()
t.ok("/usr/share/doc/pgtrade-listener/pgtrade-listener.conf.example" in text
     and "/usr/local" not in text,
     "with PREFIX=/usr the unit names the example config under /usr")

shutil.rmtree(tmp)
t.done()
