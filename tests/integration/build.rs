//! Standbys that build themselves (issue 14): a clone instance whose data
//! directory is missing or empty copies the primary (bootstrap=basebackup),
//! and one that cannot follow is copied again (rebuild=true), the old data
//! moved aside. No cluster runs here: the attributes cannot be read, so the
//! copy's own backup_label is what says it came from a primary.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::util::*;

/// A primary on "node-a" for a standby that builds itself: no WAL kept
/// beyond PostgreSQL's default, so what the copy streams is what it copied.
fn boot_primary(name: &str) -> (PgCluster, Agent) {
    primary(name, "wal_log_hints = on\n", &[])
}

/// The agent of a node "node-b" with no data directory yet, that copies
/// `from` (whose agent is `from_agent`) when it starts.
fn new_node(name: &str, from: &PgCluster, from_agent: &Agent) -> (PgCluster, Agent) {
    let b = PgCluster::not_made(&format!("{name}-b"));
    let agent = b
        .clone_agent(&from_agent.rsc(), "node-b", &from.conninfo())
        .param("bootstrap", "basebackup");
    (b, agent)
}

/// What the agent left beside the data directory of `pg` under `prefix`:
/// copies under way (`data.pgha-build`), old data moved aside
/// (`data.pgha-old-`).
fn beside(pg: &PgCluster, prefix: &str) -> Vec<PathBuf> {
    entries_starting_with(&pg.dir.path, prefix)
}

/// Starts `b_agent`, whose log must say `line` (how it builds the standby:
/// `what`), and asserts that the standby `b` then streams: a row committed
/// on `a` reaches it, its table `t` then holding `rows` rows.
#[track_caller]
fn assert_start_builds(
    b_agent: &Agent,
    line: &str,
    what: &str,
    (a, b): (&PgCluster, &PgCluster),
    rows: &str,
) {
    b_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged(line, what);
    assert_streams(b_agent, b);
    a.psql("insert into t values (0)");
    b.wait_for_row("select count(*) from t", rows);
}

#[test]
fn a_missing_data_directory_becomes_a_streaming_standby() {
    let (a, a_agent) = boot_primary("boot");
    a.psql("create table t(i int); insert into t values (1)");
    let (b, b_agent) = new_node("boot", &a, &a_agent);
    // What Pacemaker's probe sees on a new node: nothing there, not running;
    // and the host checks pass: start copies the primary there.
    b_agent.run("monitor").expect(OcfCode::NotRunning);
    b_agent.validate_level_10().expect(OcfCode::Success);
    assert_start_builds(
        &b_agent,
        "copying the primary",
        "a start with no data copies the primary",
        (&a, &b),
        "2",
    );
    b.assert_query("select pg_is_in_recovery()", "t", "the copy runs as a standby");
    a.assert_query(
        "select application_name from pg_stat_replication",
        "node-b",
        "the copy streams under its node name",
    );
    assert_eq!(
        beside(&b, "data.pgha"),
        Vec::<PathBuf>::new(),
        "nothing is left beside the data directory"
    );
    // Started again, it is an instance: no second copy.
    b_agent.run("stop").expect(OcfCode::Success);
    b_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_not_logged("copying the primary", "a second start copies again");
    stop_all(&[&b_agent, &a_agent]);
}

#[test]
fn an_empty_data_directory_of_the_user_is_filled() {
    let (a, a_agent) = boot_primary("bootempty");
    let (b, b_agent) = new_node("bootempty", &a, &a_agent);
    fs::create_dir(&b.datadir).unwrap();
    let user = postgres_user();
    nix::unistd::chown(&b.datadir, Some(user.uid), Some(user.gid)).unwrap();
    b_agent.run("start").expect(OcfCode::Success);
    assert_streams(&b_agent, &b);
    stop_all(&[&b_agent, &a_agent]);
}

