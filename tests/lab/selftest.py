#!/usr/bin/python3
"""Tests of the lab's own tooling that need no cluster (and no root).

- lab.conf reads the same in bash (`. lab.conf`) and in python (labconf.py),
  environment overrides included, and labconf refuses lines bash would read
  differently;
- `scenario --assert --results FILE`, the CI's verdict, passes good runs and
  fails each kind of bad one, with the exit status to match.

usage: python3 tests/lab/selftest.py [-v]
"""
import copy
import json
import os
import subprocess
import sys
import tempfile
import importlib.machinery
import importlib.util
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labconf  # noqa: E402

SCENARIO = os.path.join(HERE, "scenario")


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


def run(fault, **fields):
    """A run as run_once records it, healthy unless fields say otherwise."""
    r = {"fault": fault, "agent": "pgha", "run": 1, "params": "", "primary_before": "node1",
         "recovered": True, "stable_s": 9.5, "failed": 12, "unknown": 1, "lost": 0, "lost_ids": [],
         "promoted": "node2", "detect_s": 1.2}
    r.update(fields)
    return r


ASYNC = {"agent": "pgha", "nodes": 3, "runs": 1, "timeout": 120, "params": "",
         "results": [run("kill-postmaster", promoted="node1"), run("cut"), run("switchover", detect_s=None)]}
SYNC_PARAMS = "replication_mode=sync slot_grace=20"
SYNC = {"agent": "pgha", "nodes": 3, "runs": 1, "timeout": 120, "params": SYNC_PARAMS,
        "results": [run("kill-standby", params=SYNC_PARAMS, failed=0, unknown=0, detect_s=None,
                        promoted="node1", sync_before='ANY 1 ("node2", "node3")'),
                    run("cut", params=SYNC_PARAMS, sync_before='ANY 1 ("node2", "node3")')]}


SYNC_BEFORE = 'ANY 1 ("node2", "node3", "node4", "node5")'
DOUBLE = {"agent": "pgha", "nodes": 5, "runs": 1, "timeout": 120, "params": SYNC_PARAMS,
          "results": [run("double", params=SYNC_PARAMS, promoted_first="node2", fault2_s=14.1, promoted="node4",
                          sync_before=SYNC_BEFORE, failed_actions=0, failed_action_names=[],
                          reconnect_s={"node3": 1.4, "node5": 2.1}, reconnect_all=True,
                          reconnect_primary="node4")]}
STRICT_PARAMS = "replication_mode=strict-sync"
RACK = {"agent": "pgha", "nodes": 5, "runs": 1, "timeout": 120, "params": STRICT_PARAMS,
        "results": [run("rack", params=STRICT_PARAMS, rack_victim="node2", rack_hold_s=30.0,
                        promoted_during_hold=None, promoted="node2", sync_before=SYNC_BEFORE,
                        failed_actions=0, failed_action_names=[])]}
RESTART = {"agent": "pgha", "nodes": 3, "runs": 1, "timeout": 120, "params": "",
           "results": [run("restart-all", promoted="node1", quorum_s=9.2, quorum_to_stable_s=20.1,
                           failed_actions=2, failed_action_names=["node2 pgsqld_start_0 error",
                                                                  "node3 pgsqld_start_0 error"]),
                       run("restart-all-but-primary", promoted="node2", lost=12, lost_ids=[1, 2],
                           quorum_s=8.0, failed_actions=0, failed_action_names=[])]}


