//! The answers Pacemaker acts on, at the edges: stop stops whatever else is
//! misconfigured, a probe never says "stopped" while a postmaster runs,
//! after a successful stop monitor says 7, and every answer is bounded,
//! honest and never a panic.

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};

use crate::util::*;

#[test]
fn stop_stops_whatever_unrelated_parameter_is_broken() {
    let (pg, agent) = started("stopbroken");
    for (name, bad) in [
        ("probe_timeout", "0"),
        ("start_opts", "-c 'unbalanced"),
        ("replication_mode", "bogus"),
        ("pgport", "not-a-port"),
    ] {
        if pg.processes().is_empty() {
            agent.run("start").expect(OcfCode::Success);
        }
        let broken = agent.clone().param(name, bad);
        // While it runs, the configuration error is what monitor reports.
        broken.clone().run("monitor").expect(OcfCode::ErrConfigured);
        broken.run("stop").expect(OcfCode::Success);
        pg.assert_no_processes(&format!("stop with {name}={bad}"));
        // And once stopped, it is stopped, not failed everywhere.
        broken.expect_monitors(OcfCode::NotRunning);
    }
}

#[test]
fn a_probe_with_a_failed_host_check_never_says_stopped_while_postgres_runs() {
    let (pg, agent) = started("hostcheck");
    // pg_controldata (a required binary) missing: bindir without it.
    let fake_bindir = TempDir::new("fakebin");
    std::os::unix::fs::symlink(pg_bin().join("postgres"), fake_bindir.path.join("postgres")).unwrap();
    let no_controldata = agent.clone().param("bindir", fake_bindir.path.to_str().unwrap());
    no_controldata
        .run("monitor")
        .expect_reason(OcfCode::Degraded, "pg_controldata");
    // The data directory with a mode PostgreSQL would refuse at start.
    fs::set_permissions(&pg.datadir, fs::Permissions::from_mode(0o777)).unwrap();
    agent.run("monitor").expect_reason(OcfCode::Degraded, "mode");
    fs::set_permissions(&pg.datadir, fs::Permissions::from_mode(0o700)).unwrap();
    // A system user missing from passwd: the probe connects as that role,
    // which the server refuses: an error with the reason, never 7.
    let out = agent
        .clone()
        .param("system_user", "pgha-no-such-user")
        .run("monitor");
    let code = out.code();
    assert!(
        !matches!(code, Some(OcfCode::NotRunning | OcfCode::Success) | None),
        "a missing user must not look stopped or healthy, and is an OCF code\n{out}"
    );
    out.expect(code.unwrap());
    agent.run("monitor").expect(OcfCode::Success);
    agent.run("stop").expect(OcfCode::Success);
    // Nothing runs: a probe with the failed check says not running.
    no_controldata.run("monitor").expect(OcfCode::NotRunning);
}

#[test]
fn monitor_after_a_forced_stop_is_not_running() {
    let (pg, agent) = started("forcedstop");
    pg.psql("create table t(i int); insert into t values (7)");
    pg.signal_postmaster(Signal::SIGSTOP);
    agent
        .clone()
        .meta("timeout", "8000")
        .run("stop")
        .expect(OcfCode::Success)
        .expect_logged("SIGKILL", "a frozen server is killed");
    pg.assert_no_processes("after a forced stop");
    agent.expect_monitors(OcfCode::NotRunning);
    agent.run("start").expect(OcfCode::Success);
    pg.assert_query(
        "select i from t",
        "7",
        "the start after a forced stop keeps the row",
    );
    // A crash after that start is a crash again, not the old forced stop.
    pg.crash();
    agent
        .clone()
        .recurring()
        .run_until("monitor", OcfCode::ErrGeneric, Duration::from_secs(10))
        .expect_reason(OcfCode::ErrGeneric, "crashed");
    agent.run("stop").expect(OcfCode::Success);
}

