//! Finding the processes of one PostgreSQL instance.
//!
//! Every process of an instance (postmaster and all its children) runs the
//! `postgres` executable with its working directory set to the data
//! directory: the postmaster `chdir`s there at start. That pair identifies
//! the instance's processes even after the postmaster died and left orphaned
//! backends, and it never matches an operator's shell that happens to sit in
//! the data directory. `postmaster.pid` alone is not enough: after a crash
//! its pid may have been reused by an unrelated process, and it may be gone
//! (deleted by hand) or garbage (a crash while it was written) while the
//! server runs: then the postmaster is found in the process table, as the
//! instance process whose parent is not one and that has children of the
//! instance (every live postmaster has its checkpointer at least; orphaned
//! backends of a killed postmaster have none).
//!
//! A process started by hand in the data directory (`postgres --single`,
//! `--boot`, `--check`) is the instance's too but not a server: start never
//! kills it, it refuses to start beside it.

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::Pid;

use crate::deadline::Deadline;
use crate::log_warn;
use crate::userfs;

/// The data directory as the kernel reports working directories, resolved
/// within `deadline` (see [`userfs::within`]). On a file system that does
/// not answer, its symlinks are resolved as far as the file systems
/// answered ([`resolve_symlinks`]), the rest taken as given: a `pgdata`
/// that is a symlink on a healthy file system to a directory on a hung
/// mount (`/var/lib/pgsql/data -> /srv/pg/data`) is then still the path
/// its processes' `/proc/<pid>/cwd` shows, which the kernel answers without
/// asking the file system. Taken as given, it matched no process: the
/// probe said "not running" and stop "already stopped" beside a running
/// postmaster (the integration test `hung_fs`).
pub fn canonical_datadir_within(datadir: &Path, deadline: Deadline) -> PathBuf {
    let path = datadir.to_path_buf();
    let (progress, guesses) = std::sync::mpsc::channel();
    let resolved = userfs::within(deadline, datadir, move || {
        resolve_symlinks(
            &path,
            |p| fs::read_link(p),
            |guess| {
                let _ = progress.send(guess);
            },
        )
    });
    match resolved {
        Ok(Ok(canonical)) => canonical,
        Ok(Err(_)) => datadir.to_path_buf(),
        Err(e) => {
            let guess = guesses.try_iter().last().unwrap_or_else(|| datadir.to_path_buf());
            log_warn!("{e}: looking for its processes as {}", guess.display());
            guess
        }
    }
}

/// Linux's limit on the symlinks one path lookup follows (`ELOOP` past it).
const MAX_SYMLINKS: usize = 40;

/// `path` (absolute) with every symlink resolved, one component at a time
/// with `read_link` (`EINVAL`: not a symlink), as `realpath(3)` does; an
/// error of `read_link` is the answer. Before each `read_link`, `progress`
/// gets the best guess so far: the components resolved, then the rest as
/// given (`..` taken lexically). A caller that stops waiting for a
/// `read_link` that hangs keeps the last guess. Pure but for `read_link`,
/// for tests.
pub fn resolve_symlinks(
    path: &Path,
    mut read_link: impl FnMut(&Path) -> std::io::Result<PathBuf>,
    mut progress: impl FnMut(PathBuf),
) -> std::io::Result<PathBuf> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::path::Component;
    fn names(path: &Path) -> Vec<OsString> {
        path.components()
            .filter_map(|c| match c {
                Component::Normal(name) => Some(name.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect()
    }
    fn step(path: &mut PathBuf, name: &OsString) {
        if name == ".." {
            path.pop();
        } else {
            path.push(name);
        }
    }
    let mut resolved = PathBuf::from("/");
    let mut pending: VecDeque<OsString> = names(path).into();
    let mut followed = 0;
    while let Some(name) = pending.pop_front() {
        let mut guess = resolved.clone();
        std::iter::once(&name)
            .chain(&pending)
            .for_each(|n| step(&mut guess, n));
        progress(guess);
        if name == ".." {
            resolved.pop();
            continue;
        }
        let next = resolved.join(&name);
        match read_link(&next) {
            Ok(target) => {
                followed += 1;
                if followed > MAX_SYMLINKS {
                    return Err(std::io::Error::from_raw_os_error(nix::libc::ELOOP));
                }
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                for n in names(&target).into_iter().rev() {
                    pending.push_front(n);
                }
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => resolved = next,
            Err(e) => return Err(e),
        }
    }
    Ok(resolved)
}

/// True if `pid` is a `postgres` process whose working directory is `datadir`.
pub fn is_instance_process(pid: Pid, canonical_datadir: &Path) -> bool {
    holds_directory(pid, canonical_datadir) && is_postgres_executable(&PathBuf::from(format!("/proc/{pid}")))
}

/// True while `pid` has `canonical_datadir` as its working directory: a
/// process that exits keeps it until it is a zombie.
pub fn holds_directory(pid: Pid, canonical_datadir: &Path) -> bool {
    fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == canonical_datadir)
}

fn is_postgres_executable(proc_dir: &Path) -> bool {
    match fs::read_link(proc_dir.join("exe")) {
        Ok(exe) => exe
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "postgres" || n == "postmaster" || n.starts_with("postgres ")),
        Err(_) => false,
    }
}

/// Every live process of the instance whose data directory is `datadir`.
pub fn instance_processes(canonical_datadir: &Path) -> Vec<Pid> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .filter(|pid| is_instance_process(*pid, canonical_datadir))
        .collect()
}

