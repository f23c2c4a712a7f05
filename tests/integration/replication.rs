//! Streaming replication with two instances on this machine, the agent in
//! promotable-clone mode (its meta attributes as Pacemaker passes them), no
//! cluster: promotion scores and node attributes cannot be written here and
//! the agent must carry on without them.

use std::time::Duration;

use pgha::runstate::RunState;
use pgha::vocab::Key;

use crate::util::*;

/// What a sync-mode primary names in synchronous_standby_names for node-b.
const ANY_NODE_B: &str = "ANY 1 (\"node-b\")";

/// The slot the primary keeps for node-b: "-" is folded, so the name
/// carries the FNV-1a hash of "node-b".
const NODE_B_SLOT: &str = "pgha_node_b_05c3b726";

#[test]
fn a_standby_starts_following_the_primary_with_its_node_name() {
    let (a, a_agent, b, b_agent) = pair("follow");
    replicated_table(&a, &b);
    a.assert_query(
        "select application_name from pg_stat_replication",
        "node-b",
        "the standby streams under its node name",
    );
    b.assert_query("select pg_is_in_recovery()", "t", "the standby is in recovery");
    // The operator's configuration is untouched: settings come on the command line.
    let conf = std::fs::read_to_string(b.datadir.join("postgresql.conf")).unwrap();
    assert!(
        !conf
            .lines()
            .any(|l| l.trim_start().starts_with("primary_conninfo")),
        "postgresql.conf was rewritten with a primary_conninfo:\n{conf}"
    );
    assert!(
        b.datadir.join("standby.signal").exists(),
        "the standby has its standby.signal in {}",
        b.datadir.display()
    );
    stop_all(&[&b_agent, &a_agent]);
}

#[test]
fn switchover_demotes_the_primary_and_promotes_the_standby_without_a_rebuild() {
    let (a, a_agent, b, b_agent) = pair("switch");
    replicated_table(&a, &b);
    // Pacemaker's order: demote the old primary (it restarts as a standby of
    // the new one), then promote the target.
    let a_agent = a_agent.param("primary_conninfo", &b.conninfo());
    a_agent.run("demote").expect(OcfCode::Success);
    b_agent.run("promote").expect(OcfCode::Success);
    b_agent.run("monitor").expect(OcfCode::RunningPromoted);
    b.psql("insert into t values (2)");
    a.wait_for_row("select count(*) from t", "2");
    assert_streams(&a_agent, &a);
    stop_all(&[&a_agent, &b_agent]);
}

#[test]
fn a_crashed_primary_is_failed_promoted_and_demote_recovers_it_in_place() {
    let (a, a_agent, _b, b_agent) = pair("crash");
    a.psql("create table t(i int); insert into t values (7)");
    a.crash();
    a_agent
        .recurring_monitor()
        .expect_reason(OcfCode::FailedPromoted, "crashed");
    // Pacemaker recovers a failed primary with demote, stop, start, promote.
    for action in ["demote", "stop", "start", "promote"] {
        a_agent.run(action).expect(OcfCode::Success);
    }
    a.assert_query("select i from t", "7", "the crashed primary's row survives");
    stop_all(&[&b_agent, &a_agent]);
}

#[test]
fn a_diverged_former_primary_refuses_to_start_without_rewind() {
    let (a, a_agent, _b, b_agent) = diverge("norewind");
    a_agent
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "needs pg_rewind");
    a.assert_no_processes("a diverged former primary must not run at all");
    b_agent.run("stop").expect(OcfCode::Success);
}

#[test]
fn a_diverged_former_primary_is_rewound_and_follows_with_rewind_true() {
    let (a, a_agent, b, b_agent) = diverge("rewind");
    let a_agent = a_agent.param("rewind", "true");
    a_agent.run("start").expect(OcfCode::Success);
    assert_streams(&a_agent, &a);
    assert_follows_the_new_primary(&a, &b);
    stop_all(&[&a_agent, &b_agent]);
}

