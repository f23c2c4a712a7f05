//! What the monitor answers, as a pure rule over what it found.
//!
//! `actions::monitor` inspects the instance, does the role's upkeep
//! (attributes, scores, synchronous_standby_names, slots), reads the few
//! memory entries the answer depends on (how long the WAL receiver has been
//! down, whether a stop of ours killed the server), and hands the result
//! here as a [`Found`]; [`answer`] maps it to the OCF code and reason, and
//! [`with_host_problem`] turns a healthy answer into a degraded one when a
//! host check fails while PostgreSQL runs. What comes before the
//! inspection has its rules too: invalid parameters
//! ([`with_invalid_config`]), a failed host check
//! ([`when_host_check_fails`]), an inspection that fails
//! ([`when_inspection_fails`]).

use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::pg::controldata::ClusterState;
use crate::pg::replication::StandbyStatus;
use crate::pg::session::SqlError;
use crate::pg::state;

/// How long a standby may go without streaming before it says so: the WAL
/// receiver retries every few seconds and a failover moves the VIP, so a
/// short gap is normal and must not fill crm_mon's failed actions.
pub const NOT_STREAMING_GRACE_S: u64 = 30;

/// What the monitor found, with what the memory adds to it.
#[derive(Debug)]
pub enum Found {
    /// Running and answering: a primitive (whatever the role), or a clone
    /// instance whose role the probe did not tell.
    Running,
    /// A clone's primary: `other_primary` is another node whose role
    /// attribute says primary too (split brain); `slots` is the slot upkeep's
    /// result (a collision with a standby's slot fails it).
    Primary {
        other_primary: Option<String>,
        /// Two members map to one slot: the reason naming both.
        slot_collision: Option<String>,
        /// Sync modes: why commits are at risk (no standby streams).
        sync_risk: Option<String>,
    },
    /// A clone's standby; `not_streaming_for`: the age of the memory's
    /// `receiver.down` flag (None while it streams); `cannot_follow`: why
    /// its log says it can never follow the primary as it is
    /// ([`crate::pg::follow`]); `rebuild`: the parameter.
    Standby {
        status: StandbyStatus,
        not_streaming_for: Option<u64>,
        cannot_follow: Option<String>,
        rebuild: bool,
        /// A primary demote made a standby where it stood, that has not
        /// streamed since (the memory's `demoted.primary`).
        demoted: bool,
    },
    /// pg_control: shut down.
    Stopped,
    /// The postmaster runs but the probe failed. When the server refused
    /// the probe's connection ([`state::is_connection_misconfigured`]),
    /// `control` is what pg_control says (None: not read, or unreadable)
    /// and `promotable` whether the instance is a clone's.
    Unresponsive {
        pid: nix::unistd::Pid,
        frozen: bool,
        error: SqlError,
        control: Option<ClusterState>,
        promotable: bool,
    },
    /// No postmaster, pg_control not shut down; `forced_by_us`: the agent's
    /// own forced stop killed it and nothing ran it since (the memory's
    /// `stop.forced` matches pg_control's time); `quiet_probe`: a monitor
    /// with interval 0 (a node that joins, a cleanup) that found no process
    /// of the instance at all (no orphaned backend either).
    Crashed {
        state: ClusterState,
        forced_by_us: bool,
        promotable: bool,
        quiet_probe: bool,
    },
}

