//! Per-node roles (never promoted, never synchronous, a priority among
//! equals) and the readable flag of a read-only VIP, against real
//! standbys. The roles are set as an operator sets them: the real
//! `crm_attribute --node <node> --name pgha-<rsc>-<role> --update true
//! --lifetime forever`, on a CIB file (`CIB_file`, which every Pacemaker
//! tool reads instead of a live CIB, the agent's `cibadmin` too); the rest
//! of the cluster is [`FakeCluster`] (attributes in files, scores and
//! calls recorded) and a `crm_node` that lists three nodes.

use std::process::Command;

use serde_json::Value;
use std::time::Duration;

use pgha::runstate::RunState;
use pgha::vocab::{Attr, History, Key, READABLE, ROLE_ON, RoleAttr};

use crate::quorum::{self, FakeCluster};
use crate::util::*;

/// `crm_node` of a three-node cluster, all of them in this partition.
fn crm_node(cluster: &FakeCluster) {
    let members = [("node-a", "member"), ("node-b", "member"), ("node-c", "member")];
    cluster.crm_node(&members, "node-a node-b node-c");
}

/// A CIB file that configures some nodes.
struct Cib {
    _dir: TempDir,
    path: String,
}

impl Cib {
    /// One that configures node-a, node-b and node-c.
    fn new() -> Cib {
        Cib::of(&["node-a", "node-b", "node-c"])
    }

    fn of(nodes: &[&str]) -> Cib {
        let dir = TempDir::root_only("roles-cib");
        let path = dir.path.join("cib.xml");
        let empty = run_tool("cibadmin", &["--empty"]);
        std::fs::write(&path, &empty.expect_success().stdout).unwrap();
        let cib = Cib {
            path: path.to_str().unwrap().to_string(),
            _dir: dir,
        };
        for (id, node) in nodes.iter().enumerate() {
            let xml = format!("<node id=\"{}\" uname=\"{node}\"/>", id + 1);
            cib.tool("cibadmin", &["--create", "-o", "nodes", "--xml-text", &xml]);
        }
        cib
    }

    fn tool(&self, program: &str, args: &[&str]) -> Outcome {
        let mut cmd = Command::new(program);
        cmd.args(args).env("CIB_file", &self.path);
        let out = outcome_of(cmd);
        out.expect_success();
        out
    }

    /// What the manual tells the operator to type.
    fn set(&self, node: &str, role: RoleAttr, rsc: &str, value: &str) {
        let name = role.name(rsc);
        self.tool(
            "crm_attribute",
            &[
                "--node",
                node,
                "--name",
                &name,
                "--update",
                value,
                "--lifetime",
                "forever",
            ],
        );
    }

    /// `agent` reading this CIB, in `cluster`, on `node`.
    fn agent_on(&self, cluster: &FakeCluster, agent: &Agent, node: &str) -> Agent {
        cluster.agent_on(agent, node).env("CIB_file", &self.path)
    }
}

/// The cluster's roles are read with the members, at most once a minute:
/// makes the next run of resource `rsc`'s agent read them now.
fn ask_members_now(rsc: &str) {
    let mut memory = RunState::load(rsc);
    memory.backdate(&Key::MembersAsked, 3600);
    memory.save();
}