#[test]
fn a_deleted_postmaster_pid_still_gets_a_fast_shutdown() {
    let (pg, agent) = started("nopidfile");
    fs::remove_file(pg.datadir.join("postmaster.pid")).unwrap();
    agent.run("monitor").expect(OcfCode::Success);
    agent
        .run("stop")
        .expect(OcfCode::Success)
        .expect_logged("fast shutdown", "a server with no pid file is shut down fast");
    pg.assert_no_processes("after stop");
    let control = run_as_postgres(pg_bin().join("pg_controldata"), &[pg.datadir.to_str().unwrap()]);
    assert!(
        control.contains("Database cluster state:               shut down"),
        "expected a cluster shut down cleanly:\n{control}"
    );
}

#[test]
fn start_never_kills_a_manual_single_user_postgres() {
    let pg = PgCluster::init("single");
    let mut single = postgres_command(pg_bin().join("postgres"));
    single
        .args(["--single", "-D", pg.datadir.to_str().unwrap(), "postgres"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let single = Background::spawn(single);
    let pid = single.pid();
    wait_until(
        || {
            let now = pg.processes();
            if now.contains(&pid) { Ok(()) } else { Err(now) }
        },
        Duration::from_secs(10),
        "the single-user postgres to work in the data directory",
    );
    pg.agent()
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "uses the data directory");
    assert!(
        kill(pid, None).is_ok(),
        "start killed the single-user session {pid}"
    );
}

#[test]
fn a_closed_stdout_is_an_error_exit_not_a_panic() {
    for args in [
        &["usage"][..],
        &["doc", "man"],
        &["doc", "markdown"],
        &["meta-data"],
    ] {
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let mut cmd = Agent::bare().command(args);
        cmd.stdout(Stdio::from(write.as_fd().try_clone_to_owned().unwrap()));
        let out = outcome_of(cmd);
        assert_ne!(out.status, Some(PANIC_EXIT), "{args:?} panicked\n{out}");
        out.expect_not_logged("panicked", "a closed stdout is no panic");
    }
}

#[test]
fn a_resource_name_never_leads_out_of_run_pgha() {
    let pg = PgCluster::init("rscname");
    let escape = Path::new("/tmp/pgha-escape-test");
    let _ = fs::remove_file(escape.with_extension("state"));
    for bad in ["../../tmp/pgha-escape-test", "/tmp/pgha-escape-test"] {
        pg.agent()
            .env("OCF_RESOURCE_INSTANCE", bad)
            .run("start")
            .expect_reason(OcfCode::ErrConfigured, "OCF_RESOURCE_INSTANCE");
        assert!(
            !escape.with_extension("state").exists(),
            "resource {bad:?} wrote {}",
            escape.with_extension("state").display()
        );
    }
    pg.assert_no_processes("a start refused for its resource name runs nothing");
    // No name at all is no shared default either; stop still stops.
    let nameless = pg.agent().env("OCF_RESOURCE_INSTANCE", "");
    nameless.run("start").expect(OcfCode::ErrConfigured);
    pg.agent().run("start").expect(OcfCode::Success);
    nameless.run("stop").expect(OcfCode::Success);
    pg.assert_no_processes("a stop with no resource name");
}

#[test]
fn a_probe_cut_short_by_the_deadline_says_how_long_it_waited() {
    let (pg, agent) = started("honesttimeout");
    pg.signal_postmaster(Signal::SIGSTOP);
    // probe_timeout 5 s, but the action has 3 s (2.5 s after the margin).
    let out = agent
        .clone()
        .param("probe_timeout", "5")
        .meta("timeout", "3000")
        .recurring()
        .run("monitor");
    out.expect_reason(OcfCode::ErrGeneric, "no answer")
        .expect_reason(OcfCode::ErrGeneric, "within 2.");
    let reason = out.exit_reason().unwrap_or_default();
    assert!(
        !reason.contains("within 5"),
        "the reason names the time waited, not probe_timeout: {reason:?}\n{out}"
    );
    agent
        .clone()
        .meta("timeout", "8000")
        .run("stop")
        .expect(OcfCode::Success);
}

#[test]
fn an_invalid_server_argument_is_quoted_not_called_silent() {
    let pg = PgCluster::init("badarg");
    pg.agent()
        .param("start_opts", "stray-word")
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "invalid argument");
    pg.assert_no_processes("a server that refused its arguments");
}

