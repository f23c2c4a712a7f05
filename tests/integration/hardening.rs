//! Issue 23, the second hardening round: each test pins one edge where
//! a crash, a hostile database superuser or the system user could make the
//! agent put data at risk or trust what it should not.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};

use crate::quorum::FakeCluster;
use crate::util::*;

/// A bin directory whose `postgres` records every argv it is run with (one
/// line each, in `argv.log` beside it) and then runs the real one; the other
/// programs are links to [`pg_bin`]'s.
struct RecordingBindir {
    dir: TempDir,
}

impl RecordingBindir {
    fn new(name: &str) -> RecordingBindir {
        let dir = TempDir::new(name);
        let log = dir.path.join("argv.log");
        fs::write(&log, "").unwrap();
        let user = postgres_user();
        nix::unistd::chown(&log, Some(user.uid), Some(user.gid)).unwrap();
        wrap_postgres(&dir.path, &format!("echo \"$*\" >> '{}'", log.display()));
        RecordingBindir { dir }
    }

    fn path(&self) -> &Path {
        &self.dir.path
    }

    /// The argvs run so far.
    fn runs(&self) -> Vec<String> {
        fs::read_to_string(self.dir.path.join("argv.log"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// A crashed primary is replayed in single-user mode and, with no other
/// primary, started as a standby at once: pg_control then says "shut down",
/// so the start does not sync the data directory. The replay itself must
/// run with fsync on, or a power loss right after it loses the checkpoint's
/// pages (issue 23).
#[test]
fn crash_recovery_of_a_former_primary_runs_with_fsync_on() {
    let (pg, agent) = primary("nofsync", "", &[]);
    pg.psql("create table t(i int); insert into t values (7)");
    let postmaster = pg.postmaster_pid().unwrap();
    kill(postmaster, Signal::SIGKILL).unwrap();
    wait_gone(postmaster);
    agent
        .run_until("monitor", OcfCode::NotRunning, Duration::from_secs(10))
        .expect(OcfCode::NotRunning);
    let bindir = RecordingBindir::new("nofsync-bin");
    let agent = agent.param("bindir", bindir.path().to_str().unwrap());
    let start = agent.run("start");
    start.expect(OcfCode::Success);
    let runs = bindir.runs();
    let single: Vec<&String> = runs.iter().filter(|r| r.contains("--single")).collect();
    assert_eq!(single.len(), 1, "no crash recovery ran: {runs:?}\n{start}");
    assert!(
        !single[0].split_whitespace().any(|a| a == "-F"),
        "crash recovery ran with fsync off: {}",
        single[0]
    );
    assert_eq!(
        pg.psql("select i from t").trim(),
        "7",
        "the row committed before the crash is there after recovery"
    );
    agent.run("stop").expect(OcfCode::Success);
}

/// The SQL session runs as the system user with the user's groups only, as
/// the children do: a socket only root's group may open (planted in the
/// socket directory, or a server's socket re-owned) is refused to it, as it
/// is to `psql` run by postgres (issue 23: the worker thread kept gid 0).
#[test]
fn the_probe_cannot_open_a_socket_only_roots_group_may_open() {
    let pg = PgCluster::init("rootgroup");
    let agent = pg.agent();
    agent.run("start").expect(OcfCode::Success);
    agent.run("monitor").expect(OcfCode::Success);
    let socket = pg.dir.path.join(format!(".s.PGSQL.{}", pg.port));
    nix::unistd::chown(
        &socket,
        Some(nix::unistd::Uid::from_raw(0)),
        Some(nix::unistd::Gid::from_raw(0)),
    )
    .unwrap();
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o770)).unwrap();
    let monitor = agent.clone().recurring().run("monitor");
    assert_ne!(
        monitor.code(),
        Some(OcfCode::Success),
        "the probe connected with root's group\n{monitor}"
    );
    assert!(
        monitor.exit_reason().unwrap_or("").contains("ermission denied"),
        "the refusal names the socket's permissions\n{monitor}"
    );
    agent.run("stop").expect(OcfCode::Success);
}

/// A database superuser's `ALTER ROLE postgres SET search_path` puts a
/// schema of its own before pg_catalog: the agent's unqualified names would
/// then call its functions and read its views. The agent's sessions pin
/// search_path, so a primary still reads as one (issue 23).
#[test]
fn a_shadowing_schema_in_search_path_cannot_forge_what_the_agent_reads() {
    let (pg, agent) = primary("searchpath", "", &[]);
    pg.psql(
        "create schema evil; \
         create function evil.pg_is_in_recovery() returns boolean language sql as 'select true'; \
         create view evil.pg_stat_replication as select * from pg_catalog.pg_stat_replication; \
         alter role postgres set search_path = evil, pg_catalog",
    );
    assert_eq!(
        pg.psql("select pg_is_in_recovery()").trim(),
        "t",
        "the plant does not shadow"
    );
    agent.run("monitor").expect(OcfCode::RunningPromoted);
    agent.run("stop").expect(OcfCode::Success);
}

/// `sslpassword=` (the client key's passphrase) would reach the command
/// lines of postgres and pg_rewind, as `password=` would: both are refused
/// (issue 23).
#[test]
fn an_sslpassword_in_primary_conninfo_is_err_configured() {
    let pg = PgCluster::init("sslpassword");
    let agent = pg.clone_agent(
        "tsslpassword",
        "node-a",
        "host=/x user=postgres sslkey=/k sslpassword=secret",
    );
    agent
        .run("validate-all")
        .expect_reason(OcfCode::ErrConfigured, "no sslpassword=");
    agent
        .run("start")
        .expect_reason(OcfCode::ErrConfigured, "no sslpassword=");
    assert!(
        pg.processes().is_empty(),
        "no process of the instance is left after stop"
    );
}

/// The postmaster's working directory is entered as the system user, after
/// the privilege drop: std's `current_dir` would enter it as root, so a
/// directory the user cannot enter (or a symlink the user planted to one)
/// would be entered anyway (issue 23).
#[test]
fn a_child_enters_its_directory_as_the_system_user() {
    let user = pgha::exec::SystemUser::lookup("postgres").unwrap();
    let dir = TempDir::new("chdir");
    let locked = dir.path.join("root-only");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    let run_in = |cwd: &Path| {
        let mut cmd = std::process::Command::new("/bin/pwd");
        cmd.stdin(std::process::Stdio::null());
        user.apply_in(&mut cmd, cwd).unwrap();
        cmd.output()
    };
    let refused = run_in(&locked);
    assert_eq!(
        refused.as_ref().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::PermissionDenied),
        "root entered a directory postgres cannot: {refused:?}"
    );
    let link = dir.path.join("planted");
    symlink(&locked, &link).unwrap();
    assert!(run_in(&link).is_err(), "root followed a symlink into it");
    let out = run_in(&dir.path).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.path.to_str().unwrap()
    );
}

