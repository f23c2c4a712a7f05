//! Streaming replication with two instances on this machine, the agent in
//! promotable-clone mode (its meta attributes as Pacemaker passes them), no
//! cluster: promotion scores and node attributes cannot be written here and
//! the agent must carry on without them.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};

use crate::util::*;

/// A primary on "node-a" (started as a standby, then promoted, as in a
/// cluster) and a standby made from it on "node-b".
pub(crate) fn pair(name: &str) -> (PgCluster, Agent, PgCluster, Agent) {
    pair_with(name, &[])
}

/// The same, with extra parameters for both agents.
pub(crate) fn pair_with(name: &str, extra: &[(&str, &str)]) -> (PgCluster, Agent, PgCluster, Agent) {
    let with = |mut agent: Agent| {
        for (k, v) in extra {
            agent = agent.param(k, v);
        }
        agent
    };
    let a = PgCluster::init(&format!("{name}-a"));
    // pg_rewind needs hint bits logged and the WAL since the last common
    // checkpoint kept on the former primary.
    a.append_conf("wal_log_hints = on\nwal_keep_size = '256MB'\n");
    let rsc = format!("t{}{name}", std::process::id());
    // The first node follows nobody yet: its conninfo names the other one.
    let a_agent = with(a.clone_agent(&rsc, "node-a", "host=/nonexistent port=1 user=postgres"));
    a_agent.run("start").expect(rc::SUCCESS);
    // Not streaming (no primary yet) is not worth a report in the first 30 s.
    a_agent.run("monitor").expect(rc::SUCCESS);
    a_agent.run("promote").expect(rc::SUCCESS);
    // A primary alone in sync mode says so at once: its commits are
    // acknowledged with no standby. In strict-sync they wait, which is
    // reported only once the wait has lasted (its own test below).
    let sync_mode = extra
        .iter()
        .any(|(k, v)| *k == "replication_mode" && *v == "sync");
    let alone = if sync_mode {
        rc::DEGRADED_PROMOTED
    } else {
        rc::RUNNING_PROMOTED
    };
    a_agent.run("monitor").expect(alone);
    let b = PgCluster::basebackup_of(&a, &format!("{name}-b"));
    let b_agent = with(b.clone_agent(&rsc, "node-b", &a.conninfo()));
    // A base backup never started is stopped, not a crashed primary, even
    // though it carries its source's pg_control ("in production").
    b_agent.run("monitor").expect(rc::NOT_RUNNING);
    b_agent.run("start").expect(rc::SUCCESS);
    let streaming = b_agent.run_until("monitor", rc::SUCCESS, Duration::from_secs(15));
    if streaming.code != rc::SUCCESS {
        let log = std::fs::read_to_string(b.dir.path.join("server.log")).unwrap_or_default();
        panic!("the standby does not stream\n{streaming}\n--- its server log\n{log}");
    }
    // Pacemaker's post-start notification: its node list is the membership
    // the agent falls back on with no cluster to ask (only members are standbys).
    post_start_notify(&a_agent, "node-a node-b");
    (a, a_agent, b, b_agent)
}