#[test]
fn a_corrupt_pg_control_is_called_corrupt_not_a_crash() {
    let (pg, agent) = started("corruptcontrol");
    agent.run("stop").expect(OcfCode::Success);
    let control = pg.datadir.join("global/pg_control");
    let mut bytes = fs::read(&control).unwrap();
    bytes[16] ^= 0xff; // inside the checksummed data
    fs::write(&control, bytes).unwrap();
    agent
        .recurring_monitor()
        .expect_reason(OcfCode::ErrGeneric, "corrupt");
}

#[test]
fn validation_catches_what_only_a_start_would_find() {
    let pg = PgCluster::init("level10");
    let level10 = pg.agent().check_level_10();
    level10.validate().expect(OcfCode::Success);
    for (name, value, code) in [
        ("pghost", "/nonexistent/socket/dir", OcfCode::ErrArgs),
        ("start_opts", "-p 5999", OcfCode::ErrConfigured),
    ] {
        level10
            .clone()
            .param(name, value)
            .validate()
            .expect_reason(code, name);
    }
    // A supported major that is not the binaries' own.
    let other = if pg_major() == 16 { 17 } else { 16 };
    fs::write(pg.datadir.join("PG_VERSION"), format!("{other}\n")).unwrap();
    level10
        .validate()
        .expect_reason(OcfCode::ErrInstalled, &format!("PG_VERSION says {other}"));
}

#[test]
fn a_thread_that_cannot_be_created_is_an_error_with_a_reason_not_a_panic() {
    // A pids cgroup that admits the agent's main thread and nothing else:
    // what a pids limit reached on a loaded node looks like.
    let Some(cgroup) = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"]
        .iter()
        .map(Path::new)
        .find(|root| root.join("cgroup.procs").exists())
        .map(|root| root.join(format!("pgha-test-{}", std::process::id())))
    else {
        eprintln!("skipped: no pids cgroup on this machine");
        return;
    };
    if fs::create_dir(&cgroup).is_err() || fs::write(cgroup.join("pids.max"), "1").is_err() {
        let _ = fs::remove_dir(&cgroup);
        eprintln!("skipped: cannot make a pids cgroup here");
        return;
    }
    let (pg, agent) = started("pidslimit");
    let procs = cgroup.join("cgroup.procs");
    let mut cmd = agent.clone().meta("timeout", "10000").command(&["monitor"]);
    // SAFETY: the child only writes its own pid ("0") to a cgroup file
    // before exec.
    unsafe {
        cmd.pre_exec(move || fs::write(&procs, "0"));
    }
    let out = outcome_of(cmd);
    let _ = fs::remove_dir(&cgroup);
    out.expect_reason(OcfCode::ErrGeneric, "thread")
        .expect_not_logged("panicked", "a thread that cannot be created is no panic");
    agent.run("stop").expect(OcfCode::Success);
    drop(pg);
}

/// Puts `line` first in `pg`'s pg_hba.conf (before its `trust` lines);
/// the file as it was.
fn hba_first_stopped(pg: &PgCluster, line: &str) -> String {
    let path = pg.datadir.join("pg_hba.conf");
    let before = fs::read_to_string(&path).unwrap();
    fs::write(&path, format!("{line}\n{before}")).unwrap();
    before
}

/// [`hba_first_stopped`], and the running server reloads it.
fn hba_first(pg: &PgCluster, line: &str) -> String {
    let before = hba_first_stopped(pg, line);
    pg.signal_postmaster(Signal::SIGHUP);
    before
}

