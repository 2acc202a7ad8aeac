#!/usr/bin/python3
"""docker/: the compose file and the Dockerfile hold together.

No Docker engine runs where the tests run, so the images are never
built here; this test reads docker/compose.yaml (python3-yaml) and
docker/Dockerfile and checks what a build and an "up" would trip on:
build contexts, Dockerfiles and targets that exist; files a Dockerfile
copies; repository scripts it runs, present in the stage that runs them
and executable; the install-deps.sh sets it asks for; environment
variables that the programs they reach really read (the listener's
settings table in listener/src/config.c, libpq's PG* variables, the
entrypoint scripts' own); volumes declared and shared at the paths the
other side expects; no port published beyond loopback.  Then it runs
docker/listener.sh, the listener image's entrypoint, outside a container
to check how it turns variables into the config file.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import TOP, Tap, listener_binary  # noqa: E402

DOCKER = os.path.join(TOP, "docker")
IMAGE_TOP = "/opt/pgtrade"  # where the images keep the repository
LISTENER_PREFIX = "PGTRADE_LISTENER_"
# libpq's environment variables (PostgreSQL 15 documentation, 34.15)
LIBPQ_ENV = {
    "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD",
    "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE", "PGOPTIONS", "PGAPPNAME",
    "PGSSLMODE", "PGREQUIRESSL", "PGSSLCOMPRESSION", "PGSSLCERT",
    "PGSSLKEY", "PGSSLROOTCERT", "PGSSLCRL", "PGSSLCRLDIR", "PGSSLSNI",
    "PGREQUIREPEER", "PGSSLMINPROTOCOLVERSION", "PGSSLMAXPROTOCOLVERSION",
    "PGGSSENCMODE", "PGKRBSRVNAME", "PGGSSLIB", "PGCONNECT_TIMEOUT",
    "PGCLIENTENCODING", "PGTARGETSESSIONATTRS", "PGDATESTYLE", "PGTZ",
    "PGGEQO", "PGSYSCONFDIR", "PGLOCALEDIR",
}
# An entrypoint and the repository scripts it hands its variables to
ENTRY_SCRIPTS = {
    "docker/db.sh": ["docker/db.sh", "scripts/sandbox.sh"],
    "docker/sim.sh": ["docker/sim.sh"],
    "docker/entrypoint.sh": ["docker/entrypoint.sh", "scripts/sandbox.sh",
                             "scripts/services.sh"],
}


def read(path):
    with open(path) as f:
        return f.read()


def listener_settings():
    """Keys of the listener's settings table."""
    src = read(os.path.join(TOP, "listener", "src", "config.c"))
    table = src[src.index("static const Setting settings[]"):]
    table = table[:table.index("};")]
    return set(re.findall(r'\{"(\w+)",\s*SET_', table))


def dockerfile_instructions(path):
    """(instruction, argument text) pairs, continuations joined."""
    out, cur = [], ""
    for line in read(path).splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def exec_form(text):
    """The words of a JSON exec form or a shell form."""
    text = text.strip()
    if text.startswith("["):
        return yaml.safe_load(text)
    return shlex.split(text)


class Stage:
    def __init__(self, name, parent):
        self.name = name
        self.parent = parent
        self.files = set(parent.files) if parent else set()  # repo paths
        self.workdir = parent.workdir if parent else "/"
        self.entrypoint = parent.entrypoint if parent else None
        self.runs = []       # words of RUN, HEALTHCHECK CMD lines


