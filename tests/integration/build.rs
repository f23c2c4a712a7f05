//! Standbys that build themselves (issue 14): a clone instance whose data
//! directory is missing or empty copies the primary (bootstrap=basebackup),
//! and one that cannot follow is copied again (rebuild=true), the old data
//! moved aside. No cluster runs here: the attributes cannot be read, so the
//! copy's own backup_label is what says it came from a primary.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::replication::{diverge, pair};
use crate::util::*;

/// A primary on "node-a", promoted as in a cluster, and its agent.
fn primary(name: &str) -> (PgCluster, Agent) {
    let a = PgCluster::init(&format!("{name}-a"));
    a.append_conf("wal_log_hints = on\n");
    let rsc = format!("t{}{name}", std::process::id());
    let agent = a.clone_agent(&rsc, "node-a", "host=/nonexistent port=1 user=postgres");
    agent.run("start").expect(rc::SUCCESS);
    agent.run("promote").expect(rc::SUCCESS);
    agent.run("monitor").expect(rc::RUNNING_PROMOTED);
    (a, agent)
}

/// The agent of a node "node-b" with no data directory yet, that copies
/// `from` when it starts.
fn new_node(name: &str, from: &PgCluster, rsc: &str) -> (PgCluster, Agent) {
    let b = PgCluster::not_made(&format!("{name}-b"));
    let agent = b
        .clone_agent(rsc, "node-b", &from.conninfo())
        .param("bootstrap", "basebackup");
    (b, agent)
}

fn rsc_of(agent: &Agent) -> String {
    agent.env["OCF_RESOURCE_INSTANCE"].clone()
}

