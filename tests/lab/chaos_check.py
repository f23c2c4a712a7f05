#!/usr/bin/env python3
"""The chaos runs' checker: judges a run from what the clients saw and what
the databases hold, sharing no code with the agent (nor with the runner:
it reads the run directory's files and asks the nodes itself).

    chaos_check.py converge --run DIR --bound S   wait until converged (DIR/converge.json)
    chaos_check.py collect --run DIR              what every node holds (DIR/final.json)
    chaos_check.py judge --run DIR                the verdict (DIR/verdict.json), exit 1 on an anomaly

The run directory (tests/lab/chaos): run.json (mode, fencing, nodes,
sync_grace_s, sync_standbys, start_ms, heal_ms, end_ms, id_slot),
schedule.jsonl (every fault as injected and healed, with its nodes and the
primary of the moment), clients/NAME-K.jsonl (one line per attempt: id,
start_ms, end_ms, outcome).

The rules (`judge_run`, a pure function of those files):
1. No acknowledged commit lost where the mode promises it: every committed
   id of every client is on the final primary. strict-sync: zero, always.
   sync: zero, unless the schedule had more than sync_standbys nodes hit at
   once, the primary of the moment among them, for longer than sync_grace:
   rows committed before the end of such a window and missing are reported
   apart. async: every loss is reported with the fault it follows.
2. Never two acknowledging primaries: node N's in-node client (id slot N)
   shows when N acknowledged writes. Its commits, grouped into tenures
   (gaps under TENURE_GAP_S), must not overlap another node's tenure. With
   fencing: zero overlap; without: the largest overlap is reported.
3. One history: every node's timeline history files are the primary's, no
   node is on a timeline the primary does not know, and every row on any
   node is on the primary.
4. Converged within the bound after the heal: one Promoted instance, every
   node online and running its instance, every other node streaming from
   the primary (a synchronous one in the sync modes), the agent's slots in
   place, no monitor degraded. Failed actions are listed; one that left an
   instance not running is an anomaly.
5. Availability (reported): the share of seconds with a committed VIP write,
   and per fault kind the write outage that followed it (median, p95, max).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labconf  # noqa: E402  (the lab's constants only)

CONF = labconf.load()
LAB = os.path.join(HERE, "lab")

# A node's acknowledgments closer together than this belong to one tenure.
TENURE_GAP_S = 3.0
# A write outage: this long or more without a committed VIP write.
OUTAGE_S = 1.0
# Faults that take a node away, for the sync promise's allowance.
NODE_LOSING = {"kill-postmaster", "freeze-postmaster", "freeze-instance", "isolate", "halves",
               "ring", "one-way", "poweroff", "poweroff-two", "restart-all", "kill-agent",
               "node-standby", "resource-restart", "slow-link"}


# ---------------------------------------------------------------- reading a run

def read_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                if line.endswith("\n") and line.strip():
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def load_run(rundir):
    """run.json: what the nemesis wrote of the run (mode, nodes, clients...)."""
    with open(os.path.join(rundir, "run.json")) as f:
        return json.load(f)


def read_run(rundir):
    run = load_run(rundir)
    clients = {}
    cdir = os.path.join(rundir, "clients")
    for name in sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []:
        if name.endswith(".jsonl"):
            clients[name[:-len(".jsonl")]] = read_jsonl(os.path.join(cdir, name))
    return run, read_jsonl(os.path.join(rundir, "schedule.jsonl")), clients


def faults_of(schedule):
    """[{index, kind, nodes, primary, inject_ms, heal_ms}] from the schedule log."""
    heals = {e["index"]: e["ms"] for e in schedule if e.get("event") == "heal"}
    out = []
    for e in schedule:
        if e.get("event") == "inject":
            out.append({"index": e["index"], "kind": e["kind"], "nodes": e["nodes"],
                        "primary": e.get("primary"), "inject_ms": e["ms"],
                        "heal_ms": heals.get(e["index"], e["ms"])})
    return out


# ---------------------------------------------------------------- asking the nodes

def node_is_up(node):
    try:
        with open(os.path.join(CONF["LAB_DIR"], "nodes", node, "pid")) as f:
            return os.path.isdir(f"/proc/{int(f.read().strip())}")
    except (OSError, ValueError):
        return False


def in_node(node, argv, bound_s=10):
    """(returncode, stdout) of argv inside node, killed after bound_s."""
    try:
        r = subprocess.run([LAB, "exec", node, "timeout", "-s", "KILL", str(bound_s), *argv],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, timeout=bound_s + 10)
    except subprocess.TimeoutExpired:
        return None, ""
    return r.returncode, r.stdout


def sql(node, query, db="postgres", bound_s=10):
    """Rows of query as postgres over node's socket, or None."""
    psql = os.path.join(labconf.node_pgbin(CONF), "psql")
    rc, out = in_node(node, ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
                             psql, "-X", "-At", "-F", "\t", "-h", CONF["PGSOCK"], "-p", CONF["PGPORT"],
                             "-d", db, "-c", query], bound_s)
    if rc != 0:
        return None
    return [line.split("\t") for line in out.splitlines()]


