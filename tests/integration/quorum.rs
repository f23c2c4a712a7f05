//! The quorum gate of a promotion and the election's rounds, against a
//! real standby. No cluster runs here: a fake `attrd_updater` first on the
//! agent's PATH serves and stores node attributes in files (one file per
//! attribute, a `<node> <value>` line per node), and a fake
//! `crm_attribute` records the score changes.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use pgha::policy::promotion::round_id;

use crate::util::*;

/// The fake attribute store of a cluster whose nodes the test plays (also
/// used by the metrics tests).
pub struct FakeCluster {
    dir: TempDir,
}

const ATTRD: &str = r#"#!/bin/sh
dir=$(dirname "$0")
name= value= node=$FAKE_NODE query= delete=
for a in "$@"; do
  case "$a" in
    --name=*) name=${a#--name=} ;;
    --update=*) value=${a#--update=} ;;
    --node=*) node=${a#--node=} ;;
    --query) query=1 ;;
    --delete) delete=1 ;;
  esac
done
printf 'attrd_updater %s\n' "$*" >> "$dir/calls"
f="$dir/attrs/$name"
if [ -n "$query" ]; then
  [ -s "$f" ] || { echo "attribute does not exist" >&2; exit 78; }
  while read -r h v; do printf 'name="%s" host="%s" value="%s"\n' "$name" "$h" "$v"; done < "$f"
  exit 0
fi
touch "$f"
grep -v "^$node " "$f" > "$f.new"
[ -n "$delete" ] || printf '%s %s\n' "$node" "$value" >> "$f.new"
mv "$f.new" "$f"
"#;

const CRM_ATTRIBUTE: &str = r#"#!/bin/sh
printf 'crm_attribute %s\n' "$*" >> "$(dirname "$0")/calls"
"#;

impl FakeCluster {
    pub fn new() -> FakeCluster {
        let dir = TempDir::root_only("fake-cluster");
        fs::create_dir(dir.path.join("attrs")).unwrap();
        let cluster = FakeCluster { dir };
        for (tool, text) in [("attrd_updater", ATTRD), ("crm_attribute", CRM_ATTRIBUTE)] {
            cluster.tool(tool, text);
        }
        cluster
    }