/// The parent pid and the command name of `pid`, from `/proc/<pid>/stat`.
fn parent_and_name(pid: i32) -> Option<(i32, String)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None; // dead, waiting for its reaper
    }
    Some((fields.get(1)?.parse().ok()?, name))
}

/// The processes named `name` that descend from `ancestor`: the agent
/// works in a child of the process Pacemaker runs (`pgha::answer`), so
/// what it runs is a grandchild.
fn descendants_named(ancestor: u32, name: &str) -> Vec<i32> {
    let descends = |pid: i32| {
        let mut pid = pid;
        while let Some((parent, _)) = parent_and_name(pid).filter(|(p, _)| *p > 1) {
            if parent == ancestor as i32 {
                return true;
            }
            pid = parent;
        }
        false
    };
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| parent_and_name(*pid).is_some_and(|(_, n)| n == name) && descends(*pid))
        .collect()
}

/// A start that copies the primary is killed (Pacemaker's timeout, an
/// operator's kill -9): pg_basebackup, in a process group of its own, went
/// on writing into `.pgha-build`, which the next start clears. It now dies
/// with the agent (issue 23).
#[test]
fn pg_basebackup_dies_with_a_killed_agent() {
    let a = PgCluster::init("pdeath-a");
    let rsc = resource_name("pdeath");
    let a_agent = a.clone_agent(&rsc, "node-a", NO_PRIMARY_YET);
    a_agent.run("start").expect(OcfCode::Success);
    a_agent.run("promote").expect(OcfCode::Success);
    let b = PgCluster::not_made("pdeath-b");
    let b_agent = b
        .clone_agent(&rsc, "node-b", &a.conninfo())
        .param("bootstrap", "basebackup");
    // The environment the harness runs the agent with, to start it here.
    let vars = b_agent.run("meta-data").vars;
    let mut start = std::process::Command::new(AGENT)
        .arg("start")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut copy = None;
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while copy.is_none() && std::time::Instant::now() < end {
        copy = descendants_named(start.id(), "pg_basebackup").first().copied();
        if copy.is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let Some(copy) = copy else {
        let _ = start.kill();
        let _ = start.wait();
        panic!("the start never ran pg_basebackup");
    };
    let copy = nix::unistd::Pid::from_raw(copy);
    // With its source frozen it cannot finish before the agent dies (not
    // itself: a stopped member of a group orphaned by the agent's death
    // gets SIGHUP from the kernel, which would kill it anyway).
    let source = a.processes();
    for pid in &source {
        let _ = kill(*pid, Signal::SIGSTOP);
    }
    start.kill().unwrap();
    start.wait().unwrap();
    // pg_basebackup -X stream is two processes: the copy and its WAL
    // streamer. Either one left writes into the staging directory.
    let target = b.dir.path.to_str().unwrap().to_string();
    let copies = || -> Vec<i32> {
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| parent_and_name(*pid).is_some_and(|(_, n)| n == "pg_basebackup"))
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&target))
            })
            .collect()
    };
    // Without the fix the copy dies only of SIGPIPE, at its next progress
    // report to the dead agent's pipe, seconds later: 1 s tells them apart.
    let end = std::time::Instant::now() + Duration::from_secs(1);
    while !copies().is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survivors = copies();
    for pid in &survivors {
        let _ = kill(nix::unistd::Pid::from_raw(*pid), Signal::SIGKILL);
    }
    for pid in &source {
        let _ = kill(*pid, Signal::SIGCONT);
    }
    assert!(
        survivors.is_empty(),
        "pg_basebackup {survivors:?} outlived the agent (the copy was {copy})"
    );
    a_agent.run("stop").expect(OcfCode::Success);
}