def cluster_view(nodes):
    """crm_mon's XML of a quorate node, parsed, or None."""
    for n in nodes:
        if not node_is_up(n):
            continue
        rc, out = in_node(n, ["crm_mon", "--output-as=xml", "-1"], 15)
        if rc != 0:
            continue
        try:
            root = ET.fromstring(out)
        except ET.ParseError:
            continue
        cur = root.find("./summary/current_dc")
        if cur is not None and cur.get("with_quorum") == "true":
            return root
    return None


def degraded_monitors(node):
    """The recurring monitors whose last result is a degraded one (190/191)."""
    rc, out = in_node(node, ["cibadmin", "--query", "--scope", "status"], 15)
    if rc != 0:
        return None
    try:
        root = ET.fromstring(out)
    except ET.ParseError:
        return None
    found = []
    for state in root.iter("node_state"):
        for op in state.iter("lrm_rsc_op"):
            if (op.get("operation") == "monitor" and op.get("interval", "0") != "0"
                    and op.get("rc-code") in ("190", "191")):
                found.append(f"{state.get('uname')}: {op.get('id')} rc={op.get('rc-code')}")
    return found


def convergence(run):
    """(converged, [what is not]) at this moment."""
    nodes, rsc = run["nodes"], CONF["RSC"]
    view = cluster_view(nodes)
    if view is None:
        return False, ["no node has quorum"]
    wrong = []
    online = {n.get("name") for n in view.findall("./nodes/node") if n.get("online") == "true"
              and n.get("standby") != "true" and n.get("pending") != "true"}
    wrong += [f"{n} not online" for n in nodes if n not in online]
    roles = {}
    for r in view.iter("resource"):
        if r.get("id") == rsc and r.get("active") == "true" and r.get("failed") != "true":
            for n in r.findall("node"):
                roles[n.get("name")] = r.get("role")
    promoted = [n for n, role in roles.items() if role in ("Promoted", "Master")]
    if len(promoted) != 1:
        return False, wrong + [f"{len(promoted)} Promoted instances"]
    primary = promoted[0]
    wrong += [f"{n} runs no instance" for n in nodes if n not in roles]
    rows = sql(primary, "SELECT application_name, state, sync_state FROM pg_stat_replication")
    if rows is None:
        return False, wrong + [f"the primary {primary} does not answer"]
    streaming = {r[0]: r[2] for r in rows if r[1] == "streaming"}
    wrong += [f"{n} not streaming" for n in nodes if n != primary and n not in streaming]
    if run["mode"] != "async" and not any(s in ("sync", "quorum") for s in streaming.values()):
        wrong.append("no synchronous standby")
    if run["agent"] == "pgha":
        slots = sql(primary, "SELECT slot_name FROM pg_replication_slots") or []
        have = {s[0] for s in slots}
        wrong += [f"no slot for {n}" for n in nodes if n != primary and f"pgha_{n}" not in have]
    degraded = degraded_monitors(primary)
    if degraded:
        wrong += [f"degraded: {d}" for d in degraded]
    return not wrong, wrong


