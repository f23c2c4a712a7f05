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

/// A temporary directory owned by root, mode 0755: postgres can read it but
/// create nothing in it, like /etc or /var/log.
struct RootDir {
    path: PathBuf,
}

impl RootDir {
    fn new(name: &str) -> RootDir {
        let template = format!("/tmp/pgha-test-root-{name}-XXXXXX");
        let path = nix::unistd::mkdtemp(template.as_str()).expect("mkdtemp");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        RootDir { path }
    }

    /// A root-only file (0600) with `text` in it.
    fn secret(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path.join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

impl Drop for RootDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Runs a shell command as postgres (what a compromised system user does).
fn as_postgres(script: &str) {
    run_as_postgres("/bin/sh", &["-c", script]);
}

/// The file is still root's, 0600, with exactly `text`.
#[track_caller]
fn assert_untouched(path: &Path, text: &str) {
    let meta = fs::metadata(path).expect("the root-only file is still there");
    assert_eq!(meta.uid(), 0, "{} changed owner", path.display());
    assert_eq!(meta.mode() & 0o777, 0o600, "{} changed mode", path.display());
    assert_eq!(
        fs::read_to_string(path).unwrap(),
        text,
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
    let root = RootDir::new("sigsym");
    let target = root.path.join("ld.so.preload");
    as_postgres(&format!(
        "ln -s {} {}",
        sh_quote(&target),
        sh_quote(&pg.datadir.join("standby.signal"))
    ));
    let rsc = format!("t{}sigsym", std::process::id());
    let agent = pg.clone_agent(&rsc, "node-a", "host=/nonexistent port=1 user=postgres");
    agent
        .run("start")
        .expect_reason(rc::ERR_GENERIC, "standby.signal");
    assert!(!target.exists(), "root created the symlink's target");
    assert!(pg.processes().is_empty(), "the server was started anyway");
}

#[test]
fn a_logfile_symlink_to_a_root_only_file_is_refused_and_the_file_untouched() {
    let pg = PgCluster::init("logsym");
    let root = RootDir::new("logsym");
    let secret = root.secret("shadow", "root only\n");
    let logfile = pg.dir.path.join("server.log");
    as_postgres(&format!("ln -s {} {}", sh_quote(&secret), sh_quote(&logfile)));
    let agent = pg.agent();
    let validate = agent.clone().env("OCF_CHECK_LEVEL", "10").run("validate-all");
    validate.expect_reason(rc::ERR_PERM, "is a symlink");
    let start = agent.run("start");
    start.expect_reason(rc::ERR_PERM, "is a symlink");
    assert_eq!(
        start.exit_reason(),
        validate.exit_reason(),
        "start and validate-all disagree"
    );
    assert_untouched(&secret, "root only\n");
    assert!(pg.processes().is_empty(), "the server was started anyway");
}

#[test]
fn a_logfile_that_is_a_directory_fails_validate_all_level_10() {
    let pg = PgCluster::init("logdir");
    as_postgres(&format!("mkdir {}", sh_quote(&pg.dir.path.join("server.log"))));
    let agent = pg.agent();
    agent
        .clone()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_ARGS, "is a directory");
    agent.run("start").expect_reason(rc::ERR_ARGS, "is a directory");
}

#[test]
fn a_root_owned_logfile_fails_validate_all_level_10() {
    let pg = PgCluster::init("logroot");
    let logfile = pg.dir.path.join("server.log");
    fs::write(&logfile, "").unwrap(); // root's, 0644
    let agent = pg.agent();
    agent
        .clone()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_PERM, "is owned by uid 0");
    agent
        .run("start")
        .expect_reason(rc::ERR_PERM, "is owned by uid 0");
    assert_eq!(fs::metadata(&logfile).unwrap().len(), 0);
}

#[test]
fn a_log_directory_in_a_postgres_owned_directory_is_not_created_by_root() {
    let pg = PgCluster::init("logdeep");
    let logfile = pg.dir.path.join("missing").join("server.log");
    let agent = pg.agent().param("logfile", logfile.to_str().unwrap());
    agent
        .clone()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_ARGS, "is missing: create it owned by postgres");
    agent.run("start").expect_reason(rc::ERR_ARGS, "is missing");
    assert!(!pg.dir.path.join("missing").exists());
}

#[test]
fn a_superusers_copy_to_program_cannot_write_into_a_root_only_file() {
    let pg = PgCluster::init("copyprog");
    let root = RootDir::new("copyprog");
    let secret = root.secret("passwd", "root only\n");
    let logfile = pg.dir.path.join("server.log");
    let agent = pg.agent();
    agent.run("start").expect(rc::SUCCESS);
    // The server's stderr is the postgres-owned logfile the user opened.
    let pid = pg.postmaster_pid().unwrap();
    assert_eq!(fs::read_link(format!("/proc/{pid}/fd/2")).unwrap(), logfile);
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
    agent.run("stop").expect(rc::SUCCESS);
    agent.run("start").expect_reason(rc::ERR_PERM, "is a symlink");
    assert_untouched(&secret, "root only\n");
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
    for out in [
        agent.clone().env("OCF_CHECK_LEVEL", "10").run("validate-all"),
        agent.clone().recurring().run("monitor"),
    ] {
        out.expect_reason(rc::ERR_ARGS, "FIFO");
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
    agent.run("start").expect(rc::SUCCESS);
    let aside: Vec<_> = fs::read_dir(&pg.datadir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("postmaster.pid.pgha-garbage-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "the old postmaster.pid is not kept aside");
    assert_eq!(
        fs::read(aside[0].path()).unwrap(),
        text,
        "the kept file was changed"
    );
    agent.run("monitor").expect(rc::SUCCESS);
    agent.run("stop").expect(rc::SUCCESS);
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
    let root = RootDir::new("logmk");
    let logdir = root.path.join("pgha");
    let logfile = logdir.join("pgsqld.log");
    let agent = pg.agent().param("logfile", logfile.to_str().unwrap());
    agent
        .clone()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect(rc::SUCCESS);
    agent.run("start").expect(rc::SUCCESS);
    let user = postgres_user();
    let dir = fs::symlink_metadata(&logdir).unwrap();
    assert!(dir.is_dir());
    assert_eq!((dir.uid(), dir.gid()), (user.uid.as_raw(), user.gid.as_raw()));
    assert_eq!(dir.mode() & 0o777, 0o750);
    let file = fs::symlink_metadata(&logfile).unwrap();
    assert!(file.is_file());
    assert_eq!(file.uid(), user.uid.as_raw());
    assert_eq!(file.mode() & 0o777, 0o640);
    agent.run("stop").expect(rc::SUCCESS);
}