/// Puts `text` back as `pg`'s pg_hba.conf and reloads.
fn hba_restore(pg: &PgCluster, text: &str) {
    fs::write(pg.datadir.join("pg_hba.conf"), text).unwrap();
    pg.signal_postmaster(Signal::SIGHUP);
}

/// A pg_hba.conf mistake copied to every node makes every probe fail
/// authentication while PostgreSQL serves its clients. A hard error there
/// (OCF_ERR_ARGS, as before) made Pacemaker stop the instance and ban it
/// from the node, then the next node, until none was left. The server
/// runs and answers (it read pg_hba.conf to refuse us): degraded in the
/// role pg_control gives, the server left running, the reason naming the
/// fix; and with the mistake fixed the next monitor is healthy.
#[test]
fn a_probe_refused_by_authentication_keeps_the_server_serving() {
    let (pg, agent) = started("hbareject");
    let before = hba_first(&pg, "local all all reject");
    let refused = agent
        .clone()
        .recurring()
        .run_until("monitor", OcfCode::Degraded, Duration::from_secs(10));
    refused.expect_reason(
        OcfCode::Degraded,
        "probe refused (SQLSTATE 28000), server left running",
    );
    refused.expect_reason(OcfCode::Degraded, "fix pg_hba.conf");
    agent.run("monitor").expect(OcfCode::Degraded);
    assert!(!pg.processes().is_empty(), "the server runs on\n{refused}");
    // A password the agent does not have (peer or trust is what it needs).
    hba_restore(&pg, &before);
    hba_first(&pg, "local all all scram-sha-256");
    agent
        .clone()
        .recurring()
        .run_until_reason(
            "monitor",
            OcfCode::Degraded,
            "password required",
            Duration::from_secs(10),
        )
        .expect_reason(OcfCode::Degraded, "probe refused (password required)");
    hba_restore(&pg, &before);
    agent
        .clone()
        .recurring()
        .run_until("monitor", OcfCode::Success, Duration::from_secs(10))
        .expect(OcfCode::Success);
    agent.run("stop").expect(OcfCode::Success);

    // A start whose server refuses the probe fails at once, with the fix:
    // waiting for the start timeout would not change the answer.
    hba_first_stopped(&pg, "local all all reject");
    agent
        .clone()
        .meta("timeout", "30000")
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "fix pg_hba.conf")
        .expect_within(Duration::from_secs(15));
    agent.run("stop").expect(OcfCode::Success);
}

/// The same in a promotable clone: the primary stays promoted (191), the
/// standby a standby (190), each from pg_control, so that Pacemaker
/// neither demotes the primary nor recovers either of them.
#[test]
fn a_clone_refused_by_authentication_keeps_its_roles() {
    let (a, a_agent, b, b_agent) = pair("hbaclone");
    let a_before = hba_first(&a, "local all all reject");
    let b_before = hba_first(&b, "local all all reject");
    a_agent
        .clone()
        .recurring()
        .run_until("monitor", OcfCode::DegradedPromoted, Duration::from_secs(10))
        .expect_reason(
            OcfCode::DegradedPromoted,
            "probe refused (SQLSTATE 28000), primary left running",
        );
    b_agent
        .clone()
        .recurring()
        .run_until("monitor", OcfCode::Degraded, Duration::from_secs(10))
        .expect_reason(
            OcfCode::Degraded,
            "probe refused (SQLSTATE 28000), standby left running",
        );
    // A probe (a node joining, a cleanup) finds them in their roles too.
    a_agent.run("monitor").expect(OcfCode::DegradedPromoted);
    b_agent.run("monitor").expect(OcfCode::Degraded);
    hba_restore(&a, &a_before);
    hba_restore(&b, &b_before);
    a_agent
        .clone()
        .recurring()
        .run_until("monitor", OcfCode::RunningPromoted, Duration::from_secs(10))
        .expect(OcfCode::RunningPromoted);
    stop_all(&[&b_agent, &a_agent]);
}