    /// Adds a fake Pacemaker tool `name` (a shell script) beside the others.
    pub fn tool(&self, name: &str, script: &str) {
        let path = self.dir.path.join(name);
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `agent` on `node`, asking this fake cluster.
    pub fn agent_on(&self, agent: &Agent, node: &str) -> Agent {
        let path = format!(
            "{}:{}",
            self.dir.path.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        agent
            .clone()
            .env("PATH", &path)
            .env("FAKE_NODE", node)
            .meta("on_node", node)
    }

    /// Sets attribute `name` of `node` as that node's agent would.
    pub fn set(&self, name: &str, node: &str, value: &str) {
        let path = self.dir.path.join("attrs").join(name);
        let mut lines: Vec<String> = fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with(&format!("{node} ")))
            .map(str::to_string)
            .collect();
        lines.push(format!("{node} {value}"));
        fs::write(&path, lines.join("\n") + "\n").unwrap();
    }

    pub fn get(&self, name: &str, node: &str) -> Option<String> {
        fs::read_to_string(self.dir.path.join("attrs").join(name))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{node} ")).map(str::to_string))
    }

    /// A fake `crm_node`: `-l` lists `members` (`<name> <state>`, each
    /// numbered), `-p` prints `partition`, `-n` the node it runs on as
    /// Pacemaker names it (`$FAKE_NODE`, [`FakeCluster::agent_on`]).
    pub fn crm_node(&self, members: &[(&str, &str)], partition: &str) {
        let listed: String = members
            .iter()
            .enumerate()
            .map(|(i, (name, state))| format!("{} {name} {state}\\n", i + 1))
            .collect();
        self.tool(
            "crm_node",
            &format!(
                "#!/bin/sh\ncase \"$1\" in\n  -n) printf '%s\\n' \"$FAKE_NODE\" ;;\n  -l) printf '{listed}' ;;\n  \
                 -p) printf '{partition}\\n' ;;\n  *) exit 1 ;;\nesac\n"
            ),
        );
    }

    pub fn calls(&self) -> String {
        fs::read_to_string(self.dir.path.join("calls")).unwrap_or_default()
    }
}

fn names(list: &str) -> Vec<String> {
    list.split_whitespace().map(str::to_string).collect()
}

/// The pre-promote notification of a round that promotes node-b among
/// `active`, on `agent`.
pub fn pre_promote(agent: &Agent, active: &str) {
    notify(
        agent,
        "pre",
        "promote",
        &[
            ("promote", "node-b"),
            ("active", active),
            ("all", "node-a node-b node-c"),
        ],
    );
}

/// strict-sync: the primary node-a listed ANY 1 (node-b, node-c), so a
/// commit may have been confirmed by node-c alone. With node-a gone and
/// node-c absent from the round, node-b must not be promoted, whatever
/// stale vote node-c left from an earlier round; the scores are deleted
/// so that no node is promotable, and the reason is published. Once
/// node-c votes in this round (behind node-b), node-b is promoted.
#[test]
fn strict_sync_promotes_only_with_a_quorum_of_the_listed_standbys_voting_in_this_round() {
    let (_a, a_agent, b, b_agent) = pair_with("gate", &[("replication_mode", "strict-sync")]);
    let cluster = FakeCluster::new();
    let rsc = b_agent.rsc();
    let b_on = cluster.agent_on(&b_agent, "node-b");
    a_agent.run("stop").expect(OcfCode::Success);
    let list = "node-a: ANY 1 (node-b, node-c)";
    cluster.set(&format!("pgha-{rsc}-sync-list"), "node-b", list);
    // node-c voted far ahead in a round that failed; node-d, not a
    // participant, too.
    let election = format!("pgha-{rsc}-election");
    let earlier = round_id(&names("node-c"), &names("node-b node-c"), &[]);
    cluster.set(&election, "node-c", &format!("9:F/0@{earlier}"));
    let this_round = round_id(&names("node-b"), &names("node-b node-c"), &[]);
    cluster.set(&election, "node-d", &format!("9:F/0@{this_round}"));

    pre_promote(&b_on, "node-b node-c");
    let vote = cluster
        .get(&election, "node-b")
        .unwrap_or_else(|| panic!("node-b voted nothing\n{}", cluster.calls()));
    assert!(
        vote.contains(&format!("@{this_round} ")),
        "node-b's vote names this round and its history: {vote}"
    );
    let out = b_on.run("promote");
    out.expect_reason(OcfCode::ErrGeneric, "strict-sync: 1 of the 2 standbys needed");
    out.expect_logged(
        "no vote from [\"node-c\"]",
        "node-c's earlier vote does not stand in",
    );
    b.assert_query(
        "select pg_is_in_recovery()",
        "t",
        "not promoted without the quorum",
    );
    let calls = cluster.calls();
    for node in ["node-b", "node-c"] {
        assert!(
            calls.contains(&format!(
                "--promotion={rsc} --lifetime=reboot --delete --node={node}"
            )),
            "the score of {node} is deleted: no node is promotable while the gate waits\n{calls}"
        );
    }
    let gate = cluster
        .get(&format!("pgha-{rsc}-gate"), "node-b")
        .unwrap_or_default();
    assert!(
        gate.contains("waiting for node-c"),
        "the reason is published: {gate:?}"
    );
    // That failure is no fault of node-b: its next monitor clears it from
    // Pacemaker's fail count, once.
    cluster.tool(
        "crm_resource",
        "#!/bin/sh\nprintf 'crm_resource %s\\n' \"$*\" >> \"$(dirname \"$0\")/calls\"\n",
    );
    let cleanup =
        format!("crm_resource --cleanup --resource={rsc} --node=node-b --operation=promote --interval=0");
    let monitor = b_on.clone().recurring();
    monitor
        .run("monitor")
        .expect_logged("cleared the failed promote", "the declined promote is cleared");
    monitor.run("monitor");
    assert_eq!(
        cluster.calls().matches(&cleanup).count(),
        1,
        "one clean-up of the declined promote\n{}",
        cluster.calls()
    );

    // node-c back, behind node-b, votes in this round: the quorum is met.
    pre_promote(&b_on, "node-b node-c");
    cluster.set(&election, "node-c", &format!("1:0/1000000@{this_round} 1"));
    b_on.run("promote").expect(OcfCode::Success);
    b.assert_query("select pg_is_in_recovery()", "f", "promoted with the quorum");
    b.assert_sync_names(
        "ANY 1 (\"node-c\")",
        "strict-sync names the other participant before its first commit",
    );
    assert_eq!(
        cluster.get(&format!("pgha-{rsc}-gate"), "node-b").as_deref(),
        Some("-"),
        "the reason is withdrawn"
    );
    b_agent.run("stop").expect(OcfCode::Success);
}

/// strict-sync, promoted alone (no other participant): the strict value is
/// set before pg_promote, so not one commit is acknowledged by this node
/// alone, whatever its postgresql.auto.conf held.
#[test]
fn strict_sync_promoted_alone_waits_for_a_standby_from_its_first_commit() {
    let (_a, a_agent, b, b_agent) = pair_with("alone", &[("replication_mode", "strict-sync")]);
    let cluster = FakeCluster::new();
    let b_on = cluster.agent_on(&b_agent, "node-b");
    a_agent.run("stop").expect(OcfCode::Success);
    // The standby's own configuration says nothing waits.
    b.psql("alter system set synchronous_standby_names = ''");
    b.psql("select pg_reload_conf()");
    notify(
        &b_on,
        "pre",
        "promote",
        &[
            ("promote", "node-b"),
            ("active", "node-b"),
            ("all", "node-a node-b"),
        ],
    );
    b_on.run("promote").expect(OcfCode::Success);
    b.assert_sync_names(
        "ANY 1 (\"node-a\")",
        "the other member is waited for from the first commit",
    );
    b_agent.run("stop").expect(OcfCode::Success);
}

/// The same WAL on a higher timeline number is not "more advanced": the
/// vote of a node whose history only adds a timeline switch at the
/// candidate's own position ties, and the candidate is promoted instead of
/// handing over (the lab's `12:0/665F358 > 10:0/665F358`).
#[test]
fn a_higher_timeline_number_with_the_same_wal_does_not_take_the_promotion() {
    let this_round = round_id(&names("node-b"), &names("node-b node-c"), &[]);
    // (what, the LSN of node-c's vote on the next timeline, which left
    // node-b's timeline at node-b's position `at`; promoted)
    let table: [(&str, Option<&str>, bool); 2] = [
        ("the same WAL on the next timeline number: a tie", None, true),
        ("more WAL on the next timeline: ahead", Some("FF/0"), false),
    ];
    for (i, (what, their_lsn, promoted)) in table.into_iter().enumerate() {
        let (_a, a_agent, b, b_agent) = pair(&format!("tlnumber{i}"));
        let cluster = FakeCluster::new();
        let election = format!("pgha-{}-election", b_agent.rsc());
        let b_on = cluster.agent_on(&b_agent, "node-b");
        a_agent.run("stop").expect(OcfCode::Success);
        pre_promote(&b_on, "node-b node-c");
        // "<timeline>:<LSN>@<round> <history>"
        let vote = cluster.get(&election, "node-b").expect("node-b voted");
        let (tagged, history) = vote
            .split_once(' ')
            .unwrap_or_else(|| panic!("node-b's vote carries its history: {vote}"));
        let (timeline, at) = tagged.split_once('@').unwrap().0.split_once(':').unwrap();
        let next: u32 = timeline.parse::<u32>().unwrap() + 1;
        let theirs = format!(
            "{next}:{}@{this_round} {history}@{at},{next}",
            their_lsn.unwrap_or(at)
        );
        cluster.set(&election, "node-c", &theirs);
        let out = b_on.run("promote");
        if promoted {
            out.expect(OcfCode::Success);
            b.assert_query("select pg_is_in_recovery()", "f", what);
        } else {
            out.expect_reason(OcfCode::ErrGeneric, "node-c is more advanced");
            b.assert_query("select pg_is_in_recovery()", "t", what);
        }
        b_agent.run("stop").expect(OcfCode::Success);
    }
}

/// The wait of a promote without fencing, against a fake cluster without
/// fencing where node-a (the old primary) is outside node-b's partition.
/// It was 3 s from the promote whatever the cluster said: a node gone for
/// an hour cost every failover its full length, and a node back in the
/// partition too. It now counts from when node-b first saw node-a leave
/// (issue 23).
#[test]
fn a_promote_without_fencing_waits_only_the_rest_of_3s_from_the_departure() {
    use pgha::deadline::boot_millis;
    use pgha::runstate::RunState;
    use pgha::vocab::Key;
    use std::time::{Duration, Instant};
    // (what, node-b's partition, node-a seen away since (ms ago), waits)
    let table: [(&str, &str, Option<u64>, bool); 3] = [
        ("node-a left an hour ago", "node-b node-c", Some(3_600_000), false),
        (
            "node-a is back in the partition",
            "node-a node-b node-c",
            Some(1_000),
            false,
        ),
        ("node-a left just now", "node-b node-c", None, true),
    ];
    for (i, (what, partition, away_ms, waits)) in table.into_iter().enumerate() {
        let (_a, a_agent, b, b_agent) = pair(&format!("nofence{i}"));
        let cluster = FakeCluster::new();
        cluster.tool(
            "crm_node",
            &format!(
                "#!/bin/sh\ncase \"$1\" in\n-l) printf '1 node-a %s\\n2 node-b member\\n3 node-c member\\n' {} ;;\n\
                 -p) echo '{partition}' ;;\n*) exit 1 ;;\nesac\n",
                if partition.contains("node-a") { "member" } else { "lost" }
            ),
        );
        cluster.tool(
            "cibadmin",
            "#!/bin/sh\ncase \"$*\" in\n*configuration*) echo '<configuration><crm_config><cluster_property_set id=\"o\">\
             <nvpair id=\"s\" name=\"stonith-enabled\" value=\"false\"/></cluster_property_set></crm_config>\
             <nodes><node id=\"1\" uname=\"node-a\"/><node id=\"2\" uname=\"node-b\"/><node id=\"3\" uname=\"node-c\"/></nodes>\
             <resources/></configuration>' ;;\n*nodes*) echo '<nodes><node id=\"1\" uname=\"node-a\"/>\
             <node id=\"2\" uname=\"node-b\"/><node id=\"3\" uname=\"node-c\"/></nodes>' ;;\n*) exit 6 ;;\nesac\n",
        );
        let b_on = cluster.agent_on(&b_agent, "node-b");
        a_agent.run("stop").expect(OcfCode::Success);
        if let Some(ago) = away_ms {
            let mut memory = RunState::load(&b_agent.rsc());
            let since = boot_millis().unwrap().saturating_sub(ago);
            memory.set(&Key::Absent("node-a".into()), &since.to_string());
            memory.save();
        }
        // node-b alone takes part: no wait for votes.
        pre_promote(&b_on, "node-b");
        let started = Instant::now();
        let out = b_on.run("promote");
        let took = started.elapsed();
        out.expect(OcfCode::Success);
        b.assert_query("select pg_is_in_recovery()", "f", what);
        if waits {
            out.expect_logged("no fencing: waiting", what);
            assert!(took >= Duration::from_millis(2500), "{what}: {took:?}\n{out}");
        } else {
            out.expect_not_logged("no fencing: waiting", what);
            assert!(took < Duration::from_millis(2500), "{what}: {took:?}\n{out}");
        }
        b_agent.run("stop").expect(OcfCode::Success);
    }
}

/// Issue 22: two primaries that never saw each other made timeline 2 from
/// different points of timeline 1. node-b, the first, comes back beside
/// node-c, the second: pg_rewind compares the numbers in pg_control, says
/// "no rewind required", and node-b followed node-c's timeline 2 after
/// its own. Its start now compares its history with the primary's (asked
/// over SQL), refuses the fork pg_rewind cannot see, and with rebuild=true
/// copies the primary.
#[test]
fn a_timeline_of_the_primarys_number_forked_elsewhere_is_never_followed() {
    let (a, a_agent, b, b_agent) = pair("samenumber");
    let rsc = a_agent.rsc();
    let (c, c_agent) = standby_started(&a, &rsc, "node-c", "samenumber-c", &[]);
    assert_streams(&c_agent, &c);
    replicated_table(&a, &b);
    c.wait_for_row("select count(*) from t", "1");
    // What node-a writes now reaches node-b only: node-b's timeline 1 ends
    // later than node-c's.
    c_agent.run("stop").expect(OcfCode::Success);
    a.psql("insert into t select generate_series(2, 100)");
    b.wait_for_row("select count(*) from t", "100");
    a_agent.run("stop").expect(OcfCode::Success);
    // node-b promoted, writes, goes down.
    b_agent.run("promote").expect(OcfCode::Success);
    b.psql("insert into t values (-1)");
    let timeline = "select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)";
    let number = u32::from_str_radix(b.psql(timeline).trim(), 16).unwrap();
    b_agent.run("stop").expect(OcfCode::Success);
    // node-c, which never heard of it, promoted from its own end of 1.
    let c_alone = c_agent.clone().param("primary_conninfo", NO_PRIMARY_YET);
    c_alone.run("start").expect(OcfCode::Success);
    c_alone.run("promote").expect(OcfCode::Success);
    c.psql("insert into t select generate_series(1000, 1999)");
    c.assert_query(
        timeline,
        &format!("{number:08X}"),
        "node-c's timeline has node-b's number",
    );
    // node-b back, node-c the primary its attributes name.
    let cluster = FakeCluster::new();
    cluster.set(&format!("pgha-{rsc}-role"), "node-c", "primary");
    let b_back = cluster.agent_on(
        &b_agent
            .clone()
            .params(&[("primary_conninfo", &c.conninfo()), ("rewind", "true")]),
        "node-b",
    );
    b_back.run("start").expect_reason(
        OcfCode::ErrGeneric,
        &format!(
            "timeline {number} here forked from the primary's timeline {number}: pg_rewind cannot repair it"
        ),
    );
    b.assert_no_processes("a fork pg_rewind cannot see is never followed");
    b_back
        .clone()
        .param("rebuild", "true")
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("is not in the primary's history", "the fork is named");
    b.wait_for_row("select count(*) from t", "1001");
    b.assert_query(
        "select count(*) from t where i = -1",
        "0",
        "none of node-b's own rows",
    );
    stop_all(&[&b_back, &c_alone]);
}

/// A primary cut off from the others writes on after they promoted
/// node-b; it is stopped, and starts again while no primary runs, so it
/// follows nothing and runs as a plain standby: pg_control says "shut down
/// in recovery" at its next stop. Its history (timeline 1) is part of
/// node-b's, but its WAL goes past where node-b left timeline 1, and its
/// receiver could never stream ("requested timeline 2 is not a child of
/// this server's history": the chaos run that found it). The start that
/// finds node-b running compares it and rewinds it, as a former primary.
#[test]
fn a_standby_whose_wal_goes_past_the_fork_point_is_rewound() {
    let (a, a_agent, b, b_agent) = pair("pastfork");
    let rsc = a_agent.rsc();
    replicated_table(&a, &b);
    // node-b's timeline 1 ends here; node-a writes on alone.
    b_agent.run("stop").expect(OcfCode::Success);
    a.psql("insert into t select generate_series(2, 100)");
    a_agent.run("stop").expect(OcfCode::Success);
    let b_alone = b_agent.clone().param("primary_conninfo", NO_PRIMARY_YET);
    b_alone.run("start").expect(OcfCode::Success);
    b_alone.run("promote").expect(OcfCode::Success);
    b.psql("insert into t values (-1)");
    // node-a back while no primary is known: it waits as a standby.
    let a_alone = a_agent.clone().param("primary_conninfo", NO_PRIMARY_YET);
    a_alone.run("start").expect(OcfCode::Success);
    a.assert_query("select pg_is_in_recovery()", "t", "a standby");
    a_alone.run("stop").expect(OcfCode::Success);
    let control = run_as_postgres(pg_bin().join("pg_controldata"), &[a.datadir.to_str().unwrap()]);
    assert!(
        control.contains("shut down in recovery"),
        "stopped as a standby:\n{control}"
    );
    // node-b the primary its attributes name.
    let cluster = FakeCluster::new();
    cluster.set(&format!("pgha-{rsc}-role"), "node-b", "primary");
    let a_back = cluster.agent_on(
        &a_agent
            .clone()
            .params(&[("primary_conninfo", &b.conninfo()), ("rewind", "true")]),
        "node-a",
    );
    a_back
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged(
            "where the primary's history",
            "the WAL past the fork point is named",
        )
        .expect_logged("pg_rewind", "rewound");
    b.psql("insert into t values (-2)");
    a.wait_for_row("select count(*) from t where i < 0", "2");
    a.assert_query(
        "select count(*) from t where i between 2 and 100",
        "0",
        "none of the rows node-a wrote alone",
    );
    stop_all(&[&a_back, &b_alone]);
}

/// Issue 22: a primary made timeline 3 and died before any standby got its
/// history file; its history, published on node-b's node, is all that is
/// left of it. node-b, on timeline 2, used to make timeline 3 again. It
/// now puts that history file in its pg_wal first and makes timeline 4,
/// and publishes its own history for the next promotion.
#[test]
fn a_promotion_never_makes_a_timeline_number_another_node_used() {
    let (_a, a_agent, b, b_agent) = pair("usednumber");
    let cluster = FakeCluster::new();
    let rsc = b_agent.rsc();
    let b_on = cluster.agent_on(&b_agent, "node-b");
    a_agent.run("stop").expect(OcfCode::Success);
    // Timeline 2's history as node-b, which follows it, holds it, and a
    // timeline 3 made from it by a primary that is gone.
    b.assert_query(
        "select timeline_id from pg_control_checkpoint()",
        "2",
        "on timeline 2",
    );
    let file = fs::read_to_string(b.datadir.join("pg_wal/00000002.history")).unwrap();
    let fork = file.split_whitespace().nth(1).unwrap().to_string();
    let used = format!("1@{fork},2@{fork},3");
    cluster.set(&format!("pgha-{rsc}-history"), "node-b", &used);
    pre_promote(&b_on, "node-b");
    b_on.run("promote")
        .expect(OcfCode::Success)
        .expect_logged("timeline 3 was used by another node", "the used number is named");
    b.assert_query(
        "select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)",
        "00000004",
        "promoted past the number another node used",
    );
    let published = cluster
        .get(&format!("pgha-{rsc}-history"), "node-b")
        .unwrap_or_default();
    assert!(
        published.ends_with(",4"),
        "its own history published: {published}"
    );
    b_agent.run("stop").expect(OcfCode::Success);
}
