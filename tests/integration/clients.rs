//! Replication clients that are not cluster nodes (a `pg_receivewal`),
//! node names that need quoting, colliding slot names, and passwords in
//! primary_conninfo. No cluster runs here: the membership is given the way
//! Pacemaker gives it in every clone notification, `notify_all_uname`.

use std::process::Stdio;

use pgha::runstate::RunState;

use crate::util::*;

/// A `pg_receivewal` streaming from a primary without a slot, under
/// application_name "backup" (or another); killed when dropped.
struct Receiver {
    _process: Background,
    _dir: TempDir,
}

impl Receiver {
    fn start(primary: &PgCluster) -> Receiver {
        Receiver::named(primary, "backup")
    }

    fn named(primary: &PgCluster, application_name: &str) -> Receiver {
        let dir = TempDir::new("receivewal");
        let conninfo = format!("{} application_name={application_name}", primary.conninfo());
        let mut cmd = postgres_command(pg_bin().join("pg_receivewal"));
        cmd.args([
            "--no-loop",
            "--no-sync",
            "-D",
            dir.path.to_str().unwrap(),
            "-d",
            &conninfo,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let process = Background::spawn(cmd);
        primary.wait_for_row(
            &format!(
                "select count(*) from pg_stat_replication where application_name = '{application_name}' \
                 and state = 'streaming'"
            ),
            "1",
        );
        Receiver {
            _process: process,
            _dir: dir,
        }
    }
}

/// A primary on "node-a" and a streaming standby of it on `node`, both
/// agents in replication mode `mode`.
fn primary_and_standby(name: &str, node: &str, mode: &str) -> (PgCluster, Agent, PgCluster, Agent) {
    let params = [("replication_mode", mode)];
    let (a, a_agent) = primary(name, "", &params);
    let (b, b_agent) = standby(&a, &a_agent.rsc(), node, &format!("{name}-b"), &params);
    (a, a_agent, b, b_agent)
}

/// The failure: any `application_name` in pg_stat_replication was taken
/// for a node: scored (`crm_attribute -N <name>`), given a sync attribute,
/// remembered for ever, and listed in synchronous_standby_names.
fn a_foreign_pg_receivewal_is_not_a_standby(mode: &str, expected_names: &str) {
    let name = format!("recv{}", mode.replace('-', ""));
    let (a, a_agent, _b, b_agent) = primary_and_standby(&name, "node-b", mode);
    let rsc = a_agent.rsc();
    let receiver = Receiver::start(&a);
    post_start_notify(&a_agent, "node-a node-b");
    let monitor = a_agent.clone().recurring();
    monitor
        .run("monitor")
        .expect(OcfCode::RunningPromoted)
        .expect_not_logged("backup", "the pg_receivewal was handled as a node")
        .expect_logged("--node=node-b", "the standby's score is set, its name as --node=");
    let mem = memory_text(&rsc);
    assert!(!mem.contains("backup"), "the pg_receivewal is remembered:\n{mem}");
    assert_eq!(
        RunState::load(&rsc).remembered_standbys(),
        vec!["node-b".to_string()],
        "the primary remembers its standby, and only it:\n{mem}"
    );
    a.assert_sync_names(
        expected_names,
        &format!("only the standby is named in {mode} mode"),
    );
    if mode != "async" {
        a.assert_query(
            "select sync_state from pg_stat_replication where application_name = 'node-b'",
            "quorum",
            "the standby may confirm commits",
        );
    }
    // The pg_receivewal leaves: commits do not wait for it.
    drop(receiver);
    monitor.run("monitor").expect(OcfCode::RunningPromoted);
    a.assert_sync_names(
        expected_names,
        &format!("the pg_receivewal's leaving changes nothing in {mode} mode"),
    );
    a.assert_commits(
        "create table after_backup_left(i int)",
        "a commit waits after the pg_receivewal left, while node-b streams",
    );
    stop_all(&[&b_agent, &a_agent]);
}

#[test]
fn a_foreign_pg_receivewal_gets_no_score_attribute_or_memory_in_async_mode() {
    a_foreign_pg_receivewal_is_not_a_standby("async", "");
}

#[test]
fn a_foreign_pg_receivewal_is_not_a_synchronous_standby_in_sync_mode() {
    a_foreign_pg_receivewal_is_not_a_standby("sync", "ANY 1 (\"node-b\")");
}

#[test]
fn a_departed_pg_receivewal_does_not_block_commits_in_strict_sync_mode() {
    a_foreign_pg_receivewal_is_not_a_standby("strict-sync", "ANY 1 (\"node-b\")");
}

/// A replication client that takes the name of a member that is down
/// (node-c) does not get its place: with slots (the default) a walsender
/// is a node only while it holds that node's slot. Without the tie it was
/// listed in synchronous_standby_names and scored, and the real node-c,
/// lacking the commits the impostor confirmed, would be promoted next.
#[test]
fn a_client_named_like_a_member_that_is_down_is_not_that_member() {
    let params = [("replication_mode", "sync"), ("replication_slots", "true")];
    let (a, a_agent) = primary("spoof", "", &params);
    let (_b, b_agent) = standby_started(&a, &a_agent.rsc(), "node-b", "spoof-b", &params);
    post_start_notify(&a_agent, "node-a node-b node-c");
    // The first monitor makes the members' slots; node-b then streams
    // through its own.
    a_agent.clone().recurring().run("monitor");
    a.wait_for_row(
        "select count(*) from pg_stat_replication where application_name = 'node-b' and state = 'streaming'",
        "1",
    );
    let impostor = Receiver::named(&a, "node-c");
    let monitor = a_agent.clone().recurring();
    monitor
        .run("monitor")
        .expect(OcfCode::RunningPromoted)
        .expect_logged(
            "not counted as a standby: node-c",
            "the impostor is named in the log",
        )
        .expect_not_logged("score of node-c", "the impostor is scored as node-c")
        .expect_not_logged(
            "-sync --update=quorum --node=node-c",
            "the impostor may confirm as node-c",
        );
    a.assert_sync_names("ANY 1 (\"node-b\")", "only the real standby may confirm commits");
    drop(impostor);
    stop_all(&[&b_agent, &a_agent]);
}

/// The failure: synchronous_names dropped any name outside
/// `[A-Za-z0-9._-]`, so sync mode was silently asynchronous for such a node.
#[test]
fn a_node_name_with_quotes_is_named_in_synchronous_standby_names_and_counted_synchronous() {
    let node = "node\"1'x";
    let (a, a_agent, _b, b_agent) = primary_and_standby("quoted", node, "sync");
    post_start_notify(&a_agent, &format!("node-a {node}"));
    a_agent.recurring_monitor().expect(OcfCode::RunningPromoted);
    a.assert_sync_names(
        r#"ANY 1 ("node""1'x")"#,
        "the node is named, quoted as an identifier",
    );
    a.assert_query(
        "select sync_state from pg_stat_replication where application_name = 'node\"1''x'",
        "quorum",
        "the node may confirm commits",
    );
    a.assert_commits(
        "create table t(i int)",
        "a commit waits while the quoted node streams",
    );
    stop_all(&[&b_agent, &a_agent]);
}

/// The failure: `db-1`, `db_1` and `DB.1` all had slot `pgha_db_1`, so two
/// standbys fought over one slot. Now lossy names get a hash suffix (FNV-1a,
/// 32 bits, of the node name: `db-1` 4476ec01, `DB.1` 871ccd92, `node-b`
/// 05c3b726), and a collision that remains (here a plain name equal to
/// another's folded slot) is reported instead of shared.
#[test]
fn colliding_slot_names_get_no_slot_and_a_degraded_primary_naming_both() {
    let (a, a_agent) = primary("collide", "", &[("replication_slots", "true")]);
    let twin = "db_1_4476ec01";
    post_start_notify(&a_agent, &format!("node-a node-b db-1 {twin} DB.1"));
    a_agent
        .recurring_monitor()
        .expect_reason(OcfCode::DegradedPromoted, "'db-1' and '")
        .expect_reason(OcfCode::DegradedPromoted, twin)
        .expect_reason(OcfCode::DegradedPromoted, "replication_slots=false");
    let slots = a.psql("select slot_name from pg_replication_slots order by 1");
    assert_eq!(
        slots.lines().collect::<Vec<_>>(),
        ["pgha_db_1_871ccd92", "pgha_node_b_05c3b726"],
        "the other nodes get their slots, the colliding pair none"
    );
    a_agent.run("stop").expect(OcfCode::Success);
}

/// The failure: a password in primary_conninfo reached the command lines of
/// postgres and pg_rewind, which /proc/<pid>/cmdline shows to every user.
#[test]
fn a_password_in_primary_conninfo_is_err_configured_with_the_pgpass_hint() {
    let pg = PgCluster::init("password");
    let agent = pg.clone_agent(
        &resource_name("password"),
        "node-a",
        "host=/x user=postgres password=secret",
    );
    agent.validate().expect_reason(OcfCode::ErrConfigured, ".pgpass");
    agent
        .run("start")
        .expect_reason(OcfCode::ErrConfigured, ".pgpass");
    pg.assert_no_processes("a start refused for its configuration runs nothing");
    for (conninfo, reason) in [
        ("postgresql://postgres@localhost/postgres", "URI"),
        ("host='/x user=postgres", "unterminated"),
    ] {
        agent
            .clone()
            .param("primary_conninfo", conninfo)
            .validate()
            .expect_reason(OcfCode::ErrConfigured, reason);
    }
}

/// The failure: PostgreSQL cuts application_name at 63 bytes and rewrites
/// non-ASCII bytes, so such a node was never found among the standbys.
#[test]
fn a_node_name_postgresql_would_rewrite_is_refused_at_start_and_validate_level_10() {
    let pg = PgCluster::init("nodename");
    for node in ["nœud", &"n".repeat(64)] {
        let agent = pg.clone_agent(&resource_name("nodename"), node, "host=/x user=postgres");
        agent.validate().expect(OcfCode::Success); // level 0: syntax only
        agent.expect_refused(OcfCode::ErrConfigured, "rename the node");
        pg.assert_no_processes("nothing was started");
    }
}
