//! Root must not be steered by a file the system user controls: symlinks,
//! directories, FIFOs and garbage planted by postgres (or by a database
//! superuser through `COPY ... TO PROGRAM`) in the data directory and the
//! log directory. Each test plants one, as postgres, and checks that the
//! root-only file it points at is untouched and the agent answers in time.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::*;

/// What a root-only file holds.
const SECRET: &str = "root only\n";

/// A root-only directory for test `name` and a root-only file (0600)
/// `file` in it, holding [`SECRET`].
fn root_secret(name: &str, file: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::root_only(name);
    let path = dir.path.join(file);
    fs::write(&path, SECRET).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    (dir, path)
}

/// Runs a shell command as postgres (what a compromised system user does).
fn as_postgres(script: &str) {
    run_as_postgres("/bin/sh", &["-c", script]);
}

/// The file is still root's, 0600, with exactly [`SECRET`].
#[track_caller]
fn assert_untouched(path: &Path) {
    let meta = fs::metadata(path).expect("the root-only file is still there");
    assert_eq!(meta.uid(), 0, "{} changed owner", path.display());
    assert_eq!(meta.mode() & 0o777, 0o600, "{} changed mode", path.display());
    assert_eq!(
        fs::read_to_string(path).unwrap(),
        SECRET,
        "{} was written",
        path.display()
    );
}

fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.display())
}

#[test]
fn a_dangling_standby_signal_symlink_does_not_make_root_create_its_target() {
    let pg = PgCluster::init("sigsym");
    let root = TempDir::root_only("sigsym");
    let target = root.path.join("ld.so.preload");
    as_postgres(&format!(
        "ln -s {} {}",
        sh_quote(&target),
        sh_quote(&pg.datadir.join("standby.signal"))
    ));
    let agent = pg.clone_agent(&resource_name("sigsym"), "node-a", NO_PRIMARY_YET);
    agent
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "standby.signal");
    assert!(
        !target.exists(),
        "root created the symlink's target {}",
        target.display()
    );
    pg.assert_no_processes("the server was started anyway");
}

#[test]
fn a_logfile_symlink_to_a_root_only_file_is_refused_and_the_file_untouched() {
    let pg = PgCluster::init("logsym");
    let (_root, secret) = root_secret("logsym", "shadow");
    let logfile = pg.server_log_path();
    as_postgres(&format!("ln -s {} {}", sh_quote(&secret), sh_quote(&logfile)));
    pg.agent().expect_refused(OcfCode::ErrPerm, "is a symlink");
    assert_untouched(&secret);
    pg.assert_no_processes("the server was started anyway");
}

#[test]
fn a_logfile_that_is_a_directory_fails_validate_all_level_10() {
    let pg = PgCluster::init("logdir");
    as_postgres(&format!("mkdir {}", sh_quote(&pg.server_log_path())));
    pg.agent().expect_refused(OcfCode::ErrArgs, "is a directory");
}

#[test]
fn a_root_owned_logfile_fails_validate_all_level_10() {
    let pg = PgCluster::init("logroot");
    let logfile = pg.server_log_path();
    fs::write(&logfile, "").unwrap(); // root's, 0644
    pg.agent().expect_refused(OcfCode::ErrPerm, "is owned by uid 0");
    assert_eq!(
        fs::metadata(&logfile).unwrap().len(),
        0,
        "root's logfile {} was written",
        logfile.display()
    );
}

#[test]
fn a_log_directory_in_a_postgres_owned_directory_is_not_created_by_root() {
    let pg = PgCluster::init("logdeep");
    let logfile = pg.dir.path.join("missing").join("server.log");
    let agent = pg.agent().param("logfile", logfile.to_str().unwrap());
    agent.expect_refused(OcfCode::ErrArgs, "is missing: create it owned by postgres");
    assert!(
        !pg.dir.path.join("missing").exists(),
        "root created the log directory in a postgres-owned directory"
    );
}

#[test]
fn a_superusers_copy_to_program_cannot_write_into_a_root_only_file() {
    let pg = PgCluster::init("copyprog");
    let (_root, secret) = root_secret("copyprog", "passwd");
    let logfile = pg.server_log_path();
    let agent = pg.agent();
    agent.run("start").expect(OcfCode::Success);
    // The server's stderr is the postgres-owned logfile the user opened.
    let pid = pg.postmaster_pid().unwrap();
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/fd/2")).unwrap(),
        logfile,
        "the server's stderr is the logfile"
    );
    pg.psql("copy (select 1) to program 'cat >/dev/null; echo pwned-1 >&2'");
    // Now postgres points the logfile at the root-only file and waits for a
    // restart by root.
    let moved = pg.dir.path.join("server.log.old");
    as_postgres(&format!(
        "mv {log} {old} && ln -s {secret} {log}",
        log = sh_quote(&logfile),
        old = sh_quote(&moved),
        secret = sh_quote(&secret)
    ));
    pg.psql("copy (select 1) to program 'cat >/dev/null; echo pwned-2 >&2'");
    agent.run("stop").expect(OcfCode::Success);
    agent.run("start").expect_reason(OcfCode::ErrPerm, "is a symlink");
    assert_untouched(&secret);
    let written = fs::read_to_string(&moved).unwrap();
    assert!(
        written.contains("pwned-1") && written.contains("pwned-2"),
        "the server's stderr is not the logfile postgres opened:\n{written}"
    );
}