def cmd_converge(rundir, bound_s):
    run = load_run(rundir)
    start = time.time()
    doc = {"bound_s": bound_s, "converged_s": None, "not": None}
    while True:
        ok, wrong = convergence(run)
        doc["not"] = wrong
        if ok:
            doc["converged_s"] = round(time.time() - start, 1)
            break
        if time.time() - start > bound_s:
            break
        time.sleep(3)
    print(f"converge: {'in ' + str(doc['converged_s']) + ' s' if ok else 'NOT within ' + str(bound_s) + ' s: ' + '; '.join(wrong)}",
          file=sys.stderr)
    with open(os.path.join(rundir, "converge.json"), "w") as f:
        json.dump(doc, f, indent=1)
    return 0


def history_files(node):
    """{name: text} of the node's timeline history files (read from the lab machine)."""
    d = os.path.join(CONF["LAB_DIR"], "nodes", node, "root" + CONF["PGDATA"], "pg_wal")
    out = {}
    try:
        for name in sorted(os.listdir(d)):
            if name.endswith(".history"):
                with open(os.path.join(d, name), errors="replace") as f:
                    out[name] = f.read()
    except OSError:
        pass
    return out


def cmd_collect(rundir):
    run = load_run(rundir)
    view = cluster_view(run["nodes"])
    primary = None
    failures = []
    if view is not None:
        for r in view.iter("resource"):
            if r.get("id") == CONF["RSC"] and r.get("role") in ("Promoted", "Master") \
                    and r.get("active") == "true":
                primary = r.find("node").get("name")
        for fl in view.iter("failure"):
            failures.append({"node": fl.get("node"), "op": fl.get("op_key"),
                             "status": fl.get("exitstatus"), "reason": fl.get("exitreason")})
    final = {"primary": primary, "failures": failures, "nodes": {}}
    for n in run["nodes"]:
        ids = sql(n, f"SELECT id FROM {CONF['LOAD_TABLE']}", db=CONF["LOAD_DB"], bound_s=60)
        tl = sql(n, "SELECT CASE WHEN pg_is_in_recovery() THEN coalesce("
                    "(SELECT received_tli FROM pg_stat_wal_receiver), "
                    "(SELECT timeline_id FROM pg_control_checkpoint())) "
                    "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END")
        final["nodes"][n] = {"up": node_is_up(n),
                             "ids": None if ids is None else [int(r[0]) for r in ids],
                             "timeline": None if not tl else int(tl[0][0]),
                             "history": history_files(n)}
    with open(os.path.join(rundir, "final.json"), "w") as f:
        json.dump(final, f)
    return 0


# ---------------------------------------------------------------- the verdict

def committed(clients):
    """(id, end_ms, client name) of every acknowledged write."""
    return [(a["id"], a["end_ms"], name) for name, attempts in clients.items() for a in attempts
            if a.get("outcome") == "committed"]


def slot_of(row_id, id_slot):
    return row_id // id_slot


def tenures(times, gap_ms):
    """Sorted ack times -> [(first, last)] runs with gaps under gap_ms."""
    out = []
    for t in sorted(times):
        if out and t - out[-1][1] < gap_ms:
            out[-1][1] = t
        else:
            out.append([t, t])
    return [tuple(x) for x in out]


def overlaps(acks_by_node, gap_ms):
    """[(node a, node b, overlap ms, at ms)] of tenures of two nodes that intersect."""
    ten = {n: tenures(ts, gap_ms) for n, ts in acks_by_node.items()}
    found = []
    names = sorted(ten)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for a0, a1 in ten[a]:
                for b0, b1 in ten[b]:
                    lo, hi = max(a0, b0), min(a1, b1)
                    if lo <= hi:
                        found.append((a, b, hi - lo, lo))
    return found


