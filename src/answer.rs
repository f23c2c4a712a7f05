//! The answer of an action reaches Pacemaker even when the process that
//! worked it out cannot end.
//!
//! A thread blocked in the kernel on a file system that stopped answering
//! (a dead disk behind a multipath device that queues, a FUSE daemon that
//! took the request and hangs) waits uninterruptibly: not even SIGKILL ends
//! it, and the kernel reaps a process only once every thread of it has
//! ended. [`crate::userfs`] abandons such a thread and the action answers
//! in time, but its exit status would not reach Pacemaker, which waits for
//! the process to exit, times the action out without a reason and, over a
//! stop, fences the node. The integration test `hung_fs` found it: a
//! monitor that had its answer after 6 s exited 16 minutes later, when the
//! file system came back.
//!
//! So [`from_child`] runs the action in a child process. The child's last
//! act is [`give`]: its standard output and error go to /dev/null (a thread
//! that never ends must not keep Pacemaker's pipes open), then one byte,
//! the exit code, goes through a pipe to the parent. The parent, the
//! process Pacemaker runs and waits for, exits with that code at once,
//! whatever the child's threads do. A child that answers nothing by
//! [`Deadline::for_answer`] (its main thread blocked where nothing bounds
//! it) is killed, and the parent answers OCF_ERR_GENERIC with a reason:
//! what Pacemaker's own timeout would mean, a moment earlier and said. The
//! child dies with the parent (`PR_SET_PDEATHSIG`), as a thread of it
//! would, and logs under the parent's pid, the one Pacemaker knows.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, pipe2};

use crate::deadline::Deadline;
use crate::log_warn;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};

/// The write end of the answer pipe, in the child between [`from_child`]
/// and [`give`]; -1 everywhere else.
static ANSWER: AtomicI32 = AtomicI32::new(-1);

/// Runs `action` in a child process and returns its code, in both
/// processes: the child after giving it ([`give`]), the parent once it has
/// it. The parent's error is the child's silence by `answer_by` (or its
/// death without an answer), with the reason. Where no child can be made
/// (no pipe, no fork, threads already running), `action` runs here.
pub fn from_child(answer_by: Deadline, action: impl FnOnce() -> OcfCode) -> OcfResult {
    // fork() copies only the calling thread: with another one running, a
    // lock it held would stay locked forever in the child.
    let threads = std::fs::read_dir("/proc/self/task").map_or(0, |tasks| tasks.count());
    if threads != 1 {
        log_warn!("{threads} threads before the action: it runs in this process");
        return Ok(action());
    }
    let (read, write) = match pipe2(OFlag::O_CLOEXEC) {
        Ok(pipe) => pipe,
        Err(e) => {
            log_warn!("no pipe for the action's answer ({e}): it runs in this process");
            return Ok(action());
        }
    };
    // SAFETY: this process has one thread (checked above), so the child is
    // a whole copy of it and may do anything the parent could.
    match unsafe { fork() } {
        Err(e) => {
            log_warn!("cannot fork the action ({e}): it runs in this process");
            Ok(action())
        }
        Ok(ForkResult::Child) => {
            drop(read);
            // Dies with the parent, as a thread would; a parent already gone
            // (Pacemaker killed it in between) leaves this run an agent alone,
            // as before the split.
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            ANSWER.store(write.into_raw_fd(), Ordering::SeqCst);
            let code = action();
            give(code);
            Ok(code)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(write);
            wait_for_answer(read, child, answer_by)
        }
    }
}

/// Gives `code` to the parent, once: the child's last act, after its exit
/// reason is written (the panic hook gives OCF_ERR_GENERIC this way). A
/// no-op outside the child of [`from_child`].
pub fn give(code: OcfCode) {
    let fd = ANSWER.swap(-1, Ordering::SeqCst);
    if fd < 0 {
        return;
    }
    let _ = std::io::stdout().flush();
    if let Ok(null) = OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    // SAFETY: `fd` is the pipe's write end that from_child stored, taken out
    // of ANSWER by the swap above: nothing else owns or closes it.
    let pipe = unsafe { OwnedFd::from_raw_fd(fd) };
    let _ = nix::unistd::write(&pipe, &[code.as_i32() as u8]);
}

/// Waits for the child's one byte until `answer_by`. A reading thread and a
/// channel bound the wait; past it, the thread is left with the process.
fn wait_for_answer(read: OwnedFd, child: Pid, answer_by: Deadline) -> OcfResult {
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::Builder::new().spawn(move || {
        let mut byte = [0u8; 1];
        let got = loop {
            match nix::unistd::read(&read, &mut byte) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other,
            }
        };
        let _ = tx.send(got.map(|n| (n == 1).then_some(byte[0])));
    });
    if let Err(e) = reader {
        let _ = kill(child, Signal::SIGKILL);
        return Err(OcfError::generic("cannot wait for the action's answer").with_source(e));
    }
    match rx.recv_timeout(answer_by.remaining()) {
        Ok(Ok(Some(byte))) => OcfCode::from_status(i32::from(byte))
            .ok_or_else(|| OcfError::generic(format!("the action answered {byte}, not an OCF exit code"))),
        // End of file: the child ended without giving an answer.
        Ok(Ok(None)) => ended_without_answer(child, answer_by),
        Ok(Err(e)) => {
            let _ = kill(child, Signal::SIGKILL);
            Err(OcfError::generic(format!("cannot read the action's answer: {e}")))
        }
        Err(_) => {
            let _ = kill(child, Signal::SIGKILL);
            Err(OcfError::generic(format!(
                "no answer within {:.1}s (a file system that does not answer?): \
                 the action's process {child} was killed",
                started.elapsed().as_secs_f64()
            )))
        }
    }
}

/// The answer of a child that closed the pipe without giving one: its exit
/// status if it is an OCF code, else an error saying how it ended.
fn ended_without_answer(child: Pid, answer_by: Deadline) -> OcfResult {
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, status)) => {
                return OcfCode::from_status(status).ok_or_else(|| {
                    OcfError::generic(format!("the action's process exited with status {status}"))
                });
            }
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                return Err(OcfError::generic(format!(
                    "the action's process was killed by {signal}"
                )));
            }
            Ok(_) if answer_by.sleep(std::time::Duration::from_millis(10)) => {}
            Ok(_) => {
                return Err(OcfError::generic(
                    "the action's process closed its answer pipe without ending",
                ));
            }
            Err(e) => {
                return Err(OcfError::generic(format!(
                    "waiting for the action's process: {e}"
                )));
            }
        }
    }
}
