"""The lab's constants for the python scripts: tests/lab/lab.conf, as bash reads it.

    import labconf
    LAB = labconf.load()        # {"VIP": "10.77.0.100", "PGPORT": "5432", ...}

Values are strings, as in bash. The file's grammar (described at its top) is
checked here, line by line, so that a line bash would read differently (a
command substitution, an unquoted blank, a reference to an unknown key) fails
loudly in python instead of giving the two languages different values.
"""
import os
import re
import subprocess

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab.conf")

_ASSIGN = re.compile(r"([A-Z][A-Z0-9_]*)=(.*)")
# Text bash takes literally: unquoted, and inside double quotes.
_PLAIN = r"[A-Za-z0-9_./:,+=@%-]*"
_QUOTED = re.compile(r'[^"`\\$]*')
# ${NAME} or ${NAME:-default}, the default plain text.
_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(:-(" + _PLAIN + r"))?\}")
_PLAIN = re.compile(_PLAIN)


def load(path=PATH, environ=None):
    """KEY -> value of every line of the file, with the environment's overrides."""
    environ = os.environ if environ is None else environ
    conf = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{path}:{n}"
            m = _ASSIGN.fullmatch(line)
            if not m:
                raise ValueError(f"{where}: not KEY=value: {line!r}")
            key, value = m.groups()
            text = _PLAIN
            if value.startswith('"'):
                if len(value) < 2 or not value.endswith('"'):
                    raise ValueError(f"{where}: unbalanced quote: {line!r}")
                value, text = value[1:-1], _QUOTED
            # Once the references are taken out, what is left must be literal.
            if not text.fullmatch(_REF.sub("", value)):
                raise ValueError(f"{where}: a character bash would not take literally: {line!r}")

            def resolve(ref, key=key, where=where):
                name, override, default = ref.groups()
                if override:
                    if name != key:
                        raise ValueError(f"{where}: only {key} itself may be overridden, not {name}")
                    return environ.get(name) or default
                if name not in conf:
                    raise ValueError(f"{where}: ${{{name}}} is not defined above")
                return conf[name]

            conf[key] = _REF.sub(resolve, value)
    return conf


def stack(conf):
    """The nodes' software stack, as tests/lab/lab reads it: a running lab's own
    ($LAB_DIR/stack, written by `lab up`), else LAB_STACK."""
    try:
        with open(os.path.join(conf["LAB_DIR"], "stack")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return conf["LAB_STACK"]


def node_pgbin(conf):
    """The PostgreSQL bin directory inside the nodes (PGBIN is the host's)."""
    return conf["DEBIAN13_PGBIN"] if stack(conf) == "debian13" else conf["PGBIN"]


def target_dir(repo):
    """Cargo's target directory, as `lab up` reads it: CARGO_TARGET_DIR, else repo/target."""
    return os.path.abspath(os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo, "target"))


def load_client(conf, target, duration_s, out, rate=None):
    """argv of the write-load client (tests/lab/load.rs) through the VIP, at the lab's settings.

    The client has no defaults of its own: everything it needs is passed here.
    """
    return [os.path.join(target, "release", "examples", "lab-load"),
            "--host", conf["VIP"], "--port", conf["PGPORT"],
            "--user", conf["LOAD_USER"], "--password", conf["LOAD_PASSWORD"],
            "--dbname", conf["LOAD_DB"], "--table", conf["LOAD_TABLE"],
            "--rate", str(rate or conf["LOAD_RATE"]), "--timeout-ms", conf["LOAD_TIMEOUT_MS"],
            "--duration", str(duration_s), "--out", out]


def build_load_client(repo, target, quiet_stderr=False):
    """cargo build of the load client into target (the same place load_client runs it from)."""
    subprocess.run(["cargo", "build", "--release", "--example", "lab-load"], cwd=repo, check=True,
                   env=dict(os.environ, CARGO_TARGET_DIR=target), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL if quiet_stderr else None)