def loss_windows(faults, sync_standbys, grace_ms):
    """Intervals (start, end ms) when more than sync_standbys nodes were hit at
    once, the primary of the moment among them, for longer than grace_ms: the
    sync mode's promise allows a loss there."""
    points = sorted({f["inject_ms"] for f in faults} | {f["heal_ms"] for f in faults})
    windows = []
    for lo, hi in zip(points, points[1:]):
        active = [f for f in faults if f["kind"] in NODE_LOSING
                  and f["inject_ms"] <= lo and f["heal_ms"] >= hi]
        hit = {n for f in active for n in f["nodes"]}
        primaries = {f["primary"] for f in active if f["primary"]}
        if len(hit) > sync_standbys and hit & primaries:
            if windows and windows[-1][1] == lo:
                windows[-1][1] = hi
            else:
                windows.append([lo, hi])
    return [tuple(w) for w in windows if w[1] - w[0] > grace_ms]


def blame(ms, faults):
    """The fault a loss of a row acknowledged at ms follows: the one active
    then, else the first one injected after it."""
    active = [f for f in faults if f["inject_ms"] <= ms <= f["heal_ms"]]
    if active:
        return active[-1]
    later = [f for f in faults if f["inject_ms"] >= ms]
    return later[0] if later else None


def pct(values, q):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def availability(clients, faults, start_ms, end_ms):
    vip = sorted(a["end_ms"] for name, att in clients.items() if name.startswith("vip")
                 for a in att if a.get("outcome") == "committed" and start_ms <= a["end_ms"] <= end_ms)
    seconds = max(1, (end_ms - start_ms) // 1000)
    with_write = len({(t - start_ms) // 1000 for t in vip})
    outages = []
    prev = start_ms
    for t in vip + [end_ms]:
        if t - prev >= OUTAGE_S * 1000:
            outages.append((prev, t))
        prev = t
    per_kind = {}
    for f in faults:
        # The outages that begin while it is active or within 5 s of its heal.
        mine = [o for o in outages if f["inject_ms"] - 1000 <= o[0] <= f["heal_ms"] + 5000]
        per_kind.setdefault(f["kind"], []).append(sum(o[1] - o[0] for o in mine) / 1000)
    return {
        "writes_share": round(with_write / seconds, 4),
        "outages": len(outages),
        "longest_outage_s": round(max((o[1] - o[0] for o in outages), default=0) / 1000, 1),
        "recovery_s": {k: {"faults": len(v), "median": round(statistics.median(v), 1),
                           "p95": round(pct(v, 0.95), 1), "max": round(max(v), 1)}
                       for k, v in sorted(per_kind.items())},
    }


def judge_run(run, schedule, clients, final, converge):
    """(anomalies, reports, figures): anomalies break a promise; reports are facts."""
    anomalies, reports = [], []
    faults = faults_of(schedule)
    primary = final.get("primary")
    nodes = final.get("nodes", {})
    acked = committed(clients)

    # 4. converged
    if converge.get("converged_s") is None:
        anomalies.append(f"not converged within {converge.get('bound_s')} s of the heal: "
                         + "; ".join(converge.get("not") or []))
    for fl in final.get("failures", []):
        reports.append(f"failed action left: {fl['node']} {fl['op']} {fl['status']}"
                       + (f" ({fl['reason']})" if fl.get("reason") else ""))

    # 1. lost commits
    on_primary = set(nodes.get(primary, {}).get("ids") or []) if primary else set()
    if primary is None or nodes.get(primary, {}).get("ids") is None:
        anomalies.append("no primary to read the rows from")
        lost = []
    else:
        lost = [(i, t, c) for i, t, c in acked if i not in on_primary]
    grace = run.get("sync_grace_s", 30) * 1000
    windows = loss_windows(faults, run.get("sync_standbys", 1), grace)
    allowed, broken = [], []
    for row in lost:
        if run["mode"] == "async":
            allowed.append(row)
        elif run["mode"] == "sync" and any(row[1] <= w[1] for w in windows):
            allowed.append(row)
        else:
            broken.append(row)
    by_fault = {}
    for i, t, c in allowed + broken:
        f = blame(t, faults)
        key = f"fault {f['index']} {f['kind']} on {','.join(f['nodes'])}" if f else "no fault"
        by_fault[key] = by_fault.get(key, 0) + 1
    if broken:
        anomalies.append(f"{len(broken)} acknowledged commits lost where {run['mode']} promises none: "
                         + "; ".join(f"{k}: {v}" for k, v in sorted(by_fault.items())))
    elif allowed:
        reports.append(f"{len(allowed)} acknowledged commits lost, as {run['mode']} allows here: "
                       + "; ".join(f"{k}: {v}" for k, v in sorted(by_fault.items())))

    # 2. two acknowledging primaries
    acks = {}
    for i, t, c in acked:
        slot = slot_of(i, run["id_slot"])
        if slot > 0:
            acks.setdefault(f"node{slot}", []).append(t)
    found = overlaps(acks, TENURE_GAP_S * 1000)
    worst = max((o[2] for o in found), default=0) / 1000
    if found and run.get("fencing"):
        a, b, ms, at = max(found, key=lambda o: o[2])
        anomalies.append(f"two acknowledging primaries with fencing: {a} and {b}, "
                         f"{ms / 1000:.2f} s (at {time.strftime('%H:%M:%S', time.localtime(at / 1000))})")
    elif found:
        reports.append(f"two acknowledging primaries (no fencing): at most {worst:.2f} s, "
                       f"{len(found)} times")

    # 3. one history
    if primary:
        ph = nodes.get(primary, {}).get("history", {})
        ptl = nodes.get(primary, {}).get("timeline")
        for n, st in sorted(nodes.items()):
            if n == primary:
                continue
            for name, text in sorted(st.get("history", {}).items()):
                if ph.get(name) != text:
                    anomalies.append(f"{n}: {name} differs from the primary's (a forked history)")
            if st.get("timeline") and ptl and st["timeline"] > ptl:
                anomalies.append(f"{n} is on timeline {st['timeline']}, beyond the primary's {ptl}")
            extra = set(st.get("ids") or []) - on_primary
            if st.get("ids") is not None and extra:
                anomalies.append(f"{n} holds {len(extra)} rows the primary does not have")
            if st.get("ids") is None:
                anomalies.append(f"{n}: its rows could not be read")

    figures = availability(clients, faults, run["start_ms"], run.get("end_ms") or run["heal_ms"])
    figures.update({
        "faults": len(faults),
        "faults_by_kind": {k: sum(1 for f in faults if f["kind"] == k) for k in sorted({f["kind"] for f in faults})},
        "acknowledged": len(acked),
        "lost": len(lost),
        "lost_allowed": len(allowed),
        "max_overlap_s": round(worst, 2),
        "converged_s": converge.get("converged_s"),
        "sync_loss_windows": len(windows),
    })
    return anomalies, reports, figures


def cmd_judge(rundir):
    run, schedule, clients = read_run(rundir)
    with open(os.path.join(rundir, "final.json")) as f:
        final = json.load(f)
    try:
        with open(os.path.join(rundir, "converge.json")) as f:
            converge = json.load(f)
    except FileNotFoundError:
        converge = {"converged_s": None, "bound_s": None, "not": ["never checked"]}
    anomalies, reports, figures = judge_run(run, schedule, clients, final, converge)
    for a in anomalies:
        print(f"ANOMALY - {a}")
    for r in reports:
        print(f"# report: {r}")
    print(json.dumps(figures, indent=1))
    print(f"{'FAIL' if anomalies else 'ok'} - chaos seed {run['seed']}, {run['mode']}"
          f"{', fencing' if run.get('fencing') else ''}: {len(anomalies)} anomalies, "
          f"{figures['faults']} faults")
    with open(os.path.join(rundir, "verdict.json"), "w") as f:
        json.dump({"anomalies": anomalies, "reports": reports, "figures": figures}, f, indent=1)
    return 1 if anomalies else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["converge", "collect", "judge"])
    ap.add_argument("--run", required=True)
    ap.add_argument("--bound", type=float, default=240)
    args = ap.parse_args()
    if args.command == "converge":
        return cmd_converge(args.run, args.bound)
    if args.command == "collect":
        return cmd_collect(args.run)
    return cmd_judge(args.run)


if __name__ == "__main__":
    sys.exit(main())