/// The monitor's answer.
pub fn answer(found: Found) -> OcfResult {
    match found {
        Found::Running => Ok(OcfCode::Success),
        Found::Primary {
            other_primary,
            slot_collision,
            sync_risk,
        } => split_brain(other_primary)
            .and_then(|code| match slot_collision {
                None => Ok(code),
                Some(reason) => Err(OcfError::new(OcfCode::DegradedPromoted, reason)),
            })
            .and_then(|code| match sync_risk {
                None => Ok(code),
                Some(risk) => Err(OcfError::new(OcfCode::DegradedPromoted, risk)),
            }),
        Found::Standby {
            status,
            not_streaming_for,
            cannot_follow,
            rebuild,
            demoted,
        } => standby(&status, not_streaming_for, cannot_follow, rebuild, demoted),
        Found::Stopped => Ok(OcfCode::NotRunning),
        Found::Unresponsive {
            pid,
            frozen,
            error,
            control,
            promotable,
        } => Err(unresponsive(pid, frozen, error, control.as_ref(), promotable)),
        // Stopped on Pacemaker's order, or found by a probe with no process
        // of the instance left: nothing of it runs, which is what a probe
        // asks (orphaned backends still need the stop), and Pacemaker then
        // simply starts it (start clears what the crash left, and a standby
        // start replays the WAL). After a whole cluster lost power, an error
        // here left a failed action on every node and cost a stop and a
        // start each (issue 12). A recurring monitor still says crashed: the
        // instance Pacemaker ran there failed.
        Found::Crashed {
            forced_by_us: true, ..
        }
        | Found::Crashed {
            quiet_probe: true, ..
        } => Ok(OcfCode::NotRunning),
        Found::Crashed {
            state: ClusterState::InProduction,
            promotable: true,
            ..
        } => Err(OcfError::new(
            OcfCode::FailedPromoted,
            format!(
                "the primary crashed: no postmaster, pg_control says '{}'",
                ClusterState::InProduction.as_str()
            ),
        )),
        Found::Crashed { state, .. } => Err(crashed(&state)),
    }
}

/// A healthy answer, turned into the degraded one that names a problem the
/// next start will trip over (a probe never says "stopped" while PostgreSQL
/// runs, nor "failed" over a check only a start needs).
pub fn with_host_problem(code: OcfResult, problem: Option<&OcfError>) -> OcfResult {
    let Some(problem) = problem else { return code };
    let degraded = match code {
        Ok(OcfCode::Success) => OcfCode::Degraded,
        Ok(OcfCode::RunningPromoted) => OcfCode::DegradedPromoted,
        other => return other,
    };
    Err(OcfError::new(
        degraded,
        format!("running, but a start here would fail: {}", problem.reason),
    ))
}

/// Before the instance is inspected: the parameters do not parse. While a
/// process of the instance runs, the error itself (Pacemaker stops it, and
/// stop needs only pgdata); when none does, NOT_RUNNING, so that after that
/// stop the resource is seen stopped instead of failed everywhere.
pub fn with_invalid_config(error: OcfError, processes_run: bool) -> OcfResult {
    if processes_run {
        Err(error)
    } else {
        Ok(OcfCode::NotRunning)
    }
}

/// What the monitor does when a host check fails (no user, no data
/// directory, no binaries here...).
#[derive(Debug)]
pub enum HostCheckFailed {
    /// A postmaster of this instance runs: monitor it from what the process
    /// table tells, and degrade a healthy answer with `problem`
    /// ([`with_host_problem`]): a probe never says "stopped" while
    /// PostgreSQL runs, nor "failed" over a check only a start needs.
    MonitorRunning {
        pid: nix::unistd::Pid,
        problem: OcfError,
    },
    /// A probe, and nothing of the instance runs: NOT_RUNNING. PostgreSQL
    /// cannot run where it is not installed, and a probe must not fail
    /// because of how we monitor.
    NotRunningHere { problem: OcfError },
    /// The answer is this error: orphaned processes (ERR_GENERIC, so that
    /// Pacemaker's stop kills them), or a recurring monitor whose instance
    /// vanished (the check says how).
    Fail(OcfError),
}

/// The rule for a failed host check, from the process table: `postmaster`
/// runs, or `orphans` (processes of the instance without a postmaster) do;
/// `probe`: a monitor with interval 0.
pub fn when_host_check_fails(
    problem: OcfError,
    postmaster: Option<nix::unistd::Pid>,
    orphans: bool,
    probe: bool,
) -> HostCheckFailed {
    match postmaster {
        Some(pid) => HostCheckFailed::MonitorRunning { pid, problem },
        None if orphans => HostCheckFailed::Fail(OcfError::generic(format!(
            "processes of the instance run without a postmaster, and {}",
            problem.reason
        ))),
        None if probe => HostCheckFailed::NotRunningHere { problem },
        None => HostCheckFailed::Fail(problem),
    }
}