/// Issue 15's Debian 13 lab ([`demoted_alone_while_cut_off`]): as a
/// standby "shut down in recovery" the demoted primary used to be taken for
/// a plain standby at its next start, and sat in "startup" forever.
#[test]
fn a_primary_demoted_alone_while_cut_off_is_rewound_at_its_next_start() {
    let (a, a_agent, b, b_agent) = demoted_alone_while_cut_off("cutoff");
    // Back in the cluster: its start must rewind it onto b's timeline.
    a_agent.run("start").expect(OcfCode::Success);
    assert_follows_the_new_primary(&a, &b);
    stop_all(&[&a_agent, &b_agent]);
}

#[test]
fn clone_settings_are_checked_from_the_environment() {
    let pg = PgCluster::init("clonecfg");
    let agent = pg.clone_agent(&resource_name("clonecfg"), "node-a", "host=/x user=postgres");
    for (broken, reason) in [
        (agent.clone().meta("notify", "false"), "notify=true"),
        (agent.clone().meta("promoted_max", "2"), "promoted-max"),
        (agent.clone().param("primary_conninfo", ""), "primary_conninfo"),
    ] {
        broken.validate().expect_reason(OcfCode::ErrConfigured, reason);
    }
    agent.validate().expect(OcfCode::Success);
}

#[test]
fn sync_mode_follows_the_streaming_standbys_and_degrades_when_none_is_left() {
    // sync_grace=0: degrade as soon as no standby streams (the wait within
    // the grace has its own test below).
    let (a, a_agent, b, b_agent) = pair_with("sync", &[("replication_mode", "sync"), ("sync_grace", "0")]);
    let monitor = a_agent.clone().recurring();
    monitor.run("monitor").expect(OcfCode::RunningPromoted);
    a.assert_sync_names(ANY_NODE_B, "sync mode names the streaming standby");
    a.assert_query(
        "select sync_state from pg_stat_replication",
        "quorum",
        "the standby may confirm commits",
    );
    let auto_conf = std::fs::read_to_string(a.datadir.join("postgresql.auto.conf")).unwrap();
    assert!(
        auto_conf.contains("node-b"),
        "the setting is in postgresql.auto.conf, which holds:\n{auto_conf}"
    );
    a.psql("create table t(i int); insert into t values (1)");
    // A standby stopped by the cluster: the primary's post-stop
    // notification applies it at once, without waiting for a monitor.
    b_agent.run("stop").expect(OcfCode::Success);
    post_stop_notify(&a_agent, "node-b");
    a.assert_sync_names(
        "",
        "with no standby left, sync mode degrades to async (post-stop notification)",
    );
    a.psql("insert into t values (2)");
    monitor
        .run("monitor")
        .expect_reason(OcfCode::DegradedPromoted, "commits are acknowledged without one");
    b_agent.run("start").expect(OcfCode::Success);
    assert_streams(&b_agent, &b);
    monitor.run("monitor").expect(OcfCode::RunningPromoted);
    a.assert_sync_names(ANY_NODE_B, "the standby back is named again");
    // A standby gone without a notification: the primary's monitor.
    b_agent.run("stop").expect(OcfCode::Success);
    monitor.run("monitor").expect(OcfCode::DegradedPromoted);
    a.assert_sync_names("", "with no standby left, sync mode degrades to async (monitor)");
    a_agent.run("stop").expect(OcfCode::Success);
}

/// A commit of `sql` on `pg`, in the background, asserted to be in and
/// waiting for a synchronous standby (only then does "not acknowledged"
/// mean something); `what` is the failure it pins.
#[track_caller]
fn waiting_commit(pg: &PgCluster, sql: &str, what: &str) -> Background {
    let mut commit = pg.psql_in_background(sql);
    pg.wait_for_row(
        "select count(*) from pg_stat_activity where wait_event = 'SyncRep'",
        "1",
    );
    assert!(
        commit.is_running(),
        "{what}: expected `{sql}` to wait for a synchronous standby"
    );
    commit
}

