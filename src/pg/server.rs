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
//! data directory is ever touched by stop.
//!
//! Root touches nothing the system user controls: the logfile is opened by
//! that user (and read back through the same descriptor), and lock files
//! are read, moved aside and removed as that user (see [`crate::userfs`]).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::deadline::Deadline;
use crate::exec::{ExecError, Watch, Watched};
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::pg::instance::{Instance, LogfilePlan};
use crate::pg::process::{self, Postmaster};
use crate::userfs;
use crate::vocab::Lsn;
use crate::{log_info, log_warn};

/// How often waits poll the process table or the server.
const POLL: Duration = Duration::from_millis(50);

/// A postmaster just spawned by [`spawn`], and where its log output starts.
pub struct Spawned {
    pub child: Child,
    /// The descriptor the system user opened: startup errors are read back
    /// from it, never by reopening the path (which the user may have pointed
    /// at /etc/shadow since).
    log: File,
    log_offset: u64,
}

impl Spawned {
    /// If the postmaster has exited, the cause quoted from its log.
    pub fn exit_cause(&mut self, inst: &Instance) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        let text = read_log_from(&self.log, self.log_offset);
        Some(match startup_failure_cause(&text) {
            Some(cause) => cause,
            None => format!(
                "postgres exited ({status}) without a message; see {}",
                inst.logfile.display()
            ),
        })
    }

    /// How far the WAL replay of this start got, while it is not done
    /// ([`replay_progress`] over what the server wrote since its spawn).
    pub fn replay_progress(&self) -> Option<ReplayProgress> {
        replay_progress(&read_log_from(&self.log, self.log_offset))
    }

    /// The last line the server wrote since it was spawned.
    pub fn last_log_line(&self) -> String {
        let text = read_log_from(&self.log, self.log_offset);
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(strip_log_prefix)
            .unwrap_or_default()
    }
}

/// The most of postmaster.pid and a socket lock file that is read: a few
/// short lines each.
const LOCK_FILE_MAX: u64 = 64 * 1024;

