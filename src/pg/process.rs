//! Finding the processes of one PostgreSQL instance.
//!
//! Every process of an instance (postmaster and all its children) runs the
//! `postgres` executable with its working directory set to the data
//! directory: the postmaster `chdir`s there at start. That pair identifies
//! the instance's processes even after the postmaster died and left orphaned
//! backends, and it never matches an operator's shell that happens to sit in
//! the data directory. `postmaster.pid` alone is not enough: after a crash
//! its pid may have been reused by an unrelated process.

use std::fs;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;

/// The data directory as the kernel reports working directories.
pub fn canonical_datadir(datadir: &Path) -> PathBuf {
    fs::canonicalize(datadir).unwrap_or_else(|_| datadir.to_path_buf())
}

/// True if `pid` is a `postgres` process whose working directory is `datadir`.
pub fn is_instance_process(pid: Pid, canonical_datadir: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let cwd_matches = fs::read_link(proc_dir.join("cwd")).is_ok_and(|cwd| cwd == canonical_datadir);
    cwd_matches && is_postgres_executable(&proc_dir)
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

/// The pid on the first line of a PostgreSQL lock file (`postmaster.pid`,
/// `.s.PGSQL.<port>.lock`), if the file is there.
pub fn recorded_pid(lockfile: &Path) -> Option<Pid> {
    let text = fs::read_to_string(lockfile).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    (pid > 0).then(|| Pid::from_raw(pid))
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

/// Finds the postmaster of the instance in `datadir`.
pub fn postmaster(datadir: &Path, canonical_datadir: &Path) -> Postmaster {
    match recorded_postmaster_pid(datadir) {
        None => Postmaster::NoPidFile,
        Some(pid) if is_instance_process(pid, canonical_datadir) => Postmaster::Running(pid),
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
    fn a_running_process_is_not_stopped() {
        assert!(!is_stopped(Pid::this()));
    }
}