/// `pgdata=/` said "pgdata does not exist on this node" (the trailing `/`
/// was trimmed to nothing), and a pgdata that is not UTF-8 said "pgdata is
/// required" (the value was dropped): both now name the parameter and what
/// is wrong with it, at level 0 (issue 23).
#[test]
fn pgdata_at_the_root_or_not_utf8_is_err_configured_naming_it() {
    use std::os::unix::ffi::OsStringExt;
    let agent = Agent::bare().param("pgdata", "/");
    agent
        .run("validate-all")
        .expect_reason(OcfCode::ErrConfigured, "pgdata '/' is the root directory");
    agent
        .clone()
        .param("pgdata", "/var/lib/pg")
        .param("datadir", "//")
        .run("validate-all")
        .expect_reason(OcfCode::ErrConfigured, "datadir '/' is the root directory");
    let vars = agent.run("meta-data").vars;
    let out = std::process::Command::new(AGENT)
        .arg("validate-all")
        .env_clear()
        .envs(
            vars.iter()
                .filter(|(k, _)| k != "OCF_RESKEY_pgdata")
                .map(|(k, v)| (k, v)),
        )
        .env(
            "OCF_RESKEY_pgdata",
            std::ffi::OsString::from_vec(b"/var/lib/pg-\xff".to_vec()),
        )
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(OcfCode::ErrConfigured.as_i32()),
        "a pgdata that is not UTF-8 is refused by name: {stderr}"
    );
    assert!(
        stderr.contains("ocf-exit-reason:") && stderr.contains("pgdata is not valid UTF-8"),
        "{stderr}"
    );
}

/// Runs psql against `pg` as role `role`, which does not exist: the
/// server logs `FATAL:  role "<role>" does not exist`, text of the client's
/// choosing in the log the monitor reads.
fn fail_login_as(pg: &PgCluster, role: &str) {
    let mut cmd = postgres_command(pg_bin().join("psql"));
    cmd.args([
        "-XAtq",
        "-h",
        pg.dir.path.to_str().unwrap(),
        "-p",
        &pg.port.to_string(),
        "-U",
        role,
        "-d",
        "postgres",
        "-c",
        "select 1",
    ]);
    let out = outcome_of(cmd);
    assert_ne!(out.status, Some(0), "a login as {role:?} failed\n{out}");
}

