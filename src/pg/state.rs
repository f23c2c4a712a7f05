//! What state an instance is in, from the process table, the health probe
//! and pg_control, each confirming the other.
//!
//! - a postmaster of this instance runs (postmaster.pid names a live
//!   `postgres` whose working directory is the data directory):
//!   - the probe answers -> [`InstanceState::Running`] with its role;
//!   - it does not answer in time, or answers an error -> `Unresponsive`;
//!   - it is gone by the time the probe failed (killed a moment ago) -> as
//!     below, from pg_control;
//! - no postmaster runs: pg_control says how it was left:
//!   - `shut down` / `shut down in recovery`, or a `backup_label` (a base
//!     backup never started) -> `Stopped`;
//!   - any other state (`in production`, `in archive recovery`, `in crash
//!     recovery`...) -> `Crashed`: it went down without a shutdown checkpoint.

use std::time::Duration;

use postgres::error::SqlState;

use crate::deadline::Deadline;
use crate::log_warn;
use crate::ocf::code::OcfResult;
use crate::pg::controldata::{self, ClusterState};
use crate::pg::instance::Instance;
use crate::pg::layout;
use crate::pg::probe::{self, Health};
use crate::pg::process::{self, Postmaster};
use crate::pg::replication::{Replication, StandbyStatus};
use crate::pg::session::SqlError;
use crate::pg::waldump::{self, WalEnd};
use crate::vocab::Lsn;

/// How long transient answers (starting up, shutting down, socket not yet
/// there) are retried within one probe budget before they count.
const TRANSIENT_RETRY: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub enum InstanceState {
    /// Cleanly shut down, or never started.
    Stopped,
    /// Running and answering the probe.
    Running { pid: nix::unistd::Pid, health: Health },
    /// The postmaster runs but the probe failed; `frozen` when the postmaster
    /// itself is in the stopped (SIGSTOP) state.
    Unresponsive {
        pid: nix::unistd::Pid,
        frozen: bool,
        error: SqlError,
    },
    /// No postmaster, but pg_control was not left by a clean shutdown.
    Crashed { state: ClusterState },
}

/// Inspects the instance; `with_replication` also reads the replication
/// state of a running one. Errors only when pg_control cannot be read.
pub fn inspect(inst: &Instance, deadline: Deadline, with_replication: bool) -> OcfResult<InstanceState> {
    // postmaster.pid lies in the data directory: read within a share of
    // the time, on a file system that may not answer.
    match process::postmaster_within(&inst.datadir, &inst.canonical_datadir, deadline.fraction(0.2)) {
        Postmaster::Running(pid) => match probe_running(inst, pid, deadline, with_replication) {
            Some(state) => Ok(state),
            // It died while it was probed (a kill -9 a moment ago): what it
            // left is read like any postmaster that is gone.
            None => left_behind(inst, deadline),
        },
        Postmaster::NoPidFile | Postmaster::Stale(_) => left_behind(inst, deadline),
    }
}

/// The state of an instance whose postmaster is not running, from pg_control.
fn left_behind(inst: &Instance, deadline: Deadline) -> OcfResult<InstanceState> {
    let control = controldata::read(&inst.bindir, &inst.datadir, &inst.user, deadline)?;
    // A base backup not started yet carries its source's pg_control ("in
    // production") and a backup_label: never started, not crashed.
    let fresh_backup = layout::has_backup_label(&inst.datadir, &inst.user, deadline)?;
    Ok(if control.state.is_clean_shutdown() || fresh_backup {
        InstanceState::Stopped
    } else {
        InstanceState::Crashed { state: control.state }
    })
}

/// Probes a running postmaster; transient answers are retried while the
/// probe's own budget lasts. None when the postmaster is gone by the time
/// the probe failed: a dying process closes its sockets (no server
/// listening) before the kernel drops its working directory, so the
/// process table still showed it a moment ago, and "runs but the health
/// probe failed" would name a server that crashed.
fn probe_running(
    inst: &Instance,
    pid: nix::unistd::Pid,
    deadline: Deadline,
    with_replication: bool,
) -> Option<InstanceState> {
    let budget = deadline.within(inst.probe_timeout);
    loop {
        match probe::probe(inst, budget, with_replication) {
            Ok(mut health) => {
                if let Some(Replication::Standby(status)) = health.replication.as_mut() {
                    add_wal_end(status, |status| read_wal_end(inst, status, budget));
                }
                return Some(InstanceState::Running { pid, health });
            }
            Err(_) if !process::is_instance_process(pid, &inst.canonical_datadir) => return None,
            Err(error) => {
                if is_transient(&error)
                    && budget.remaining() > TRANSIENT_RETRY
                    && budget.sleep(TRANSIENT_RETRY)
                {
                    continue;
                }
                let frozen = process::is_stopped(pid);
                return Some(InstanceState::Unresponsive { pid, frozen, error });
            }
        }
    }
}