/// With node-c marked nosync, the primary names only node-b in
/// synchronous_standby_names; node-c still streams, and the list the
/// primary publishes (what the quorum gate counts) has N = 1: node-b alone
/// may then be promoted, which with node-c listed would have had to wait.
#[test]
fn a_nosync_standby_streams_but_is_left_out_of_the_synchronous_standbys() {
    let params = [("replication_mode", "sync")];
    let (a, a_agent, b, b_agent) = pair_with("nosync", &params);
    let rsc = a_agent.rsc();
    let (c, c_agent) = standby(&a, &rsc, "node-c", "nosync-c", &params);
    let cluster = FakeCluster::new();
    crm_node(&cluster);
    let cib = Cib::new();
    let a_on = cib.agent_on(&cluster, &a_agent, "node-a").recurring();
    ask_members_now(&rsc);
    a_on.run("monitor").expect(OcfCode::RunningPromoted);
    a.assert_sync_names(
        "ANY 1 (\"node-b\", \"node-c\")",
        "without a role, both streaming standbys are listed",
    );

    cib.set("node-c", RoleAttr::NoSync, &rsc, "true");
    ask_members_now(&rsc);
    a_on.run("monitor")
        .expect(OcfCode::RunningPromoted)
        .expect_logged("node roles: node-c:nosync", "the new role is noticed");
    a.assert_sync_names("ANY 1 (\"node-b\")", "node-c is left out");
    a.assert_query(
        "select state || ' ' || sync_state from pg_stat_replication where application_name = 'node-c'",
        "streaming async",
        "node-c still streams",
    );
    // The replaced list stays published until node-b confirmed past the
    // change: a commit on it.
    a.psql("create table t(i int); insert into t values (1)");
    let list_attr = Attr::SyncList.name(&rsc);
    let published = wait_until(
        || {
            a_on.run("monitor").expect(OcfCode::RunningPromoted);
            let value = cluster.get(&list_attr, "node-b").unwrap_or_default();
            if value == "node-a: ANY 1 (node-b)" {
                Ok(value)
            } else {
                Err(value)
            }
        },
        Duration::from_secs(20),
        "the published list names node-b alone",
    );
    assert_eq!(
        cluster.get(&list_attr, "node-c").as_deref(),
        Some(published.as_str())
    );

    // The primary is lost with node-c: node-b alone takes part, and is
    // all the list needs (1 of 1).
    c.wait_for_row("select count(*) from t", "1");
    stop_all(&[&c_agent, &a_agent]);
    let b_on = cib.agent_on(&cluster, &b_agent, "node-b");
    quorum::pre_promote(&b_on, "node-b");
    b_on.run("promote").expect(OcfCode::Success);
    b.assert_query(
        "select pg_is_in_recovery()",
        "f",
        "promoted: the quorum counted node-b alone",
    );
    b_agent.run("stop").expect(OcfCode::Success);
}

/// The pre-promote notification of a round that promotes node-b, node-c
/// taking part, on `agent`.
fn pre_promote(agent: &Agent) {
    quorum::pre_promote(agent, "node-b node-c");
}

/// node-c's vote in node-b's round: node-b's own position and history,
/// `lsn` instead of its LSN (None: the same).
fn vote_of_c(cluster: &FakeCluster, rsc: &str, lsn: Option<&str>) {
    let election = Attr::Election.name(rsc);
    let vote = cluster.get(&election, "node-b").expect("node-b voted");
    let (tagged, history) = vote.split_once(' ').expect("node-b's vote carries its history");
    let (position, round) = tagged.split_once('@').unwrap();
    let (timeline, at) = position.split_once(':').unwrap();
    let theirs = format!("{timeline}:{}@{round} {history}", lsn.unwrap_or(at));
    cluster.set(&election, "node-c", &theirs);
}

/// node-c may not be promoted and holds WAL node-b lacks: node-b waits,
/// with the reason published, every score deleted (no node is
/// promotable), and the promotion is never handed to node-c (that would
/// fail again and again: Pacemaker never promotes it). Async mode waits up
/// to sync_grace, then promotes node-b with a warning; a tie with node-c
/// promotes at once.
#[test]
fn a_candidate_behind_a_node_that_may_not_be_promoted_waits_and_never_hands_over_to_it() {
    let (_a, a_agent, b, b_agent) = pair("nopromote");
    let rsc = b_agent.rsc();
    let cluster = FakeCluster::new();
    crm_node(&cluster);
    let cib = Cib::new();
    cib.set("node-c", RoleAttr::NoPromote, &rsc, "true");
    let b_on = cib.agent_on(&cluster, &b_agent, "node-b");
    a_agent.run("stop").expect(OcfCode::Success);

    pre_promote(&b_on);
    vote_of_c(&cluster, &rsc, Some("FF/0"));
    let out = b_on.run("promote");
    out.expect_reason(OcfCode::ErrGeneric, "not promoted: node-c (nopromote) is ahead");
    b.assert_query("select pg_is_in_recovery()", "t", "node-b waits");
    let calls = cluster.calls();
    assert!(
        !calls.contains("--update=1001 --node=node-c"),
        "never handed over to node-c\n{calls}"
    );
    for node in ["node-b", "node-c"] {
        assert!(
            calls.contains(&format!(
                "--promotion={rsc} --lifetime=reboot --delete --node={node}"
            )),
            "the score of {node} is deleted\n{calls}"
        );
    }
    let gate = cluster.get(&Attr::Gate.name(&rsc), "node-b").unwrap_or_default();
    assert!(
        gate.contains("waiting for the old primary or for node-c to be allowed, sync_grace"),
        "the reason is published: {gate:?}"
    );

    // sync_grace (30 s) over since node-b first waited: promoted, the loss
    // said.
    let mut memory = RunState::load(&rsc);
    memory.backdate(&Key::GateWaiting, 30);
    memory.save();
    pre_promote(&b_on);
    vote_of_c(&cluster, &rsc, Some("FF/0"));
    b_on.run("promote")
        .expect(OcfCode::Success)
        .expect_logged("the WAL only node-c has is lost", "the loss is logged");
    b.assert_query("select pg_is_in_recovery()", "f", "promoted after sync_grace");
    b_agent.run("stop").expect(OcfCode::Success);
}