def parse_stages(path):
    """Stages of a Dockerfile by name, with what each holds and runs."""
    stages, cur, problems = {}, None, []
    for word, arg in dockerfile_instructions(path):
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", arg, re.I)
            cur = Stage(m.group(2) or m.group(1), stages.get(m.group(1)))
            stages[cur.name] = cur
        elif word in ("COPY", "ADD"):
            words = shlex.split(arg)
            opts = [w for w in words if w.startswith("--")]
            srcs, dest = [w for w in words if not w.startswith("--")][:-1], \
                words[-1]
            src_stage = [o.split("=", 1)[1] for o in opts
                         if o.startswith("--from=")]
            if src_stage:
                if src_stage[0] not in stages:
                    problems.append("%s: --from=%s names no earlier stage"
                                    % (cur.name, src_stage[0]))
                continue
            for src in srcs:
                if not os.path.exists(os.path.join(TOP, src)):
                    problems.append("%s: %s %s: no such file in the context"
                                    % (cur.name, word, src))
                    continue
                if not dest.startswith(IMAGE_TOP):
                    continue
                rel = os.path.relpath(dest, IMAGE_TOP)
                if src == ".":
                    cur.files.add("")  # the whole tree
                elif rel == ".":
                    cur.files.add(src.rstrip("/"))
                else:
                    cur.files.add(rel.rstrip("/"))
        elif word == "WORKDIR":
            cur.workdir = arg
        elif word == "ENTRYPOINT":
            cur.entrypoint = exec_form(arg)
        elif word == "RUN":
            cur.runs.append(shlex.split(arg))
        elif word == "HEALTHCHECK":
            m = re.search(r"\bCMD\s+(.*)$", arg)
            if m:
                cur.runs.append(exec_form(m.group(1)))
    return stages, problems


def repo_path(stage, word):
    """The repository file a word of a command names in the image, or
    None when it names none."""
    if word.startswith(IMAGE_TOP + "/"):
        rel = word[len(IMAGE_TOP) + 1:]
    elif (stage.workdir == IMAGE_TOP and not word.startswith("/")
          and re.match(r"(scripts|docker|tests)/", word)):
        rel = word
    else:
        return None
    return rel


def available(stage, rel):
    return "" in stage.files or any(rel == f or rel.startswith(f + "/")
                                    for f in stage.files)


def check_script(stage, rel, problems, what):
    if not available(stage, rel):
        problems.append("%s: %s %s is not copied into the stage"
                        % (stage.name, what, rel))
    full = os.path.join(TOP, rel)
    if not os.path.isfile(full):
        problems.append("%s: %s %s does not exist" % (stage.name, what, rel))
    elif not os.access(full, os.X_OK):
        problems.append("%s: %s %s is not executable"
                        % (stage.name, what, rel))


def deps_profiles():
    text = read(os.path.join(TOP, "scripts", "install-deps.sh"))
    return set(re.findall(r"^(\w+)\)", text, re.M))


compose_path = os.path.join(DOCKER, "compose.yaml")
t = Tap(18)

try:
    compose = yaml.safe_load(read(compose_path))
    services = compose["services"]
    t.ok(isinstance(services, dict) and services,
         "compose.yaml parses and defines services")
except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
    t.bail("compose.yaml does not parse: %s" % e)

# Build contexts, Dockerfiles and targets
problems, files = [], {}
for name, svc in services.items():
    build = svc.get("build")
    if build is None:
        problems.append("%s: no build section" % name)
        continue
    ctx = os.path.normpath(os.path.join(DOCKER, build.get("context", ".")))
    dockerfile = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
    if not os.path.isdir(ctx):
        problems.append("%s: context %s does not exist" % (name, ctx))
    elif not os.path.isfile(dockerfile):
        problems.append("%s: %s does not exist" % (name, dockerfile))
    else:
        files.setdefault(dockerfile, []).append((name, build.get("target")))
t.eq(problems, [], "every service's build context and Dockerfile exist")
t.ok(all(os.path.normpath(os.path.join(DOCKER, s["build"]["context"]))
         == TOP for s in services.values()),
     "every service builds from the repository root")

parsed = {}
copy_problems, target_problems = [], []
for path, users in files.items():
    stages, probs = parse_stages(path)
    parsed[path] = stages
    copy_problems += probs
    for svc, target in users:
        if target is not None and target not in stages:
            target_problems.append("%s: target %s is not a stage of %s"
                                   % (svc, target, path))
t.eq(target_problems, [], "every build target is a stage of its Dockerfile")
t.eq(copy_problems, [],
     "every file a Dockerfile copies exists, every --from stage too")

