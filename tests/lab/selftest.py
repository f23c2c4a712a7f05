#!/usr/bin/python3
"""Tests of the lab's own tooling that need no cluster (and no root).

- lab.conf reads the same in bash (`. lab.conf`) and in python (labconf.py),
  environment overrides included, and labconf refuses lines bash would read
  differently.

usage: python3 tests/lab/selftest.py [-v]
"""
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labconf  # noqa: E402


def bash_conf(path, env):
    """KEY -> value of every key of the file, as bash sees it once it has sourced it."""
    keys = list(labconf.load(path, env))
    script = '. "$1"; shift; for k; do printf "%s=%s\\n" "$k" "${!k}"; done'
    out = subprocess.run(["bash", "-euc", script, "bash", path, *keys], env=env, check=True,
                         capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


class Conf(unittest.TestCase):
    def test_bash_and_python_read_the_same_values(self):
        base = {"PATH": os.environ["PATH"]}
        for env in (base, dict(base, LAB_DIR="/var/tmp/other-lab", LAB_AGENT="paf"),
                    dict(base, LAB_DIR="")):  # empty: the default, as ${X:-default}
            with self.subTest(env=env):
                self.assertEqual(labconf.load(environ=env), bash_conf(labconf.PATH, env))

    def test_overrides_apply_to_lab_keys_only(self):
        conf = labconf.load(environ={"LAB_DIR": "/x", "VIP": "10.0.0.1"})
        self.assertEqual(conf["LAB_DIR"], "/x")
        self.assertEqual(conf["VIP"], conf["LAB_NET"] + ".100")

    def test_lines_bash_reads_otherwise_are_refused(self):
        for line in ("A=$(hostname)", "A=`id`", "A=a b", "A=${B}", "A=${B:-x}", "A=x;y",
                     "A=\"${B}\"", "A='q'", "A=\"unbalanced", "export A=1", "A=\\x"):
            with self.subTest(line=line), tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
                f.write(line + "\n")
                f.flush()
                with self.assertRaises(ValueError):
                    labconf.load(f.name, {})

    def test_quoted_values_and_references(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write('# comment\n\nA=x\nB="${A} y"\nC=${C:-z}\n')
            f.flush()
            self.assertEqual(labconf.load(f.name, {}), {"A": "x", "B": "x y", "C": "z"})
            self.assertEqual(bash_conf(f.name, {"PATH": os.environ["PATH"]}),
                             {"A": "x", "B": "x y", "C": "z"})


if __name__ == "__main__":
    unittest.main()