/// A tie with the node that may not be promoted is no reason to wait; and
/// a candidate that may not be promoted itself (the location rule
/// missing) refuses and passes the promotion on.
#[test]
fn a_tie_with_a_nopromote_node_promotes_and_a_nopromote_candidate_refuses() {
    let (_a, a_agent, b, b_agent) = pair("nopromotetie");
    let rsc = b_agent.rsc();
    let cluster = FakeCluster::new();
    crm_node(&cluster);
    let cib = Cib::new();
    let b_on = cib.agent_on(&cluster, &b_agent, "node-b");
    a_agent.run("stop").expect(OcfCode::Success);

    cib.set("node-b", RoleAttr::NoPromote, &rsc, "true");
    pre_promote(&b_on);
    vote_of_c(&cluster, &rsc, None);
    b_on.run("promote").expect_reason(
        OcfCode::ErrGeneric,
        &format!(
            "this node may not be promoted ({} is true)",
            RoleAttr::NoPromote.name(&rsc)
        ),
    );
    b.assert_query("select pg_is_in_recovery()", "t", "node-b refuses");
    let calls = cluster.calls();
    assert!(
        calls.contains(&format!(
            "--promotion={rsc} --lifetime=reboot --update=1001 --node=node-c"
        )),
        "handed over to node-c\n{calls}"
    );
    assert!(
        calls.contains(&format!(
            "--promotion={rsc} --lifetime=reboot --update=-1000000\n"
        )),
        "its own score is the barred one\n{calls}"
    );

    // node-c has a priority and ties: the promotion goes to it.
    cib.set("node-b", RoleAttr::NoPromote, &rsc, "false");
    cib.set("node-c", RoleAttr::Priority, &rsc, "5");
    pre_promote(&b_on);
    vote_of_c(&cluster, &rsc, None);
    b_on.run("promote")
        .expect_reason(OcfCode::ErrGeneric, "node-c is as advanced");
    b.assert_query(
        "select pg_is_in_recovery()",
        "t",
        "handed over to the preferred one",
    );

    // node-c may not be promoted, at the same position: node-b goes on.
    cib.set("node-c", RoleAttr::NoPromote, &rsc, "true");
    pre_promote(&b_on);
    vote_of_c(&cluster, &rsc, None);
    b_on.run("promote").expect(OcfCode::Success);
    b.assert_query("select pg_is_in_recovery()", "f", "a tie promotes at once");
    b_agent.run("stop").expect(OcfCode::Success);
}

/// No primary: node-a's instance stopped (it publishes nothing, and a
/// standby looking for a promotable node need not wait for it), node-b a
/// standby that no primary streams to, node-c a member whose attributes
/// the test publishes.
struct NoPrimary {
    _a: PgCluster,
    _b: PgCluster,
    b_agent: Agent,
    cluster: FakeCluster,
    cib: Cib,
    /// node-b's agent on the fake cluster, as its recurring monitor runs.
    b_on: Agent,
}

