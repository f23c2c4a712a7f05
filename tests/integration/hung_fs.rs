//! Issue 23, item 13: a data directory on a file system that stops
//! answering. The monitor (a probe and a recurring one) and the stop must
//! each answer before Pacemaker's timeout with a code that is true: a stop
//! that hangs gets the node fenced without a reason, a probe that says
//! "stopped" (7) beside a running postmaster gets it started on a second
//! node, a stop that says "stopped" while it runs does the same.
//!
//! PostgreSQL itself runs on the hung mount, the most realistic case: its
//! processes are in the middle of it when it hangs, so a stop has
//! something to end and the health probe's backend blocks on it, as in
//! production. The mount is a passthrough FUSE file system
//! (`freezable_fs.py`, python3-llfuse) that hangs two ways, because they
//! differ in what a stop can do:
//! - it takes requests and never answers ([`FreezableFs::hold_requests`]):
//!   a dead disk behind a multipath device that queues. A process waiting
//!   there cannot be killed, so a stop can only fail, in time;
//! - it reads no requests at all, its daemon stopped
//!   ([`FreezableFs::stop_reading`]): an NFS hard mount. SIGKILL withdraws
//!   a waiting request, so a stop must end the server, in time.
//!
//! The agent is given `pgdata` as a symlink on a healthy file system to the
//! data directory on the mount (`/var/lib/pgsql/data -> /srv/pg/data`): the
//! spelling that made it lose the postmaster (it resolved the symlink on
//! the hung mount, failed, and looked for processes in the symlink's path).
//!
//! What these tests found, fixed in the agent: an action whose abandoned
//! thread waits on the mount could not exit (the kernel reaps a process
//! only once every thread ended): a monitor that answered in 6 s exited 16
//! minutes later, when the mount came back (`pgha::answer` now answers
//! from a child); with the symlinked `pgdata`, the probe said 7 and the
//! stop "already stopped" beside the running postmaster
//! (`pgha::pg::process::resolve_symlinks` now keeps what resolved); and
//! the health probe was left 0.0 s of its time.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::util::*;

/// Pacemaker's timeout for every action on the hung mount
/// (`CRM_meta_timeout`): what each answer must come within.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The FUSE passthrough; Debian's python3 (python3-llfuse is a Debian
/// package: tests/setup installs it).
const FREEZABLE_FS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/freezable_fs.py");
const PYTHON: &str = "/usr/bin/python3";

/// A [`FREEZABLE_FS`] mount that a test hangs and thaws. Dropped, it is
/// thawed, emptied of processes and unmounted whatever the test did: a
/// mount left hung would hang whatever touches it next (the rest of the
/// run, CI's clean-up of /tmp).
struct FreezableFs {
    mountpoint: PathBuf,
    freeze_file: PathBuf,
    daemon: Child,
}