#[test]
fn a_directory_that_is_not_empty_or_not_the_users_is_never_copied_into() {
    let (a, a_agent) = boot_primary("refuse");
    let (b, b_agent) = new_node("refuse", &a, &a_agent);
    // Without bootstrap, a missing directory is what it always was.
    b_agent
        .clone()
        .param("bootstrap", "none")
        .run("start")
        .expect_reason(OcfCode::ErrArgs, "does not exist");
    // Someone's files (or another disk mounted there).
    fs::create_dir(&b.datadir).unwrap();
    fs::write(b.datadir.join("notes.txt"), "mine").unwrap();
    b_agent.expect_refused(OcfCode::ErrArgs, "is not empty (notes.txt)");
    assert_eq!(
        fs::read_to_string(b.datadir.join("notes.txt")).unwrap(),
        "mine",
        "someone's file is left as it was"
    );
    // Empty, but root's: one postgres may read, one it may not even open.
    fs::remove_file(b.datadir.join("notes.txt")).unwrap();
    fs::set_permissions(&b.datadir, fs::Permissions::from_mode(0o755)).unwrap();
    b_agent
        .run("start")
        .expect_reason(OcfCode::ErrPerm, "is not owned by system_user");
    fs::set_permissions(&b.datadir, fs::Permissions::from_mode(0o700)).unwrap();
    b_agent
        .run("start")
        .expect_reason(OcfCode::ErrPerm, "is not open to system_user");
    // The expected mount is not there (a directory is no mount point).
    let user = postgres_user();
    nix::unistd::chown(&b.datadir, Some(user.uid), Some(user.gid)).unwrap();
    b_agent
        .clone()
        .param("data_mount", b.dir.path.to_str().unwrap())
        .run("start")
        .expect_reason(OcfCode::ErrArgs, "is not mounted");
    assert_eq!(
        entries_starting_with(&b.datadir, ""),
        Vec::<PathBuf>::new(),
        "nothing copied into the refused directory"
    );
    assert_eq!(
        beside(&b, "data.pgha"),
        Vec::<PathBuf>::new(),
        "no copy made beside the refused directory"
    );
    // A primitive has no primary to copy.
    b.agent()
        .param("bootstrap", "basebackup")
        .run("start")
        .expect_reason(OcfCode::ErrConfigured, "need a promotable clone");
    a_agent.run("stop").expect(OcfCode::Success);
}

/// The pid of the primary's checkpointer: a base backup starts with a
/// checkpoint, so stopping it holds the copy for as long as we like.
fn checkpointer(pg: &PgCluster) -> Pid {
    let pid = pg.psql("select pid from pg_stat_activity where backend_type = 'checkpointer'");
    Pid::from_raw(pid.trim().parse().unwrap())
}

#[test]
fn a_copy_cut_by_the_start_timeout_leaves_nothing_that_could_start() {
    let (a, a_agent) = boot_primary("cut");
    a.psql("create table t(i int); insert into t values (1)");
    let (b, b_agent) = new_node("cut", &a, &a_agent);
    let held = checkpointer(&a);
    kill(held, Signal::SIGSTOP).unwrap();
    let cut = b_agent.clone().meta("timeout", "8000").run("start");
    kill(held, Signal::SIGCONT).unwrap();
    cut.expect_reason(OcfCode::ErrGeneric, "raise op start timeout")
        .expect_within(Duration::from_secs(8));
    assert!(
        !b.datadir.exists(),
        "a cut copy never sits in the data directory {}",
        b.datadir.display()
    );
    assert_eq!(
        beside(&b, "data.pgha-build"),
        Vec::<PathBuf>::new(),
        "the unfinished copy is removed"
    );
    b_agent.run("monitor").expect(OcfCode::NotRunning);
    // The next start copies again, from the beginning.
    b_agent.run("start").expect(OcfCode::Success);
    assert_streams(&b_agent, &b);
    b.wait_for_row("select count(*) from t", "1");
    stop_all(&[&b_agent, &a_agent]);
}