# Scripts run by RUN, HEALTHCHECK and ENTRYPOINT
run_problems, entry_problems, profile_problems = [], [], []
profiles = deps_profiles()
for path, stages in parsed.items():
    for stage in stages.values():
        for words in stage.runs:
            for i, w in enumerate(words):
                rel = repo_path(stage, w)
                if rel is None:
                    continue
                check_script(stage, rel, run_problems, "runs")
                if rel == "scripts/install-deps.sh":
                    arg = words[i + 1] if i + 1 < len(words) else "build"
                    if arg not in profiles:
                        profile_problems.append("%s: install-deps.sh %s"
                                                % (stage.name, arg))
        if stage.entrypoint:
            rel = repo_path(stage, stage.entrypoint[0])
            if rel is None:
                entry_problems.append("%s: entrypoint %s is not a "
                                      "repository script"
                                      % (stage.name, stage.entrypoint[0]))
            else:
                check_script(stage, rel, entry_problems, "entrypoint")
t.eq(run_problems, [],
     "every script a Dockerfile runs exists, is executable and copied")
t.eq(profile_problems, [],
     "every install-deps.sh set a Dockerfile asks for exists")
t.eq(entry_problems, [],
     "every stage's entrypoint is an executable script it holds")

# Commands and entrypoints set in compose
cmd_problems = []
for name, svc in services.items():
    for key in ("command", "entrypoint"):
        if key not in svc:
            continue
        words = svc[key] if isinstance(svc[key], list) \
            else shlex.split(svc[key])
        for w in words:
            rel = w[len(IMAGE_TOP) + 1:] if w.startswith(IMAGE_TOP + "/") \
                else w if re.match(r"(scripts|docker|tests)/", w) else None
            if rel and not os.access(os.path.join(TOP, rel), os.X_OK):
                cmd_problems.append("%s: %s %s" % (name, key, w))
t.eq(cmd_problems, [],
     "every script a compose command or entrypoint names is executable")


def stage_of(svc):
    b = svc["build"]
    path = os.path.join(os.path.normpath(os.path.join(DOCKER, b["context"])),
                        b.get("dockerfile", "Dockerfile"))
    stages = parsed.get(path, {})
    return stages.get(b.get("target")) or (list(stages.values()) or [None])[-1]


# Environment: every variable is read by what it is given to
settings = listener_settings()
env_problems = []
listener_services = []
for name, svc in services.items():
    stage = stage_of(svc)
    entry = stage.entrypoint[0] if stage and stage.entrypoint else ""
    rel = repo_path(stage, entry) if stage else None
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    if rel == "docker/listener.sh":
        listener_services.append(name)
        for var in env:
            key = var[len(LISTENER_PREFIX):].lower() \
                if var.startswith(LISTENER_PREFIX) else None
            if var not in LIBPQ_ENV and key not in settings:
                env_problems.append("%s: %s is no listener setting nor "
                                    "libpq variable" % (name, var))
        continue
    texts = [read(os.path.join(TOP, p)) for p in ENTRY_SCRIPTS.get(rel, [])]
    for var in env:
        if not any(re.search(r"\b%s\b" % re.escape(var), x) for x in texts):
            env_problems.append("%s: %s is read by none of %s"
                                % (name, var, ENTRY_SCRIPTS.get(rel, rel)))
t.ok(len(listener_services) >= 2 and len(settings) > 10,
     "a listener service for the simulator and one for a gateway",
     listener_services)
t.eq(env_problems, [],
     "every variable compose sets is a setting its program reads")

# Volumes and the paths the two sides share
vol_problems = []
declared = set((compose.get("volumes") or {}).keys())
mounts = {}
for name, svc in services.items():
    for v in svc.get("volumes") or []:
        parts = v.split(":")
        src, target = parts[0], parts[1] if len(parts) > 1 else None
        if target is None or not target.startswith("/"):
            vol_problems.append("%s: %s has no absolute target" % (name, v))
            continue
        if src.startswith(".") or src.startswith("/"):
            if not os.path.isdir(os.path.normpath(os.path.join(DOCKER, src))):
                vol_problems.append("%s: bind source %s does not exist"
                                    % (name, src))
        elif src not in declared:
            vol_problems.append("%s: volume %s is not declared" % (name, src))
        mounts.setdefault(name, {})[target] = src
t.eq(vol_problems, [],
     "volumes are declared, bind sources exist, targets are absolute")