fn no_primary(name: &str) -> NoPrimary {
    let (_a, a_agent, _b, b_agent) = pair(name);
    let cluster = FakeCluster::new();
    let members = [("node-a", "lost"), ("node-b", "member"), ("node-c", "member")];
    cluster.crm_node(&members, "node-b node-c");
    let cib = Cib::new();
    a_agent.run("stop").expect(OcfCode::Success);
    let b_on = cib.agent_on(&cluster, &b_agent, "node-b").recurring();
    ask_members_now(&b_agent.rsc());
    NoPrimary {
        _a,
        _b,
        b_agent,
        cluster,
        cib,
        b_on,
    }
}

/// After a full restart, no primary: node-c, the most advanced, may not be
/// promoted. node-b gives itself no bootstrap score while node-c is
/// ahead (it says why), and takes it once node-c is no longer ahead.
#[test]
fn the_bootstrap_never_goes_past_a_more_advanced_node_that_may_not_be_promoted() {
    // Borrowed, not moved out: the servers run until the end of the test.
    let setup = no_primary("nopromoteboot");
    let NoPrimary {
        b_agent,
        cluster,
        cib,
        b_on,
        ..
    } = &setup;
    let rsc = b_agent.rsc();
    cib.set("node-c", RoleAttr::NoPromote, &rsc, "true");
    // What node-b publishes of itself, then node-c as a standby further on.
    b_on.run("monitor").expect(OcfCode::Success);
    let timeline = cluster
        .get(&Attr::Timeline.name(&rsc), "node-b")
        .expect("node-b published its timeline");
    for (attr, value) in [
        (Attr::Role, "standby"),
        (Attr::Timeline, timeline.as_str()),
        (Attr::Lsn, "FF/0"),
    ] {
        cluster.set(&attr.name(&rsc), "node-c", value);
    }
    let bootstrap = format!("--promotion={rsc} --lifetime=reboot --update=1\n");
    let out = b_on.run("monitor");
    out.expect(OcfCode::Success).expect_logged(
        "no node is promotable: node-c (nopromote) is ahead",
        "node-b says why it waits",
    );
    assert!(
        !cluster.calls().contains(&bootstrap),
        "no bootstrap score\n{}",
        cluster.calls()
    );
    let gate = cluster.get(&Attr::Gate.name(&rsc), "node-b").unwrap_or_default();
    assert!(gate.contains("node-c (nopromote) is ahead"), "{gate:?}");

    cluster.set(&Attr::Lsn.name(&rsc), "node-c", "0/1");
    b_on.run("monitor").expect(OcfCode::Success);
    assert!(
        cluster.calls().contains(&bootstrap),
        "node-b, no longer behind, takes the bootstrap score\n{}",
        cluster.calls()
    );
    assert_eq!(
        cluster.get(&Attr::Gate.name(&rsc), "node-b").as_deref(),
        Some("-")
    );
    b_agent.run("stop").expect(OcfCode::Success);
}

/// After a failed promotion, no primary: node-c publishes a timeline two
/// numbers higher at node-b's LSN (promotions that wrote nothing). By
/// number node-c is ahead and node-b defers to it; once node-c publishes
/// the history of its WAL, which holds node-b's and nothing more, it is a
/// tie, and node-b, first by name, takes the bootstrap score. node-b
/// publishes the history of its own WAL for the others to compare.
#[test]
fn the_bootstrap_takes_the_same_wal_on_a_higher_timeline_number_for_a_tie() {
    let setup = no_primary("walhistboot");
    let NoPrimary {
        b_agent,
        cluster,
        b_on,
        ..
    } = &setup;
    let rsc = b_agent.rsc();
    b_on.run("monitor").expect(OcfCode::Success);
    let published = |attr: Attr| {
        cluster
            .get(&attr.name(&rsc), "node-b")
            .unwrap_or_else(|| panic!("node-b published no {}\n{}", attr.field(), cluster.calls()))
    };
    let (timeline, lsn, history) = (
        published(Attr::Timeline),
        published(Attr::Lsn),
        published(Attr::WalHistory),
    );
    let history: History = history.parse().expect("a history");
    assert_eq!(
        history.current.to_string(),
        timeline,
        "the history of its position's timeline"
    );
    let t: u32 = timeline.parse().unwrap();
    let higher = t + 2;
    for (attr, value) in [
        (Attr::Role, "standby".to_string()),
        (Attr::Timeline, higher.to_string()),
        (Attr::Lsn, lsn.clone()),
    ] {
        cluster.set(&attr.name(&rsc), "node-c", &value);
    }
    let bootstrap = format!("--promotion={rsc} --lifetime=reboot --update=1\n");
    b_on.run("monitor").expect(OcfCode::Success).expect_logged(
        "node-c is as advanced or more",
        "an older agent's position, no history: by number",
    );
    assert!(!cluster.calls().contains(&bootstrap), "{}", cluster.calls());

    let theirs = format!("{history}@{lsn},{}@{lsn},{higher}", t + 1);
    cluster.set(&Attr::WalHistory.name(&rsc), "node-c", &theirs);
    b_on.run("monitor").expect(OcfCode::Success);
    assert!(
        cluster.calls().contains(&bootstrap),
        "node-c at {higher}:{lsn} ({theirs}) ties: node-b takes the bootstrap score\n{}",
        cluster.calls()
    );
    b_agent.run("stop").expect(OcfCode::Success);
}