/// Anyone who can reach the standby writes into its log: a login as a
/// role whose name is a refusal's text made the monitor fail it and the
/// start throw its data away, at the first blip of its WAL receiver
/// (issue 23). The log now counts only whole messages of the server, and
/// the start asks the primary anyway.
#[test]
fn a_role_name_in_the_standby_log_never_rebuilds_it() {
    let (a, a_agent, b, b_agent) = pair("injected");
    let b_agent = b_agent.param("rebuild", "true");
    // The receiver stops streaming: the primary is gone for a while.
    a_agent.run("stop").expect(OcfCode::Success);
    for role in [
        "requested WAL segment x has already been removed",
        "requested starting point is not in this server's history",
    ] {
        fail_login_as(&b, role);
    }
    let log = b.server_log();
    assert!(
        log.contains("has already been removed\" does not exist"),
        "the role name is in the standby's log\n{log}"
    );
    let monitor = b_agent.clone().recurring().run("monitor");
    assert_ne!(
        monitor.code(),
        Some(OcfCode::ErrGeneric),
        "a role name failed the monitor\n{monitor}"
    );
    assert!(
        !monitor.exit_reason().unwrap_or("").contains("cannot follow"),
        "a role name was taken for the server's refusal\n{monitor}"
    );
    assert!(
        !memory_text(&b_agent.rsc()).contains("already been removed"),
        "a role name was remembered for the start"
    );
    b_agent.run("stop").expect(OcfCode::Success);
    b_agent.run("start").expect(OcfCode::Success).expect_not_logged(
        "copying the primary",
        "a role name made the start copy the primary",
    );
    assert!(
        entries_starting_with(&b.dir.path, "data.pgha").is_empty(),
        "nothing was moved aside"
    );
    stop_all(&[&b_agent]);
    drop(a);
}

/// Makes the agent's memory of resource `rsc` hold `why` as the reason its
/// standby needs a rebuild, as a monitor of an earlier version took it
/// from its log.
fn remember_rebuild(rsc: &str, why: &str) {
    let mut memory = pgha::runstate::RunState::load(rsc);
    memory.set(&pgha::vocab::Key::RebuildNeeded, why);
    memory.save();
}

/// The memory says the WAL is gone (what an earlier monitor took from a
/// forged log line), but the primary still has all the standby needs: the
/// memory alone never rebuilds (issue 23).
#[test]
fn a_remembered_refusal_that_the_primary_denies_rebuilds_nothing() {
    let (a, a_agent, b, b_agent) = pair("denied");
    b_agent.run("stop").expect(OcfCode::Success);
    remember_rebuild(
        &b_agent.rsc(),
        "requested WAL segment 000000010000000000000001 has already been removed",
    );
    let b_agent = b_agent.param("rebuild", "true");
    b_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("the primary still has the WAL from", "the primary denied it")
        .expect_not_logged("copying the primary", "the memory alone made the start copy");
    assert!(
        entries_starting_with(&b.dir.path, "data.pgha").is_empty(),
        "nothing was moved aside"
    );
    assert!(
        !memory_text(&b_agent.rsc()).contains("already been removed"),
        "the denied reason is forgotten"
    );
    assert_streams(&b_agent, &b);
    // A fork the primary does not see: pg_rewind finds nothing to rewind.
    b_agent.run("stop").expect(OcfCode::Success);
    remember_rebuild(
        &b_agent.rsc(),
        "requested starting point 0/5000000 on timeline 1 is not in this server's history",
    );
    b_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged(
            "pg_rewind finds its history in the primary's",
            "pg_rewind denied it",
        )
        .expect_not_logged("copying the primary", "the memory alone made the start copy");
    stop_all(&[&b_agent, &a_agent]);
    drop(a);
}

/// A data disk that failed to mount leaves a missing data directory, which
/// bootstrap fills on the file system below: validate-all says so when no
/// data_mount guards it (a warning: one disk is a setup of its own).
#[test]
fn bootstrap_without_data_mount_is_warned_about() {
    let b = PgCluster::not_made("nomount");
    let agent = b
        .clone_agent(&resource_name("nomount"), "node-b", "host=/nowhere")
        .param("bootstrap", "basebackup");
    agent
        .validate()
        .expect(OcfCode::Success)
        .expect_logged("without data_mount", "validate-all warns of the unguarded copy");
    agent
        .clone()
        .param("data_mount", b.dir.path.to_str().unwrap())
        .validate()
        .expect(OcfCode::Success)
        .expect_not_logged("without data_mount", "data_mount set: no warning");
}