/// The entries of `dir` whose names start with `prefix`.
fn beside(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

#[track_caller]
fn assert_streams(agent: &Agent, pg: &PgCluster) {
    let out = agent.run_until("monitor", rc::SUCCESS, Duration::from_secs(20));
    if out.code != rc::SUCCESS {
        let log = fs::read_to_string(pg.dir.path.join("server.log")).unwrap_or_default();
        panic!("the copy does not stream\n{out}\n--- its server log\n{log}");
    }
}

#[test]
fn a_missing_data_directory_becomes_a_streaming_standby() {
    let (a, a_agent) = primary("boot");
    a.psql("create table t(i int); insert into t values (1)");
    let (b, b_agent) = new_node("boot", &a, &rsc_of(&a_agent));
    // What Pacemaker's probe sees on a new node: nothing there, not running;
    // and the host checks pass: start copies the primary there.
    b_agent.run("monitor").expect(rc::NOT_RUNNING);
    b_agent
        .clone()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect(rc::SUCCESS);
    let start = b_agent.run("start");
    start.expect(rc::SUCCESS);
    assert!(start.stderr.contains("copying the primary"), "{start}");
    assert_streams(&b_agent, &b);
    a.psql("insert into t values (2)");
    wait_for_row(&b, "select count(*) from t", "2");
    assert_eq!(b.psql("select pg_is_in_recovery()").trim(), "t");
    assert_eq!(
        a.psql("select application_name from pg_stat_replication").trim(),
        "node-b"
    );
    assert!(
        beside(&b.dir.path, "data.pgha").is_empty(),
        "nothing is left beside the data directory"
    );
    // Started again, it is an instance: no second copy.
    b_agent.run("stop").expect(rc::SUCCESS);
    let again = b_agent.run("start");
    again.expect(rc::SUCCESS);
    assert!(!again.stderr.contains("copying the primary"), "{again}");
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn an_empty_data_directory_of_the_user_is_filled() {
    let (a, a_agent) = primary("bootempty");
    let (b, b_agent) = new_node("bootempty", &a, &rsc_of(&a_agent));
    fs::create_dir(&b.datadir).unwrap();
    let user = postgres_user();
    nix::unistd::chown(&b.datadir, Some(user.uid), Some(user.gid)).unwrap();
    b_agent.run("start").expect(rc::SUCCESS);
    assert_streams(&b_agent, &b);
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn a_directory_that_is_not_empty_or_not_the_users_is_never_copied_into() {
    let (a, a_agent) = primary("refuse");
    let (b, b_agent) = new_node("refuse", &a, &rsc_of(&a_agent));
    // Without bootstrap, a missing directory is what it always was.
    b_agent
        .clone()
        .param("bootstrap", "none")
        .run("start")
        .expect_reason(rc::ERR_ARGS, "does not exist");
    // Someone's files (or another disk mounted there).
    fs::create_dir(&b.datadir).unwrap();
    fs::write(b.datadir.join("notes.txt"), "mine").unwrap();
    b_agent
        .run("start")
        .expect_reason(rc::ERR_ARGS, "is not empty (notes.txt)");
    b_agent
        .clone()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_ARGS, "is not empty (notes.txt)");
    assert_eq!(fs::read_to_string(b.datadir.join("notes.txt")).unwrap(), "mine");
    // Empty, but root's: one postgres may read, one it may not even open.
    fs::remove_file(b.datadir.join("notes.txt")).unwrap();
    fs::set_permissions(&b.datadir, fs::Permissions::from_mode(0o755)).unwrap();
    b_agent
        .run("start")
        .expect_reason(rc::ERR_PERM, "is not owned by system_user");
    fs::set_permissions(&b.datadir, fs::Permissions::from_mode(0o700)).unwrap();
    b_agent
        .run("start")
        .expect_reason(rc::ERR_PERM, "is not open to system_user");
    // The expected mount is not there (a directory is no mount point).
    let user = postgres_user();
    nix::unistd::chown(&b.datadir, Some(user.uid), Some(user.gid)).unwrap();
    b_agent
        .clone()
        .param("data_mount", b.dir.path.to_str().unwrap())
        .run("start")
        .expect_reason(rc::ERR_ARGS, "is not mounted");
    assert!(
        fs::read_dir(&b.datadir).unwrap().next().is_none(),
        "nothing copied"
    );
    assert!(beside(&b.dir.path, "data.pgha").is_empty());
    // A primitive has no primary to copy.
    b.agent()
        .param("bootstrap", "basebackup")
        .run("start")
        .expect_reason(rc::ERR_CONFIGURED, "need a promotable clone");
    a_agent.run("stop").expect(rc::SUCCESS);
}

/// The pid of the primary's checkpointer: a base backup starts with a
/// checkpoint, so stopping it holds the copy for as long as we like.
fn checkpointer(pg: &PgCluster) -> Pid {
    let pid = pg.psql("select pid from pg_stat_activity where backend_type = 'checkpointer'");
    Pid::from_raw(pid.trim().parse().unwrap())
}

#[test]
fn a_copy_cut_by_the_start_timeout_leaves_nothing_that_could_start() {
    let (a, a_agent) = primary("cut");
    a.psql("create table t(i int); insert into t values (1)");
    let (b, b_agent) = new_node("cut", &a, &rsc_of(&a_agent));
    let held = checkpointer(&a);
    kill(held, Signal::SIGSTOP).unwrap();
    let cut = b_agent.clone().meta("timeout", "8000").run("start");
    kill(held, Signal::SIGCONT).unwrap();
    cut.expect_reason(rc::ERR_GENERIC, "raise op start timeout");
    assert!(cut.elapsed < Duration::from_secs(8), "{cut}");
    assert!(!b.datadir.exists(), "a cut copy never sits in the data directory");
    assert!(
        beside(&b.dir.path, "data.pgha-build").is_empty(),
        "the unfinished copy is removed"
    );
    b_agent.run("monitor").expect(rc::NOT_RUNNING);
    // The next start copies again, from the beginning.
    b_agent.run("start").expect(rc::SUCCESS);
    assert_streams(&b_agent, &b);
    wait_for_row(&b, "select count(*) from t", "1");
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn a_diverged_former_primary_is_rebuilt_and_its_old_data_kept_aside() {
    let (a, a_agent, b, b_agent) = diverge("rebuild");
    let a_agent = a_agent.param("rebuild", "true");
    let start = a_agent.run("start");
    start.expect(rc::SUCCESS);
    assert!(start.stderr.contains("moved aside to"), "{start}");
    assert_streams(&a_agent, &a);
    wait_for_row(&a, "select count(*) from t", "2");
    assert_eq!(
        a.psql("select min(i) from t").trim(),
        "-1",
        "the new primary's history"
    );
    b.psql("insert into t values (-2)");
    wait_for_row(&a, "select count(*) from t", "3");
    // The old data is still there, whole, with the rows only it had.
    let aside = beside(&a.dir.path, "data.pgha-old-");
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(aside[0].join("PG_VERSION").is_file());
    assert!(aside[0].join("global/pg_control").is_file());
    assert!(
        start.stderr.contains(aside[0].to_str().unwrap()),
        "the log names where it went\n{start}"
    );
    a_agent.run("stop").expect(rc::SUCCESS);
    b_agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn a_standby_whose_wal_was_removed_is_reported_and_rebuilt() {
    let (a, a_agent, b, b_agent) = pair("walgone");
    a.psql("create table t(i int); insert into t values (1)");
    wait_for_row(&b, "select count(*) from t", "1");
    b_agent.run("stop").expect(rc::SUCCESS);
    // No slot, no wal_keep_size: the segments b needs go at the next
    // checkpoints.
    a.psql("alter system set wal_keep_size = 0");
    a.psql("select pg_reload_conf()");
    for _ in 0..4 {
        a.psql("insert into t select generate_series(2, 1000)");
        a.psql("select pg_switch_wal()");
        a.psql("checkpoint");
    }
    let monitor = b_agent.clone().recurring();
    b_agent.run("start").expect(rc::SUCCESS);
    monitor
        .run_until_reason(
            "monitor",
            rc::DEGRADED,
            "has already been removed",
            Duration::from_secs(20),
        )
        .expect_reason(rc::DEGRADED, "cannot follow: requested WAL segment");
    // Allowed to rebuild: the monitor fails it, so that Pacemaker restarts
    // it, and the start copies the primary again.
    let monitor = monitor.param("rebuild", "true");
    monitor
        .run_until_reason(
            "monitor",
            rc::ERR_GENERIC,
            "rebuilt at next start",
            Duration::from_secs(20),
        )
        .expect_reason(rc::ERR_GENERIC, "rebuilt at next start");
    let b_agent = b_agent.param("rebuild", "true");
    b_agent.run("stop").expect(rc::SUCCESS);
    let start = b_agent.run("start");
    start.expect(rc::SUCCESS);
    assert!(start.stderr.contains("rebuild: requested WAL segment"), "{start}");
    assert_streams(&b_agent, &b);
    a.psql("insert into t values (-1)");
    wait_for_row(&b, "select count(*) from t", "3998");
    assert_eq!(beside(&b.dir.path, "data.pgha-old-").len(), 1);
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
}
