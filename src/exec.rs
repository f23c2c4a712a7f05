//! Running programs: an argument vector, as the system user, within a deadline.
//!
//! There is no shell anywhere: parameters reach programs as separate
//! arguments. A child runs with
//! - the system user's uid, gid *and supplementary groups* (std's `uid()`
//!   drops them, and Debian's `ssl-cert` group guards the server's key): the
//!   group list is computed before spawning, and `setgroups`, `setgid`,
//!   `setuid` are bare syscalls in `pre_exec`;
//! - stdin from /dev/null, `LC_ALL=C` so that parsed output is English;
//! - its own process group, so that a timeout reaches its children too,
//!   and SIGKILL when the agent dies (`PR_SET_PDEATHSIG`), so that nothing
//!   it ran goes on without it;
//! - stdout and stderr drained on threads (a child that fills a pipe would
//!   otherwise look like a timeout).
//!
//! On timeout the group gets SIGTERM, a short grace, then SIGKILL, and the
//! child is reaped (`std::process::Child` is not killed on drop), unless
//! even SIGKILL does not end it within a grace: a child that waits on a
//! hung file system (pg_controldata reading pg_control there) cannot die
//! until the file system answers, and waiting for it would hang the agent
//! (the integration test `hung_fs`). Such a child is left to init.

use std::ffi::{CString, OsStr};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Gid, Pid, Uid, User, getgrouplist, setgid, setgroups, setuid};
use wait_timeout::ChildExt;

use crate::deadline::Deadline;
use crate::log_warn;
use crate::ocf::code::{OcfCode, OcfError};

/// How long a timed-out child gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_millis(500);

/// An operating system user to run programs as.
#[derive(Clone, Debug)]
pub struct SystemUser {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
    pub home: PathBuf,
}

impl SystemUser {
    /// Looks `name` up in the user database.
    ///
    /// A user missing on this node is ERR_INSTALLED: the PostgreSQL package
    /// creates it, so its absence means PostgreSQL is not set up here.
    pub fn lookup(name: &str) -> Result<SystemUser, OcfError> {
        let user = match User::from_name(name) {
            Ok(Some(user)) => user,
            Ok(None) => {
                return Err(OcfError::installed(format!(
                    "system_user '{name}' does not exist on this node"
                )));
            }
            Err(e) => {
                return Err(OcfError::generic(format!("cannot look up user '{name}'")).with_source(e));
            }
        };
        if user.uid.is_root() {
            return Err(OcfError::configured(format!(
                "system_user '{name}' has uid 0: PostgreSQL refuses to run as root"
            )));
        }
        Ok(SystemUser {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            home: user.dir,
        })
    }

    /// The user's supplementary groups, computed only when a program is about
    /// to be run: `getgrouplist` asks every NSS module (on Debian it loads
    /// libnss_systemd), which costs milliseconds the monitor does not need.
    pub fn groups(&self) -> Vec<Gid> {
        CString::new(self.name.as_str())
            .ok()
            .and_then(|name| getgrouplist(&name, self.gid).ok())
            .unwrap_or_else(|| vec![self.gid])
    }

    /// The user this process runs as: what unit tests act as.
    #[cfg(test)]
    pub(crate) fn of_this_process() -> SystemUser {
        let user = User::from_uid(Uid::effective()).unwrap().unwrap();
        SystemUser {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            home: user.dir,
        }
    }

    /// Makes `cmd` run as this user, with its groups, HOME, USER and LOGNAME.
    /// Without root privileges (tests run by a user) the identity is kept.
    pub fn apply(&self, cmd: &mut Command) {
        self.apply_with_cwd(cmd, None);
    }

    /// Like [`apply`](Self::apply), and the program starts in `dir`, a
    /// directory the user controls (the data directory), entered as the
    /// user. `Command::current_dir` would enter it as root: std changes
    /// the directory before the `pre_exec` hooks that drop privileges, so
    /// root would resolve a path the user may have made a symlink, or one
    /// the user cannot enter (issue 23).
    pub fn apply_in(&self, cmd: &mut Command, dir: &Path) -> io::Result<()> {
        if !Uid::effective().is_root() {
            cmd.current_dir(dir);
            self.apply(cmd);
            return Ok(());
        }
        let dir = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the directory's name"))?;
        self.apply_with_cwd(cmd, Some(dir));
        Ok(())
    }