/// The arguments of a process, as `/proc/<pid>/cmdline` has them now.
pub fn command_line(pid: Pid) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The modes of the postgres executable that work on a data directory
/// without being a server: an operator's maintenance, never a leftover.
const NOT_A_SERVER: &[&str] = &["--single", "--boot", "--check", "--describe-config", "-C"];

/// True for `postgres --single` and the like (see [`NOT_A_SERVER`]).
pub fn is_manual_session(pid: Pid) -> bool {
    command_line(pid)
        .get(1)
        .is_some_and(|arg| NOT_A_SERVER.contains(&arg.as_str()))
}

/// The parent pid, from `/proc/<pid>/stat`.
fn parent(pid: Pid) -> Option<Pid> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
    ppid.parse().ok().map(Pid::from_raw)
}

/// The postmaster among `processes` (with their parents), found without
/// `postmaster.pid`: the one process whose parent is not one of them and
/// that is the parent of at least one of them. Pure, for tests.
pub fn postmaster_in_tree(processes: &[(Pid, Option<Pid>)]) -> Option<Pid> {
    let is_member = |p: Option<Pid>| p.is_some_and(|p| processes.iter().any(|(q, _)| *q == p));
    let mut roots = processes
        .iter()
        .filter(|(_, parent)| !is_member(*parent))
        .map(|(pid, _)| *pid)
        .filter(|root| processes.iter().any(|(_, parent)| *parent == Some(*root)));
    let first = roots.next()?;
    roots.next().is_none().then_some(first)
}

/// The postmaster of the instance from the process table alone.
fn postmaster_from_processes(canonical_datadir: &Path) -> Option<Pid> {
    let processes: Vec<(Pid, Option<Pid>)> = instance_processes(canonical_datadir)
        .into_iter()
        .filter(|pid| !is_manual_session(*pid))
        .map(|pid| (pid, parent(pid)))
        .collect();
    postmaster_in_tree(&processes)
}

/// The pid on the first line of a PostgreSQL lock file (`postmaster.pid`,
/// `.s.PGSQL.<port>.lock`), if the file is there and says one.
///
/// Root reads it, so only a regular file is read (`O_NOFOLLOW`: a symlink
/// the system user planted is not followed; `O_NONBLOCK`: a FIFO cannot
/// hang the monitor), and only its first kilobytes.
pub fn recorded_pid(lockfile: &Path) -> Option<Pid> {
    lock_file_pid(&read_lock_file(lockfile)?)
}

/// The pid a lock file's text names on its first line: None for an empty
/// or garbage file, and for the negative pid of a single-user backend.
pub fn lock_file_pid(text: &str) -> Option<Pid> {
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    (pid > 0).then(|| Pid::from_raw(pid))
}

fn read_lock_file(path: &Path) -> Option<String> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(4096).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The pid recorded in `<datadir>/postmaster.pid`, if the file is there.
pub fn recorded_postmaster_pid(datadir: &Path) -> Option<Pid> {
    recorded_pid(&datadir.join("postmaster.pid"))
}

/// What `postmaster.pid` says, checked against the process table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Postmaster {
    /// The recorded postmaster runs.
    Running(Pid),
    /// No pid file: the server was shut down cleanly, or never started.
    NoPidFile,
    /// A pid file whose process is gone or is not this instance's postmaster
    /// (crash, kill -9, or a recycled pid).
    Stale(Pid),
}

/// Finds the postmaster of the instance in `datadir`: the one
/// `postmaster.pid` names when it runs, else one found in the process table
/// (a pid file deleted or garbled under a running server must not make a
/// probe say "stopped", nor stop skip the fast shutdown).
pub fn postmaster(datadir: &Path, canonical_datadir: &Path) -> Postmaster {
    postmaster_recorded(recorded_postmaster_pid(datadir), canonical_datadir)
}

