//! The answers Pacemaker acts on, at the edges: stop stops whatever else is
//! misconfigured, a probe never says "stopped" while a postmaster runs,
//! after a successful stop monitor says 7, and every answer is bounded,
//! honest and never a panic.

use std::fs;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};

use crate::util::*;

fn started(name: &str) -> (PgCluster, Agent) {
    let pg = PgCluster::init(name);
    let agent = pg.agent();
    agent.run("start").expect(rc::SUCCESS);
    (pg, agent)
}

fn assert_stopped(pg: &PgCluster) {
    assert!(
        pg.processes().is_empty(),
        "processes left after stop: {:?}",
        pg.processes()
    );
}

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
            agent.run("start").expect(rc::SUCCESS);
        }
        let broken = agent.clone().param(name, bad);
        // While it runs, the configuration error is what monitor reports.
        broken.clone().run("monitor").expect(rc::ERR_CONFIGURED);
        broken.run("stop").expect(rc::SUCCESS);
        assert_stopped(&pg);
        // And once stopped, it is stopped, not failed everywhere.
        broken.run("monitor").expect(rc::NOT_RUNNING);
        broken.clone().recurring().run("monitor").expect(rc::NOT_RUNNING);
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
        .expect_reason(rc::DEGRADED, "pg_controldata");
    // The data directory with a mode PostgreSQL would refuse at start.
    fs::set_permissions(&pg.datadir, fs::Permissions::from_mode(0o777)).unwrap();
    agent.run("monitor").expect_reason(rc::DEGRADED, "mode");
    fs::set_permissions(&pg.datadir, fs::Permissions::from_mode(0o700)).unwrap();
    // A system user missing from passwd: the probe connects as that role,
    // which the server refuses: an error with the reason, never 7.
    let out = agent
        .clone()
        .param("system_user", "pgha-no-such-user")
        .run("monitor");
    assert!(
        out.code != rc::NOT_RUNNING && out.code != rc::SUCCESS,
        "a missing user must not look stopped or healthy\n{out}"
    );
    out.expect(out.code);
    agent.run("monitor").expect(rc::SUCCESS);
    agent.run("stop").expect(rc::SUCCESS);
    // Nothing runs: a probe with the failed check says not running.
    no_controldata.run("monitor").expect(rc::NOT_RUNNING);
}

#[test]
fn monitor_after_a_forced_stop_is_not_running() {
    let (pg, agent) = started("forcedstop");
    pg.psql("create table t(i int); insert into t values (7)");
    kill(pg.postmaster_pid().unwrap(), Signal::SIGSTOP).unwrap();
    let out = agent.clone().meta("timeout", "8000").run("stop");
    out.expect(rc::SUCCESS);
    assert!(out.stderr.contains("SIGKILL"), "{out}");
    assert_stopped(&pg);
    agent.run("monitor").expect(rc::NOT_RUNNING);
    agent.clone().recurring().run("monitor").expect(rc::NOT_RUNNING);
    agent.run("start").expect(rc::SUCCESS);
    assert_eq!(pg.psql("select i from t").trim(), "7");
    // A crash after that start is a crash again, not the old forced stop.
    kill(pg.postmaster_pid().unwrap(), Signal::SIGKILL).unwrap();
    let crashed = agent
        .clone()
        .recurring()
        .run_until("monitor", rc::ERR_GENERIC, Duration::from_secs(10));
    crashed.expect_reason(rc::ERR_GENERIC, "crashed");
    agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn a_deleted_postmaster_pid_still_gets_a_fast_shutdown() {
    let (pg, agent) = started("nopidfile");
    fs::remove_file(pg.datadir.join("postmaster.pid")).unwrap();
    agent.run("monitor").expect(rc::SUCCESS);
    let out = agent.run("stop");
    out.expect(rc::SUCCESS);
    assert!(out.stderr.contains("fast shutdown"), "{out}");
    assert_stopped(&pg);
    let control = run_as_postgres(pg_bin().join("pg_controldata"), &[pg.datadir.to_str().unwrap()]);
    assert!(
        control.contains("Database cluster state:               shut down"),
        "{control}"
    );
}

#[test]
fn start_never_kills_a_manual_single_user_postgres() {
    let pg = PgCluster::init("single");
    let user = postgres_user();
    let mut single = Command::new(pg_bin().join("postgres"))
        .args(["--single", "-D", pg.datadir.to_str().unwrap(), "postgres"])
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .current_dir("/tmp")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(single.id() as i32);
    let seen = std::time::Instant::now() + Duration::from_secs(10);
    while !pg.processes().contains(&pid) && std::time::Instant::now() < seen {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = pg.agent().run("start");
    out.expect_reason(rc::ERR_GENERIC, "uses the data directory");
    assert!(kill(pid, None).is_ok(), "start killed the single-user session");
    let _ = single.stdin.take().map(|mut s| s.write_all(b""));
    let _ = single.wait();
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
        let out = Command::new(AGENT)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write.as_fd().try_clone_to_owned().unwrap()))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
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
            .expect_reason(rc::ERR_CONFIGURED, "OCF_RESOURCE_INSTANCE");
        assert!(!escape.with_extension("state").exists());
    }
    assert!(pg.processes().is_empty());
    // No name at all is no shared default either; stop still stops.
    let mut nameless = pg.agent();
    nameless.env.insert("OCF_RESOURCE_INSTANCE".into(), String::new());
    nameless.run("start").expect(rc::ERR_CONFIGURED);
    pg.agent().run("start").expect(rc::SUCCESS);
    nameless.run("stop").expect(rc::SUCCESS);
    assert!(pg.processes().is_empty());
}