    fn apply_with_cwd(&self, cmd: &mut Command, dir: Option<CString>) {
        cmd.env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name);
        if !Uid::effective().is_root() {
            return;
        }
        let (uid, gid, groups) = (self.uid, self.gid, self.groups());
        // SAFETY: the closure only makes async-signal-safe syscalls on data
        // computed before fork (the directory's name included: no
        // allocation after fork).
        unsafe {
            cmd.pre_exec(move || {
                setgroups(&groups).map_err(io::Error::from)?;
                setgid(gid).map_err(io::Error::from)?;
                setuid(uid).map_err(io::Error::from)?;
                if let Some(dir) = &dir {
                    if nix::libc::chdir(dir.as_ptr()) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
}

/// What a finished child left behind.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The last non-empty line of stderr (or stdout): what a reason quotes.
    pub fn last_message(&self) -> &str {
        [&self.stderr, &self.stdout]
            .into_iter()
            .flat_map(|s| s.lines().rev())
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    }
}

/// Why a program could not be run to completion.
#[derive(Debug)]
pub enum ExecError {
    /// It could not be started (missing, not executable...).
    Spawn { program: String, error: io::Error },
    /// It was still running at the deadline and was killed.
    TimedOut { program: String, after: Duration },
    /// Waiting for it failed.
    Wait { program: String, error: io::Error },
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::Spawn { program, error } => write!(f, "cannot run {program}: {error}"),
            ExecError::TimedOut { program, after } => {
                write!(
                    f,
                    "{program} did not finish within {:.1}s and was killed",
                    after.as_secs_f64()
                )
            }
            ExecError::Wait { program, error } => write!(f, "waiting for {program} failed: {error}"),
        }
    }
}

impl std::error::Error for ExecError {}

impl From<ExecError> for OcfError {
    /// A missing program is ERR_INSTALLED, a forbidden one ERR_PERM; a
    /// timeout or a failed wait is ERR_GENERIC.
    fn from(e: ExecError) -> OcfError {
        let code = match &e {
            ExecError::Spawn { error, .. } if error.kind() == io::ErrorKind::NotFound => {
                OcfCode::ErrInstalled
            }
            ExecError::Spawn { error, .. } if error.kind() == io::ErrorKind::PermissionDenied => {
                OcfCode::ErrPerm
            }
            _ => OcfCode::ErrGeneric,
        };
        OcfError::new(code, e.to_string())
    }
}

/// Runs `program args...` (as `user` when given) and waits for it, at most
/// until `deadline`.
pub fn run<S: AsRef<OsStr>>(
    program: impl AsRef<OsStr>,
    args: &[S],
    user: Option<&SystemUser>,
    deadline: Deadline,
) -> Result<Output, ExecError> {
    run_without_env(program, args, user, deadline, &[])
}

/// [`run`], with the variables named in `unset` removed from the child's
/// environment.
pub fn run_without_env<S: AsRef<OsStr>>(
    program: impl AsRef<OsStr>,
    args: &[S],
    user: Option<&SystemUser>,
    deadline: Deadline,
    unset: &[&str],
) -> Result<Output, ExecError> {
    run_fed(program, args, user, deadline, unset, None)
}

/// [`run`] (as this process's user), with `input` on the child's stdin
/// instead of /dev/null: a mail for sendmail. It is written on a thread,
/// so that a child that never reads it is still bounded by `deadline`.
pub fn run_with_input<S: AsRef<OsStr>>(
    program: impl AsRef<OsStr>,
    args: &[S],
    input: &[u8],
    deadline: Deadline,
) -> Result<Output, ExecError> {
    run_fed(program, args, None, deadline, &[], Some(input.to_vec()))
}

fn run_fed<S: AsRef<OsStr>>(
    program: impl AsRef<OsStr>,
    args: &[S],
    user: Option<&SystemUser>,
    deadline: Deadline,
    unset: &[&str],
    input: Option<Vec<u8>>,
) -> Result<Output, ExecError> {
    let program_name = program.as_ref().to_string_lossy().into_owned();
    let mut cmd = command(&program_name, program.as_ref(), args, user, deadline, unset)?;
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let started = std::time::Instant::now();
    let (mut child, stdout, stderr) = spawn_drained(&mut cmd, &program_name, drain)?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // A thread that cannot start drops stdin: the child reads an end
        // of file, never a half-written input it waits on.
        let _ = std::thread::Builder::new()
            .name("feed".into())
            .spawn(move || stdin.write_all(&input));
    }
    let status = wait_bounded(&mut child, program_name, started, deadline)?;
    // The child is gone; a grandchild that kept the pipes open must not hold
    // us past the deadline, so collection is bounded too.
    let collect = |rx: mpsc::Receiver<String>| {
        rx.recv_timeout(deadline.remaining().max(Duration::from_millis(50)))
            .unwrap_or_default()
    };
    Ok(Output {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

/// Spawns `cmd` and drains its stdout whole and its stderr with
/// `stderr_drain`, each on a thread.
fn spawn_drained(
    cmd: &mut Command,
    program_name: &str,
    stderr_drain: fn(Option<ChildStderr>) -> io::Result<mpsc::Receiver<String>>,
) -> Result<(Child, mpsc::Receiver<String>, mpsc::Receiver<String>), ExecError> {
    let mut child = cmd.spawn().map_err(|error| ExecError::Spawn {
        program: program_name.to_string(),
        error,
    })?;
    match (drain(child.stdout.take()), stderr_drain(child.stderr.take())) {
        (Ok(out), Ok(err)) => Ok((child, out, err)),
        (Err(error), _) | (_, Err(error)) => {
            // No thread to drain a pipe (pids limit): the child could block
            // on a full pipe, so it is not left running.
            terminate(&mut child);
            Err(ExecError::Spawn {
                program: program_name.to_string(),
                error,
            })
        }
    }
}

/// Waits for `child` until `deadline`; past it, or when waiting fails, the
/// child's group is killed and reaped.
fn wait_bounded(
    child: &mut Child,
    program: String,
    started: std::time::Instant,
    deadline: Deadline,
) -> Result<ExitStatus, ExecError> {
    match child.wait_timeout(deadline.remaining()) {
        Ok(Some(status)) => Ok(status),
        Ok(None) => {
            terminate(child);
            Err(ExecError::TimedOut {
                program,
                after: started.elapsed(),
            })
        }
        Err(error) => {
            terminate(child);
            Err(ExecError::Wait { program, error })
        }
    }
}

/// The command every runner spawns: argv, no shell, `LC_ALL=C`, stdin
/// /dev/null, both outputs piped, its own process group, as `user`.
/// Nothing is started once the action's time is up: a loop over nodes or
/// attributes ends here instead of spawning tools that are killed at once
/// (or that Pacemaker's own timer would kill with us).
fn command<S: AsRef<OsStr>>(
    program_name: &str,
    program: &OsStr,
    args: &[S],
    user: Option<&SystemUser>,
    deadline: Deadline,
    unset: &[&str],
) -> Result<Command, ExecError> {
    if deadline.remaining().is_zero() {
        return Err(ExecError::TimedOut {
            program: program_name.to_string(),
            after: Duration::ZERO,
        });
    }
    let mut cmd = Command::new(program);
    for name in unset {
        cmd.env_remove(name);
    }
    cmd.args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(user) = user {
        user.apply(&mut cmd);
    }
    die_with_the_agent(&mut cmd);
    Ok(cmd)
}

/// Makes the child get SIGKILL when the agent dies: in a process group of
/// its own it gets no signal meant for the agent's, and a pg_basebackup
/// left running after Pacemaker killed the agent at its timeout went on
/// writing into the staging directory the next start clears (issue 23); a
/// pg_rewind left running would race the next one.
///
/// The kernel sends it when the *thread* that forked exits: every runner
/// here waits for its child on the thread that spawned it, so that thread
/// outlives the child unless the agent dies. Registered after
/// [`SystemUser::apply`]'s hook because a change of credentials clears
/// the setting; and an agent that died before it was set is seen as a
/// parent that is no longer the agent.
fn die_with_the_agent(cmd: &mut Command) {
    let agent = nix::unistd::getpid().as_raw();
    // SAFETY: prctl and getppid are async-signal-safe and take integers.
    unsafe {
        cmd.pre_exec(move || {
            let signal = nix::libc::SIGKILL as nix::libc::c_ulong;
            if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if nix::libc::getppid() != agent {
                return Err(io::Error::other("the agent exited before its child started"));
            }
            Ok(())
        });
    }
}

/// What a watcher of [`run_watched`] wants after a line of output.
#[derive(Debug, PartialEq, Eq)]
pub enum Watch {
    Continue,
    /// Kill the program (its group, as at a timeout); the reason is
    /// returned as [`Watched::Stopped`].
    Stop(String),
}

/// How a watched program ended.
#[derive(Debug)]
pub enum Watched {
    /// It exited by itself.
    Exited(Output),
    /// The watcher stopped it, for this reason.
    Stopped(String),
}

/// Runs `program args...` like [`run`], handing each line of its stderr
/// to `watch` as it comes (for a long copy's progress), so that the caller
/// can report, and stop it early, while it runs. A line ends at `\n` or
/// `\r` (progress meters rewrite their line on a terminal). Stdout is
/// drained and returned as by [`run`]; stderr is returned too.
pub fn run_watched<S: AsRef<OsStr>>(
    program: impl AsRef<OsStr>,
    args: &[S],
    user: Option<&SystemUser>,
    deadline: Deadline,
    mut watch: impl FnMut(&str) -> Watch,
) -> Result<Watched, ExecError> {
    let program_name = program.as_ref().to_string_lossy().into_owned();
    let mut cmd = command(&program_name, program.as_ref(), args, user, deadline, &[])?;
    let started = std::time::Instant::now();
    let (mut child, stdout, lines) = spawn_drained(&mut cmd, &program_name, drain_lines)?;
    let mut stderr = String::new();
    loop {
        match lines.recv_timeout(deadline.remaining()) {
            Ok(line) => {
                stderr.push_str(&line);
                stderr.push('\n');
                if let Watch::Stop(why) = watch(&line) {
                    terminate(&mut child);
                    return Ok(Watched::Stopped(why));
                }
            }
            // stderr closed: the program is exiting (or closed it).
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                terminate(&mut child);
                return Err(ExecError::TimedOut {
                    program: program_name,
                    after: started.elapsed(),
                });
            }
        }
    }
    let status = wait_bounded(&mut child, program_name, started, deadline)?;
    Ok(Watched::Exited(Output {
        status,
        stdout: stdout
            .recv_timeout(deadline.remaining().max(Duration::from_millis(50)))
            .unwrap_or_default(),
        stderr,
    }))
}

/// Reads a pipe on a thread and sends it line by line (`\n` or `\r`
/// ends a line; empty lines are skipped); the channel closes at its end.
fn drain_lines(pipe: Option<impl Read + Send + 'static>) -> io::Result<mpsc::Receiver<String>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::Builder::new()
            .name("drain-lines".into())
            .spawn(move || {
                let mut pending = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    let n = match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    for &b in &buf[..n] {
                        if b == b'\n' || b == b'\r' {
                            if !pending.is_empty() {
                                let line = String::from_utf8_lossy(&pending).into_owned();
                                pending.clear();
                                if tx.send(line).is_err() {
                                    return;
                                }
                            }
                        } else {
                            pending.push(b);
                        }
                    }
                }
                if !pending.is_empty() {
                    let _ = tx.send(String::from_utf8_lossy(&pending).into_owned());
                }
            })?;
    }
    Ok(rx)
}