impl FreezableFs {
    /// Mounts `backing` at `mountpoint`; panics, saying what is missing,
    /// when FUSE or python3-llfuse is not there: CI machines have both, and
    /// a test that skips would prove nothing.
    fn mount(backing: &Path, mountpoint: &Path) -> FreezableFs {
        fs::create_dir_all(mountpoint).unwrap();
        let log = mountpoint.with_extension("log");
        let freeze_file = mountpoint.with_extension("frozen");
        let output = fs::File::create(&log).unwrap();
        let daemon = Command::new(PYTHON)
            .arg(FREEZABLE_FS)
            .args([backing, mountpoint, &freeze_file])
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| panic!("{PYTHON} {FREEZABLE_FS}: {e}"));
        let mut mount = FreezableFs {
            mountpoint: mountpoint.to_path_buf(),
            freeze_file,
            daemon,
        };
        let mounted = poll(Duration::from_secs(10), Duration::from_millis(50), || {
            if is_mounted(mountpoint) {
                Ok(())
            } else if let Ok(Some(status)) = mount.daemon.try_wait() {
                Err(Some(status))
            } else {
                Err(None)
            }
        });
        if let Err(exited) = mounted {
            panic!(
                "the FUSE passthrough did not mount {} (daemon exit: {exited:?}). These tests need \
                 /dev/fuse, `fuse` in /proc/filesystems and python3-llfuse (bash tests/setup).\n{}",
                mountpoint.display(),
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        mount
    }

    /// Hangs it the first way: every request is taken and left unanswered.
    fn hold_requests(&self) {
        fs::write(&self.freeze_file, "").unwrap();
    }

    /// Hangs it the second way: the daemon stopped, requests wait in the
    /// kernel's queue.
    fn stop_reading(&self) {
        kill(self.daemon_pid(), Signal::SIGSTOP).unwrap();
    }

    fn thaw(&self) {
        let _ = fs::remove_file(&self.freeze_file);
        let _ = kill(self.daemon_pid(), Signal::SIGCONT);
    }

    fn daemon_pid(&self) -> Pid {
        Pid::from_raw(self.daemon.id() as i32)
    }
}

impl Drop for FreezableFs {
    fn drop(&mut self) {
        self.thaw();
        let gone = |mount: &FreezableFs| {
            poll(Duration::from_secs(10), Duration::from_millis(50), || {
                let left = processes_under(&mount.mountpoint);
                for pid in &left {
                    let _ = kill(*pid, Signal::SIGKILL);
                }
                left.is_empty().then_some(()).ok_or(left)
            })
        };
        if gone(self).is_err() {
            // Still held: a killed daemon aborts the connection, and every
            // waiter gets ENOTCONN.
            let _ = self.daemon.kill();
            let _ = gone(self);
        }
        // SIGTERM: the daemon unmounts and exits.
        let _ = kill(self.daemon_pid(), Signal::SIGTERM);
        if poll(Duration::from_secs(5), Duration::from_millis(50), || {
            self.daemon.try_wait().ok().flatten().ok_or(())
        })
        .is_err()
        {
            let _ = self.daemon.kill();
            let _ = self.daemon.wait();
        }
        if is_mounted(&self.mountpoint) {
            let _ = Command::new("umount").arg("-l").arg(&self.mountpoint).status();
        }
    }
}

/// Whether `dir` is a mount point, from /proc/self/mountinfo (which the
/// kernel answers without asking any file system).
fn is_mounted(dir: &Path) -> bool {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines().any(|l| l.split(' ').nth(4) == dir.to_str())
}

/// The processes whose working directory is `dir` or below it, from
/// `/proc/<pid>/cwd` alone: never a lookup on the mount, which may hang.
fn processes_under(dir: &Path) -> Vec<Pid> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c.starts_with(dir)))
        .map(Pid::from_raw)
        .collect()
}

/// PostgreSQL with its data directory on a [`FreezableFs`], and its agent.
struct OnFuse {
    // Fields drop in this order: the mount is thawed and unmounted before
    // the cluster's directory (which holds it) is removed.
    fs: FreezableFs,
    pg: PgCluster,
    /// The data directory on the mount, canonical: what `/proc/<pid>/cwd`
    /// shows of its processes.
    datadir: PathBuf,
    /// `pgdata` as the agent is given it: a symlink to `datadir`.
    link: PathBuf,
}

impl OnFuse {
    /// An initdb'd cluster moved under a FUSE mount, started by its agent.
    fn started(name: &str) -> OnFuse {
        let mut pg = PgCluster::init(name);
        // An autovacuum worker in the middle of a request when the daemon is
        // stopped would be held like in a dead disk (a request already read
        // is not withdrawn by SIGKILL): no such worker, no such race.
        pg.append_conf("autovacuum = off\n");
        let dir = fs::canonicalize(&pg.dir.path).unwrap();
        let backing = dir.join("backing");
        fs::create_dir(&backing).unwrap();
        fs::rename(&pg.datadir, backing.join("data")).unwrap();
        let mount = FreezableFs::mount(&backing, &dir.join("mnt"));
        let datadir = dir.join("mnt/data");
        pg.datadir = datadir.clone();
        let link = dir.join("pgdata");
        symlink(&datadir, &link).unwrap();
        let on = OnFuse {
            fs: mount,
            pg,
            datadir,
            link,
        };
        on.agent().run("start").expect(OcfCode::Success);
        on.agent().run("monitor").expect(OcfCode::Success);
        on
    }