/// The instance could not be inspected (no postmaster, pg_control
/// unreadable): a probe says not running, a recurring monitor fails.
pub fn when_inspection_fails(error: OcfError, probe: bool) -> OcfResult {
    if probe {
        Ok(OcfCode::NotRunning)
    } else {
        Err(error)
    }
}

/// A primary is fine unless another node reports itself primary too.
fn split_brain(other: Option<String>) -> OcfResult {
    match other {
        None => Ok(OcfCode::RunningPromoted),
        Some(node) => Err(OcfError::new(
            OcfCode::DegradedPromoted,
            format!("SPLIT BRAIN: {node} also reports itself primary; fence or stop one of them"),
        )),
    }
}

/// A standby that has not streamed for a while is degraded: shown with the
/// reason (crm_mon, exit reason), never recovered by Pacemaker. One that
/// can never follow as it is fails at once when it may be rebuilt: the
/// restart Pacemaker then makes is the start that rebuilds it (issue 14);
/// otherwise it is degraded with the cause, with no wait (it will not heal).
/// A primary demoted where it stood (`demoted`) that never streamed since
/// fails too: a primary cut off from the others is demoted alone and its
/// shutdown checkpoint is WAL the new primary never had, so it cannot
/// follow until pg_rewind (issue 15's Debian 13 lab: "new timeline forked
/// off ... before current recovery point", forever). The failure makes
/// Pacemaker stop and start it here, and that start compares it with the
/// primary (rejoin::needs_compare); the start forgets the demote, so this
/// happens once at most.
fn standby(
    status: &StandbyStatus,
    not_streaming_for: Option<u64>,
    cannot_follow: Option<String>,
    rebuild: bool,
    demoted: bool,
) -> OcfResult {
    if status.is_streaming() {
        return Ok(OcfCode::Success);
    }
    match cannot_follow {
        Some(why) if rebuild => {
            return Err(OcfError::generic(format!(
                "cannot follow, rebuilt at next start if the primary confirms: {why}"
            )));
        }
        Some(why) => {
            return Err(OcfError::new(
                OcfCode::Degraded,
                format!("cannot follow: {why}; needs a rebuild (rebuild=true)"),
            ));
        }
        None => {}
    }
    if not_streaming_for.is_some_and(|a| a < NOT_STREAMING_GRACE_S) {
        return Ok(OcfCode::Success);
    }
    if demoted {
        return Err(OcfError::generic(format!(
            "demoted primary cannot stream (WAL receiver {} at {}): restart to compare it with the primary",
            status.receiver.as_ref().map_or("not running", |r| r.as_str()),
            status.position(),
        )));
    }
    Err(OcfError::new(
        OcfCode::Degraded,
        format!(
            "standby not replicating: WAL receiver {} at {} (timeline {}); check primary_conninfo and the server log",
            status.receiver.as_ref().map_or("not running", |r| r.as_str()),
            status.position(),
            status.timeline
        ),
    ))
}

fn unresponsive(
    pid: nix::unistd::Pid,
    frozen: bool,
    error: SqlError,
    control: Option<&ClusterState>,
    promotable: bool,
) -> OcfError {
    let frozen_note = if frozen { " (postmaster is SIGSTOPped)" } else { "" };
    match &error {
        // The time the probe really had: probe_timeout, or less when the
        // action's own deadline came first.
        SqlError::Timeout(waited) => OcfError::generic(format!(
            "postmaster {pid} gave no answer to the health probe within {:.1}s{frozen_note}: frozen or overloaded",
            waited.as_secs_f64()
        )),
        e if state::is_connection_misconfigured(e) => refused(e, control, promotable),
        e => OcfError::generic(format!("postmaster {pid} runs but the health probe failed{frozen_note}: {e}")),
    }
    .with_source(error)
}