#[test]
fn a_probe_cut_short_by_the_deadline_says_how_long_it_waited() {
    let (pg, agent) = started("honesttimeout");
    kill(pg.postmaster_pid().unwrap(), Signal::SIGSTOP).unwrap();
    // probe_timeout 5 s, but the action has 3 s (2.5 s after the margin).
    let out = agent
        .clone()
        .param("probe_timeout", "5")
        .meta("timeout", "3000")
        .recurring()
        .run("monitor");
    out.expect_reason(rc::ERR_GENERIC, "no answer");
    let reason = out.exit_reason().unwrap();
    assert!(!reason.contains("within 5"), "{out}");
    assert!(reason.contains("within 2."), "{out}");
    agent
        .clone()
        .meta("timeout", "8000")
        .run("stop")
        .expect(rc::SUCCESS);
}

#[test]
fn an_invalid_server_argument_is_quoted_not_called_silent() {
    let pg = PgCluster::init("badarg");
    pg.agent()
        .param("start_opts", "stray-word")
        .run("start")
        .expect_reason(rc::ERR_GENERIC, "invalid argument");
    assert!(pg.processes().is_empty());
}

#[test]
fn a_corrupt_pg_control_is_called_corrupt_not_a_crash() {
    let (pg, agent) = started("corruptcontrol");
    agent.run("stop").expect(rc::SUCCESS);
    let control = pg.datadir.join("global/pg_control");
    let mut bytes = fs::read(&control).unwrap();
    bytes[16] ^= 0xff; // inside the checksummed data
    fs::write(&control, bytes).unwrap();
    agent
        .clone()
        .recurring()
        .run("monitor")
        .expect_reason(rc::ERR_GENERIC, "corrupt");
}

#[test]
fn validation_catches_what_only_a_start_would_find() {
    let pg = PgCluster::init("level10");
    let level10 = pg.agent().env("OCF_CHECK_LEVEL", "10");
    level10.run("validate-all").expect(rc::SUCCESS);
    level10
        .clone()
        .param("pghost", "/nonexistent/socket/dir")
        .run("validate-all")
        .expect_reason(rc::ERR_ARGS, "pghost");
    level10
        .clone()
        .param("start_opts", "-p 5999")
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "start_opts");
    // A supported major that is not the binaries' own.
    let other = if pg_major() == 16 { 17 } else { 16 };
    fs::write(pg.datadir.join("PG_VERSION"), format!("{other}\n")).unwrap();
    level10
        .run("validate-all")
        .expect_reason(rc::ERR_INSTALLED, &format!("PG_VERSION says {other}"));
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
    let mut cmd = Command::new(AGENT);
    cmd.arg("monitor")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(
            agent
                .params
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.clone())),
        )
        .envs(&agent.env)
        .env("OCF_RESKEY_CRM_meta_timeout", "10000")
        .stdin(Stdio::null());
    // SAFETY: the child only writes its own pid ("0") to a cgroup file
    // before exec.
    unsafe {
        cmd.pre_exec(move || fs::write(&procs, "0"));
    }
    let out = cmd.output().unwrap();
    let _ = fs::remove_dir(&cgroup);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(rc::ERR_GENERIC), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let reasons: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("ocf-exit-reason:"))
        .collect();
    assert_eq!(reasons.len(), 1, "{stderr}");
    assert!(reasons[0].contains("thread"), "{stderr}");
    agent.run("stop").expect(rc::SUCCESS);
    drop(pg);
}