    /// The agent, `pgdata` the symlink, with [`TIMEOUT`].
    fn agent(&self) -> Agent {
        self.pg
            .agent()
            .param("pgdata", self.link.to_str().unwrap())
            .meta("timeout", &TIMEOUT.as_millis().to_string())
    }

    /// The postmaster's pid (read before the mount hangs).
    fn postmaster(&self) -> Pid {
        self.pg.postmaster_pid().expect("a running postmaster")
    }

    /// Whether `postmaster` still runs in the data directory.
    fn runs(&self, postmaster: Pid) -> bool {
        processes_under(&self.datadir).contains(&postmaster)
    }
}

/// A probe and a recurring monitor of `agent` each fail (1) in time: the
/// server cannot be checked, and neither says "not running".
fn monitors_fail_in_time(agent: &Agent) {
    answers_in_time(agent, "probe", "monitor", OcfCode::ErrGeneric);
    answers_in_time(
        &agent.clone().recurring(),
        "recurring monitor",
        "monitor",
        OcfCode::ErrGeneric,
    );
}

/// Runs `action` on the hung mount and asserts that it answered `code`
/// within [`TIMEOUT`]; never waits much longer (an agent that does not exit
/// fails the test instead of hanging it). Prints the time it took.
#[track_caller]
fn answers_in_time(agent: &Agent, what: &str, action: &str, code: OcfCode) -> Outcome {
    let out = outcome_within(agent.command(&[action]), TIMEOUT + Duration::from_secs(5));
    eprintln!(
        "hung mount: {what} answered {:?} in {:.2}s (timeout {TIMEOUT:?})",
        out.status,
        out.elapsed.as_secs_f64()
    );
    out.expect_within(TIMEOUT).expect(code);
    out
}

/// A mount that takes requests and never answers them (a dead disk behind
/// a queueing multipath device): the monitor fails in time, and the stop,
/// which cannot end processes the kernel holds past SIGKILL, fails in time
/// instead of claiming the server gone while it still runs. Once the mount
/// answers again, a stop succeeds.
#[test]
fn on_a_mount_that_never_answers_monitor_and_stop_fail_in_time_and_stop_never_claims_success() {
    let on = OnFuse::started("hungfs-held");
    let agent = on.agent();
    on.fs.hold_requests();
    monitors_fail_in_time(&agent);
    let direct = agent.clone().param("pgdata", on.datadir.to_str().unwrap());
    answers_in_time(
        &direct,
        "probe (pgdata on the mount)",
        "monitor",
        OcfCode::ErrGeneric,
    );
    answers_in_time(&agent, "stop", "stop", OcfCode::ErrGeneric);
    // The postmaster itself may have died of its SIGKILL (it was idle, not
    // on the mount); a process of it waiting there outlives it.
    let left = processes_under(&on.datadir);
    assert!(
        !left.is_empty(),
        "the stop failed, so processes of the instance must be left: none is"
    );
    on.fs.thaw();
    agent.run("stop").expect(OcfCode::Success);
    assert!(
        processes_under(&on.datadir).is_empty(),
        "no process of the instance is left"
    );
}

/// A mount whose daemon reads no more requests (an NFS hard mount): the
/// monitor fails in time, the stop ends the server with SIGKILL in time and
/// succeeds with no process of the instance left, and a probe then says
/// "not running" although the mount still hangs.
#[test]
fn on_a_mount_whose_waits_sigkill_ends_monitor_fails_and_stop_ends_the_postmaster_in_time() {
    let on = OnFuse::started("hungfs-queued");
    let agent = on.agent();
    let postmaster = on.postmaster();
    on.fs.stop_reading();
    monitors_fail_in_time(&agent);
    answers_in_time(&agent, "stop", "stop", OcfCode::Success);
    assert!(
        !on.runs(postmaster),
        "the stop claimed success while the postmaster runs"
    );
    let left = processes_under(&on.datadir);
    assert!(
        left.is_empty(),
        "processes of the instance left after the stop: {left:?}"
    );
    answers_in_time(&agent, "probe after the stop", "monitor", OcfCode::NotRunning);
}