/// The server refused the probe's connection: authentication (a pg_hba.conf
/// line, a role or a password the agent does not have) or a missing
/// `pgdatabase`. That says nothing of its health but that it runs and reads
/// its configuration, and the same mistake is usually on every node (the
/// file is copied with the data): a hard error (OCF_ERR_ARGS, as this was
/// once) made Pacemaker stop the instance and ban it from the node, then
/// from the next, until the cluster had none left, for a database that
/// served its clients all along. So the instance is reported running in the
/// role pg_control gives (it says `in production` on a running primary and
/// `in archive recovery` on a running standby), degraded with the fix:
/// Pacemaker neither recovers nor demotes it, and `crm_mon` shows the
/// reason. A primitive has no role to tell. Only when pg_control cannot say
/// is the answer a failure, the soft one (ERR_GENERIC: Pacemaker restarts
/// it), never ERR_ARGS or ERR_CONFIGURED, which bar the node or the cluster.
fn refused(error: &SqlError, control: Option<&ClusterState>, promotable: bool) -> OcfError {
    let why = state::refusal(error);
    let (code, who) = match (promotable, control) {
        (false, _) => (OcfCode::Degraded, "server"),
        (true, Some(ClusterState::InProduction)) => (OcfCode::DegradedPromoted, "primary"),
        (true, Some(ClusterState::InArchiveRecovery)) => (OcfCode::Degraded, "standby"),
        (true, other) => {
            return OcfError::generic(format!(
                "probe refused ({why}), role unknown (pg_control: {}): fix pg_hba.conf, system_user or pgdatabase",
                other.map_or("unreadable", ClusterState::as_str)
            ));
        }
    };
    OcfError::new(
        code,
        format!("probe refused ({why}), {who} left running: fix pg_hba.conf, system_user or pgdatabase"),
    )
}

