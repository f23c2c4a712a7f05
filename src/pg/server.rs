//! Starting and stopping the PostgreSQL server, without `pg_ctl`.
//!
//! `pg_ctl -o` passes its options through `/bin/sh`, and the postmaster it
//! starts leads its own session, so pg_ctl adds a shell and nothing we need.
//! pgha runs `postgres -D <pgdata> -p <port> <start_opts...>` itself as the
//! system user, in a new session (like pg_ctl), with the server's output
//! appended to `logfile`, and waits for the health probe to answer.
//!
//! Stop sends the postmaster's own shutdown signals, escalating within the
//! action's budget: SIGINT (fast: roll back sessions, checkpoint), then
//! SIGQUIT (immediate: crash-like, WAL replay at next start), then SIGKILL of
//! every process of the instance. A stopped (SIGSTOPped) postmaster can
//! handle nothing but SIGKILL, so it goes straight there. No file of the
//! data directory is ever touched.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::deadline::Deadline;
use crate::ocf::code::{OcfError, OcfResult};
use crate::pg::instance::Instance;
use crate::pg::process::{self, Postmaster};
use crate::{log_info, log_warn};

/// How often waits poll the process table or the server.
const POLL: Duration = Duration::from_millis(50);

/// A postmaster just spawned by [`spawn`], and where its log output starts.
pub struct Spawned {
    pub child: Child,
    log_offset: u64,
}

impl Spawned {
    /// If the postmaster has exited, the cause quoted from its log.
    pub fn exit_cause(&mut self, inst: &Instance) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        let text = read_log_from(&inst.logfile, self.log_offset);
        Some(match startup_failure_cause(&text) {
            Some(cause) => cause,
            None => format!(
                "postgres exited ({status}) without a message; see {}",
                inst.logfile.display()
            ),
        })
    }

    /// The last line the server wrote since it was spawned.
    pub fn last_log_line(&self, inst: &Instance) -> String {
        let text = read_log_from(&inst.logfile, self.log_offset);
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(strip_log_prefix)
            .unwrap_or_default()
    }
}

/// Makes sure nothing of a previous life is in the way of a start: orphaned
/// backends of a killed postmaster (they keep the shared memory that a new
/// postmaster would refuse to reuse) and a `postmaster.pid` whose pid now
/// belongs to another process of the same user (PostgreSQL would take it for
/// a running server). Only called when no postmaster of this instance runs.
pub fn clear_leftovers(inst: &Instance, deadline: Deadline) -> OcfResult<()> {
    let orphans = process::instance_processes(&inst.canonical_datadir);
    // An operator's `postgres --single` is no leftover: killing it would
    // end someone's maintenance; PostgreSQL would refuse to start beside
    // it anyway, so say who holds the data directory.
    if let Some(pid) = orphans.iter().copied().find(|p| process::is_manual_session(*p)) {
        return Err(OcfError::generic(format!(
            "'{}' (pid {pid}) uses the data directory: not starting beside it",
            process::command_line(pid)
                .iter()
                .take(2)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        )));
    }
    if !orphans.is_empty() {
        log_warn!(
            "killing {} leftover process(es) of a crashed instance: {:?}",
            orphans.len(),
            orphans
        );
        kill_all(&orphans);
        wait_until_gone(&inst.canonical_datadir, deadline)?;
    }
    let Postmaster::Stale(pid) = process::postmaster(&inst.datadir, &inst.canonical_datadir) else {
        return Ok(());
    };
    // A killed postmaster stays a zombie until its parent (init) reaps it,
    // and PostgreSQL takes a zombie's pid for a live server. Give init a
    // moment; on a normal init this is immediate.
    let reaped = deadline.fraction(0.3);
    while process::is_zombie(pid) && reaped.sleep(POLL) {}
    if kill(pid, None).is_err() {
        return Ok(()); // gone: PostgreSQL removes the stale files itself
    }
    if process::is_zombie(pid) {
        return Err(OcfError::generic(format!(
            "the crashed postmaster {pid} is still a zombie: its parent does not reap it"
        )));
    }
    // The pid now belongs to another process: PostgreSQL would refuse to
    // start, so the lock files that name it go (they hold no data).
    let pidfile = inst.datadir.join("postmaster.pid");
    let stale_locks: Vec<_> = process::socket_lock_files(&inst.datadir)
        .into_iter()
        .filter(|f| process::recorded_pid(f) == Some(pid))
        .chain(std::iter::once(pidfile))
        .collect();
    for lockfile in stale_locks {
        log_warn!(
            "{} names pid {pid}, which is not this instance: removing it",
            lockfile.display()
        );
        fs::remove_file(&lockfile).map_err(|e| {
            OcfError::generic(format!("cannot remove stale {}", lockfile.display())).with_source(e)
        })?;
    }
    Ok(())
}