/// [`postmaster`] with `postmaster.pid` read within `deadline` (see
/// [`userfs::within`]): a pid file on a file system that does not answer
/// counts as none, and the postmaster is looked for in the process table,
/// which the kernel answers by itself.
pub fn postmaster_within(datadir: &Path, canonical_datadir: &Path, deadline: Deadline) -> Postmaster {
    let path = datadir.join("postmaster.pid");
    let read = path.clone();
    let recorded = match userfs::within(deadline, &path, move || Ok(recorded_pid(&read))) {
        Ok(Ok(recorded)) => recorded,
        Ok(Err(_)) => None,
        Err(e) => {
            log_warn!("{e}: looking for the postmaster in the process table");
            None
        }
    };
    postmaster_recorded(recorded, canonical_datadir)
}

/// [`postmaster`] given what `postmaster.pid` says.
fn postmaster_recorded(recorded: Option<Pid>, canonical_datadir: &Path) -> Postmaster {
    if let Some(pid) = recorded.filter(|&pid| is_instance_process(pid, canonical_datadir)) {
        return Postmaster::Running(pid);
    }
    if let Some(pid) = postmaster_from_processes(canonical_datadir) {
        return Postmaster::Running(pid);
    }
    match recorded {
        None => Postmaster::NoPidFile,
        Some(pid) => Postmaster::Stale(pid),
    }
}

/// The one-letter state of a process in `/proc/<pid>/stat` (R, S, D, T, Z...).
fn state_letter(pid: Pid) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses and may
    // itself contain spaces or parentheses.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(str::to_string)
}

/// True if the process is stopped (SIGSTOP, state `T`): it will handle no
/// signal but SIGKILL until someone continues it.
pub fn is_stopped(pid: Pid) -> bool {
    state_letter(pid).is_some_and(|s| s == "T")
}

/// True if the process has exited but was not reaped yet (state `Z`).
pub fn is_zombie(pid: Pid) -> bool {
    state_letter(pid).is_some_and(|s| s == "Z")
}

/// Whether a process with working directory `cwd` and arguments `args`
/// works on `dir` (any of its spellings): its working directory is `dir`
/// or below it, or an argument names it, alone or as an option's value
/// (`-D <dir>`, `-D<dir>`, `--pgdata=<dir>`). Pure, for tests.
pub fn works_on(cwd: Option<&Path>, args: &[String], dir: &[PathBuf]) -> bool {
    let within = |p: &Path| dir.iter().any(|d| p == d || p.starts_with(d));
    let named = |arg: &str| {
        let values = [
            Some(arg),
            arg.strip_prefix("-D"),
            arg.split_once('=').map(|(_, v)| v),
        ];
        values
            .into_iter()
            .flatten()
            .any(|v| !v.is_empty() && within(Path::new(v)))
    };
    cwd.is_some_and(within) || args.iter().any(|a| named(a))
}

/// The live processes of `uid` that work on `dir` ([`works_on`]), `dir`
/// given in every spelling it may have (as configured, canonical): what an
/// earlier copy into `dir` may have left running (a pg_basebackup of an
/// agent that was killed, or of an older agent whose children outlived
/// it). Read from `/proc` as root: the kernel's table, not a path the
/// system user controls; zombies are already ended.
pub fn processes_working_on(dir: &[PathBuf], uid: u32) -> Vec<Pid> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .filter(|pid| *pid != Pid::this())
        .filter(|pid| fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == uid))
        .filter(|pid| {
            let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok();
            works_on(cwd.as_deref(), &command_line(*pid), dir)
        })
        .filter(|pid| !is_zombie(*pid))
        .collect()
}

/// How long processes ended by [`end_processes`] get between SIGTERM and
/// SIGKILL.
const END_GRACE: Duration = Duration::from_secs(5);