/// Reads a pipe to its end on a thread; the text arrives on the channel.
/// A thread that cannot be created is an error, not a panic.
fn drain(pipe: Option<impl Read + Send + 'static>) -> io::Result<mpsc::Receiver<String>> {
    let (tx, rx) = mpsc::channel();
    match pipe {
        Some(mut pipe) => {
            std::thread::Builder::new().name("drain".into()).spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
            })?;
        }
        None => {
            let _ = tx.send(String::new());
        }
    }
    Ok(rx)
}

/// SIGTERM to the child's process group, a grace period, SIGKILL, reap
/// within another grace (see the module's doc: a child in an
/// uninterruptible wait outlives SIGKILL).
fn terminate(child: &mut Child) {
    let group = Pid::from_raw(child.id() as i32);
    let _ = killpg(group, Signal::SIGTERM);
    if matches!(child.wait_timeout(KILL_GRACE), Ok(Some(_))) {
        let _ = killpg(group, Signal::SIGKILL);
        return;
    }
    let _ = killpg(group, Signal::SIGKILL);
    if !matches!(child.wait_timeout(KILL_GRACE), Ok(Some(_))) {
        log_warn!(
            "process {} survives SIGKILL (waiting on a file system that does not answer?): left behind",
            child.id()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `script` with /bin/sh as root, within `deadline`.
    fn sh(script: &str, deadline: Deadline) -> Result<Output, ExecError> {
        run("/bin/sh", &["-c", script], None, deadline)
    }

    #[test]
    fn captures_output_and_status() {
        let out = sh(
            "echo out; echo err >&2; exit 3",
            Deadline::after(Duration::from_secs(5)),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.last_message(), "err");
    }

    #[test]
    fn a_child_past_the_deadline_is_killed_with_its_group() {
        let started = std::time::Instant::now();
        let err = sh("sleep 30 & sleep 30", Deadline::after(Duration::from_millis(300))).unwrap_err();
        assert!(matches!(err, ExecError::TimedOut { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_chatty_child_does_not_look_like_a_timeout() {
        let out = sh(
            "head -c 1000000 /dev/zero | tr '\\0' x",
            Deadline::after(Duration::from_secs(10)),
        )
        .unwrap();
        assert_eq!(out.stdout.len(), 1_000_000);
    }

    #[test]
    fn nothing_is_spawned_once_the_deadline_has_passed() {
        let marker = std::env::temp_dir().join(format!("pgha-exec-late-{}", std::process::id()));
        let err = run(
            "/bin/touch",
            &[marker.as_os_str()],
            None,
            Deadline::after(Duration::ZERO),
        )
        .unwrap_err();
        assert!(matches!(err, ExecError::TimedOut { .. }), "{err}");
        assert!(!marker.exists(), "the program ran after the deadline");
    }

    #[test]
    fn a_watcher_sees_each_line_and_can_stop_the_program() {
        let mut seen = Vec::new();
        let done = run_watched(
            "/bin/sh",
            &["-c", "printf 'a\\rb\\n' >&2; echo out; exit 4"],
            None,
            Deadline::after(Duration::from_secs(5)),
            |line| {
                seen.push(line.to_string());
                Watch::Continue
            },
        )
        .unwrap();
        assert_eq!(seen, ["a", "b"]);
        match done {
            Watched::Exited(out) => {
                assert_eq!(out.status.code(), Some(4));
                assert_eq!(out.stdout, "out\n");
            }
            other => panic!("{other:?}"),
        }
        let started = std::time::Instant::now();
        let stopped = run_watched(
            "/bin/sh",
            &["-c", "echo first >&2; sleep 30"],
            None,
            Deadline::after(Duration::from_secs(10)),
            |line| Watch::Stop(format!("saw {line}")),
        )
        .unwrap();
        assert!(
            matches!(stopped, Watched::Stopped(ref why) if why == "saw first"),
            "{stopped:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let cut = run_watched(
            "/bin/sh",
            &["-c", "sleep 30"],
            None,
            Deadline::after(Duration::from_millis(300)),
            |_| Watch::Continue,
        )
        .unwrap_err();
        assert!(matches!(cut, ExecError::TimedOut { .. }), "{cut}");
    }

    #[test]
    fn a_missing_program_is_err_installed() {
        let err = run(
            "/nonexistent/pg_ctl",
            &[] as &[&str],
            None,
            Deadline::after(Duration::from_secs(1)),
        )
        .unwrap_err();
        assert_eq!(OcfError::from(err).code, OcfCode::ErrInstalled);
    }
}
