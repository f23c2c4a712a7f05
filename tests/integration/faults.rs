//! Crashes, freezes, stale pid files and servers that refuse to start: the
//! agent answers each with the code Pacemaker recovers by, within its
//! timeout.

use std::net::TcpListener;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};

use crate::util::*;

#[test]
fn kill_9_of_the_postmaster_is_reported_as_a_crash_and_start_recovers() {
    let (pg, agent) = started("kill9");
    pg.psql("create table t(i int); insert into t values (42)");
    pg.crash();
    agent
        .recurring_monitor()
        .expect_reason(OcfCode::ErrGeneric, "crashed");
    // A probe (a node booting after a power loss) finds it not running once
    // no process of it is left, so Pacemaker just starts it (issue 12).
    agent.expect_within("monitor", OcfCode::NotRunning, Duration::from_secs(10));
    agent.run("start").expect(OcfCode::Success);
    pg.assert_query("select i from t", "42", "the crash recovery keeps the row");
    agent.run("stop").expect(OcfCode::Success);
}

#[test]
fn sigstop_of_the_postmaster_fails_the_monitor_within_the_probe_timeout() {
    let (pg, agent) = started("sigstop");
    let agent = agent.param("probe_timeout", "2").recurring();
    pg.signal_postmaster(Signal::SIGSTOP);
    agent
        .run("monitor")
        .expect_reason(OcfCode::ErrGeneric, "no answer")
        .expect_reason(OcfCode::ErrGeneric, "SIGSTOP")
        .expect_within(Duration::from_secs(4));
    agent
        .clone()
        .meta("timeout", "10000")
        .run("stop")
        .expect(OcfCode::Success)
        .expect_within(Duration::from_secs(10));
    pg.assert_no_processes("after stop");
}

#[test]
fn sigstop_of_the_whole_instance_is_stopped_within_the_timeout() {
    let (pg, agent) = started("freezeall");
    for pid in pg.processes() {
        kill(pid, Signal::SIGSTOP).unwrap();
    }
    agent
        .clone()
        .param("probe_timeout", "1")
        .recurring()
        .run("monitor")
        .expect(OcfCode::ErrGeneric);
    agent
        .clone()
        .meta("timeout", "8000")
        .run("stop")
        .expect(OcfCode::Success);
    // Every process was stopped, so none can exit unless stop SIGKILLed it:
    // waiting cannot hide one stop missed. It is needed because a process
    // killed while stopped is still listed here (by its working directory)
    // for a moment after its executable is released, when the agent (which
    // also checks /proc/<pid>/exe) already counts it gone: seen once under
    // load, PostgreSQL 15, "processes left after stop: [Pid(2071)]".
    wait_until(
        || match pg.processes() {
            left if left.is_empty() => Ok(()),
            left => Err(left),
        },
        Duration::from_secs(2),
        "the SIGKILLed processes to finish exiting",
    );
}

#[test]
fn a_stale_postmaster_pid_does_not_prevent_a_start() {
    let (pg, agent) = started("stalepid");
    let pidfile = std::fs::read_to_string(pg.datadir.join("postmaster.pid")).unwrap();
    let old_pid = pg.postmaster_pid().unwrap();
    for pid in pg.processes() {
        kill(pid, Signal::SIGKILL).unwrap();
    }
    // Wait for init to reap the killed postmaster, so its pid is free.
    wait_gone(old_pid);
    // Make the pid file name a live process of the same user that is not
    // PostgreSQL: the case PostgreSQL itself cannot tell from a running server.
    let mut impostor = postgres_command("sleep");
    impostor.arg("60");
    let impostor = Background::spawn(impostor);
    let impostor_pid = impostor.pid().to_string();
    let mut lines: Vec<&str> = pidfile.lines().collect();
    lines[0] = &impostor_pid;
    let recorded = lines.join("\n") + "\n";
    std::fs::write(pg.datadir.join("postmaster.pid"), &recorded).unwrap();
    // The socket lock file names the same postmaster.
    let socket_lock = pg.dir.path.join(format!(".s.PGSQL.{}.lock", pg.port));
    let lock_text = std::fs::read_to_string(&socket_lock).unwrap();
    let rest: Vec<&str> = lock_text.lines().skip(1).collect();
    std::fs::write(&socket_lock, format!("{impostor_pid}\n{}\n", rest.join("\n"))).unwrap();
    agent.recurring_monitor().expect(OcfCode::ErrGeneric);
    agent.run("start").expect(OcfCode::Success);
    agent.recurring_monitor().expect(OcfCode::Success);
    agent.run("stop").expect(OcfCode::Success);
}

#[test]
fn a_bad_setting_fails_the_start_with_the_cause() {
    let pg = PgCluster::init("badsetting");
    pg.append_conf("shared_buffers = 'lots'\n");
    pg.agent()
        .meta("timeout", "15000")
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "invalid value for parameter")
        .expect_within(Duration::from_secs(15));
    pg.assert_no_processes("a server that refused its configuration");
}

#[test]
fn a_busy_port_fails_the_start_with_could_not_bind() {
    let pg = PgCluster::init("busyport");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    pg.append_conf("listen_addresses = '127.0.0.1'\n");
    pg.agent()
        .param("pgport", &port.to_string())
        .meta("timeout", "15000")
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "could not bind");
    drop(listener);
}

#[test]
fn a_start_that_cannot_finish_gives_up_before_the_timeout() {
    // The server starts but the probe cannot reach it: the socket is in
    // another directory than pghost. Start must answer before Pacemaker's
    // timeout with a reason, not be killed.
    //
    // This start waits out its whole budget, Pacemaker's timeout less the
    // agent's margin (a tenth, at least 0.5 s: src/deadline.rs). At 5 s that
    // left 0.5 s between the answer and the bound, within this machine's
    // noise; at 10 s the margin is 1 s, and the bound is still exactly
    // Pacemaker's timeout.
    let timeout = Duration::from_secs(10);
    let pg = PgCluster::init("wronghost");
    let elsewhere = TempDir::new("elsewhere");
    pg.agent()
        .param("pghost", elsewhere.path.to_str().unwrap())
        .meta("timeout", &timeout.as_millis().to_string())
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "not ready before the start timeout")
        .expect_within(timeout);
    pg.agent().run("stop").expect(OcfCode::Success);
}