/// Asserts that a primary's `monitor` does not report at once what it
/// waits for (its standbys are expected back within seconds), and reports
/// it, with `reason`, once the wait lasts.
#[track_caller]
fn assert_reported_once_the_wait_lasts(monitor: &Agent, reason: &str) {
    monitor.run("monitor").expect(OcfCode::RunningPromoted);
    monitor.expect_reason_within(
        "monitor",
        OcfCode::DegradedPromoted,
        reason,
        Duration::from_secs(20),
    );
}

/// Asserts that `commit` completes, successfully, within `within`.
#[track_caller]
fn assert_commit_completes(commit: &mut Background, within: Duration, what: &str) {
    let status = commit.exit_within(within);
    assert!(
        status.is_some_and(|s| s.success()),
        "{what}: expected the commit to succeed within {within:?}, got {status:?}"
    );
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
    monitor.run("monitor").expect(OcfCode::RunningPromoted);
    a.psql("create table t(i int)");
    b_agent.run("stop").expect(OcfCode::Success);
    post_stop_notify(&a_agent, "node-b");
    a.assert_sync_names(
        ANY_NODE_B,
        "within sync_grace the known standby is still waited for",
    );
    let mut insert = waiting_commit(
        &a,
        "insert into t values (1)",
        "the commit was acknowledged with no standby, within sync_grace",
    );
    // Waiting for a standby that may come back is not reported at once
    // (the standbys of a new primary are still reconnecting). Once the
    // grace is over, the monitor degrades to asynchronous and the waiting
    // commit is acknowledged.
    assert_reported_once_the_wait_lasts(&monitor, "acknowledged without one");
    a.assert_sync_names("", "after sync_grace, sync mode degrades to async");
    assert_commit_completes(
        &mut insert,
        Duration::from_secs(10),
        "the commit still waits after sync_grace",
    );
    a_agent.run("stop").expect(OcfCode::Success);
}

/// Issue 12: a standby promoted in sync mode names the other participants
/// of the election in synchronous_standby_names before it accepts a write:
/// its first commit already waits for one of them (in the lab the double
/// failure lost 445 acknowledged rows when it did not).
#[test]
fn a_new_sync_primary_waits_for_the_expected_standbys_from_its_first_commit() {
    let (_a, a_agent, b, b_agent) = pair_with("syncpromote", &[("replication_mode", "sync")]);
    a_agent.run("stop").expect(OcfCode::Success);
    notify(
        &b_agent,
        "pre",
        "promote",
        &[
            ("promote", "node-b"),
            ("active", "node-b node-c"),
            ("all", "node-a node-b node-c"),
        ],
    );
    b_agent.run("promote").expect(OcfCode::Success);
    b.assert_sync_names(
        "ANY 1 (\"node-c\")",
        "the new primary names the other participant of the election",
    );
    let first = waiting_commit(
        &b,
        "create table after_promotion(i int)",
        "the new primary acknowledged a commit no other node has",
    );
    assert_reported_once_the_wait_lasts(&b_agent.clone().recurring(), "commits wait for one");
    drop(first);
    b_agent.run("stop").expect(OcfCode::Success);
}

#[test]
fn strict_sync_blocks_commits_instead_of_degrading() {
    let (a, a_agent, b, b_agent) = pair_with("strict", &[("replication_mode", "strict-sync")]);
    let monitor = a_agent.clone().recurring();
    monitor.run("monitor").expect(OcfCode::RunningPromoted);
    a.assert_sync_names(ANY_NODE_B, "strict mode names the streaming standby");
    a.psql("create table t(i int)");
    b_agent.run("stop").expect(OcfCode::Success);
    monitor.expect_reason_within(
        "monitor",
        OcfCode::DegradedPromoted,
        "strict-sync: no standby streams",
        Duration::from_secs(20),
    );
    a.assert_sync_names(ANY_NODE_B, "strict mode never degrades");
    let mut insert = waiting_commit(
        &a,
        "insert into t values (1)",
        "the commit was acknowledged with no standby",
    );
    b_agent.run("start").expect(OcfCode::Success);
    assert_commit_completes(
        &mut insert,
        Duration::from_secs(20),
        "the commit never completed once the standby was back",
    );
    b.assert_query(
        "select count(*) from t",
        "1",
        "the standby has the waiting commit",
    );
    stop_all(&[&b_agent, &a_agent]);
}