#[test]
fn a_standby_starts_following_the_primary_with_its_node_name() {
    let (a, a_agent, b, b_agent) = pair("follow");
    a.psql("create table t(i int); insert into t values (1)");
    wait_for_row(&b, "select count(*) from t", "1");
    assert_eq!(
        a.psql("select application_name from pg_stat_replication").trim(),
        "node-b"
    );
    assert_eq!(b.psql("select pg_is_in_recovery()").trim(), "t");
    // The operator's configuration is untouched: settings come on the command line.
    let conf = std::fs::read_to_string(b.datadir.join("postgresql.conf")).unwrap();
    assert!(
        !conf
            .lines()
            .any(|l| l.trim_start().starts_with("primary_conninfo")),
        "postgresql.conf was rewritten"
    );
    assert!(b.datadir.join("standby.signal").exists());
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn switchover_demotes_the_primary_and_promotes_the_standby_without_a_rebuild() {
    let (a, a_agent, b, b_agent) = pair("switch");
    a.psql("create table t(i int); insert into t values (1)");
    wait_for_row(&b, "select count(*) from t", "1");
    // Pacemaker's order: demote the old primary (it restarts as a standby of
    // the new one), then promote the target.
    let a_agent = a_agent.param("primary_conninfo", &b.conninfo());
    a_agent.run("demote").expect(rc::SUCCESS);
    b_agent.run("promote").expect(rc::SUCCESS);
    b_agent.run("monitor").expect(rc::RUNNING_PROMOTED);
    b.psql("insert into t values (2)");
    wait_for_row(&a, "select count(*) from t", "2");
    a_agent
        .run_until("monitor", rc::SUCCESS, Duration::from_secs(15))
        .expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
    b_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn a_crashed_primary_is_failed_promoted_and_demote_recovers_it_in_place() {
    let (a, a_agent, _b, b_agent) = pair("crash");
    a.psql("create table t(i int); insert into t values (7)");
    let postmaster = a.postmaster_pid().unwrap();
    kill(postmaster, Signal::SIGKILL).unwrap();
    wait_gone(postmaster);
    a_agent
        .clone()
        .recurring()
        .run("monitor")
        .expect_reason(rc::FAILED_PROMOTED, "crashed");
    // Pacemaker recovers a failed primary with demote, stop, start, promote.
    a_agent.run("demote").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("start").expect(rc::SUCCESS);
    a_agent.run("promote").expect(rc::SUCCESS);
    assert_eq!(a.psql("select i from t").trim(), "7");
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
}

/// A failover that leaves the old primary with WAL the new one never got.
pub(crate) fn diverge(name: &str) -> (PgCluster, Agent, PgCluster, Agent) {
    let (a, a_agent, b, b_agent) = pair(name);
    a.psql("create table t(i int); insert into t values (1)");
    wait_for_row(&b, "select count(*) from t", "1");
    b_agent.run("stop").expect(rc::SUCCESS);
    a.psql("insert into t select generate_series(2, 1000)"); // never reaches b
    a_agent.run("stop").expect(rc::SUCCESS);
    b_agent.run("start").expect(rc::SUCCESS);
    b_agent.run("promote").expect(rc::SUCCESS);
    b.psql("insert into t values (-1)");
    let a_agent = a_agent.param("primary_conninfo", &b.conninfo());
    (a, a_agent, b, b_agent)
}

#[test]
fn a_diverged_former_primary_refuses_to_start_without_rewind() {
    let (a, a_agent, _b, b_agent) = diverge("norewind");
    a_agent
        .run("start")
        .expect_reason(rc::ERR_GENERIC, "needs pg_rewind");
    assert!(a.processes().is_empty(), "it must not run at all");
    b_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn a_diverged_former_primary_is_rewound_and_follows_with_rewind_true() {
    let (a, a_agent, b, b_agent) = diverge("rewind");
    let a_agent = a_agent.param("rewind", "true");
    a_agent.run("start").expect(rc::SUCCESS);
    a_agent
        .run_until("monitor", rc::SUCCESS, Duration::from_secs(20))
        .expect(rc::SUCCESS);
    wait_for_row(&a, "select count(*) from t", "2");
    assert_eq!(
        a.psql("select min(i) from t").trim(),
        "-1",
        "the new primary's history"
    );
    b.psql("insert into t values (-2)");
    wait_for_row(&a, "select count(*) from t", "3");
    a_agent.run("stop").expect(rc::SUCCESS);
    b_agent.run("stop").expect(rc::SUCCESS);
}

/// Issue 15's Debian 13 lab: a primary cut off from the others is demoted
/// alone (it lost quorum) and restarted as a standby, while another node is
/// promoted. Its shutdown checkpoint is WAL the new primary never had; as a
/// standby "shut down in recovery" it used to be taken for a plain standby
/// at its next start, and sat in "startup" forever.
#[test]
fn a_primary_demoted_alone_while_cut_off_is_rewound_at_its_next_start() {
    let (a, a_agent, b, b_agent) = pair("cutoff");
    a.psql("create table t(i int); insert into t values (1)");
    wait_for_row(&b, "select count(*) from t", "1");
    // The cut: b no longer hears from a (a primary_conninfo that reaches
    // nothing) and is promoted, while a goes on alone.
    b_agent.run("stop").expect(rc::SUCCESS);
    a.psql("insert into t select generate_series(2, 1000)"); // never reaches b
    let b_cut = b_agent.clone().param("primary_conninfo", "host=127.0.0.1 port=1");
    b_cut.run("start").expect(rc::SUCCESS);
    b_cut.run("promote").expect(rc::SUCCESS);
    b.psql("insert into t values (-1)");
    // a, cut off, is demoted where it stands and then stopped.
    let a_agent = a_agent
        .param("primary_conninfo", &b.conninfo())
        .param("rewind", "true");
    a_agent.run("demote").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
    // Back in the cluster: its start must rewind it onto b's timeline.
    a_agent.run("start").expect(rc::SUCCESS);
    wait_for_row(&a, "select min(i) from t", "-1");
    assert_eq!(
        a.psql("select count(*) from t").trim(),
        "2",
        "b's rows, not a's own"
    );
    b.psql("insert into t values (-2)");
    wait_for_row(&a, "select count(*) from t", "3");
    a_agent.run("stop").expect(rc::SUCCESS);
    b_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn clone_settings_are_checked_from_the_environment() {
    let pg = PgCluster::init("clonecfg");
    let agent = pg.clone_agent("tclonecfg", "node-a", "host=/x user=postgres");
    agent
        .clone()
        .meta("notify", "false")
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "notify=true");
    agent
        .clone()
        .meta("promoted_max", "2")
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "promoted-max");
    agent
        .clone()
        .param("primary_conninfo", "")
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "primary_conninfo");
    agent.run("validate-all").expect(rc::SUCCESS);
}

fn synchronous_names(pg: &PgCluster) -> String {
    pg.psql("show synchronous_standby_names").trim().to_string()
}

#[test]
fn sync_mode_follows_the_streaming_standbys_and_degrades_when_none_is_left() {
    // sync_grace=0: degrade as soon as no standby streams (the wait within
    // the grace has its own test below).
    let (a, a_agent, _b, b_agent) = pair_with("sync", &[("replication_mode", "sync"), ("sync_grace", "0")]);
    let monitor = a_agent.clone().recurring();
    monitor.run("monitor").expect(rc::RUNNING_PROMOTED);
    assert_eq!(synchronous_names(&a), "ANY 1 (\"node-b\")");
    assert_eq!(
        a.psql("select sync_state from pg_stat_replication").trim(),
        "quorum"
    );
    assert!(
        std::fs::read_to_string(a.datadir.join("postgresql.auto.conf"))
            .unwrap()
            .contains("node-b")
    );
    a.psql("create table t(i int); insert into t values (1)");
    // A standby stopped by the cluster: the primary's post-stop
    // notification applies it at once, without waiting for a monitor.
    b_agent.run("stop").expect(rc::SUCCESS);
    post_stop_notify(&a_agent, "node-b");
    assert_eq!(
        synchronous_names(&a),
        "",
        "with no standby left, sync mode degrades to async (post-stop notification)"
    );
    a.psql("insert into t values (2)");
    monitor
        .run("monitor")
        .expect_reason(rc::DEGRADED_PROMOTED, "commits are acknowledged without one");
    b_agent.run("start").expect(rc::SUCCESS);
    b_agent
        .run_until("monitor", rc::SUCCESS, Duration::from_secs(15))
        .expect(rc::SUCCESS);
    monitor.run("monitor").expect(rc::RUNNING_PROMOTED);
    assert_eq!(synchronous_names(&a), "ANY 1 (\"node-b\")");
    // A standby gone without a notification: the primary's monitor.
    b_agent.run("stop").expect(rc::SUCCESS);
    monitor.run("monitor").expect(rc::DEGRADED_PROMOTED);
    assert_eq!(
        synchronous_names(&a),
        "",
        "with no standby left, sync mode degrades to async (monitor)"
    );
    a_agent.run("stop").expect(rc::SUCCESS);
}

fn post_stop_notify(agent: &Agent, stopped: &str) {
    agent
        .clone()
        .meta("notify_type", "post")
        .meta("notify_operation", "stop")
        .meta("notify_stop_uname", stopped)
        .run("notify")
        .expect(rc::SUCCESS);
}

/// A commit on `pg` as the system user, in the background: the psql child.
fn insert_in_background(pg: &PgCluster, sql: &str) -> std::process::Child {
    let user = postgres_user();
    let mut insert = std::process::Command::new(pg_bin().join("psql"));
    std::os::unix::process::CommandExt::uid(&mut insert, user.uid.as_raw());
    insert
        .args([
            "-XAtq",
            "-h",
            pg.dir.path.to_str().unwrap(),
            "-p",
            &pg.port.to_string(),
            "-d",
            "postgres",
        ])
        .args(["-c", sql])
        .current_dir("/tmp")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Asserts that the commit of `child` is in and waits for a synchronous
/// standby (only then does "not acknowledged" mean something).
#[track_caller]
fn assert_commit_waits(pg: &PgCluster, child: &mut std::process::Child, what: &str) {
    wait_for_row(
        pg,
        "select count(*) from pg_stat_activity where wait_event = 'SyncRep'",
        "1",
    );
    assert!(child.try_wait().unwrap().is_none(), "{what}");
}

/// Waits (bounded) for `child` to exit; its status.
fn wait_exit(child: &mut std::process::Child, within: Duration, what: &str) -> std::process::ExitStatus {
    let end = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(std::time::Instant::now() < end, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 12: with no standby streaming, sync mode keeps waiting for the
/// standbys it knew for sync_grace seconds (a second failure right after a
/// first then loses no acknowledged commit), reports it, and only then
/// acknowledges commits alone.
#[test]
fn sync_mode_waits_for_its_standbys_for_sync_grace_before_it_degrades() {
    let (a, a_agent, _b, b_agent) =
        pair_with("syncgrace", &[("replication_mode", "sync"), ("sync_grace", "4")]);
    let monitor = a_agent.clone().recurring();
    monitor.run("monitor").expect(rc::RUNNING_PROMOTED);
    a.psql("create table t(i int)");
    b_agent.run("stop").expect(rc::SUCCESS);
    post_stop_notify(&a_agent, "node-b");
    assert_eq!(
        synchronous_names(&a),
        "ANY 1 (\"node-b\")",
        "within sync_grace the known standby is still waited for"
    );
    let mut insert = insert_in_background(&a, "insert into t values (1)");
    assert_commit_waits(
        &a,
        &mut insert,
        "the commit was acknowledged with no standby, within sync_grace",
    );
    // Waiting for a standby that may come back is not reported at once
    // (the standbys of a new primary are still reconnecting).
    monitor.run("monitor").expect(rc::RUNNING_PROMOTED);
    // Once the grace is over, the monitor degrades to asynchronous and the
    // waiting commit is acknowledged.
    let degraded = monitor.run_until_reason(
        "monitor",
        rc::DEGRADED_PROMOTED,
        "acknowledged without one",
        Duration::from_secs(20),
    );
    degraded.expect_reason(rc::DEGRADED_PROMOTED, "acknowledged without one");
    assert_eq!(synchronous_names(&a), "");
    let status = wait_exit(
        &mut insert,
        Duration::from_secs(10),
        "the commit still waits after sync_grace",
    );
    assert!(status.success());
    a_agent.run("stop").expect(rc::SUCCESS);
}

/// Issue 12: a standby promoted in sync mode names the other participants
/// of the election in synchronous_standby_names before it accepts a write:
/// its first commit already waits for one of them (in the lab the double
/// failure lost 445 acknowledged rows when it did not).
#[test]
fn a_new_sync_primary_waits_for_the_expected_standbys_from_its_first_commit() {
    let (_a, a_agent, b, b_agent) = pair_with("syncpromote", &[("replication_mode", "sync")]);
    a_agent.run("stop").expect(rc::SUCCESS);
    b_agent
        .clone()
        .meta("notify_type", "pre")
        .meta("notify_operation", "promote")
        .meta("notify_promote_uname", "node-b")
        .meta("notify_active_uname", "node-b node-c")
        .meta("notify_all_uname", "node-a node-b node-c")
        .run("notify")
        .expect(rc::SUCCESS);
    b_agent.run("promote").expect(rc::SUCCESS);
    assert_eq!(synchronous_names(&b), "ANY 1 (\"node-c\")");
    let mut first = insert_in_background(&b, "create table after_promotion(i int)");
    assert_commit_waits(
        &b,
        &mut first,
        "the new primary acknowledged a commit no other node has",
    );
    let monitor = b_agent.clone().recurring();
    // Its standbys are expected back within seconds: not reported at once,
    // and reported once the wait lasts.
    monitor.run("monitor").expect(rc::RUNNING_PROMOTED);
    monitor
        .run_until_reason(
            "monitor",
            rc::DEGRADED_PROMOTED,
            "commits wait for one",
            Duration::from_secs(20),
        )
        .expect_reason(rc::DEGRADED_PROMOTED, "commits wait for one");
    let _ = first.kill();
    b_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn strict_sync_blocks_commits_instead_of_degrading() {
    let (a, a_agent, b, b_agent) = pair_with("strict", &[("replication_mode", "strict-sync")]);
    let monitor = a_agent.clone().recurring();
    monitor.run("monitor").expect(rc::RUNNING_PROMOTED);
    assert_eq!(synchronous_names(&a), "ANY 1 (\"node-b\")");
    a.psql("create table t(i int)");
    b_agent.run("stop").expect(rc::SUCCESS);
    monitor
        .run_until_reason(
            "monitor",
            rc::DEGRADED_PROMOTED,
            "strict-sync: no standby streams",
            Duration::from_secs(20),
        )
        .expect_reason(rc::DEGRADED_PROMOTED, "strict-sync: no standby streams");
    assert_eq!(
        synchronous_names(&a),
        "ANY 1 (\"node-b\")",
        "strict mode never degrades"
    );
    let mut insert = insert_in_background(&a, "insert into t values (1)");
    assert_commit_waits(&a, &mut insert, "the commit was acknowledged with no standby");
    b_agent.run("start").expect(rc::SUCCESS);
    let status = wait_exit(
        &mut insert,
        Duration::from_secs(20),
        "the commit never completed once the standby was back",
    );
    assert!(status.success());
    assert_eq!(b.psql("select count(*) from t").trim(), "1");
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn a_standby_streams_through_its_slot_and_a_demoted_primary_drops_its_slots() {
    let (a, a_agent, b, b_agent) = pair("slots");
    // The slot the primary keeps for node-b (in a cluster, from crm_node -l);
    // "-" is folded, so the name carries the FNV-1a hash of "node-b".
    a.psql("select pg_create_physical_replication_slot('pgha_node_b_05c3b726', true)");
    let b_agent = b_agent.param("replication_slots", "true");
    b_agent.run("stop").expect(rc::SUCCESS);
    b_agent.run("start").expect(rc::SUCCESS);
    b_agent
        .run_until("monitor", rc::SUCCESS, Duration::from_secs(15))
        .expect(rc::SUCCESS);
    assert_eq!(
        a.psql("select active from pg_replication_slots where slot_name = 'pgha_node_b_05c3b726'")
            .trim(),
        "t",
        "the standby streams through its slot"
    );
    // Switch over: a, now a standby, must not keep slots that hold WAL back.
    let a_agent = a_agent
        .param("primary_conninfo", &b.conninfo())
        .param("replication_slots", "true");
    a.psql("select pg_create_physical_replication_slot('pgha_node_c', true)");
    a_agent.run("demote").expect(rc::SUCCESS);
    b_agent.run("promote").expect(rc::SUCCESS);
    b.psql("select pg_create_physical_replication_slot('pgha_node_a', true)");
    a_agent
        .run_until("monitor", rc::SUCCESS, Duration::from_secs(15))
        .expect(rc::SUCCESS);
    assert_eq!(a.psql("select count(*) from pg_replication_slots").trim(), "0");
    a_agent.run("stop").expect(rc::SUCCESS);
    b_agent.run("stop").expect(rc::SUCCESS);
}

/// The agent's slot clean-up (a departed node's slot on the primary, a
/// former primary's leftovers on a standby) lists physical `pgha_*` slots
/// only. Logical slots are somebody else's, whatever their name: since
/// PostgreSQL 17 that includes `failover` slots, which a standby copies as
/// `synced` slots (always logical) so that logical replication survives a
/// failover; dropping one would break the subscriber at the next failover.
#[test]
fn logical_and_failover_slots_named_like_the_agents_are_never_dropped() {
    let pg = PgCluster::init("logical");
    pg.append_conf("wal_level = logical\n");
    let rsc = format!("t{}logical", std::process::id());
    let agent = pg
        .clone_agent(&rsc, "node-a", "host=/nonexistent port=1 user=postgres")
        .param("replication_slots", "true")
        .param("slot_grace", "0");
    agent.run("start").expect(rc::SUCCESS);
    agent.run("promote").expect(rc::SUCCESS);
    post_start_notify(&agent, "node-a");
    // node-b and node-c are not members: the slots look like theirs.
    pg.psql("select pg_create_physical_replication_slot('pgha_node_b', true)");
    let failover = pg_major() >= 17;
    pg.psql(&format!(
        "select pg_create_logical_replication_slot('pgha_node_c', 'pgoutput'{})",
        if failover { ", false, false, true" } else { "" }
    ));
    if failover {
        assert_eq!(
            pg.psql("select failover from pg_replication_slots where slot_name = 'pgha_node_c'")
                .trim(),
            "t"
        );
    }
    let slots = || pg.psql("select slot_name from pg_replication_slots order by 1");
    // slot_grace=0: one monitor marks the departure, the next one drops.
    wait_until(
        || {
            agent.run("monitor").expect(rc::RUNNING_PROMOTED);
            let now = slots();
            if now.contains("pgha_node_b") {
                Err(now)
            } else {
                Ok(())
            }
        },
        Duration::from_secs(10),
        "the primary to drop the physical slot of a departed node",
    );
    assert_eq!(slots().trim(), "pgha_node_c", "the logical slot was dropped");
    // A demoted primary drops the physical slots it kept, nothing else.
    pg.psql("select pg_create_physical_replication_slot('pgha_node_d', true)");
    agent.run("demote").expect(rc::SUCCESS);
    agent.run("monitor").expect(rc::SUCCESS);
    assert_eq!(
        slots().trim(),
        "pgha_node_c",
        "the standby dropped a logical slot"
    );
    agent.run("stop").expect(rc::SUCCESS);
}

/// PostgreSQL 17 and later: a standby that synchronizes failover slots
/// (`pg_sync_replication_slots()`, or `sync_replication_slots = on`) holds
/// them as logical slots with `synced = true`, under the primary's names.
/// A standby's monitor drops the physical `pgha_*` slots left from a time it
/// was primary; it must keep a synced slot even when its name is `pgha_*`.
#[test]
fn a_standby_keeps_synced_slots_named_like_the_agents() {
    if pg_major() < 17 {
        eprintln!("PostgreSQL {}: no slot synchronization before 17", pg_major());
        return;
    }
    let a = PgCluster::init("synced-a");
    a.append_conf("wal_level = logical\n");
    let rsc = format!("t{}synced", std::process::id());
    let a_agent = a.clone_agent(&rsc, "node-a", "host=/nonexistent port=1 user=postgres");
    a_agent.run("start").expect(rc::SUCCESS);
    a_agent.run("promote").expect(rc::SUCCESS);
    a.psql("select pg_create_physical_replication_slot('pgha_node_b_05c3b726', true)");
    a.psql("select pg_create_logical_replication_slot('pgha_node_c', 'pgoutput', false, false, true)");
    let b = PgCluster::basebackup_of(&a, "synced-b");
    // Slot synchronization needs the standby's slot on the primary
    // (primary_slot_name, from replication_slots=true), hot_standby_feedback
    // and a dbname in primary_conninfo.
    let b_agent = b
        .clone_agent(&rsc, "node-b", &format!("{} dbname=postgres", a.conninfo()))
        .param("replication_slots", "true")
        .param(
            "start_opts",
            &format!(
                "-c unix_socket_directories={} -c hot_standby_feedback=on",
                b.dir.path.display()
            ),
        );
    b_agent.run("start").expect(rc::SUCCESS);
    b_agent
        .run_until("monitor", rc::SUCCESS, Duration::from_secs(15))
        .expect(rc::SUCCESS);
    let synced = "select synced from pg_replication_slots where slot_name = 'pgha_node_c'";
    wait_until(
        || {
            // A new slot is synchronized only once the primary's copy has
            // moved past the standby's initial position: consume a little.
            a.psql(
                "select pg_logical_emit_message(false, 'pgha', 'x'); \
                 select pg_replication_slot_advance('pgha_node_c', pg_current_wal_lsn())",
            );
            let refused = std::panic::catch_unwind(|| b.psql("select pg_sync_replication_slots()"))
                .err()
                .and_then(|e| e.downcast_ref::<String>().cloned());
            match b.psql(synced).trim() {
                "t" => Ok(()),
                other => Err(format!("synced={other:?}, {refused:?}")),
            }
        },
        Duration::from_secs(20),
        "the failover slot to be synchronized to the standby",
    );
    // A leftover of the agent's own, which the standby's monitor drops.
    b.psql("select pg_create_physical_replication_slot('pgha_node_x', true)");
    let out = b_agent.run("monitor");
    out.expect(rc::SUCCESS);
    // PostgreSQL refuses to drop a synced slot on a standby anyway; the
    // agent must not even try (a warning at every monitor).
    assert!(
        !out.stderr.contains("pgha_node_c"),
        "the monitor tried to drop the synced slot\n{out}"
    );
    assert_eq!(
        b.psql("select slot_name, synced from pg_replication_slots order by 1")
            .trim(),
        "pgha_node_c|t",
        "the standby dropped its synced slot, or kept a leftover"
    );
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn a_standby_that_does_not_stream_for_30_s_is_degraded_with_the_reason() {
    let pg = PgCluster::init("lonely");
    let rsc = format!("t{}lonely", std::process::id());
    let agent = pg
        .clone_agent(&rsc, "node-a", "host=/nonexistent port=1 user=postgres")
        .recurring();
    agent.run("start").expect(rc::SUCCESS);
    agent.run("monitor").expect(rc::SUCCESS);
    // The agent's memory says it has not streamed since a minute ago.
    let memory = format!("/run/pgha/{rsc}.state");
    let text = std::fs::read_to_string(&memory).unwrap();
    let minute_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    let aged: String = text
        .lines()
        .map(|l| {
            if l.starts_with("receiver.down\t") {
                format!("receiver.down\t1\t{minute_ago}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&memory, aged).unwrap();
    agent.run("monitor").expect_reason(190, "standby not replicating");
    agent.run("stop").expect(rc::SUCCESS);
    let _ = std::fs::remove_file(memory);
}

/// Issue 15: a slot PostgreSQL invalidated (here PostgreSQL 18's
/// idle_replication_slot_timeout; max_slot_wal_keep_size does the same
/// since 13) cannot serve its standby again: the primary's monitor drops it
/// and creates it anew, and the standby streams through it once back.
#[test]
fn an_invalidated_slot_of_a_member_is_created_again() {
    if pg_major() < 18 {
        eprintln!(
            "PostgreSQL {}: no idle_replication_slot_timeout before 18",
            pg_major()
        );
        return;
    }
    let (a, a_agent, _b, b_agent) = pair_with("lostslot", &[("replication_slots", "true")]);
    let monitor = a_agent.clone().recurring();
    monitor.run("monitor").expect(rc::RUNNING_PROMOTED);
    let slot = "pgha_node_b_05c3b726";
    let status = || {
        a.psql(&format!(
            "select wal_status from pg_replication_slots where slot_name = '{slot}'"
        ))
    };
    assert_eq!(status().trim(), "reserved");
    b_agent.run("stop").expect(rc::SUCCESS);
    a.psql("alter system set idle_replication_slot_timeout = '1s'");
    a.psql("select pg_reload_conf()");
    // The timeout is applied by checkpoints.
    wait_until(
        || {
            a.psql("checkpoint");
            match status().trim() {
                "lost" => Ok(()),
                other => Err(other.to_string()),
            }
        },
        Duration::from_secs(20),
        "the idle slot invalidated",
    );
    a.psql("alter system reset idle_replication_slot_timeout");
    a.psql("select pg_reload_conf()");
    monitor.run("monitor").expect(rc::RUNNING_PROMOTED);
    assert_eq!(status().trim(), "reserved", "the slot was made again");
    b_agent.run("start").expect(rc::SUCCESS);
    b_agent
        .run_until("monitor", rc::SUCCESS, Duration::from_secs(15))
        .expect(rc::SUCCESS);
    wait_for_row(
        &a,
        &format!("select active from pg_replication_slots where slot_name = '{slot}'"),
        "t",
    );
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
}