fn crashed(state: &ClusterState) -> OcfError {
    let what = match state {
        ClusterState::InProduction => "a primary",
        ClusterState::InArchiveRecovery => "a standby",
        _ => "the instance",
    };
    OcfError::generic(format!(
        "{what} crashed: no postmaster, but pg_control says '{}'",
        state.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Lsn, ReceiverStatus};
    use postgres::error::SqlState;
    use std::time::Duration;

    fn standby_status(receiver: Option<&str>, receive: Option<u64>, replay: Option<u64>) -> StandbyStatus {
        StandbyStatus {
            timeline: 2,
            receive: receive.map(Lsn),
            replay: replay.map(Lsn),
            receiver: receiver.map(ReceiverStatus::parse),
            primary_end: None,
            slots: Vec::new(),
            wal_segment_size: None,
            wal_end: None,
        }
    }

    fn pid() -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(4242)
    }

    /// (code, reason) of an answer; success codes have no reason.
    fn outcome(r: OcfResult) -> (OcfCode, String) {
        match r {
            Ok(code) => (code, String::new()),
            Err(e) => (e.code, e.reason),
        }
    }

    #[test]
    fn each_state_found_has_its_answer() {
        use OcfCode::*;
        let crashed = |state, forced_by_us, promotable| Found::Crashed {
            state,
            forced_by_us,
            promotable,
            quiet_probe: false,
        };
        let standby = |receiver, receive, replay, for_s| Found::Standby {
            status: standby_status(receiver, receive, replay),
            not_streaming_for: for_s,
            cannot_follow: None,
            rebuild: false,
            demoted: false,
        };
        let removed = "requested WAL segment 000000010000000000000003 has already been removed";
        let refused = |rebuild, streaming: bool| Found::Standby {
            status: standby_status(Some(if streaming { "streaming" } else { "waiting" }), None, None),
            not_streaming_for: Some(0),
            cannot_follow: Some(removed.to_string()),
            rebuild,
            demoted: false,
        };
        let demoted = |receiver, for_s| Found::Standby {
            status: standby_status(receiver, Some(0x100), Some(0x100)),
            not_streaming_for: Some(for_s),
            cannot_follow: None,
            rebuild: false,
            demoted: true,
        };
        let waiting = |for_s| standby(Some("waiting"), Some(0x100), Some(0x100), Some(for_s));
        // (found, code, reason)
        let table: Vec<(Found, OcfCode, &str)> = vec![
            (Found::Running, Success, ""),
            (Found::Stopped, NotRunning, ""),
            (
                Found::Primary {
                    other_primary: None,
                    slot_collision: None,
                    sync_risk: None,
                },
                RunningPromoted,
                "",
            ),
            (
                Found::Primary {
                    other_primary: Some("n2".into()),
                    slot_collision: None,
                    sync_risk: None,
                },
                DegradedPromoted,
                "SPLIT BRAIN: n2 also reports itself primary; fence or stop one of them",
            ),
            // Split brain wins over a slot problem.
            (
                Found::Primary {
                    other_primary: Some("n2".into()),
                    slot_collision: Some("slot collision".into()),
                    sync_risk: None,
                },
                DegradedPromoted,
                "SPLIT BRAIN: n2 also reports itself primary; fence or stop one of them",
            ),
            (
                Found::Primary {
                    other_primary: None,
                    slot_collision: Some("slot collision".into()),
                    sync_risk: None,
                },
                DegradedPromoted,
                "slot collision",
            ),
            // Sync mode with no standby streaming: degraded, after split
            // brain and slot problems.
            (
                Found::Primary {
                    other_primary: None,
                    slot_collision: None,
                    sync_risk: Some("no standby streams".into()),
                },
                DegradedPromoted,
                "no standby streams",
            ),
            (
                Found::Primary {
                    other_primary: None,
                    slot_collision: Some("slot collision".into()),
                    sync_risk: Some("no standby streams".into()),
                },
                DegradedPromoted,
                "slot collision",
            ),
            (
                standby(Some("streaming"), Some(0x100), Some(0x100), None),
                Success,
                "",
            ),
            // Not streaming: fine for NOT_STREAMING_GRACE_S, then degraded.
            (waiting(0), Success, ""),
            (waiting(NOT_STREAMING_GRACE_S - 1), Success, ""),
            (
                waiting(NOT_STREAMING_GRACE_S),
                Degraded,
                "standby not replicating: WAL receiver waiting at 0/100 (timeline 2); check primary_conninfo and the server log",
            ),
            // It can never follow as it is: no grace; rebuilt when allowed.
            (
                refused(true, false),
                ErrGeneric,
                "cannot follow, rebuilt at next start if the primary confirms: requested WAL segment \
                 000000010000000000000003 has already been removed",
            ),
            (
                refused(false, false),
                Degraded,
                "cannot follow: requested WAL segment 000000010000000000000003 has already been removed; \
                 needs a rebuild (rebuild=true)",
            ),
            // Streaming wins over an old line of the log.
            (refused(true, true), Success, ""),
            // A primary demoted where it stood that cannot stream: a
            // failure, so that a restart compares (and rewinds) it.
            (demoted(Some("waiting"), NOT_STREAMING_GRACE_S - 1), Success, ""),
            (
                demoted(Some("waiting"), NOT_STREAMING_GRACE_S),
                ErrGeneric,
                "demoted primary cannot stream (WAL receiver waiting at 0/100): restart to compare it with the primary",
            ),
            (
                Found::Standby {
                    status: standby_status(Some("streaming"), Some(0x100), Some(0x100)),
                    not_streaming_for: None,
                    cannot_follow: None,
                    rebuild: false,
                    demoted: true,
                },
                Success,
                "",
            ),
            // After a full restart: no receiver, position is what it replayed.
            (
                standby(None, None, Some(0x3000060), Some(120)),
                Degraded,
                "standby not replicating: WAL receiver not running at 0/3000060 (timeline 2); check primary_conninfo and the server log",
            ),
            (
                Found::Unresponsive {
                    pid: pid(),
                    frozen: true,
                    error: SqlError::Timeout(Duration::from_millis(2500)),
                    control: None,
                    promotable: true,
                },
                ErrGeneric,
                "postmaster 4242 gave no answer to the health probe within 2.5s (postmaster is SIGSTOPped): frozen or overloaded",
            ),
            (
                Found::Unresponsive {
                    pid: pid(),
                    frozen: false,
                    error: SqlError::NoServer("refused".into()),
                    control: Some(ClusterState::InProduction),
                    promotable: true,
                },
                ErrGeneric,
                "postmaster 4242 runs but the health probe failed: no server listening (refused)",
            ),
            // The agent's own forced stop: stopped on Pacemaker's order.
            (crashed(ClusterState::InProduction, true, true), NotRunning, ""),
            // A probe after a power loss: not running, so Pacemaker starts it.
            (
                Found::Crashed {
                    state: ClusterState::InProduction,
                    forced_by_us: false,
                    promotable: true,
                    quiet_probe: true,
                },
                NotRunning,
                "",
            ),
            (
                Found::Crashed {
                    state: ClusterState::InArchiveRecovery,
                    forced_by_us: false,
                    promotable: false,
                    quiet_probe: true,
                },
                NotRunning,
                "",
            ),
            (
                crashed(ClusterState::InArchiveRecovery, true, false),
                NotRunning,
                "",
            ),
            (
                crashed(ClusterState::InProduction, false, true),
                FailedPromoted,
                "the primary crashed: no postmaster, pg_control says 'in production'",
            ),
            (
                crashed(ClusterState::InProduction, false, false),
                ErrGeneric,
                "a primary crashed: no postmaster, but pg_control says 'in production'",
            ),
            (
                crashed(ClusterState::InArchiveRecovery, false, true),
                ErrGeneric,
                "a standby crashed: no postmaster, but pg_control says 'in archive recovery'",
            ),
            (
                crashed(ClusterState::Unknown("odd".into()), false, true),
                ErrGeneric,
                "the instance crashed: no postmaster, but pg_control says 'odd'",
            ),
        ];
        for (found, code, reason) in table {
            let what = format!("{found:?}");
            assert_eq!(outcome(answer(found)), (code, reason.to_string()), "{what}");
        }
    }

    /// A pg_hba.conf mistake copied to every node once barred node after
    /// node (OCF_ERR_ARGS, a hard error) while the database served: a
    /// refused probe keeps the instance running in the role pg_control
    /// gives, and fails softly only when it gives none.
    #[test]
    fn a_probe_refused_by_the_server_keeps_the_instance_in_its_role() {
        use OcfCode::*;
        let db = |code: SqlState| SqlError::Db {
            code,
            message: "refused".into(),
        };
        let fix = "fix pg_hba.conf, system_user or pgdatabase";
        // (error, pg_control, promotable, code, reason)
        let table: Vec<(SqlError, Option<ClusterState>, bool, OcfCode, String)> = vec![
            (
                db(SqlState::INVALID_PASSWORD),
                Some(ClusterState::InProduction),
                true,
                DegradedPromoted,
                format!("probe refused (SQLSTATE 28P01), primary left running: {fix}"),
            ),
            (
                db(SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
                Some(ClusterState::InArchiveRecovery),
                true,
                Degraded,
                format!("probe refused (SQLSTATE 28000), standby left running: {fix}"),
            ),
            (
                SqlError::PasswordRequested,
                Some(ClusterState::InArchiveRecovery),
                true,
                Degraded,
                format!("probe refused (password required), standby left running: {fix}"),
            ),
            // pgdatabase missing: the same kind of mistake.
            (
                db(SqlState::INVALID_CATALOG_NAME),
                Some(ClusterState::InProduction),
                true,
                DegradedPromoted,
                format!("probe refused (SQLSTATE 3D000), primary left running: {fix}"),
            ),
            // A primitive has no role: running is all it may say.
            (
                db(SqlState::INVALID_PASSWORD),
                None,
                false,
                Degraded,
                format!("probe refused (SQLSTATE 28P01), server left running: {fix}"),
            ),
            // No role to tell: a soft failure, never one that bars the node.
            (
                db(SqlState::INVALID_PASSWORD),
                None,
                true,
                ErrGeneric,
                format!("probe refused (SQLSTATE 28P01), role unknown (pg_control: unreadable): {fix}"),
            ),
            (
                db(SqlState::INVALID_PASSWORD),
                Some(ClusterState::InCrashRecovery),
                true,
                ErrGeneric,
                format!(
                    "probe refused (SQLSTATE 28P01), role unknown (pg_control: in crash recovery): {fix}"
                ),
            ),
        ];
        for (error, control, promotable, code, reason) in table {
            let what = format!("{error:?} {control:?} {promotable}");
            let found = Found::Unresponsive {
                pid: pid(),
                frozen: false,
                error,
                control,
                promotable,
            };
            assert_eq!(outcome(answer(found)), (code, reason), "{what}");
        }
    }

    #[test]
    fn a_host_problem_degrades_a_healthy_answer_only() {
        use OcfCode::*;
        let problem = OcfError::installed("pg_ctl not found");
        let reason = "running, but a start here would fail: pg_ctl not found";
        // (answer, host problem, code, reason)
        let table: Vec<(OcfResult, bool, OcfCode, &str)> = vec![
            (Ok(Success), false, Success, ""),
            (Ok(Success), true, Degraded, reason),
            (Ok(RunningPromoted), true, DegradedPromoted, reason),
            (Ok(NotRunning), true, NotRunning, ""),
            (Err(OcfError::generic("frozen")), true, ErrGeneric, "frozen"),
            (
                Err(OcfError::new(Degraded, "not replicating")),
                true,
                Degraded,
                "not replicating",
            ),
        ];
        for (code, with_problem, expected, expected_reason) in table {
            let what = format!("{code:?} problem {with_problem}");
            let got = with_host_problem(code, with_problem.then_some(&problem));
            assert_eq!(outcome(got), (expected, expected_reason.to_string()), "{what}");
        }
    }

    #[test]
    fn before_the_inspection_a_running_instance_is_never_called_stopped() {
        use OcfCode::*;
        let config = || OcfError::configured("pgport=x: not a number");
        assert_eq!(outcome(with_invalid_config(config(), true)).0, ErrConfigured);
        assert_eq!(outcome(with_invalid_config(config(), false)).0, NotRunning);

        let problem = || OcfError::installed("pg_ctl not found");
        let pid = nix::unistd::Pid::from_raw(4242);
        // (postmaster, orphans, probe, code; None: monitored as running)
        let table: &[(Option<nix::unistd::Pid>, bool, bool, Option<OcfCode>)] = &[
            (Some(pid), false, true, None),
            (Some(pid), true, false, None),
            (None, true, true, Some(ErrGeneric)),
            (None, true, false, Some(ErrGeneric)),
            (None, false, true, Some(NotRunning)),
            (None, false, false, Some(ErrInstalled)),
        ];
        for (postmaster, orphans, probe, expected) in table {
            let what = format!("{postmaster:?} orphans {orphans} probe {probe}");
            match (
                when_host_check_fails(problem(), *postmaster, *orphans, *probe),
                expected,
            ) {
                (HostCheckFailed::MonitorRunning { pid, problem }, None) => {
                    assert_eq!(Some(pid), *postmaster, "{what}");
                    assert_eq!(problem.code, ErrInstalled, "{what}");
                }
                (HostCheckFailed::NotRunningHere { .. }, Some(NotRunning)) => {}
                (HostCheckFailed::Fail(e), Some(code)) => assert_eq!(e.code, *code, "{what}"),
                (got, _) => panic!("{what}: {got:?}"),
            }
        }
        let orphaned = when_host_check_fails(problem(), None, true, false);
        assert!(matches!(orphaned, HostCheckFailed::Fail(e) if e.reason.ends_with("and pg_ctl not found")));

        assert_eq!(
            outcome(when_inspection_fails(OcfError::generic("x"), true)).0,
            NotRunning
        );
        assert_eq!(
            outcome(when_inspection_fails(OcfError::generic("x"), false)).0,
            ErrGeneric
        );
    }
}