/// Spawns the postmaster in its own session, output appended to the log file.
pub fn spawn(inst: &Instance, extra_args: &[String]) -> OcfResult<Spawned> {
    let (log, log_offset) = open_log(inst)?;
    let log_err = log
        .try_clone()
        .map_err(|e| OcfError::generic("cannot duplicate the log file handle").with_source(e))?;
    let mut cmd = Command::new(inst.program("postgres"));
    cmd.arg("-D")
        .arg(&inst.pgdata)
        .arg("-p")
        .arg(inst.port.to_string())
        .args(&inst.start_opts)
        .args(extra_args)
        .current_dir(&inst.datadir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    inst.user.apply(&mut cmd);
    // SAFETY: setsid is async-signal-safe. A session of its own keeps the
    // server alive when the agent exits and out of the agent's process group.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from));
    }
    log_info!(
        "starting: {} -D {} -p {} {}",
        inst.program("postgres").display(),
        inst.pgdata.display(),
        inst.port,
        inst.start_opts.join(" ")
    );
    let child = cmd.spawn().map_err(|e| {
        OcfError::from(crate::exec::ExecError::Spawn {
            program: inst.program("postgres").display().to_string(),
            error: e,
        })
    })?;
    Ok(Spawned { child, log_offset })
}

fn open_log(inst: &Instance) -> OcfResult<(File, u64)> {
    let path = &inst.logfile;
    if let Some(parent) = path.parent()
        && !parent.exists()
    {
        fs::create_dir_all(parent)
            .map_err(|e| OcfError::args(format!("cannot create {}", parent.display())).with_source(e))?;
    }
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| OcfError::args(format!("cannot open logfile {}", path.display())).with_source(e))?;
    if !existed {
        let _ = std::os::unix::fs::chown(path, Some(inst.user.uid.as_raw()), Some(inst.user.gid.as_raw()));
        let _ = fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o640));
    }
    let offset = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((file, offset))
}

fn read_log_from(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path)
        && f.seek(SeekFrom::Start(offset)).is_ok()
    {
        let mut buf = Vec::new();
        let _ = f.take(256 * 1024).read_to_end(&mut buf);
        text = String::from_utf8_lossy(&buf).into_owned();
    }
    text
}

/// Replays the WAL of a crashed instance in single-user mode, leaving it
/// cleanly shut down (what pg_rewind itself does before rewinding, and what
/// a normal start would do first). No new timeline is created.
pub fn crash_recover(inst: &Instance, deadline: Deadline) -> OcfResult<()> {
    let pgdata = inst.pgdata.to_string_lossy().into_owned();
    let mut args = vec![
        "--single".to_string(),
        "-F".into(),
        "-D".into(),
        pgdata,
        "-c".into(),
        "exit_on_error=false".into(),
    ];
    args.extend(inst.start_opts.iter().cloned());
    args.push("template1".into());
    log_info!("crash recovery in single-user mode before comparing timelines");
    let out = crate::exec::run(inst.program("postgres"), &args, Some(&inst.user), deadline)?;
    if !out.success() {
        return Err(OcfError::generic(format!(
            "crash recovery failed: {}",
            out.last_message()
        )));
    }
    Ok(())
}

/// Which shutdown was needed to stop the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    AlreadyStopped,
    Fast,
    Immediate,
    Killed,
}

/// Stops the instance, escalating within `deadline`. Ok only when no process
/// of the instance remains.
///
/// It needs only the data directory: the instance's processes are found by
/// it, so a stop works even where the binaries or the user are gone.
pub fn stop(datadir: &Path, canonical_datadir: &Path, deadline: Deadline) -> OcfResult<StopMode> {
    let pid = match process::postmaster(datadir, canonical_datadir) {
        Postmaster::Running(pid) => pid,
        Postmaster::NoPidFile | Postmaster::Stale(_) => {
            let orphans = process::instance_processes(canonical_datadir);
            if orphans.is_empty() {
                return Ok(StopMode::AlreadyStopped);
            }
            log_warn!(
                "no postmaster, but {} orphaned process(es) of this instance: killing them",
                orphans.len()
            );
            kill_all(&orphans);
            wait_until_gone(canonical_datadir, deadline)?;
            return Ok(StopMode::Killed);
        }
    };
    if !process::is_stopped(pid) {
        log_info!("fast shutdown of postmaster {pid}");
        let _ = kill(pid, Signal::SIGINT);
        if wait_until_gone(canonical_datadir, deadline.fraction(0.6)).is_ok() {
            return Ok(StopMode::Fast);
        }
        log_warn!("fast shutdown did not finish in time: immediate shutdown");
        let _ = kill(pid, Signal::SIGQUIT);
        if wait_until_gone(canonical_datadir, deadline.fraction(0.5)).is_ok() {
            return Ok(StopMode::Immediate);
        }
    } else {
        log_warn!("postmaster {pid} is stopped (SIGSTOP): only SIGKILL can end it");
    }
    // The children are listed before the postmaster dies: afterwards they
    // are re-parented, but their working directory still finds them.
    let processes = process::instance_processes(canonical_datadir);
    log_warn!(
        "killing {} process(es) of the instance with SIGKILL",
        processes.len()
    );
    kill_all(&processes);
    let _ = kill(pid, Signal::SIGKILL);
    wait_until_gone(canonical_datadir, deadline)?;
    Ok(StopMode::Killed)
}