/// `select <column> from pg_replication_slots` for slot `slot`.
fn slot_column(column: &str, slot: &str) -> String {
    format!("select {column} from pg_replication_slots where slot_name = '{slot}'")
}

#[test]
fn a_standby_streams_through_its_slot_and_a_demoted_primary_drops_its_slots() {
    let (a, a_agent, b, b_agent) = pair("slots");
    // The slot the primary keeps for node-b (in a cluster, from crm_node -l).
    a.psql(&format!(
        "select pg_create_physical_replication_slot('{NODE_B_SLOT}', true)"
    ));
    let b_agent = b_agent.param("replication_slots", "true");
    b_agent.run("stop").expect(OcfCode::Success);
    b_agent.run("start").expect(OcfCode::Success);
    assert_streams(&b_agent, &b);
    a.assert_query(
        &slot_column("active", NODE_B_SLOT),
        "t",
        "the standby streams through its slot",
    );
    // Switch over: a, now a standby, must not keep slots that hold WAL back.
    let a_agent = a_agent
        .param("primary_conninfo", &b.conninfo())
        .param("replication_slots", "true");
    a.psql("select pg_create_physical_replication_slot('pgha_node_c', true)");
    a_agent.run("demote").expect(OcfCode::Success);
    b_agent.run("promote").expect(OcfCode::Success);
    b.psql("select pg_create_physical_replication_slot('pgha_node_a', true)");
    assert_streams(&a_agent, &a);
    a.assert_query(
        "select count(*) from pg_replication_slots",
        "0",
        "the demoted primary dropped its slots",
    );
    stop_all(&[&a_agent, &b_agent]);
}