#[test]
fn a_fifo_pg_version_fails_validate_all_and_monitor_without_hanging() {
    let pg = PgCluster::init("fifover");
    let version = pg.datadir.join("PG_VERSION");
    fs::remove_file(&version).unwrap();
    as_postgres(&format!("mkfifo {}", sh_quote(&version)));
    let agent = pg.agent().meta("timeout", "5000");
    for out in [agent.validate_level_10(), agent.recurring_monitor()] {
        out.expect_reason(OcfCode::ErrArgs, "FIFO");
        assert!(out.elapsed < Duration::from_secs(5), "no answer in time\n{out}");
    }
}

/// A crash left `postmaster.pid` with `text`: start must move it aside.
fn start_with_a_broken_pidfile(name: &str, text: &[u8]) {
    let pg = PgCluster::init(name);
    let pidfile = pg.datadir.join("postmaster.pid");
    fs::write(&pidfile, text).unwrap();
    let user = postgres_user();
    nix::unistd::chown(&pidfile, Some(user.uid), Some(user.gid)).unwrap();
    let agent = pg.agent();
    agent.run("start").expect(OcfCode::Success);
    let aside = entries_starting_with(&pg.datadir, "postmaster.pid.pgha-garbage-");
    assert_eq!(
        aside.len(),
        1,
        "the old postmaster.pid is kept aside once: {aside:?}"
    );
    assert_eq!(fs::read(&aside[0]).unwrap(), text, "the kept file was changed");
    agent.run("monitor").expect(OcfCode::Success);
    agent.run("stop").expect(OcfCode::Success);
}

#[test]
fn an_empty_postmaster_pid_left_by_a_crash_does_not_block_start() {
    start_with_a_broken_pidfile("emptypid", b"");
}

#[test]
fn a_garbage_postmaster_pid_left_by_a_crash_does_not_block_start() {
    start_with_a_broken_pidfile("garbagepid", b"\0\0\0\0garbage\n");
}

#[test]
fn the_log_directory_is_created_owned_by_postgres_under_a_root_only_parent() {
    let pg = PgCluster::init("logmk");
    let root = TempDir::root_only("logmk");
    let logdir = root.path.join("pgha");
    let logfile = logdir.join("pgsqld.log");
    let agent = pg.agent().param("logfile", logfile.to_str().unwrap());
    agent.validate_level_10().expect(OcfCode::Success);
    agent.run("start").expect(OcfCode::Success);
    let user = postgres_user();
    let dir = fs::symlink_metadata(&logdir).unwrap();
    assert!(dir.is_dir(), "{} is a directory: {dir:?}", logdir.display());
    assert_eq!(
        (dir.uid(), dir.gid()),
        (user.uid.as_raw(), user.gid.as_raw()),
        "the log directory is postgres's"
    );
    assert_eq!(dir.mode() & 0o777, 0o750, "the log directory's mode");
    let file = fs::symlink_metadata(&logfile).unwrap();
    assert!(
        file.is_file(),
        "{} is a regular file: {file:?}",
        logfile.display()
    );
    assert_eq!(file.uid(), user.uid.as_raw(), "the logfile is postgres's");
    assert_eq!(file.mode() & 0o777, 0o640, "the logfile's mode");
    agent.run("stop").expect(OcfCode::Success);
}

/// The monitor asked root whether `backup_label` exists, following what
/// postgres planted there: a link to a file only root can see made a
/// crashed instance look like a base backup never started, "stopped"
/// (issue 23: root resolved paths the system user controls). It is looked
/// at as postgres now, as PostgreSQL itself would read it.
#[test]
fn a_backup_label_link_only_root_can_follow_does_not_hide_a_crash() {
    let (pg, agent) = started("labelsym");
    let (root, _) = root_secret("labelsym", "unused");
    let private = root.path.join("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let secret = private.join("label");
    fs::write(&secret, SECRET).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    pg.crash();
    as_postgres(&format!(
        "ln -s {} {}",
        sh_quote(&secret),
        sh_quote(&pg.datadir.join("backup_label"))
    ));
    agent
        .clone()
        .recurring()
        .run("monitor")
        .expect_reason(OcfCode::ErrGeneric, "crashed");
    assert_untouched(&secret);
    fs::remove_file(pg.datadir.join("backup_label")).unwrap();
    agent.run("stop").expect(OcfCode::Success);
}