#[test]
fn a_diverged_former_primary_is_rebuilt_and_its_old_data_kept_aside() {
    let (a, a_agent, b, b_agent) = diverge("rebuild");
    let a_agent = a_agent.param("rebuild", "true");
    let start = a_agent.run("start");
    start
        .expect(OcfCode::Success)
        .expect_logged("moved aside to", "the rebuild keeps the old data");
    assert_streams(&a_agent, &a);
    assert_follows_the_new_primary(&a, &b);
    // The old data is still there, whole, with the rows only it had.
    let aside = beside(&a, "data.pgha-old-");
    assert_eq!(aside.len(), 1, "one old data directory kept aside: {aside:?}");
    for file in ["PG_VERSION", "global/pg_control"] {
        assert!(
            aside[0].join(file).is_file(),
            "the data kept aside in {} has its {file}",
            aside[0].display()
        );
    }
    start.expect_logged(aside[0].to_str().unwrap(), "the log names where it went");
    stop_all(&[&a_agent, &b_agent]);
}

/// Takes every name the agent could move old data aside to during the
/// next two minutes (`data.pgha-old-<stamp>` and its `-2`..`-100`), as
/// files in `pg`'s directory; returns them, to be removed.
fn take_aside_names(pg: &PgCluster) -> Vec<PathBuf> {
    let now = pgha::deadline::unix_seconds();
    let names: Vec<PathBuf> = (now..now + 120)
        .flat_map(|secs| {
            let base = format!("data.pgha-old-{}", pgha::deadline::utc_stamp(secs));
            std::iter::once(base.clone()).chain((2..=100).map(move |n| format!("{base}-{n}")))
        })
        .map(|name| pg.dir.path.join(name))
        .collect();
    for name in &names {
        fs::write(name, "").unwrap();
    }
    names
}

/// A rebuild is one exchange of the copy with the old data, then a rename
/// of the old data aside (issue 23: it was two renames, and a cut between
/// them left no data directory). Stopped between the two (here the rename
/// aside cannot find a free name, as if the agent had been killed there),
/// the copy is the data directory and starts as it is, without copying
/// again, and the old data waits at `data.pgha-ready` until the next copy
/// moves it aside: nothing is deleted on the way.
#[test]
fn a_rebuild_stopped_after_its_exchange_starts_the_copy_and_deletes_nothing() {
    let (a, a_agent, b, b_agent) = diverge("halfway");
    let a_agent = a_agent.param("rebuild", "true").param("bootstrap", "basebackup");
    // Only the old data carries this file.
    fs::write(a.dir.path.join("data/pgha-test-old-data"), "kept").unwrap();
    let taken = take_aside_names(&a);
    a_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("stays at", "the old data could not be moved aside");
    for name in &taken {
        fs::remove_file(name).unwrap();
    }
    let ready = a.dir.path.join("data.pgha-ready");
    assert!(
        ready.join("pgha-test-old-data").is_file() && ready.join("global/pg_control").is_file(),
        "the old data waits, whole, at {}",
        ready.display()
    );
    assert!(
        !a.dir.path.join("data/pgha-test-old-data").exists(),
        "the copy is in place"
    );
    assert_streams(&a_agent, &a);
    assert_follows_the_new_primary(&a, &b);

    // The next start starts the copy as it is.
    a_agent.run("stop").expect(OcfCode::Success);
    a_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_not_logged("copying the primary", "the copy in place was copied again");
    assert_streams(&a_agent, &a);
    a_agent.run("stop").expect(OcfCode::Success);

    // The next copy (the data disk replaced: the directory is gone) moves
    // the waiting old data aside before it copies.
    let replaced = a.dir.path.join("data.replaced-by-the-test");
    fs::rename(a.dir.path.join("data"), &replaced).unwrap();
    a_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("an interrupted rebuild left", "the leftover is named")
        .expect_logged("nothing deleted", "and kept");
    assert!(!ready.exists(), "{} was moved aside", ready.display());
    let aside = beside(&a, "data.pgha-old-");
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        fs::read_to_string(aside[0].join("pgha-test-old-data")).unwrap(),
        "kept",
        "the old data, moved aside whole"
    );
    assert!(replaced.join("global/pg_control").is_file());
    assert_streams(&a_agent, &a);
    stop_all(&[&a_agent, &b_agent]);
}