class Verdict(unittest.TestCase):
    def judge(self, doc, *args):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "results.json")
            if doc is not None:
                with open(path, "w") as f:
                    json.dump(doc, f)
            p = subprocess.run([sys.executable, SCENARIO, "--assert", "--results", path, *args],
                               capture_output=True, text=True)
        lines = p.stdout.splitlines()
        ok = [line for line in lines if line.startswith("ok   - ")]
        fail = [line for line in lines if line.startswith("FAIL - ")]
        return p.returncode, ok, fail, p.stdout + p.stderr

    def test_good_async_runs_pass(self):
        rc, ok, fail, out = self.judge(ASYNC, "--faults", "kill-postmaster,cut,switchover")
        self.assertEqual((rc, len(ok), fail), (0, 10, []), out)
        self.assertIn("ok   - kill-postmaster: Pacemaker saw the kill (detect_s=1.20)", ok)
        self.assertIn("ok   - cut: writes stable again within 120 s (stable_s=9.50)", ok)

    def test_good_sync_runs_pass(self):
        rc, ok, fail, out = self.judge(SYNC, "--faults", "kill-standby,cut")
        self.assertEqual((rc, len(ok), fail), (0, 9, []), out)
        self.assertTrue(all(line.startswith("ok   - sync ") for line in ok), out)

    def test_fencing_verdicts(self):
        """Issue 13: with fencing, a kill -9 or a freeze is recovered by the
        agent's stop, never by shooting a node; a cut-off primary is fenced,
        and alone; the isolated side stops acknowledging before the survivors
        promote."""
        fenced = {"agent": "pgha", "nodes": 3, "runs": 1, "timeout": 120, "params": "", "results": [
            run("freeze-instance", fencing="reboot", fenced=[]),
            run("cut", fencing="reboot", fenced=["reboot node1"], isolated_last_commit_s=6.5,
                isolated_commits=600, promote_s=9.0)]}
        rc, ok, fail, out = self.judge(fenced)
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("ok   - freeze-instance: no node fenced", ok)
        self.assertIn("ok   - cut: the cut-off primary node1 was fenced, and only it (reboot node1)", ok)
        bad = copy.deepcopy(fenced)
        bad["results"][0]["fenced"] = ["reboot node1"]
        bad["results"][1].update(fenced=["reboot node2", "reboot node1"], isolated_last_commit_s=9.5)
        rc, ok, fail, out = self.judge(bad)
        self.assertEqual(rc, 1, out)
        self.assertEqual(fail, [
            "FAIL - freeze-instance: fenced without need: reboot node1",
            "FAIL - cut: the cut-off primary node1 was fenced, and only it (reboot node2, reboot node1)",
            "FAIL - cut: the isolated side acknowledged 600 commits after the cut, the last 9.50 s after it; "
            "the survivors promoted at 9.00 s"], out)

    def test_two_node_cut_with_fencing(self):
        """Two nodes: the primary's node wins the fence race, the standby is shot."""
        doc = {"agent": "pgha", "nodes": 2, "runs": 1, "timeout": 120, "params": "", "results": [
            run("cut", nodes=2, fencing="reboot", fenced=["reboot node2"], promoted="node1", promote_s=None,
                isolated_last_commit_s=119.0, isolated_commits=11000)]}
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual((rc, fail), (0, []), out)
        bad = copy.deepcopy(doc)
        bad["results"][0].update(fenced=["reboot node1"], promoted="node2", promote_s=20.0)
        rc, ok, fail, out = self.judge(bad)
        self.assertEqual(rc, 1, out)
        self.assertIn("FAIL - cut: two nodes: the standby was fenced, the primary node1 won the race and is the one "
                      "primary (reboot node1; promoted node2)", fail)

    def test_lost_rows_fail(self):
        doc = copy.deepcopy(ASYNC)
        doc["results"][1].update(lost=3, lost_ids=[7, 8, 9])
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual(rc, 1, out)
        self.assertEqual(fail, ["FAIL - cut: committed rows lost: 3 (ids [7, 8, 9])"], out)

    def test_each_bad_outcome_fails(self):
        cases = [
            (ASYNC, 0, {"recovered": False, "stable_s": None, "error": "x"},
             "FAIL - kill-postmaster: writes not stable again within 120 s (x)"),
            (ASYNC, 0, {"detect_s": None}, "FAIL - kill-postmaster: no sign of the kill in the Pacemaker logs"),
            (ASYNC, 2, {"promoted": None}, "FAIL - switchover: no Promoted instance at the end"),
            (ASYNC, 1, {"lost": None}, "FAIL - cut: lost rows not counted"),
            (SYNC, 0, {"unknown": 1}, "FAIL - sync kill-standby: writes stopped (0 failed, 1 unknown)"),
            (SYNC, 1, {"sync_before": None}, "FAIL - sync cut: no synchronous standby before the fault"),
            (SYNC, 1, {"sync_before": "node2"}, "FAIL - sync cut: no synchronous standby before the fault"),
        ]
        for doc, i, fields, want in cases:
            with self.subTest(want=want):
                doc = copy.deepcopy(doc)
                doc["results"][i].update(fields)
                rc, ok, fail, out = self.judge(doc)
                self.assertEqual((rc, fail), (1, [want]), out)

    def test_a_run_that_failed_to_run_fails_every_check(self):
        doc = copy.deepcopy(ASYNC)
        doc["results"][1] = {"fault": "cut", "agent": "pgha", "run": 1, "error": "lab up failed"}
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual((rc, len(fail)), (1, 3), out)

    def test_a_missing_run_fails(self):
        rc, ok, fail, out = self.judge(ASYNC, "--faults", "kill-postmaster,poweroff")
        self.assertEqual((rc, len(ok), len(fail)), (1, 4, 3), out)
        rc, ok, fail, out = self.judge(None, "--faults", "cut")
        self.assertEqual((rc, ok, len(fail)), (1, [], 3), out)
        rc, ok, fail, out = self.judge({"results": []})
        self.assertEqual((rc, ok, fail), (1, [], ["FAIL - no run in the results"]), out)

    def test_sync_double_without_loss_passes(self):
        rc, ok, fail, out = self.judge(DOUBLE, "--faults", "double")
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("ok   - sync double: no committed row lost", ok)
        self.assertIn("ok   - sync double: the first new primary node2 was powered off too "
                      "(14.10 s after the first fault)", ok)
        self.assertIn("ok   - sync double: no failed resource action left", ok)
        self.assertIn("# report: sync double: standbys streaming to node4 after its promote: "
                      "node3 1.40 s, node5 2.10 s", out)

    def test_sync_double_losing_rows_fails(self):
        doc = copy.deepcopy(DOUBLE)
        doc["results"][0].update(lost=445, lost_ids=[5, 6])
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual((rc, fail), (1, ["FAIL - sync double: committed rows lost: 445 (ids [5, 6])"]), out)

    def test_double_without_the_second_fault_fails(self):
        doc = copy.deepcopy(DOUBLE)
        doc["results"][0].update(promoted_first=None, fault2_s=None)
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual((rc, len(fail)), (1, 1), out)
        self.assertIn("the second fault was not injected", fail[0])

    def test_async_double_reports_lost_rows(self):
        doc = copy.deepcopy(DOUBLE)
        doc["params"] = ""
        doc["results"][0].update(params="", lost=358, sync_before=None)
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("# report: double: committed rows lost: 358, promoted node4 (former primary node1; "
                      "async, reported, not judged)", out)
        self.assertIn("# verdict: 4 checks, 0 failed", out)

    def test_rack_in_strict_sync_must_promote_nobody_while_the_victim_is_off(self):
        rc, ok, fail, out = self.judge(RACK, "--faults", "rack")
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("ok   - sync rack: no promotion while node2, which alone had the last commits, "
                      "was off (30.00 s)", ok)
        doc = copy.deepcopy(RACK)
        doc["results"][0].update(promoted_during_hold="node3", promoted_during_hold_s=16.0, lost=40)
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual(rc, 1, out)
        self.assertIn("FAIL - sync rack: node3 promoted at 16.00 s while node2, which alone had the last "
                      "commits, was off", fail)
        self.assertIn("FAIL - sync rack: committed rows lost: 40 (ids [])", fail)

    def test_rack_in_sync_past_the_grace_promotes_and_reports_the_loss(self):
        params = "replication_mode=sync sync_grace=10"
        doc = copy.deepcopy(RACK)
        doc["params"] = params
        doc["results"][0].update(params=params, promoted_during_hold="node3", promoted_during_hold_s=25.0,
                                 promoted="node3", lost=40)
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("ok   - sync rack: sync promoted node3 at 25.00 s, past sync_grace, without node2", ok)
        self.assertIn("# report: sync rack: committed rows lost: 40", out)
        # Within the grace it must wait, and lose nothing.
        doc["results"][0].update(params="replication_mode=sync sync_grace=60")
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual(rc, 1, out)
        self.assertEqual(len(fail), 2, out)

    def test_restart_all(self):
        rc, ok, fail, out = self.judge(RESTART, "--faults", "restart-all,restart-all-but-primary")
        self.assertEqual((rc, fail), (0, []), out)
        # Failed actions are reported until there are none, then judged.
        self.assertIn("# report: restart-all: 2 failed resource actions left: node2 pgsqld_start_0 error; "
                      "node3 pgsqld_start_0 error", out)
        self.assertIn("ok   - restart-all-but-primary: no failed resource action left", ok)
        self.assertIn("# report: restart-all: quorum_s=9.20, quorum_to_stable_s=20.10", out)
        # async, the former primary off: lost rows are reported.
        self.assertIn("# report: restart-all-but-primary: committed rows lost: 12", out)

    def test_restart_all_judges_what_it_must(self):
        cases = [
            # The former primary promoted again: it has every row.
            ({"lost": 3, "lost_ids": [1, 2, 3]}, "FAIL - restart-all: committed rows lost: 3 (ids [1, 2, 3])"),
            ({"recovered": False, "stable_s": None}, "FAIL - restart-all: writes not stable again within 120 s"),
            ({"promoted": None}, "FAIL - restart-all: no Promoted instance at the end"),
        ]
        for fields, want in cases:
            with self.subTest(want=want):
                doc = copy.deepcopy(RESTART)
                doc["results"][0].update(fields)
                rc, ok, fail, out = self.judge(doc, "--faults", "restart-all")
                self.assertEqual((rc, fail), (1, [want]), out)
        # Another node promoted (async): the rows only the former primary had are reported.
        doc = copy.deepcopy(RESTART)
        doc["results"][0].update(promoted="node3", lost=3)
        rc, ok, fail, out = self.judge(doc, "--faults", "restart-all")
        self.assertEqual((rc, fail), (0, []), out)
        # In sync mode no row may be lost, whoever is promoted.
        doc["results"][0].update(params=SYNC_PARAMS, sync_before=SYNC_BEFORE)
        rc, ok, fail, out = self.judge(doc, "--faults", "restart-all")
        self.assertEqual(fail, ["FAIL - sync restart-all: committed rows lost: 3 (ids [])"], out)

    def test_a_run_whose_agent_changed_fails(self):
        doc = copy.deepcopy(DOUBLE)
        doc["results"][0]["agent_replaced"] = True
        rc, ok, fail, out = self.judge(doc)
        self.assertEqual((rc, len(fail)), (1, 1), out)
        self.assertIn("the agent's binary changed during the run", fail[0])

    def test_double_needs_five_nodes(self):
        p = subprocess.run([sys.executable, SCENARIO, "--faults", "poweroff,double", "--nodes", "3"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("double needs --nodes 5 or more (it has 3)", p.stderr)
        p = subprocess.run([sys.executable, SCENARIO, "--faults", "restart-all-but-primary", "--nodes", "2"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("restart-all-but-primary needs --nodes 3 or more", p.stderr)

    def test_field(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(SYNC, f)
            f.flush()
            get = lambda *a: subprocess.run([sys.executable, SCENARIO, "--results", f.name, "--field", *a],
                                            capture_output=True, text=True)
            self.assertEqual(get("cut", "promoted").stdout, "node2\n")
            self.assertEqual(get("cut", "primary_before").stdout, "node1\n")
            self.assertEqual(get("cut", "error").returncode, 1)
            self.assertEqual(get("poweroff", "promoted").returncode, 1)


# ---------------------------------------------------------------- the promotion rules (issue 22)

FIVE = [f"node{i}" for i in range(1, 6)]
HISTORIES = {"00000002.history": "1 0/5000000 no recovery target specified;",
             "00000003.history": "1 0/5000000 no recovery target specified;2 0/5200000 no recovery target specified;"}
ASYNC_DOUBLE = {"agent": "pgha", "nodes": 5, "runs": 1, "timeout": 120, "params": "",
                "results": [run("async-double", promoted_first="node2", fault2_s=21.3, promoted="node4", lost=7,
                                lost_ids=[40, 41], rows_on_first=5, not_streaming=[], not_replayed=[],
                                node_rows={n: {"rows": 3000, "extra": 0, "extra_ids": [], "missing": 0,
                                               "missing_ids": []} for n in FIVE},
                                histories={n: dict(HISTORIES) for n in FIVE},
                                failed_actions=0, failed_action_names=[])]}
SPOOF_SAMPLES = [{"t_s": 30.0 + 2 * k, "ssn": 'ANY 1 ("node3")', "walsenders": ["streaming"], "score": -1000,
                  "sync": "disconnected", "receiver": "-"} for k in range(21)]
SPOOF = {"agent": "pgha", "nodes": 3, "runs": 1, "timeout": 120, "params": SYNC_PARAMS,
         "results": [run("spoof", params=SYNC_PARAMS, promoted="node1", sync_before='ANY 1 ("node2", "node3")',
                         spoof_target="node2", spoofer="node3", given_up_s=28.5, spoof_samples=SPOOF_SAMPLES,
                         target_back_s=2.4, failed=0, unknown=0, failed_actions=0, failed_action_names=[])]}
DELAYED = {"agent": "pgha", "nodes": 3, "runs": 1, "timeout": 120, "params": SYNC_PARAMS,
           "results": [run("restart-delayed", params=SYNC_PARAMS, promoted="node2", sync_before='ANY 1 ("node2", "node3")',
                           delayed="node2", held=["node3"], delay_reset=True, quorum_s=8.1,
                           wal_before={"node2": {"receive": "1/200", "replay": "0/F000000"},
                                       "node3": {"receive": "0/F0000000", "replay": "0/10000000"}},
                           failed_actions=0, failed_action_names=[])]}


class PromotionVerdict(unittest.TestCase):
    judge = Verdict.judge

    def each_fails(self, good, fault, cases):
        """Each (fields, wanted FAIL lines) made of GOOD's run fails with exactly those lines."""
        for fields, want in cases:
            with self.subTest(fields=fields):
                doc = copy.deepcopy(good)
                r = doc["results"][0]
                for k, v in fields.items():
                    v(r) if callable(v) else r.update({k: v})
                rc, ok, fail, out = self.judge(doc, "--faults", fault)
                self.assertEqual((rc, fail), (1, want), out)

    def test_async_double_converged_passes_and_reports_the_loss(self):
        rc, ok, fail, out = self.judge(ASYNC_DOUBLE, "--faults", "async-double")
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("ok   - async-double: the first new primary node2 acknowledged 5 writes before its power-off", ok)
        self.assertIn("ok   - async-double: every node streams from node4 again", ok)
        self.assertIn("ok   - async-double: every node holds exactly the final primary's 3000 rows", ok)
        self.assertIn("ok   - async-double: one history per timeline number on every node "
                      "(00000002.history, 00000003.history)", ok)
        self.assertIn("# report: async-double: committed rows lost: 7, promoted node4 (former primary node1; "
                      "async, reported, not judged)", out)

    def test_async_double_divergence_fails(self):
        forked = "1 0/5100000 no recovery target specified;"
        self.each_fails(ASYNC_DOUBLE, "async-double", [
            ({"rows_on_first": 0}, ["FAIL - async-double: the first new primary node2 acknowledged 0 writes "
                                    "before its power-off: none of its own to take back"]),
            ({"x": lambda r: r["node_rows"]["node2"].update(extra=5, extra_ids=[901, 902])},
             ["FAIL - async-double: node2 holds 5 rows the final primary does not have (ids [901, 902])"]),
            ({"x": lambda r: r["node_rows"]["node1"].update(missing=3, missing_ids=[7, 8, 9])},
             ["FAIL - async-double: node1 lacks 3 of the final primary's rows (ids [7, 8, 9])"]),
            ({"x": lambda r: r["node_rows"].update(node1=None)}, ["FAIL - async-double: node1: its rows not read"]),
            ({"node_rows": {}}, ["FAIL - async-double: the nodes' rows not read"]),
            ({"not_streaming": ["node1", "node2"]},
             ["FAIL - async-double: not streaming from node4 within 240 s: node1, node2"]),
            ({"not_streaming": None}, ["FAIL - async-double: not streaming from node4 within 240 s: not measured"]),
            ({"not_replayed": ["node5"]},
             ["FAIL - async-double: not replayed up to the final primary's WAL position: node5"]),
            ({"x": lambda r: r["histories"]["node2"].update({"00000002.history": forked})},
             ["FAIL - async-double: two histories of 00000002.history: node1,node3,node4,node5 / node2"]),
            ({"x": lambda r: r["histories"].update(node3=None)},
             ["FAIL - async-double: timeline histories not read (node3)"]),
            ({"promoted_first": None, "fault2_s": None},
             ["FAIL - async-double: no new primary seen Promoted after the first power-off: "
              "the second fault was not injected"]),
        ])
        # In sync mode nothing acknowledged may be lost.
        doc = copy.deepcopy(ASYNC_DOUBLE)
        doc["results"][0].update(params=SYNC_PARAMS, sync_before=SYNC_BEFORE)
        rc, ok, fail, out = self.judge(doc, "--faults", "async-double")
        self.assertEqual(fail, ["FAIL - sync async-double: committed rows lost: 7 (ids [40, 41])"], out)

    def test_spoof_never_counted_passes(self):
        rc, ok, fail, out = self.judge(SPOOF, "--faults", "spoof")
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("ok   - sync spoof: pg_receivewal on node3 streamed as node2 in 21 of 21 samples over "
                      "40.00 s (two monitor intervals: 30 s)", ok)
        self.assertIn("ok   - sync spoof: node2 never named in synchronous_standby_names while spoofed", ok)
        self.assertIn("ok   - sync spoof: node2 streams again 2.40 s after its unstandby", ok)
        self.assertIn("ok   - sync spoof: no committed row lost", ok)

    def test_spoof_counted_as_the_standby_fails(self):
        def sample(k, **fields):
            return lambda r: r["spoof_samples"][k].update(fields)
        head = "FAIL - sync spoof: node2 "
        self.each_fails(SPOOF, "spoof", [
            ({"x": sample(4, ssn='ANY 1 ("node2", "node3")')},
             [head + "named in synchronous_standby_names while spoofed, at 38.00 s (1 samples: "
                     "ssn 'ANY 1 (\"node2\", \"node3\")', sync disconnected, score -1000, receiver -)"]),
            ({"x": sample(6, ssn="ANY 1 (node3, node2)")},
             [head + "named in synchronous_standby_names while spoofed, at 42.00 s (1 samples: "
                     "ssn 'ANY 1 (node3, node2)', sync disconnected, score -1000, receiver -)"]),
            ({"x": sample(20, sync="quorum")},
             [head + "given a sync state while spoofed, at 70.00 s (1 samples: ssn 'ANY 1 (\"node3\")', "
                     "sync quorum, score -1000, receiver -)"]),
            ({"x": sample(0, score=1000)},
             [head + "given a positive score while spoofed, at 30.00 s (1 samples: ssn 'ANY 1 (\"node3\")', "
                     "sync disconnected, score 1000, receiver -)"]),
            ({"x": sample(1, receiver="streaming")},
             [head + "shown with a streaming receiver while spoofed, at 32.00 s (1 samples: "
                     "ssn 'ANY 1 (\"node3\")', sync disconnected, score -1000, receiver streaming)"]),
            ({"x": lambda r: [s.update(walsenders=[]) for s in r["spoof_samples"]]},
             ["FAIL - sync spoof: pg_receivewal on node3 streamed as node2 in 0 of 21 samples over 40.00 s "
              "(two monitor intervals: 30 s)"]),
            ({"x": lambda r: r.update(spoof_samples=r["spoof_samples"][:5])},
             ["FAIL - sync spoof: pg_receivewal on node3 streamed as node2 in 5 of 5 samples over 8.00 s "
              "(two monitor intervals: 30 s)"]),
            ({"given_up_s": None},
             ["FAIL - sync spoof: the primary never gave node2 up after its stop (walsender, score or "
              "synchronous_standby_names): the spoof proves nothing"]),
            ({"target_back_s": None}, [head + "does not stream again within 240 s"]),
            ({"lost": 3, "lost_ids": [5, 6, 7]}, ["FAIL - sync spoof: committed rows lost: 3 (ids [5, 6, 7])"]),
        ])
        # Another node whose name starts alike is not the standby.
        doc = copy.deepcopy(SPOOF)
        doc["results"][0]["spoof_samples"][3]["ssn"] = 'ANY 1 ("node22", node3)'
        rc, ok, fail, out = self.judge(doc, "--faults", "spoof")
        self.assertEqual((rc, fail), (0, []), out)

    def test_restart_delayed_promotes_the_furthest_wal(self):
        # LSNs compare as numbers: 0/F000000 is before 0/10000000, 1/200 after 0/F0000000.
        rc, ok, fail, out = self.judge(DELAYED, "--faults", "restart-delayed")
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("ok   - sync restart-delayed: before the restart the delayed standby had received the most "
                      "WAL and replayed the least (node2 received 1/200, replayed 0/F000000; node3 received "
                      "0/F0000000, replayed 0/10000000)", ok)
        self.assertIn("ok   - sync restart-delayed: node2, whose WAL goes furthest, was promoted", ok)
        self.assertIn("# report: sync restart-delayed: quorum_s=8.10, quorum_to_stable_s=-", out)

    def test_restart_delayed_wrong_node_or_setup_fails(self):
        setup = "FAIL - sync restart-delayed: before the restart the delayed standby had received the most WAL " \
                "and replayed the least "
        wal = lambda n, **f: lambda r: r["wal_before"][n].update(f)
        self.each_fails(DELAYED, "restart-delayed", [
            ({"promoted": "node3"}, ["FAIL - sync restart-delayed: node3 was promoted, not node2 whose WAL goes furthest"]),
            ({"promoted": None}, ["FAIL - sync restart-delayed: no Promoted instance at the end",
                                  "FAIL - sync restart-delayed: - was promoted, not node2 whose WAL goes furthest"]),
            ({"x": wal("node2", replay="0/10800000")},
             [setup + "(node2 received 1/200, replayed 0/10800000; node3 received 0/F0000000, replayed 0/10000000)"]),
            ({"x": wal("node2", receive="0/E0000000")},
             [setup + "(node2 received 0/E0000000, replayed 0/F000000; node3 received 0/F0000000, replayed 0/10000000)"]),
            ({"x": lambda r: r["wal_before"].update(node3=None)},
             [setup + "(node2 received 1/200, replayed 0/F000000; node3 received None, replayed None)"]),
            ({"held": []}, [setup + "(node2 received 1/200, replayed 0/F000000)"]),
            ({"lost": 2, "lost_ids": [1, 2]}, ["FAIL - sync restart-delayed: committed rows lost: 2 (ids [1, 2])"]),
        ])
        # async: the former primary stays off, what only it had is reported.
        doc = copy.deepcopy(DELAYED)
        doc["results"][0].update(params="", lost=2)
        rc, ok, fail, out = self.judge(doc, "--faults", "restart-delayed")
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("# report: restart-delayed: committed rows lost: 2", out)

    def test_promotion_faults_need_their_nodes(self):
        for fault, nodes, want in (("async-double", 3, "async-double needs --nodes 5 or more (it has 3)"),
                                   ("spoof", 2, "spoof needs --nodes 3 or more (it has 2)"),
                                   ("restart-delayed", 2, "restart-delayed needs --nodes 3 or more")):
            p = subprocess.run([sys.executable, SCENARIO, "--faults", fault, "--nodes", str(nodes)],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(want, p.stderr)


# ---------------------------------------------------------------- node roles and the read VIP (the manual)

def read_sample(t, vip, promoted=("node1",), readable="1"):
    return {"t_s": t, "promoted": list(promoted), "vip": list(vip), "readable": readable}


READ_SAMPLES = ([read_sample(1.0, [], readable=None), read_sample(2.0, ["node2"])]
                + [read_sample(10.0 + k, ["node2"]) for k in range(5)]
                + [read_sample(16.0, ["node2"], readable="0"), read_sample(17.0, []),
                   read_sample(18.0, ["node3"], readable="0"), read_sample(40.0, ["node3"])])
READ_VIP = {"agent": "pgha", "nodes": 3, "runs": 1, "timeout": 120, "params": "",
            "results": [run("read-vip", promoted="node1", read_vip_rsc="pgsql-read-vip", read_vip_on="node2",
                            placed_s=2.1, paused=True, burst_s=3.2, standby_monitor_s=16, readable0_s=6.5,
                            leave_s=7.5, other_s=8.5, read_other="node3", resumed=True, return_s=9.8,
                            read_samples=READ_SAMPLES, promotions=[], failed=0, unknown=0,
                            failed_actions=0, failed_action_names=[])]}
NOPROMOTE_SAMPLES = [{"t_s": 60.0 + k, "promoted": []} for k in range(12)] + [{"t_s": 73.0, "promoted": ["node2"]}]
NOPROMOTE = {"agent": "pgha", "nodes": 3, "runs": 1, "timeout": 120, "params": "",
             "results": [run("nopromote", nopromote_node="node3", nopromote_scored_s=41.0, promoted_first="node2",
                             promoted_first_seen_s=13.2, promoted="node2", failover_samples=NOPROMOTE_SAMPLES,
                             promotions=[{"node": "node2", "promote_s": 72.1}], rejoin_s=12.0,
                             nopromote_deleted=True, barred_ahead=None, lost=3, lost_ids=[9, 10, 11],
                             failed_actions=0, failed_action_names=[])]}


class RolesVerdict(unittest.TestCase):
    judge = Verdict.judge
    each_fails = PromotionVerdict.each_fails

    def test_read_vip_that_follows_the_lag_passes(self):
        rc, ok, fail, out = self.judge(READ_VIP, "--faults", "read-vip")
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("ok   - read-vip: pgsql-read-vip left node2 7.50 s after the pause (bound 61.20 s: the "
                      "burst, 3 standby monitors of 16 s and 10 s to start)", ok)
        self.assertIn("ok   - read-vip: pgsql-read-vip ran on the other standby node3 8.50 s after the pause", ok)
        self.assertIn("ok   - read-vip: pgsql-read-vip never ran on the primary (11 samples)", ok)
        self.assertIn("ok   - read-vip: node2 readable again 9.80 s after its replay resumed", ok)
        self.assertIn("# report: read-vip: leave_s=7.50, return_s=9.80, readable0_s=6.50, burst_s=3.20, "
                      "standby monitor 16 s", out)

    def test_read_vip_that_stays_behind_or_reaches_the_primary_fails(self):
        head = "FAIL - read-vip: "
        self.each_fails(READ_VIP, "read-vip", [
            ({"leave_s": 61.3}, [head + "pgsql-read-vip left node2 61.30 s after the pause (bound 61.20 s: the "
                                        "burst, 3 standby monitors of 16 s and 10 s to start)"]),
            ({"leave_s": None}, [head + "pgsql-read-vip left node2 - s after the pause (bound 61.20 s: the "
                                        "burst, 3 standby monitors of 16 s and 10 s to start)"]),
            ({"standby_monitor_s": None},
             [head + "the standby monitor interval was not read: no bound to judge by"]),
            ({"readable0_s": None}, [head + "node2 never published readable=0 while paused"]),
            ({"read_other": None}, [head + "pgsql-read-vip never ran on another standby while node2 was behind"]),
            ({"x": lambda r: r["read_samples"][8].update(vip=["node1"])},
             [head + "pgsql-read-vip ran on the primary ['node1'] at 17.00 s (1 of 11 samples)"]),
            # The primary of the moment, not only the one before.
            ({"x": lambda r: r["read_samples"][9].update(promoted=["node3"])},
             [head + "pgsql-read-vip ran on the primary ['node3'] at 18.00 s (1 of 11 samples)"]),
            ({"return_s": None}, [head + "node2 not readable again after the resume (resumed: True)"]),
            ({"paused": False}, [head + "the setup failed (replay paused on node2: False, WAL burst: 3.20)"]),
            ({"burst_s": None}, [head + "the setup failed (replay paused on node2: True, WAL burst: -)"]),
            ({"read_vip_on": None}, [head + "the manual's pgsql-read-vip never ran on a readable standby "
                                            "within 120 s of its commands"]),
            ({"read_vip_on": "node1"}, [head + "the manual's pgsql-read-vip ran on the readable standby node1 "
                                               "2.10 s after its commands"]),
            ({"promoted": "node3", "promotions": [{"node": "node3"}]},
             [head + "a failover happened: node1 -> node3"]),
            ({"lost": 1, "lost_ids": [4]}, [head + "committed rows lost: 1 (ids [4])"]),
        ])

    def test_nopromote_passes_and_reports_the_async_loss(self):
        rc, ok, fail, out = self.judge(NOPROMOTE, "--faults", "nopromote")
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("ok   - nopromote: node1 scored node3 -INFINITY 41.00 s after the manual's commands", ok)
        self.assertIn("ok   - nopromote: the other standby node2 was promoted 13.20 s after the power-off, "
                      "and is the primary at the end", ok)
        self.assertIn("ok   - nopromote: node3 never ran Promoted (13 samples, 1 promotions logged)", ok)
        self.assertIn("ok   - nopromote: the manual's delete took node3's nopromote away", ok)
        self.assertIn("# report: nopromote: committed rows lost: 3, promoted node2 (former primary node1; "
                      "async, reported, not judged)", out)

    def test_nopromote_that_promotes_the_barred_standby_fails(self):
        head = "FAIL - nopromote: "
        self.each_fails(NOPROMOTE, "nopromote", [
            ({"x": lambda r: r["failover_samples"][5].update(promoted=["node3"])},
             [head + "node3 ran Promoted at 65.00 s"]),
            ({"promotions": [{"node": "node3"}, {"node": "node2"}]}, [head + "node3 ran Promoted (its promote logged ok)"]),
            ({"promoted_first": "node3", "promoted": "node3"},
             [head + "promoted node3 first, node3 at the end (the barred standby is node3, the former primary node1)"]),
            ({"promoted_first": None}, [head + "promoted - first, node2 at the end (the barred standby is node3, "
                                               "the former primary node1)"]),
            ({"failover_samples": []}, [head + "the failover was not sampled"]),
            ({"nopromote_scored_s": None}, [head + "node1 did not score node3 -INFINITY within 90 s"]),
            ({"rejoin_s": None}, [head + "the former primary node1 does not stream within 240 s"]),
            ({"nopromote_deleted": False}, [head + "node3 still nopromote after the manual's delete"]),
        ])

    def test_nopromote_in_sync_loses_nothing_unless_the_barred_standby_was_ahead(self):
        doc = copy.deepcopy(NOPROMOTE)
        doc["results"][0].update(params=SYNC_PARAMS, sync_before='ANY 1 ("node2", "node3")')
        rc, ok, fail, out = self.judge(doc, "--faults", "nopromote")
        self.assertEqual(fail, ["FAIL - sync nopromote: committed rows lost: 3 (ids [9, 10, 11])"], out)
        ahead = "node3 (nopromote) is ahead (1:0/5000100 > 1:0/5000000): sync_grace=30s over: promoted anyway"
        doc["results"][0]["barred_ahead"] = ahead
        rc, ok, fail, out = self.judge(doc, "--faults", "nopromote")
        self.assertEqual((rc, fail), (0, []), out)
        self.assertIn("# report: sync nopromote: committed rows lost: 3, promoted node2 (former primary node1; "
                      "sync past sync_grace, reported, not judged)", out)
        self.assertIn("# report: sync nopromote: the agent said: " + ahead, out)

    def test_role_faults_need_three_nodes(self):
        for fault in ("read-vip", "nopromote"):
            p = subprocess.run([sys.executable, SCENARIO, "--faults", fault, "--nodes", "2"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(f"{fault} needs --nodes 3 or more (it has 2)", p.stderr)


def load_scenario():
    spec = importlib.util.spec_from_loader("scenario", importlib.machinery.SourceFileLoader("scenario", SCENARIO))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RolesManual(unittest.TestCase):
    """The scenarios run the manual's own lines: these are the lines they find."""

    def test_the_manuals_read_vip_lines_mapped_to_the_lab(self):
        scenario = load_scenario()
        cmds, vip = scenario.read_vip_commands(scenario.read_doc())
        conf = labconf.load()
        self.assertEqual(vip, "pgsql-read-vip")
        self.assertEqual(cmds, [
            ["pcs", "resource", "create", "pgsql-read-vip", "ocf:heartbeat:IPaddr2", f"ip={conf['READ_VIP']}",
             "cidr_netmask=24"],
            ["pcs", "constraint", "location", "pgsql-read-vip", "rule", "score=-INFINITY",
             f"pgha-{conf['RSC']}-readable", "ne", "1", "or", "not_defined", f"pgha-{conf['RSC']}-readable"],
            ["pcs", "constraint", "colocation", "add", "pgsql-read-vip", "with", "Unpromoted", conf["CLONE"],
             "score=INFINITY"]])

    def test_the_manuals_nopromote_lines_for_one_node(self):
        scenario = load_scenario()
        rule, put, delete = scenario.nopromote_commands(scenario.read_doc(), "node2")
        name = f"pgha-{labconf.load()['RSC']}-nopromote"
        self.assertEqual(rule[:4], ["pcs", "constraint", "location", labconf.load()["CLONE"]])
        self.assertEqual(rule[-3:], [name, "eq", "true"])
        self.assertEqual(put, ["crm_attribute", "--node", "node2", "--name", name, "--update", "true",
                               "--lifetime", "forever"])
        self.assertEqual(delete, ["crm_attribute", "--node", "node2", "--name", name, "--delete",
                                  "--lifetime", "forever"])

    def test_only_blocks_marked_for_the_scenario_and_continuations_joined(self):
        scenario = load_scenario()
        text = ("<!-- run: any node (tests/lab/scenario read-vip/other runs it) -->\n```sh\n"
                "pcs resource create v ocf:heartbeat:IPaddr2 \\\n    ip=10.0.0.101  # the read VIP\n```\n"
                "<!-- run: any node (tests/integration/roles.rs) -->\n```sh\npcs x pgsqld-clone\n```\n"
                "<!-- not run -->\n```sh\npcs y\n```\n"
                "<!-- run: any node (tests/lab/scenario other) -->\n```sh\ncrm_attribute --node node3 "
                "--name pgha-pgsqld-nopromote\n```\n")
        read = labconf.load()["READ_VIP"]
        self.assertEqual(scenario.doc_commands(text, "read-vip"),
                         [["pcs", "resource", "create", "v", "ocf:heartbeat:IPaddr2", f"ip={read}"]])
        rsc = labconf.load()["RSC"]
        self.assertEqual(scenario.doc_commands(text, "other", {"node3": "node9"}),
                         [["pcs", "resource", "create", "v", "ocf:heartbeat:IPaddr2", f"ip={read}"],
                          ["crm_attribute", "--node", "node9", "--name", f"pgha-{rsc}-nopromote"]])
        with self.assertRaises(ValueError):
            scenario.read_vip_commands(text.replace("10.0.0.101", "10.0.0.7"))


# ---------------------------------------------------------------- the chaos checker

import chaos_check  # noqa: E402

SLOT = 10**16
T0 = 1_800_000_000_000


def attempt(i, ms, outcome="committed"):
    return {"id": i, "start_ms": ms - 5, "end_ms": ms, "outcome": outcome}


def chaos_run(mode="strict-sync", fencing=True, **kw):
    run = {"seed": 1, "mode": mode, "fencing": fencing, "nodes": ["node1", "node2", "node3"],
           "agent": "pgha", "sync_grace_s": 10, "sync_standbys": 1, "id_slot": SLOT,
           "start_ms": T0, "heal_ms": T0 + 60_000, "end_ms": T0 + 90_000}
    run.update(kw)
    return run


def final_with(primary_ids, others=None, primary="node1"):
    nodes = {primary: {"ids": sorted(primary_ids), "timeline": 2,
                       "history": {"00000002.history": "1\t0/3000000\tno recovery target specified\n"}}}
    for n, st in (others or {}).items():
        nodes[n] = st
    return {"primary": primary, "failures": [], "nodes": nodes}


CONVERGED = {"converged_s": 12.0, "bound_s": 240, "not": []}


def vip_writes(first, last, step=20):
    """The VIP client's commits, one each step ms, ids from 1."""
    return [attempt(k + 1, t) for k, t in enumerate(range(first, last, step))]


class ChaosVerdict(unittest.TestCase):
    def judge(self, run, schedule, clients, final, converge=CONVERGED):
        return chaos_check.judge_run(run, schedule, clients, final, converge)

    def test_a_clean_run_has_no_anomaly(self):
        writes = vip_writes(T0, T0 + 90_000)
        a, r, fig = self.judge(chaos_run(), [], {"vip-1": writes}, final_with({w["id"] for w in writes}))
        self.assertEqual(a, [])
        self.assertEqual(fig["lost"], 0)
        self.assertGreater(fig["writes_share"], 0.99)

    def test_a_lost_commit_in_strict_sync_is_an_anomaly_naming_the_fault(self):
        writes = vip_writes(T0, T0 + 90_000)
        kept = {w["id"] for w in writes} - {writes[100]["id"]}
        schedule = [{"event": "inject", "index": 0, "kind": "poweroff", "nodes": ["node1"],
                     "primary": "node1", "ms": T0 + 2_500},
                    {"event": "heal", "index": 0, "kind": "poweroff", "nodes": ["node1"], "ms": T0 + 20_000}]
        a, r, fig = self.judge(chaos_run(), schedule, {"vip-1": writes}, final_with(kept, primary="node2"))
        self.assertEqual(len(a), 1, a)
        self.assertIn("1 acknowledged commits lost where strict-sync promises none", a[0])
        self.assertIn("fault 0 poweroff on node1", a[0])

    def test_sync_allows_a_loss_only_after_a_long_enough_double_fault(self):
        writes = vip_writes(T0, T0 + 90_000)
        kept = {w["id"] for w in writes} - {writes[100]["id"]}
        def double(hold_ms):
            return [{"event": "inject", "index": 0, "kind": "poweroff-two", "nodes": ["node1", "node2"],
                     "primary": "node1", "ms": T0 + 3_000},
                    {"event": "heal", "index": 0, "kind": "poweroff-two", "nodes": ["node1", "node2"],
                     "ms": T0 + 3_000 + hold_ms}]
        a, r, _ = self.judge(chaos_run("sync"), double(15_000), {"vip-1": writes},
                             final_with(kept, primary="node3"))
        self.assertEqual(a, [])
        self.assertTrue(any("as sync allows here" in x for x in r), r)
        a, r, _ = self.judge(chaos_run("sync"), double(5_000), {"vip-1": writes},
                             final_with(kept, primary="node3"))
        self.assertEqual(len(a), 1, "a double fault shorter than sync_grace allows no loss")
        # one node down (the primary alone) never allows a loss in sync
        single = [dict(e, nodes=["node1"], kind="poweroff") for e in double(15_000)]
        a, _, _ = self.judge(chaos_run("sync"), single, {"vip-1": writes}, final_with(kept, primary="node3"))
        self.assertEqual(len(a), 1)

    def test_async_reports_losses_without_failing(self):
        writes = vip_writes(T0, T0 + 90_000)
        kept = {w["id"] for w in writes} - {writes[5]["id"], writes[6]["id"]}
        a, r, fig = self.judge(chaos_run("async", fencing=False), [], {"vip-1": writes},
                               final_with(kept, primary="node2"))
        self.assertEqual(a, [])
        self.assertEqual(fig["lost"], 2)
        self.assertTrue(any("2 acknowledged commits lost" in x for x in r), r)

    def test_two_acknowledging_primaries_fail_with_fencing_and_are_measured_without(self):
        n1 = [attempt(1 * SLOT + k, T0 + k * 100) for k in range(100)]          # 0 .. 9.9 s
        n2 = [attempt(2 * SLOT + k, T0 + 9_000 + k * 100) for k in range(100)]  # 9 .. 18.9 s
        ids = {a["id"] for a in n1 + n2}
        clients = {"node1-1": n1, "node2-1": n2}
        a, _, fig = self.judge(chaos_run(), [], clients, final_with(ids, primary="node2"))
        self.assertTrue(any("two acknowledging primaries with fencing: node1 and node2, 0.90 s" in x
                            for x in a), a)
        a, r, fig = self.judge(chaos_run("async", fencing=False), [], clients, final_with(ids, primary="node2"))
        self.assertEqual(a, [])
        self.assertEqual(fig["max_overlap_s"], 0.9)
        # a hand-over: node1 stops, then node2 starts: no overlap
        n2_late = [attempt(2 * SLOT + k, T0 + 10_500 + k * 100) for k in range(100)]
        a, _, fig = self.judge(chaos_run(), [], {"node1-1": n1, "node2-1": n2_late},
                               final_with({x["id"] for x in n1 + n2_late}, primary="node2"))
        self.assertEqual(a, [])
        self.assertEqual(fig["max_overlap_s"], 0)

    def test_a_forked_history_or_a_row_only_a_standby_holds_is_an_anomaly(self):
        writes = vip_writes(T0, T0 + 90_000)
        ids = {w["id"] for w in writes}
        forked = {"ids": sorted(ids | {10**9}), "timeline": 2,
                  "history": {"00000002.history": "1\t0/3100000\tno recovery target specified\n"}}
        a, _, _ = self.judge(chaos_run(), [], {"vip-1": writes}, final_with(ids, {"node2": forked}))
        self.assertTrue(any("00000002.history differs" in x for x in a), a)
        self.assertTrue(any("node2 holds 1 rows the primary does not have" in x for x in a), a)
        same = {"ids": sorted(ids), "timeline": 2,
                "history": {"00000002.history": "1\t0/3000000\tno recovery target specified\n"}}
        a, _, _ = self.judge(chaos_run(), [], {"vip-1": writes}, final_with(ids, {"node2": same}))
        self.assertEqual(a, [])

    def test_not_converged_is_an_anomaly(self):
        writes = vip_writes(T0, T0 + 90_000)
        a, _, _ = self.judge(chaos_run(), [], {"vip-1": writes}, final_with({w["id"] for w in writes}),
                             {"converged_s": None, "bound_s": 240, "not": ["node3 not streaming"]})
        self.assertEqual(a, ["not converged within 240 s of the heal: node3 not streaming"])

    def test_outages_are_counted_per_fault_kind(self):
        writes = vip_writes(T0, T0 + 30_000) + vip_writes(T0 + 38_000, T0 + 90_000)
        for k, w in enumerate(writes):
            w["id"] = k + 1
        schedule = [{"event": "inject", "index": 0, "kind": "kill-postmaster", "nodes": ["node1"],
                     "primary": "node1", "ms": T0 + 29_900},
                    {"event": "heal", "index": 0, "kind": "kill-postmaster", "nodes": ["node1"],
                     "ms": T0 + 29_900}]
        _, _, fig = self.judge(chaos_run(), schedule, {"vip-1": writes},
                               final_with({w["id"] for w in writes}))
        self.assertEqual(fig["outages"], 1)
        self.assertEqual(fig["recovery_s"]["kill-postmaster"]["max"], 8.0)

    def test_the_schedule_is_a_function_of_the_seed(self):
        spec = importlib.util.spec_from_loader("chaos", importlib.machinery.SourceFileLoader(
            "chaos", os.path.join(HERE, "chaos")))
        chaos = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(chaos)
        a = chaos.make_schedule(7, 30, 5)
        self.assertEqual(a, chaos.make_schedule(7, 30, 5))
        self.assertNotEqual(a, chaos.make_schedule(8, 30, 5))
        self.assertGreater(len({e["kind"] for e in a}), 10, "30 minutes draw from the whole catalogue")
        # never more than two faults in one round, restart-all always alone
        rounds = {}
        for e in a:
            rounds.setdefault(e["round"], []).append(e["kind"])
        self.assertTrue(all(len(k) <= 2 for k in rounds.values()))
        self.assertTrue(all(k == ["restart-all"] for k in rounds.values() if "restart-all" in k))


if __name__ == "__main__":
    unittest.main()