/// Makes sure nothing of a previous life is in the way of a start: orphaned
/// backends of a killed postmaster (they keep the shared memory that a new
/// postmaster would refuse to reuse), an empty or garbage `postmaster.pid`
/// (PostgreSQL refuses to start while it is there: "lock file ... is
/// empty", "bogus data in lock file"), and a `postmaster.pid` whose pid now
/// belongs to another process of the same user (PostgreSQL would take it for
/// a running server). Only called when no postmaster of this instance runs.
///
/// The data and socket directories are the system user's: every lock file is
/// read, moved and removed as that user ([`userfs`]), and the socket lock
/// file named by postmaster.pid is touched only if it is this instance's
/// `.s.PGSQL.<port>.lock`.
pub fn clear_leftovers(inst: &Instance, deadline: Deadline) -> OcfResult<()> {
    let orphans = process::instance_processes(&inst.canonical_datadir);
    // An operator's `postgres --single` is no leftover: killing it would
    // end someone's maintenance; PostgreSQL would refuse to start beside
    // it anyway, so say who holds the data directory.
    // The program is named by its file name: a full path of a bindir
    // outside /usr/lib/postgresql (/opt/..., a test's cache) pushed the
    // words that say what is wrong past the 128 characters Pacemaker keeps.
    if let Some(pid) = orphans.iter().copied().find(|p| process::is_manual_session(*p)) {
        let argv = process::command_line(pid);
        let program = argv.first().map(|a| a.rsplit('/').next().unwrap_or(a));
        return Err(OcfError::generic(format!(
            "'{}' (pid {pid}) uses the data directory: not starting beside it",
            program
                .into_iter()
                .chain(argv.iter().skip(1).take(1).map(String::as_str))
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
    set_aside_garbage_pidfile(inst, deadline)?;
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
    let pidfile_text = read_lock_file(inst, &pidfile, deadline)?.unwrap_or_default();
    let mut stale_locks = Vec::new();
    if let Some(lock) = socket_lock_file(&pidfile_text, inst.port) {
        if read_lock_file(inst, &lock, deadline)?.is_some_and(|t| process::lock_file_pid(&t) == Some(pid)) {
            stale_locks.push(lock);
        }
    }
    stale_locks.push(pidfile);
    for lockfile in stale_locks {
        log_warn!(
            "{} names pid {pid}, which is not this instance: removing it",
            lockfile.display()
        );
        match userfs::remove(&inst.user, deadline, &lockfile)? {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(
                    OcfError::generic(format!("cannot remove stale {}: {e}", lockfile.display()))
                        .with_source(e),
                );
            }
        }
    }
    Ok(())
}

/// A lock file's text read as the system user; None when it is not there.
fn read_lock_file(inst: &Instance, path: &Path, deadline: Deadline) -> OcfResult<Option<String>> {
    match userfs::read_small(&inst.user, deadline, path, LOCK_FILE_MAX)? {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(OcfError::generic(format!("cannot read {}: {e}", path.display())).with_source(e)),
    }
}

/// Moves an empty or garbage `postmaster.pid` aside (never deletes it: it
/// may be evidence), when no process of the instance runs.
///
/// A crash at the wrong moment (power loss during the postmaster's write,
/// a full disk) leaves such a file, and PostgreSQL then refuses every start
/// until someone removes it by hand. process::postmaster() treats it as "no
/// pid file", so nothing else would.
fn set_aside_garbage_pidfile(inst: &Instance, deadline: Deadline) -> OcfResult<()> {
    let pidfile = inst.datadir.join("postmaster.pid");
    let Some(text) = read_lock_file(inst, &pidfile, deadline)? else {
        return Ok(());
    };
    if process::lock_file_pid(&text).is_some() {
        return Ok(());
    }
    let running = process::instance_processes(&inst.canonical_datadir);
    if !running.is_empty() {
        return Err(OcfError::generic(format!(
            "postmaster.pid holds no pid but {} process(es) of the instance run: stop them first",
            running.len()
        )));
    }
    let aside = format!("postmaster.pid.pgha-garbage-{}", crate::deadline::unix_seconds());
    let moved = userfs::rename_aside(&inst.user, deadline, &pidfile, &aside)?.map_err(|e| {
        OcfError::generic(format!("cannot move the garbage postmaster.pid aside: {e}")).with_source(e)
    })?;
    log_warn!(
        "postmaster.pid held no pid ({} bytes) and no process of the instance runs: moved it to {}",
        text.len(),
        moved.display()
    );
    Ok(())
}

/// The socket lock file postmaster.pid names (line 4: port, line 5: first
/// socket directory), only if it is `.s.PGSQL.<port>.lock` of this
/// instance's `port` in an absolute directory: postgres writes that file, so
/// it must not name anything else for root to act on.
fn socket_lock_file(pidfile_text: &str, port: u16) -> Option<PathBuf> {
    let lines: Vec<&str> = pidfile_text.lines().collect();
    let recorded: u16 = lines.get(3)?.trim().parse().ok()?;
    let dir = Path::new(lines.get(4)?.trim());
    if recorded != port || !dir.is_absolute() {
        return None;
    }
    Some(dir.join(format!(".s.PGSQL.{port}.lock")))
}

/// Spawns the postmaster in its own session, output appended to the log
/// file, which the system user opens (see [`open_log`]).
pub fn spawn(inst: &Instance, extra_args: &[String], deadline: Deadline) -> OcfResult<Spawned> {
    let (log, log_offset) = open_log(inst, deadline)?;
    let dup = || {
        log.try_clone()
            .map_err(|e| OcfError::generic("cannot duplicate the log file handle").with_source(e))
    };
    let (log_out, log_err) = (dup()?, dup()?);
    let mut cmd = Command::new(inst.program("postgres"));
    cmd.arg("-D")
        .arg(&inst.pgdata)
        .arg("-p")
        .arg(inst.port.to_string())
        .args(&inst.start_opts)
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(log_out)
        .stderr(log_err);
    // Entered as the user: the data directory is the user's to change.
    inst.user.apply_in(&mut cmd, &inst.datadir).map_err(|e| {
        OcfError::configured(format!("datadir {}: {e}", inst.datadir.display())).with_source(e)
    })?;
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
    Ok(Spawned {
        child,
        log,
        log_offset,
    })
}

/// Opens the logfile as the system user, after the checks validate-all
/// makes ([`Instance::check_logfile`], same reasons), creating its missing
/// parent directory for the user where root may ([`userfs::create_owned_dir`]).
///
/// The descriptor becomes the server's stdout and stderr, which a database
/// superuser can write to (`COPY ... TO PROGRAM 'cmd >&2'`): it is always
/// one the user could open itself, of a regular file the user owns.
fn open_log(inst: &Instance, deadline: Deadline) -> OcfResult<(File, u64)> {
    let path = &inst.logfile;
    if let LogfilePlan::CreateParent(dir) = inst.check_logfile(deadline)? {
        log_info!(
            "creating {} for the logfile, owned by {}",
            dir.display(),
            inst.user.name
        );
        userfs::create_owned_dir(&inst.user, deadline, &dir)?.map_err(|e| {
            OcfError::perm(format!("cannot create logfile directory {}: {e}", dir.display())).with_source(e)
        })?;
    }
    userfs::open_log(&inst.user, deadline, path)?.map_err(|e| {
        let code = if e.kind() == io::ErrorKind::PermissionDenied {
            OcfCode::ErrPerm
        } else {
            OcfCode::ErrArgs
        };
        OcfError::new(code, format!("cannot open logfile {}: {e}", path.display())).with_source(e)
    })
}

/// What the server wrote to `log` from `offset` on (at most 256 KiB), read
/// from the descriptor the user opened.
fn read_log_from(log: &File, offset: u64) -> String {
    const MAX: usize = 256 * 1024;
    let mut buf = vec![0u8; MAX];
    let mut len = 0;
    while len < MAX {
        match log.read_at(&mut buf[len..], offset + len as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// How far a WAL replay got, from what the server logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayProgress {
    /// `redo starts at`: the checkpoint's redo point.
    pub from: Lsn,
    /// The last `redo in progress, ... current LSN:` (PostgreSQL 15 and
    /// later log one every `log_startup_progress_interval`); None before the
    /// first, or before 15.
    pub at: Option<Lsn>,
}

/// The progress of the replay `log` shows under way: None when it shows no
/// replay started, or one that is done (`redo done at`). Only the words
/// after the level are read, so any `log_line_prefix` does; `lc_messages`
/// other than English hides the replay (no progress is then reported).
pub fn replay_progress(log: &str) -> Option<ReplayProgress> {
    let mut progress = None;
    for line in log.lines() {
        let text = strip_log_prefix(line);
        if let Some(rest) = text.strip_prefix("redo starts at ") {
            progress = first_lsn(rest).map(|from| ReplayProgress { from, at: None });
        } else if text.starts_with("redo done at ") {
            progress = None;
        } else if let (Some(p), Some((_, rest))) = (
            progress.as_mut(),
            text.strip_prefix("redo in progress, ")
                .and_then(|t| t.split_once("current LSN: ")),
        ) {
            p.at = first_lsn(rest).or(p.at);
        }
    }
    progress
}

/// The LSN that `text` starts with.
fn first_lsn(text: &str) -> Option<Lsn> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .next()?
        .parse()
        .ok()
}

/// Why [`crash_recover`] failed.
#[derive(Debug)]
pub enum RecoveryFailed {
    /// The replay did not finish within its time: it got this far (None:
    /// it logged no start of a replay yet).
    TimedOut(Option<ReplayProgress>, OcfError),
    /// It failed by itself (its WAL is gone or broken), or could not run.
    Failed(OcfError),
}

/// Replays the WAL of a crashed instance in single-user mode, leaving it
/// cleanly shut down (what pg_rewind itself does before rewinding, and what
/// a normal start would do first). No new timeline is created.
///
/// With fsync on, unlike pg_rewind's `--single -F`: pg_rewind syncs the
/// whole data directory when it is done, but here the server may be started
/// right after, and pg_control then says "shut down", so that start syncs
/// nothing. With fsync on, the replay itself first syncs the data directory
/// (the crashed server's writes still in the page cache) and its checkpoints
/// reach the disk, as in any crash recovery (issue 23).
///
/// Its output is watched as it comes, so that a replay cut by the deadline
/// says how far it got ([`RecoveryFailed::TimedOut`]); PostgreSQL 15 and
/// later are asked to log their progress every second.
pub fn crash_recover(inst: &Instance, deadline: Deadline) -> Result<(), RecoveryFailed> {
    let pgdata = inst.pgdata.to_string_lossy().into_owned();
    let mut args = vec![
        "--single".to_string(),
        "-D".into(),
        pgdata,
        "-c".into(),
        "exit_on_error=false".into(),
    ];
    if inst.major >= 15 {
        // Before start_opts: an operator's own setting wins.
        args.extend(["-c".to_string(), "log_startup_progress_interval=1s".into()]);
    }
    args.extend(inst.start_opts.iter().cloned());
    args.push("template1".into());
    log_info!("crash recovery in single-user mode before comparing timelines");
    let mut said = String::new();
    let watched = crate::exec::run_watched(
        inst.program("postgres"),
        &args,
        Some(&inst.user),
        deadline,
        |line| {
            said.push_str(line);
            said.push('\n');
            Watch::Continue
        },
    );
    let out = match watched {
        Ok(Watched::Exited(out)) => out,
        Ok(Watched::Stopped(why)) => return Err(RecoveryFailed::Failed(OcfError::generic(why))),
        Err(e @ ExecError::TimedOut { .. }) => {
            return Err(RecoveryFailed::TimedOut(replay_progress(&said), e.into()));
        }
        Err(e) => return Err(RecoveryFailed::Failed(e.into())),
    };
    if !out.success() {
        return Err(RecoveryFailed::Failed(OcfError::generic(format!(
            "crash recovery failed: {}",
            out.last_message()
        ))));
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
    let pid = match process::postmaster_within(datadir, canonical_datadir, deadline.fraction(0.2)) {
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

/// Waits until no process of the instance is left: none runs postgres in
/// the data directory, and none seen doing so still holds it as its
/// working directory. A killed process stops being `postgres` (its
/// executable link goes with its memory) before it lets go of its
/// directory and becomes a zombie: a stop that returned in between left a
/// process in the data directory for a moment after its success.
fn wait_until_gone(canonical_datadir: &Path, deadline: Deadline) -> OcfResult<()> {
    let mut seen: Vec<Pid> = Vec::new();
    loop {
        for pid in process::instance_processes(canonical_datadir) {
            if !seen.contains(&pid) {
                seen.push(pid);
            }
        }
        seen.retain(|pid| process::holds_directory(*pid, canonical_datadir));
        let left = &seen;
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
    fn the_startup_failure_is_quoted_from_the_most_telling_line() {
        // (what the server printed, what the exit reason quotes)
        let table: &[(&str, Option<&str>)] = &[
            // The bind error, over the generic FATAL that follows it.
            (
                "2026-11-22 01:00:00.000 UTC [7] LOG:  starting PostgreSQL 15.18\n\
                   2026-11-22 01:00:00.001 UTC [7] LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n\
                   2026-11-22 01:00:00.001 UTC [7] HINT:  Is another postmaster already running on port 5432?\n\
                   2026-11-22 01:00:00.001 UTC [7] WARNING:  could not create listen socket for \"127.0.0.1\"\n\
                   2026-11-22 01:00:00.002 UTC [7] FATAL:  could not create any TCP/IP sockets\n",
                Some("could not bind IPv4 address \"127.0.0.1\": Address already in use"),
            ),
            // The invalid setting, over "contains errors".
            (
                "2026-11-22 01:00:00 UTC [9] LOG:  invalid value for parameter \"shared_buffers\": \"lots\"\n\
                   2026-11-22 01:00:00 UTC [9] FATAL:  configuration file \"/x/postgresql.conf\" contains errors\n",
                Some("invalid value for parameter \"shared_buffers\": \"lots\""),
            ),
            // An invalid command-line argument.
            (
                "postgres: invalid argument: \"foo\"\nTry \"postgres --help\" for more information.\n",
                Some("postgres: invalid argument: \"foo\""),
            ),
            // Nothing more telling: the FATAL line.
            (
                "postgres: FATAL:  data directory \"/d\" has invalid permissions\n",
                Some("FATAL: data directory \"/d\" has invalid permissions"),
            ),
            ("LOG:  all fine\n", None),
        ];
        for (log, cause) in table {
            assert_eq!(startup_failure_cause(log).as_deref(), *cause, "{log}");
        }
    }

    #[test]
    fn a_replay_under_way_is_read_from_the_log() {
        let p = |from: &str, at: Option<&str>| {
            Some(ReplayProgress {
                from: from.parse().unwrap(),
                at: at.map(|a| a.parse().unwrap()),
            })
        };
        // (log, progress) from PostgreSQL 15's own lines.
        let table: &[(&str, Option<ReplayProgress>)] = &[
            ("LOG:  database system is ready to accept connections\n", None),
            (
                "2026-12-03 18:51:56.010 UTC [21951] LOG:  redo starts at 0/1500790\n",
                p("0/1500790", None),
            ),
            (
                "2026-12-03 18:51:56.010 UTC [21951] LOG:  redo starts at 0/1500790\n\
                 2026-12-03 18:51:56.110 UTC [21951] LOG:  redo in progress, elapsed time: 0.10 s, current LSN: 0/1FDAE60\n\
                 2026-12-03 18:51:56.213 UTC [21951] LOG:  redo in progress, elapsed time: 0.20 s, current LSN: 0/27EBBD0\n",
                p("0/1500790", Some("0/27EBBD0")),
            ),
            // Done: nothing under way.
            (
                "LOG:  redo starts at 0/1500790\n\
                 LOG:  redo done at 0/FAAC818 system usage: CPU: user: 0.97 s, system: 0.15 s, elapsed: 1.84 s\n",
                None,
            ),
            // Any prefix, and a single-user backend's bare lines.
            ("[x] app=y LOG:  redo starts at 1/A0, then\n", p("1/A0", None)),
            // A progress line with no replay started counts for nothing.
            (
                "LOG:  redo in progress, elapsed time: 0.10 s, current LSN: 0/1FDAE60\n",
                None,
            ),
        ];
        for (log, expected) in table {
            assert_eq!(replay_progress(log), *expected, "{log}");
        }
    }

    #[test]
    fn an_empty_or_garbage_pid_file_holds_no_pid() {
        use process::lock_file_pid;
        assert_eq!(lock_file_pid(""), None);
        assert_eq!(lock_file_pid("\n"), None);
        assert_eq!(lock_file_pid("\0\0\0\0"), None);
        assert_eq!(lock_file_pid("-1\n"), None);
        assert_eq!(lock_file_pid("0\n/data\n"), None);
        assert_eq!(lock_file_pid("4242\n/data\n"), Some(Pid::from_raw(4242)));
    }

    #[test]
    fn only_this_ports_socket_lock_file_is_named() {
        let pidfile = "42\n/data\n1700000000\n5432\n/run/postgresql\n*\n";
        assert_eq!(
            socket_lock_file(pidfile, 5432),
            Some(PathBuf::from("/run/postgresql/.s.PGSQL.5432.lock"))
        );
        assert_eq!(socket_lock_file(pidfile, 5433), None, "another port");
        assert_eq!(socket_lock_file("42\n/d\n1\n5432\nrelative\n", 5432), None);
        assert_eq!(socket_lock_file("42\n/d\n1\n5432/../../etc\n/run\n", 5432), None);
        assert_eq!(socket_lock_file("42\n", 5432), None);
    }
}