/// What other nodes publish is text anyone allowed to run attrd_updater
/// can set: `pgha status`, run as a process the way an operator runs it,
/// prints it escaped, never as control characters that would move the
/// cursor, retitle the terminal or forge a line of its own. The JSON
/// escapes by its grammar; the Prometheus text must not carry them raw
/// either, as an operator reads it with curl.
#[test]
fn pgha_status_never_prints_what_another_node_published_raw() {
    use pgha::vocab::Attr;
    let cluster = FakeCluster::new();
    let forged_node = "n\u{1b}]0;owned\u{7}2";
    cluster.crm_node(&[("node-a", "member"), (forged_node, "member")], "node-a");
    let rsc = "pgsqld";
    cluster.set(&Attr::Role.name(rsc), "node-a", "primary");
    cluster.set(&Attr::Timeline.name(rsc), "node-a", "3");
    cluster.set(&Attr::Role.name(rsc), forged_node, "standby\u{1b}[2J");
    cluster.set(&Attr::Lsn.name(rsc), forged_node, "0/9000000\r");
    cluster.set(&Attr::Build.name(rsc), forged_node, "copying\u{7}");
    let operator = cluster.agent_on(&Agent::bare(), "node-a");
    let raw = |out: &Outcome| out.stdout.chars().any(|c| c.is_control() && c != '\n');

    let text = outcome_of(operator.command(&["status", "--resource", rsc]));
    text.expect_success();
    assert!(!raw(&text), "a control character reached the terminal\n{text}");
    text.expect_stdout("standby\\u{1b}[2J", "the forged role, escaped");
    text.expect_stdout("n\\u{1b}]0;owned\\u{7}2", "the forged node name, escaped");

    let json = outcome_of(operator.command(&["status", "--json", "--resource", rsc]));
    json.expect_success();
    assert!(!raw(&json), "{json}");
    let parsed: serde_json::Value =
        serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}\n{json}"));
    assert!(
        parsed.to_string().contains("standby\\u001b[2J"),
        "JSON keeps the value, escaped: {json}"
    );

    let metrics = outcome_of(operator.command(&["status", "--prometheus", "--resource", rsc]));
    metrics.expect_success();
    assert!(!raw(&metrics), "{metrics}");
    metrics.expect_stdout(
        "node=\"n\\\\u{1b}]0;owned\\\\u{7}2\"",
        "the forged node name, as pgha status spells it",
    );
    crate::monitoring::assert_promtool_accepts(&metrics.stdout);
}

/// `HA_LOGFILE` names a file root appends to: the agent run as a process
/// appends to a regular file, writes nothing through a link planted in its
/// place (it could name any file root may write), and does not hang on a
/// FIFO nobody reads.
#[test]
fn the_agent_appends_its_log_only_to_a_regular_file() {
    let b = PgCluster::not_made("logsink");
    let agent = b
        .clone_agent(&resource_name("logsink"), "node-b", "host=/nowhere")
        .param("bootstrap", "basebackup");
    let dir = TempDir::root_only("logsink-files");
    let with_log = |path: &Path| agent.clone().env("HA_LOGFILE", path.to_str().unwrap());

    let file = dir.path.join("agent.log");
    with_log(&file).validate().expect(OcfCode::Success);
    let logged = fs::read_to_string(&file).unwrap();
    assert!(
        logged.contains("without data_mount") && logged.contains("pgha("),
        "the warning, tagged, in the regular file: {logged:?}"
    );

    let target = dir.path.join("root-owned");
    fs::write(&target, "").unwrap();
    let link = dir.path.join("link.log");
    symlink(&target, &link).unwrap();
    with_log(&link).validate().expect(OcfCode::Success);
    assert_eq!(fs::read_to_string(&target).unwrap(), "", "the link was followed");

    let fifo = dir.path.join("fifo.log");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    with_log(&fifo)
        .validate()
        .expect(OcfCode::Success)
        .expect_within(Duration::from_secs(10));
}