/// Ends `pids`: SIGTERM, up to [`END_GRACE`] for them to exit, SIGKILL,
/// then waits until they are gone, all within `deadline`. The processes
/// still alive at the deadline are returned.
pub fn end_processes(pids: &[Pid], deadline: Deadline) -> Vec<Pid> {
    use nix::sys::signal::{Signal, kill};
    let alive = |pid: &Pid| kill(*pid, None).is_ok() && !is_zombie(*pid);
    for pid in pids {
        let _ = kill(*pid, Signal::SIGTERM);
    }
    let grace = deadline.within(END_GRACE);
    while pids.iter().any(alive) && grace.sleep(Duration::from_millis(100)) {}
    for pid in pids.iter().filter(|p| alive(p)) {
        let _ = kill(*pid, Signal::SIGKILL);
    }
    while pids.iter().any(alive) && deadline.sleep(Duration::from_millis(50)) {}
    pids.iter().copied().filter(alive).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_process_is_not_an_instance_process() {
        let here = std::env::current_dir().unwrap();
        assert!(!is_instance_process(Pid::this(), &here));
        assert!(instance_processes(&here).is_empty());
    }

    #[test]
    fn a_process_works_on_a_directory_by_its_cwd_or_an_argument_naming_it() {
        let dir = [PathBuf::from("/srv/pg/main.pgha-build")];
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let none: &[&str] = &[];
        // (cwd, args, works on it)
        let table: &[(Option<&str>, &[&str], bool)] = &[
            (Some("/srv/pg/main.pgha-build"), none, true),
            (Some("/srv/pg/main.pgha-build/base/1"), none, true),
            (
                Some("/"),
                &["pg_basebackup", "-D", "/srv/pg/main.pgha-build", "-X", "stream"],
                true,
            ),
            (Some("/"), &["pg_basebackup", "-D/srv/pg/main.pgha-build"], true),
            (None, &["pg_basebackup", "--pgdata=/srv/pg/main.pgha-build"], true),
            // The data directory itself, a sibling whose name extends it.
            (Some("/srv/pg/main"), &["postgres", "-D", "/srv/pg/main"], false),
            (Some("/"), &["x", "/srv/pg/main.pgha-build2"], false),
            (None, &["x", "-D"], false),
        ];
        for (cwd, a, expected) in table {
            assert_eq!(
                works_on(cwd.map(Path::new), &args(a), &dir),
                *expected,
                "{cwd:?} {a:?}"
            );
        }
    }

    #[test]
    fn the_postmaster_is_the_one_root_with_children() {
        let p = Pid::from_raw;
        // postmaster 10 (parent 1) with checkpointer 11 and a backend 12.
        let live = [(p(10), Some(p(1))), (p(11), Some(p(10))), (p(12), Some(p(10)))];
        assert_eq!(postmaster_in_tree(&live), Some(p(10)));
        // A killed postmaster's orphans, re-parented to init: no postmaster.
        let orphans = [(p(11), Some(p(1))), (p(12), Some(p(1)))];
        assert_eq!(postmaster_in_tree(&orphans), None);
        // One lone orphan is not a postmaster either.
        assert_eq!(postmaster_in_tree(&[(p(12), Some(p(1)))]), None);
        // Orphans beside a new postmaster do not hide it.
        let mixed = [(p(10), Some(p(1))), (p(11), Some(p(10))), (p(30), Some(p(1)))];
        assert_eq!(postmaster_in_tree(&mixed), Some(p(10)));
        assert_eq!(postmaster_in_tree(&[]), None);
    }

    #[test]
    fn a_fifo_lock_file_is_not_read() {
        let dir = std::env::temp_dir().join(format!("pgha-fifo-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("postmaster.pid");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(recorded_pid(&fifo), None, "returns at once, reads nothing");
        let _ = fs::remove_dir_all(&dir);
    }

    /// A symlink is followed, relative or absolute, `..` from where it
    /// led; when a lookup hangs, the last guess is the resolved part and
    /// the rest as given (the hung mount's path, which `/proc/<pid>/cwd`
    /// shows of the processes in it).
    #[test]
    fn symlinks_are_resolved_as_far_as_the_file_systems_answer() {
        use std::collections::BTreeMap;
        use std::io;
        let links = BTreeMap::from([
            ("/var/lib/pgsql", "/srv/pg"),
            ("/srv/pg/current", "15/main"),
            ("/srv/pg/15/up", "../.."),
        ]);
        let hung = "/srv/pg/15/main/data";
        let resolve = |path: &str| {
            let mut guesses = Vec::new();
            let read_link = |p: &Path| match p.to_str().unwrap() {
                p if p == hung => Err(io::Error::from(io::ErrorKind::TimedOut)),
                p => links
                    .get(p)
                    .map(PathBuf::from)
                    .ok_or_else(|| io::Error::from_raw_os_error(nix::libc::EINVAL)),
            };
            let result = resolve_symlinks(Path::new(path), read_link, |g| guesses.push(g));
            (result.map_err(|e| e.kind()), guesses.pop())
        };
        let resolved = |path: &str| resolve(path).0.unwrap();
        assert_eq!(
            resolved("/var/lib/pgsql/current"),
            PathBuf::from("/srv/pg/15/main")
        );
        assert_eq!(resolved("/var/lib/pgsql/15/up/x"), PathBuf::from("/srv/x"));
        assert_eq!(resolved("/a/./b/../c"), PathBuf::from("/a/c"));
        let (hangs, last_guess) = resolve("/var/lib/pgsql/current/data/base");
        assert_eq!(hangs, Err(io::ErrorKind::TimedOut));
        assert_eq!(last_guess, Some(PathBuf::from("/srv/pg/15/main/data/base")));
        let mut loops = |p: &Path| Ok(p.to_path_buf());
        assert!(resolve_symlinks(Path::new("/l"), &mut loops, |_| {}).is_err());
    }

    #[test]
    fn a_running_process_is_not_stopped() {
        assert!(!is_stopped(Pid::this()));
    }
}