db_env = services["db"]["environment"]
run_dir = db_env["PGTRADE_SANDBOX"] + "/run"
share_problems = []
for name in listener_services:
    env = services[name]["environment"]
    if env.get("PGHOST") != run_dir or \
            mounts.get(name, {}).get(run_dir) != mounts["db"].get(run_dir):
        share_problems.append("%s: PGHOST %s, socket volume %s"
                              % (name, env.get("PGHOST"),
                                 mounts.get(name, {}).get(run_dir)))
    if str(env.get("PGPORT")) != str(db_env["PGTRADE_PORT"]):
        share_problems.append("%s: PGPORT %s" % (name, env.get("PGPORT")))
t.eq(share_problems, [],
     "the listeners reach the database's socket directory and port")

sim = services["sim"]
sim_dir = sim["environment"]["PGTRADE_SIM_DIR"]
ls = services["listener-sim"]
cacert = ls["environment"]["PGTRADE_LISTENER_CACERT"]
t.ok(ls.get("network_mode") == "service:sim"
     and os.path.dirname(cacert) == sim_dir
     and mounts["listener-sim"].get(sim_dir) == mounts["sim"].get(sim_dir)
     and os.path.basename(cacert) in read(os.path.join(TOP, "tests", "sim",
                                                       "make-cert.sh"))
     and "https://127.0.0.1:" in ls["environment"]["PGTRADE_LISTENER_GATEWAY"],
     "the simulator's listener shares its network and reads its certificate")

port_problems = []
for name, svc in services.items():
    for p in svc.get("ports") or []:
        if not str(p).startswith("127.0.0.1:"):
            port_problems.append("%s: %s" % (name, p))
t.eq(port_problems, [], "no port is published beyond loopback")

# docker/listener.sh: variables become quoted config lines
tmp = tempfile.mkdtemp(prefix="pgtrade-docker-")
fake = os.path.join(tmp, "fake-listener")
with open(fake, "w") as f:
    f.write('#!/bin/sh\n[ "$1" = -c ] && cat "$2" && '
            'stat -c %a "$2" && shift 2 && echo "args: $*"\n')
os.chmod(fake, 0o755)
base_env = {k: v for k, v in os.environ.items()
            if not k.startswith(LISTENER_PREFIX)}
env = dict(base_env, PGTRADE_LISTENER=fake, TMPDIR=tmp,
           PGTRADE_LISTENER_NAME="it's #1",
           PGTRADE_LISTENER_CONFIRM_IDS="o354,o163")
r = subprocess.run([os.path.join(DOCKER, "listener.sh"), "--once"],
                   env=env, capture_output=True, text=True)
lines = [l for l in r.stdout.splitlines() if not l.startswith("#")]
t.eq(sorted(lines), sorted(["name = 'it''s #1'",
                            "confirm_ids = 'o354,o163'", "600",
                            "args: --once"]),
     "listener.sh writes each variable as a quoted line of a 0600 file")

env = dict(base_env, PGTRADE_LISTENER=fake, TMPDIR=tmp,
           PGTRADE_LISTENER_ACCOUNTS="", PGTRADE_LISTENER_CACERT="",
           PGTRADE_LISTENER_NAME="n1")
r = subprocess.run([os.path.join(DOCKER, "listener.sh")],
                   env=env, capture_output=True, text=True)
lines = [l for l in r.stdout.splitlines() if not l.startswith("#")]
t.eq(sorted(lines), sorted(["name = 'n1'", "600", "args: "]),
     "listener.sh leaves out empty variables: they never unset a setting "
     "of the mounted file")

env = dict(base_env, PGTRADE_LISTENER=listener_binary(), TMPDIR=tmp,
           PGTRADE_LISTENER_GATEWAY_URL="https://127.0.0.1:1/v1/api")
r = subprocess.run([os.path.join(DOCKER, "listener.sh")], env=env,
                   capture_output=True, text=True, timeout=30)
t.ok(r.returncode == 2 and "gateway_url" in r.stderr,
     "the listener refuses a variable that names no setting (status 2)",
     "status %d: %s" % (r.returncode, r.stderr))
subprocess.run(["rm", "-rf", tmp])
t.done()