#[test]
fn a_standby_whose_wal_was_removed_is_reported_and_rebuilt() {
    let (a, a_agent, b, b_agent) = standby_stopped_behind("walgone");
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
    b_agent.run("start").expect(OcfCode::Success);
    monitor
        .run_until_reason(
            "monitor",
            OcfCode::Degraded,
            "has already been removed",
            Duration::from_secs(20),
        )
        .expect_reason(OcfCode::Degraded, "cannot follow: requested WAL segment");
    // Allowed to rebuild: the monitor fails it, so that Pacemaker restarts
    // it, and the start copies the primary again.
    monitor.param("rebuild", "true").expect_reason_within(
        "monitor",
        OcfCode::ErrGeneric,
        "rebuilt at next start",
        Duration::from_secs(20),
    );
    let b_agent = b_agent.param("rebuild", "true");
    b_agent.run("stop").expect(OcfCode::Success);
    assert_start_builds(
        &b_agent,
        "rebuild: requested WAL segment",
        "the start says why it rebuilds",
        (&a, &b),
        "3998",
    );
    let aside = beside(&b, "data.pgha-old-");
    assert_eq!(aside.len(), 1, "one old data directory kept aside: {aside:?}");
    stop_all(&[&b_agent, &a_agent]);
}

/// [`a_standby_whose_wal_was_removed_is_reported_and_rebuilt`] up to the
/// failed monitor: `b` is stopped, its monitor having found in its log that
/// the primary removed the WAL it needs.
#[track_caller]
fn standby_whose_wal_was_removed(name: &str) -> (PgCluster, Agent, PgCluster, Agent) {
    let (a, a_agent, b, b_agent) = standby_stopped_behind(name);
    a.psql("alter system set wal_keep_size = 0");
    a.psql("select pg_reload_conf()");
    for _ in 0..4 {
        a.psql("insert into t select generate_series(2, 1000)");
        a.psql("select pg_switch_wal()");
        a.psql("checkpoint");
    }
    let b_agent = b_agent.param("rebuild", "true");
    b_agent.run("start").expect(OcfCode::Success);
    b_agent.clone().recurring().expect_reason_within(
        "monitor",
        OcfCode::ErrGeneric,
        "rebuilt at next start",
        Duration::from_secs(20),
    );
    b_agent.run("stop").expect(OcfCode::Success);
    (a, a_agent, b, b_agent)
}

/// The log said the WAL was removed, but no primary can say so: the data
/// is kept and the standby starts, waiting for one (issue 23: the memory of
/// a log line alone made the start throw the data directory away).
#[test]
fn a_standby_is_not_rebuilt_while_no_primary_can_confirm_its_log() {
    let (_a, a_agent, b, b_agent) = standby_whose_wal_was_removed("unconf");
    a_agent.run("stop").expect(OcfCode::Success);
    b_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged(
            "the primary cannot confirm it",
            "the start says why it did not rebuild",
        )
        .expect_not_logged("copying the primary", "a start with no primary copies nothing");
    assert_eq!(
        beside(&b, "data.pgha"),
        Vec::<PathBuf>::new(),
        "the data directory stays where it was"
    );
    b.assert_query("select pg_is_in_recovery()", "t", "it runs as a standby");
    // With the primary back, the log says it again, the primary confirms:
    // rebuilt.
    b_agent.run("stop").expect(OcfCode::Success);
    a_agent.run("start").expect(OcfCode::Success);
    a_agent.run("promote").expect(OcfCode::Success);
    b_agent.run("start").expect(OcfCode::Success);
    b_agent.clone().recurring().expect_reason_within(
        "monitor",
        OcfCode::ErrGeneric,
        "rebuilt at next start",
        Duration::from_secs(20),
    );
    b_agent.run("stop").expect(OcfCode::Success);
    b_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("the primary's oldest WAL segment is", "the primary confirmed it");
    assert_eq!(
        beside(&b, "data.pgha-old-").len(),
        1,
        "the old data is kept aside"
    );
    stop_all(&[&b_agent, &a_agent]);
}

/// A directory for a tablespace, owned by postgres, under `pg`'s own.
fn tablespace_dir(pg: &PgCluster, name: &str) -> PathBuf {
    let dir = pg.dir.path.join(name);
    fs::create_dir(&dir).unwrap();
    let user = postgres_user();
    nix::unistd::chown(&dir, Some(user.uid), Some(user.gid)).unwrap();
    dir
}