/// The agent's slot clean-up (a departed node's slot on the primary, a
/// former primary's leftovers on a standby) lists physical `pgha_*` slots
/// only. Logical slots are somebody else's, whatever their name: since
/// PostgreSQL 17 that includes `failover` slots, which a standby copies as
/// `synced` slots (always logical) so that logical replication survives a
/// failover; dropping one would break the subscriber at the next failover.
#[test]
fn logical_and_failover_slots_named_like_the_agents_are_never_dropped() {
    let (pg, agent) = primary(
        "logical",
        "wal_level = logical\n",
        &[("replication_slots", "true"), ("slot_grace", "0")],
    );
    post_start_notify(&agent, "node-a");
    // node-b and node-c are not members: the slots look like theirs.
    pg.psql("select pg_create_physical_replication_slot('pgha_node_b', true)");
    let failover = pg_major() >= 17;
    pg.psql(&format!(
        "select pg_create_logical_replication_slot('pgha_node_c', 'pgoutput'{})",
        if failover { ", false, false, true" } else { "" }
    ));
    if failover {
        pg.assert_query(
            &slot_column("failover", "pgha_node_c"),
            "t",
            "the logical slot is a failover slot",
        );
    }
    let slots = || pg.psql("select slot_name from pg_replication_slots order by 1");
    // slot_grace=0: one monitor marks the departure, the next one drops.
    wait_until(
        || {
            agent.run("monitor").expect(OcfCode::RunningPromoted);
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
    agent.run("demote").expect(OcfCode::Success);
    agent.run("monitor").expect(OcfCode::Success);
    assert_eq!(
        slots().trim(),
        "pgha_node_c",
        "the standby dropped a logical slot"
    );
    agent.run("stop").expect(OcfCode::Success);
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
    let (a, a_agent) = primary("synced", "wal_level = logical\n", &[]);
    a.psql(&format!(
        "select pg_create_physical_replication_slot('{NODE_B_SLOT}', true)"
    ));
    a.psql("select pg_create_logical_replication_slot('pgha_node_c', 'pgoutput', false, false, true)");
    let b = PgCluster::basebackup_of(&a, "synced-b");
    // Slot synchronization needs the standby's slot on the primary
    // (primary_slot_name, from replication_slots=true), hot_standby_feedback
    // and a dbname in primary_conninfo.
    let b_agent = b
        .clone_agent(
            &a_agent.rsc(),
            "node-b",
            &format!("{} dbname=postgres", a.conninfo()),
        )
        .param("replication_slots", "true")
        .param(
            "start_opts",
            &format!(
                "-c unix_socket_directories={} -c hot_standby_feedback=on",
                b.dir.path.display()
            ),
        );
    b_agent.run("start").expect(OcfCode::Success);
    assert_streams(&b_agent, &b);
    let synced = slot_column("synced", "pgha_node_c");
    wait_until(
        || {
            // A new slot is synchronized only once the primary's copy has
            // moved past the standby's initial position: consume a little.
            a.psql(
                "select pg_logical_emit_message(false, 'pgha', 'x'); \
                 select pg_replication_slot_advance('pgha_node_c', pg_current_wal_lsn())",
            );
            let refused = b.try_psql("select pg_sync_replication_slots()").err();
            match b.psql(&synced).trim() {
                "t" => Ok(()),
                other => Err(format!("synced={other:?}, {:?}", refused.map(|o| o.stderr))),
            }
        },
        Duration::from_secs(20),
        "the failover slot to be synchronized to the standby",
    );
    // A leftover of the agent's own, which the standby's monitor drops.
    b.psql("select pg_create_physical_replication_slot('pgha_node_x', true)");
    // PostgreSQL refuses to drop a synced slot on a standby anyway; the
    // agent must not even try (a warning at every monitor).
    b_agent
        .run("monitor")
        .expect(OcfCode::Success)
        .expect_not_logged("pgha_node_c", "the monitor tried to drop the synced slot");
    b.assert_query(
        "select slot_name, synced from pg_replication_slots order by 1",
        "pgha_node_c|t",
        "the standby dropped its synced slot, or kept a leftover",
    );
    stop_all(&[&b_agent, &a_agent]);
}

#[test]
fn a_standby_that_does_not_stream_for_30_s_is_degraded_with_the_reason() {
    let pg = PgCluster::init("lonely");
    let rsc = resource_name("lonely");
    let agent = pg.clone_agent(&rsc, "node-a", NO_PRIMARY_YET).recurring();
    agent.run("start").expect(OcfCode::Success);
    agent.run("monitor").expect(OcfCode::Success);
    // The agent's memory says it has not streamed since a minute ago.
    let mut mem = RunState::load(&rsc);
    assert!(
        mem.flag(&Key::ReceiverDown),
        "the first monitor remembers that the receiver does not stream: {:?}",
        memory_text(&rsc)
    );
    mem.backdate(&Key::ReceiverDown, 60);
    mem.save();
    agent
        .run("monitor")
        .expect_reason(OcfCode::Degraded, "standby not replicating");
    agent.run("stop").expect(OcfCode::Success);
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
    let (a, a_agent, b, b_agent) = pair_with("lostslot", &[("replication_slots", "true")]);
    let monitor = a_agent.clone().recurring();
    monitor.run("monitor").expect(OcfCode::RunningPromoted);
    let status = slot_column("wal_status", NODE_B_SLOT);
    a.assert_query(&status, "reserved", "the standby's slot holds its WAL");
    b_agent.run("stop").expect(OcfCode::Success);
    a.psql("alter system set idle_replication_slot_timeout = '1s'");
    a.psql("select pg_reload_conf()");
    // The timeout is applied by checkpoints.
    wait_until(
        || {
            a.psql("checkpoint");
            match a.psql(&status).trim() {
                "lost" => Ok(()),
                other => Err(other.to_string()),
            }
        },
        Duration::from_secs(20),
        "the idle slot invalidated",
    );
    a.psql("alter system reset idle_replication_slot_timeout");
    a.psql("select pg_reload_conf()");
    monitor.run("monitor").expect(OcfCode::RunningPromoted);
    a.assert_query(&status, "reserved", "the slot was made again");
    b_agent.run("start").expect(OcfCode::Success);
    assert_streams(&b_agent, &b);
    a.wait_for_row(&slot_column("active", NODE_B_SLOT), "t");
    stop_all(&[&b_agent, &a_agent]);
}