/// The writes of attribute `attr` of resource `rsc` the fake recorded, in
/// order, with their value.
fn writes(cluster: &FakeCluster, attr: Attr, rsc: &str) -> Vec<String> {
    let name = format!("--name={}", attr.name(rsc));
    cluster
        .calls()
        .lines()
        .filter(|l| l.starts_with("attrd_updater ") && l.split(' ').any(|w| w == name))
        .filter_map(|l| {
            l.split(' ')
                .find_map(|w| w.strip_prefix("--update="))
                .map(str::to_string)
        })
        .collect()
}

/// The read VIP's flag: a streaming standby within maxlag is readable;
/// its replay paused while the primary writes, it is not; resumed, it is
/// again. One write per transition, none while nothing changes; never
/// readable on the primary, nor once stopped.
#[test]
fn a_standby_is_readable_while_it_replays_within_maxlag_and_flips_once_per_transition() {
    let (a, a_agent, b, b_agent) = pair("readable");
    let rsc = b_agent.rsc();
    // One fake cluster a node: the writes recorded are node-b's alone.
    // Both nodes' agents share this machine's memory of the resource: the
    // primary's first, before node-b's run.
    let cluster = FakeCluster::new();
    let cluster_a = FakeCluster::new();
    let a_on = cluster_a.agent_on(&a_agent, "node-a").recurring();
    a_on.run("monitor").expect(OcfCode::RunningPromoted);
    assert_eq!(
        writes(&cluster_a, Attr::Readable, &rsc),
        ["0"],
        "the primary is not readable"
    );
    // 64 kB: a few thousand rows.
    let b_on = cluster
        .agent_on(&b_agent.clone().param("maxlag", "65536"), "node-b")
        .recurring();
    replicated_table(&a, &b);
    b.wait_for_row("select latest_end_lsn is not null from pg_stat_wal_receiver", "t");
    b_on.run("monitor").expect(OcfCode::Success);
    b_on.run("monitor").expect(OcfCode::Success);
    assert_eq!(
        writes(&cluster, Attr::Readable, &rsc),
        ["1"],
        "readable, written once"
    );

    b.psql("select pg_wal_replay_pause()");
    a.psql("insert into t select generate_series(1, 20000)");
    // node-b received it all (the primary's end reported), replayed none.
    b.wait_for_row(
        "select pg_wal_lsn_diff(latest_end_lsn, pg_last_wal_replay_lsn()) > 65536 from pg_stat_wal_receiver",
        "t",
    );
    b_on.run("monitor").expect(OcfCode::Success);
    b_on.run("monitor").expect(OcfCode::Success);
    assert_eq!(
        writes(&cluster, Attr::Readable, &rsc),
        ["1", "0"],
        "not readable: one write"
    );

    b.psql("select pg_wal_replay_resume()");
    b.wait_for_row("select count(*) from t", "20001");
    b.wait_for_row(
        "select pg_wal_lsn_diff(latest_end_lsn, pg_last_wal_replay_lsn()) <= 65536 from pg_stat_wal_receiver",
        "t",
    );
    b_on.run("monitor").expect(OcfCode::Success);
    b_on.run("monitor").expect(OcfCode::Success);
    assert_eq!(
        writes(&cluster, Attr::Readable, &rsc),
        ["1", "0", "1"],
        "readable again: one write"
    );

    b_on.run("stop").expect(OcfCode::Success);
    assert_eq!(
        writes(&cluster, Attr::Readable, &rsc),
        ["1", "0", "1", "0"],
        "a stopped standby serves no reads"
    );
    a_agent.run("stop").expect(OcfCode::Success);
}