/// pg_basebackup writes a tablespace at the path it has on the primary,
/// outside the staging directory: a cut copy leaves half of it where a
/// server reads, and every later copy fails on the directory it left
/// (issue 23). The copy is refused before anything is written.
#[test]
fn a_primary_with_tablespaces_is_never_copied() {
    let (a, a_agent) = boot_primary("tblspc");
    let location = tablespace_dir(&a, "ts");
    a.psql(&format!(
        "create tablespace fast location '{}'",
        location.display()
    ));
    a.psql("create table t(i int) tablespace fast; insert into t values (1)");
    let (b, b_agent) = new_node("tblspc", &a, &a_agent);
    b_agent
        .run("start")
        .expect_reason(OcfCode::ErrArgs, "the primary has tablespaces (fast)");
    assert!(!b.datadir.exists(), "nothing copied");
    assert_eq!(beside(&b, "data.pgha"), Vec::<PathBuf>::new(), "no copy begun");
    a.assert_query(
        "select count(*) from t",
        "1",
        "the primary's tablespace is untouched",
    );
    stop_all(&[&a_agent]);
}

/// The old data's tablespaces would stay at their paths when the data is
/// moved aside, and the copy's would land on them: no rebuild.
#[test]
fn a_node_with_tablespaces_is_never_rebuilt() {
    let (a, a_agent, _b, b_agent) = diverge("tblspcold");
    let target = tablespace_dir(&a, "old-ts");
    std::os::unix::fs::symlink(&target, a.datadir.join("pg_tblspc/16999")).unwrap();
    a_agent
        .param("rebuild", "true")
        .run("start")
        .expect_reason(OcfCode::ErrArgs, "has tablespaces (pg_tblspc/16999)");
    assert_eq!(
        beside(&a, "data.pgha"),
        Vec::<PathBuf>::new(),
        "nothing moved aside"
    );
    stop_all(&[&b_agent]);
}

/// A pg_basebackup that an older agent (or one killed before its children
/// died with it) left running into `.pgha-build` is ended before the
/// directory is cleared: it would go on writing into the next copy.
#[test]
fn a_copy_left_running_is_ended_before_its_directory_is_cleared() {
    let (a, a_agent) = boot_primary("orphan");
    a.psql("create table t(i int); insert into t values (1)");
    let (b, b_agent) = new_node("orphan", &a, &a_agent);
    let staging = b.dir.path.join("data.pgha-build");
    let held = checkpointer(&a);
    kill(held, Signal::SIGSTOP).unwrap();
    let mut copy = postgres_command(pg_bin().join("pg_basebackup"));
    copy.args([
        "-D",
        staging.to_str().unwrap(),
        "-X",
        "stream",
        "-c",
        "fast",
        "-d",
        &a.conninfo(),
    ]);
    let mut orphan = Background::spawn(copy);
    let orphan_pid = orphan.pid();
    let made = poll(Duration::from_secs(10), Duration::from_millis(50), || {
        staging.is_dir().then_some(()).ok_or(())
    });
    if made.is_err() {
        kill(held, Signal::SIGCONT).unwrap();
        panic!("pg_basebackup never made {}", staging.display());
    }
    // Once the leftover copy is gone the agent's own may run: the
    // checkpointer goes on then (or after 30 s, whatever happens).
    let release = std::thread::spawn(move || {
        let ended = orphan.exit_within(Duration::from_secs(30)).is_some();
        kill(held, Signal::SIGCONT).unwrap();
        ended
    });
    let start = b_agent.clone().meta("timeout", "60000").run("start");
    let ended = release.join().unwrap();
    start.expect(OcfCode::Success).expect_logged(
        &format!("ending process {orphan_pid}"),
        "the start ends the leftover copy",
    );
    assert!(
        ended,
        "the leftover pg_basebackup {orphan_pid} was not ended\n{start}"
    );
    assert_streams(&b_agent, &b);
    b.wait_for_row("select count(*) from t", "1");
    stop_all(&[&b_agent, &a_agent]);
}