fn kill_all(pids: &[Pid]) {
    for pid in pids {
        let _ = kill(*pid, Signal::SIGKILL);
    }
}

/// Waits until no process of the instance is left.
fn wait_until_gone(canonical_datadir: &Path, deadline: Deadline) -> OcfResult<()> {
    loop {
        let left = process::instance_processes(canonical_datadir);
        if left.is_empty() {
            return Ok(());
        }
        if !deadline.sleep(POLL) {
            return Err(OcfError::generic(format!(
                "{} process(es) of the instance still running: {:?}",
                left.len(),
                left.iter().map(|p| p.as_raw()).collect::<Vec<_>>()
            )));
        }
    }
}

/// The line of a failed start's output that says why, without its prefix.
///
/// PostgreSQL often logs the real cause at LOG level just before a generic
/// FATAL ("invalid value for parameter ..." then "configuration file ...
/// contains errors"; "could not bind ..." then "could not create any TCP/IP
/// sockets"), so such a LOG line wins over the FATAL that follows it.
pub fn startup_failure_cause(log: &str) -> Option<String> {
    const CAUSES: &[&str] = &[
        "could not bind",
        "invalid value for parameter",
        "unrecognized configuration parameter",
        "syntax error",
        "could not open",
        "could not access",
        "permission denied",
        "could not create",
        "out of memory",
        "is outside the valid range",
    ];
    let lines: Vec<&str> = log.lines().collect();
    let fatal = lines
        .iter()
        .position(|l| l.contains("FATAL:") || l.contains("PANIC:"))
        .unwrap_or(lines.len());
    // CAUSES is in order of precedence: "could not bind" beats the
    // "could not create listen socket" warning that follows it.
    let cause = CAUSES
        .iter()
        .find_map(|c| lines[..fatal].iter().rev().find(|l| l.to_lowercase().contains(c)))
        .or_else(|| lines.get(fatal))
        // Errors of the command line come before any logging is set up and
        // carry no level: `postgres: invalid argument: "x"`, then a hint to
        // run --help that says nothing about the cause.
        .or_else(|| {
            lines
                .iter()
                .rev()
                .find(|l| l.starts_with("postgres: ") || l.starts_with("postgres (PostgreSQL)"))
        });
    cause.map(|l| strip_log_prefix(l)).filter(|l| !l.is_empty())
}

/// `2026-11-22 01:00:00.000 UTC [42] FATAL:  text` -> `FATAL: text`.
fn strip_log_prefix(line: &str) -> String {
    for level in [
        "PANIC:", "FATAL:", "ERROR:", "WARNING:", "LOG:", "DETAIL:", "HINT:",
    ] {
        if let Some(i) = line.find(level) {
            let text = line[i + level.len()..].trim();
            return if level == "LOG:" {
                text.to_string()
            } else {
                format!("{level} {text}")
            };
        }
    }
    line.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_the_bind_error_over_the_generic_fatal() {
        let log = "2026-11-22 01:00:00.000 UTC [7] LOG:  starting PostgreSQL 15.18\n\
                   2026-11-22 01:00:00.001 UTC [7] LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n\
                   2026-11-22 01:00:00.001 UTC [7] HINT:  Is another postmaster already running on port 5432?\n\
                   2026-11-22 01:00:00.001 UTC [7] WARNING:  could not create listen socket for \"127.0.0.1\"\n\
                   2026-11-22 01:00:00.002 UTC [7] FATAL:  could not create any TCP/IP sockets\n";
        assert_eq!(
            startup_failure_cause(log).unwrap(),
            "could not bind IPv4 address \"127.0.0.1\": Address already in use"
        );
    }

    #[test]
    fn quotes_an_invalid_setting() {
        let log = "2026-11-22 01:00:00 UTC [9] LOG:  invalid value for parameter \"shared_buffers\": \"lots\"\n\
                   2026-11-22 01:00:00 UTC [9] FATAL:  configuration file \"/x/postgresql.conf\" contains errors\n";
        assert_eq!(
            startup_failure_cause(log).unwrap(),
            "invalid value for parameter \"shared_buffers\": \"lots\""
        );
    }

    #[test]
    fn quotes_an_invalid_command_line_argument() {
        let log = "postgres: invalid argument: \"foo\"\nTry \"postgres --help\" for more information.\n";
        assert_eq!(
            startup_failure_cause(log).unwrap(),
            "postgres: invalid argument: \"foo\""
        );
    }

    #[test]
    fn falls_back_to_the_fatal_line() {
        let log = "postgres: FATAL:  data directory \"/d\" has invalid permissions\n";
        assert_eq!(
            startup_failure_cause(log).unwrap(),
            "FATAL: data directory \"/d\" has invalid permissions"
        );
        assert_eq!(startup_failure_cause("LOG:  all fine\n"), None);
    }
}