/// The command lines of the manual's blocks whose `run:` comment names
/// this file, `\` continuations joined, comments dropped.
fn manual_commands(page: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{}/docs/{page}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut commands = Vec::new();
    let mut blocks = text.split("<!-- run: ").skip(1);
    for block in blocks.by_ref() {
        let (comment, rest) = block.split_once("-->").unwrap();
        if !comment.contains("tests/integration/roles.rs") {
            continue;
        }
        let body = rest.split("```sh\n").nth(1).unwrap().split("```").next().unwrap();
        for line in body.replace(" \\\n", " ").lines() {
            let line = line.split(" #").next().unwrap().trim();
            if !line.is_empty() {
                commands.push(line.to_string());
            }
        }
    }
    commands
}

/// The manual's commands, as an operator types them: the roles it sets
/// are the ones the agent reads (`pgha status` shows them), and the
/// location rules pcs builds test the very attributes and values the agent
/// spells: `nopromote` equal to what turns the flag on, `readable` unlike
/// what a readable standby publishes.
#[test]
fn the_manuals_role_and_read_vip_commands_build_what_the_agent_reads() {
    install_into_ocf_root();
    let commands = manual_commands("node-roles.md");
    let cib = Cib::of(&["node1", "node2", "node3"]);
    let (crm_attribute, pcs): (Vec<&String>, Vec<&String>) =
        commands.iter().partition(|c| c.starts_with("crm_attribute "));
    assert_eq!((crm_attribute.len(), pcs.len()), (3, 4), "{commands:#?}");
    for command in &crm_attribute {
        let words: Vec<&str> = command.split_whitespace().collect();
        cib.tool(words[0], &words[1..]);
    }
    let cluster = FakeCluster::new();
    let status = cib.agent_on(&cluster, &Agent::bare(), "node1");
    let out = outcome_of(status.command(&["status", "--json", "--resource", "pgsqld"]));
    out.expect_success();
    let json: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let roles = |node: &str| -> Value {
        json["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node"] == node)
            .unwrap_or_else(|| panic!("{node} missing\n{out}"))["roles"]
            .clone()
    };
    assert_eq!(
        roles("node3"),
        serde_json::json!({"nopromote": true, "nosync": true, "priority": 0})
    );
    assert_eq!(
        roles("node2"),
        serde_json::json!({"nopromote": false, "nosync": false, "priority": 10})
    );

    // The clone as the quick start makes it, then the manual's lines.
    cib.tool(
        "pcs",
        &[
            "-f",
            &cib.path,
            "resource",
            "create",
            "pgsqld",
            "ocf:pgha:postgresql",
            "pgdata=/etc/postgresql/15/main",
            "promotable",
            "notify=true",
            "promoted-max=1",
        ],
    );
    for command in &pcs {
        pcs_on_file(std::path::Path::new(&cib.path), command);
    }
    let constraints = cib
        .tool("cibadmin", &["--query", "--scope", "constraints"])
        .stdout
        .clone();
    let nopromote = format!(
        "operation=\"eq\" attribute=\"{}\" value=\"{ROLE_ON}\"",
        RoleAttr::NoPromote.name("pgsqld")
    );
    let readable = format!(
        "operation=\"ne\" attribute=\"{}\" value=\"{READABLE}\"",
        Attr::Readable.name("pgsqld")
    );
    let undefined = format!(
        "operation=\"not_defined\" attribute=\"{}\"",
        Attr::Readable.name("pgsqld")
    );
    for expected in [
        "role=\"Promoted\" score=\"-INFINITY\"",
        nopromote.as_str(),
        "boolean-op=\"or\" score=\"-INFINITY\"",
        readable.as_str(),
        undefined.as_str(),
        "with-rsc=\"pgsqld-clone\" score=\"INFINITY\" rsc-role=\"Started\" with-rsc-role=\"Unpromoted\"",
    ] {
        assert!(
            constraints.contains(expected),
            "no {expected:?} in\n{constraints}"
        );
    }
}