/// Sets `status.wal_end` with `read` when the status needs it
/// ([`StandbyStatus::needs_wal_end`]): never on the streaming path.
fn add_wal_end(status: &mut StandbyStatus, read: impl FnOnce(&StandbyStatus) -> Option<Lsn>) {
    if status.needs_wal_end() {
        status.wal_end = read(status);
    }
}

/// The end of the WAL on disk from the replay position on, or None (logged)
/// when it cannot be read or understood: the replay position then stands,
/// and the monitor goes on. Bounded by the probe's own budget.
fn read_wal_end(inst: &Instance, status: &StandbyStatus, budget: Deadline) -> Option<Lsn> {
    let (Some(start), Some(segment_size)) = (status.replay, status.wal_segment_size) else {
        return None;
    };
    let found = waldump::end_of_wal(
        &inst.bindir,
        &inst.datadir,
        &inst.user,
        status.timeline,
        start,
        segment_size,
        budget,
    );
    match found {
        Ok(Some(WalEnd::At(end))) => Some(end),
        Ok(None) => None,
        Ok(Some(WalEnd::NotUnderstood(line))) => {
            log_warn!(
                "cannot tell the end of the WAL on disk (pg_waldump said '{}'): the position is the replay position {}",
                line,
                start
            );
            None
        }
        Err(e) => {
            log_warn!(
                "cannot tell the end of the WAL on disk ({}): the position is the replay position {}",
                e,
                start
            );
            None
        }
    }
}

/// Answers that a starting or stopping server gives for a moment.
pub fn is_transient(error: &SqlError) -> bool {
    match error {
        SqlError::NoServer(_) => true,
        SqlError::Db { code, .. } => *code == SqlState::CANNOT_CONNECT_NOW,
        _ => false,
    }
}

/// SQLSTATEs that mean the agent's connection settings are wrong on this
/// host (authentication, missing database), not that the server is ill, and
/// a password asked for that the agent does not have. The server gives them
/// only once it accepts connections: a server still starting up says so
/// (57P03) before it reads pg_hba.conf, so one of these proves that the
/// postmaster runs and forks backends that read their configuration.
pub fn is_connection_misconfigured(error: &SqlError) -> bool {
    match error {
        SqlError::Db { code, .. } => code.code().starts_with("28") || *code == SqlState::INVALID_CATALOG_NAME,
        SqlError::PasswordRequested => true,
        _ => false,
    }
}

/// The short name of a refusal of [`is_connection_misconfigured`], for an
/// exit reason (the server's message goes to the log): its SQLSTATE, or
/// that a password was asked for.
pub fn refusal(error: &SqlError) -> String {
    match error {
        SqlError::Db { code, .. } => format!("SQLSTATE {}", code.code()),
        SqlError::PasswordRequested => "password required".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::ReceiverStatus;

    fn status(receiver: Option<&str>, receive: Option<u64>) -> StandbyStatus {
        StandbyStatus {
            timeline: 1,
            receive: receive.map(Lsn),
            replay: Some(Lsn(0x100)),
            receiver: receiver.map(ReceiverStatus::parse),
            primary_end: None,
            slots: Vec::new(),
            wal_segment_size: Some(16 << 20),
            wal_end: None,
        }
    }

    #[test]
    fn a_streaming_standby_never_reads_its_wal_from_disk() {
        // (receiver, received, reads the disk)
        let table = [
            (Some("streaming"), Some(0x200), false),
            // The receiver stopped after it ran: the received position stays.
            (None, Some(0x200), false),
            (Some("waiting"), Some(0x200), false),
            // Restarted, no receiver yet: the disk tells how far it goes.
            (None, None, true),
            (Some("starting"), None, true),
        ];
        for (receiver, receive, reads) in table {
            let mut s = status(receiver, receive);
            let mut calls = 0;
            add_wal_end(&mut s, |_| {
                calls += 1;
                Some(Lsn(0x900))
            });
            assert_eq!(calls, usize::from(reads), "{receiver:?} {receive:?}");
            assert_eq!(s.wal_end, reads.then_some(Lsn(0x900)), "{receiver:?} {receive:?}");
        }
    }
}
