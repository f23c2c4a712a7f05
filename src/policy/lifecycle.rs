//! What `start` and `demote` do with the state they find the instance in.
//!
//! Both actions are idempotent (OCF 1.1): a start finds the server already
//! running, a demote finds a standby, and each says success without
//! touching it. What cannot be fixed by the action itself (a postmaster
//! that does not answer, a primary where start must leave a standby) is an
//! error with a reason, so that Pacemaker stops it.

use crate::ocf::code::OcfError;
use crate::pg::controldata::ClusterState;
use crate::pg::server::ReplayProgress;
use crate::pg::state::InstanceState;
use crate::vocab::Lsn;

/// What `start` does.
#[derive(Debug)]
pub enum StartPlan {
    /// Running already: success, nothing started.
    AlreadyRunning(nix::unistd::Pid),
    /// Nothing can be started: a postmaster runs and does not answer, or a
    /// clone's instance runs as a primary (start must leave it unpromoted;
    /// demoting is Pacemaker's decision).
    Refuse(OcfError),
    /// Stopped: start it. `after_crash`: pg_control was not left by a clean
    /// shutdown (the server replays its WAL).
    Start { after_crash: Option<ClusterState> },
}

/// The start rule; `promotable`: the resource is a promotable clone.
pub fn start_plan(found: &InstanceState, promotable: bool) -> StartPlan {
    match found {
        InstanceState::Running { pid, health } if promotable && !health.in_recovery => {
            StartPlan::Refuse(OcfError::generic(format!(
                "postmaster {pid} already runs as a primary; start must leave it a standby"
            )))
        }
        InstanceState::Running { pid, .. } => StartPlan::AlreadyRunning(*pid),
        // Starting a second one is impossible and killing it is stop's job.
        InstanceState::Unresponsive { pid, error, .. } => StartPlan::Refuse(OcfError::generic(format!(
            "postmaster {pid} already runs but does not answer ({error}); stop it first"
        ))),
        InstanceState::Crashed { state } => StartPlan::Start {
            after_crash: Some(state.clone()),
        },
        InstanceState::Stopped => StartPlan::Start { after_crash: None },
    }
}

/// What a start does once the server it spawned answers.
#[derive(Debug)]
pub enum Started {
    /// The role it was started for: success.
    Ready,
    /// A clone's instance came up as a primary: `standby.signal` was gone
    /// when the postmaster read it (removed after the agent wrote it), so a
    /// second primary runs, on a timeline the cluster may have left. It is
    /// stopped at once and the start fails with this reason: start must
    /// leave a standby, never return success for a primary.
    StopPrimary(OcfError),
}

/// The rule over the first answer of a started server; `promotable`: a
/// clone's instance, which starts as a standby; `in_recovery`: the server
/// says it is one.
pub fn after_start(promotable: bool, in_recovery: bool) -> Started {
    if promotable && !in_recovery {
        Started::StopPrimary(OcfError::generic(
            "came up as a primary (standby.signal gone when it started): stopped it; check what removes it",
        ))
    } else {
        Started::Ready
    }
}

/// The reason of a start whose WAL replay (`what`: crash recovery, WAL
/// replay) the start timeout cut, with how far it got (`progress`, None: it
/// logged no replay yet) and where the WAL it had to replay ends at most
/// (`wal_end`). What to do comes first, where Pacemaker's 128 characters
/// cannot cut it off: a crash recovery keeps no progress when it is killed,
/// so the next start replays from the start again and a longer timeout is
/// the only way through.
pub fn replay_cut_reason(what: &str, progress: Option<ReplayProgress>, wal_end: Option<Lsn>) -> String {
    let to = wal_end.map_or(String::new(), |end| format!(" of at most {end}"));
    match progress {
        Some(ReplayProgress { from, at: Some(at) }) => {
            format!("raise op start timeout: {what} unfinished, at {at}{to} (from {from})")
        }
        Some(ReplayProgress { from, at: None }) => {
            format!("raise op start timeout: {what} unfinished, from {from}{to}")
        }
        None => format!("raise op start timeout: {what} unfinished, not replaying yet{to}"),
    }
}

/// What `demote` does.
#[derive(Debug, PartialEq, Eq)]
pub enum DemotePlan {
    /// A running standby: success, nothing to do.
    AlreadyStandby,
    /// The primary crashed (no postmaster, pg_control not shut down):
    /// nothing to do. Pacemaker recovers a failed primary with demote, stop,
    /// start; starting it here only to stop it again would double the
    /// recovery. The start replays its WAL as a standby; its score stays.
    LeaveToStart(ClusterState),
    /// A running (or unresponsive) primary: stop it, then start it as a
    /// standby.
    StopThenStart,
    /// Stopped: start it as a standby.
    Start,
}

/// The demote rule.
pub fn demote_plan(found: &InstanceState) -> DemotePlan {
    match found {
        InstanceState::Running { health, .. } if health.in_recovery => DemotePlan::AlreadyStandby,
        InstanceState::Running { .. } | InstanceState::Unresponsive { .. } => DemotePlan::StopThenStart,
        InstanceState::Crashed { state } => DemotePlan::LeaveToStart(state.clone()),
        InstanceState::Stopped => DemotePlan::Start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::probe::Health;
    use crate::pg::session::SqlError;
    use std::time::Duration;

    fn pid() -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(4242)
    }

    fn running(in_recovery: bool) -> InstanceState {
        InstanceState::Running {
            pid: pid(),
            health: Health {
                in_recovery,
                replication: None,
            },
        }
    }

    fn unresponsive() -> InstanceState {
        InstanceState::Unresponsive {
            pid: pid(),
            frozen: true,
            error: SqlError::Timeout(Duration::from_secs(5)),
        }
    }

    fn crashed() -> InstanceState {
        InstanceState::Crashed {
            state: ClusterState::InProduction,
        }
    }

    #[test]
    fn start_leaves_what_runs_alone_and_refuses_what_it_cannot_fix() {
        let plan = |found: InstanceState, promotable| format!("{:?}", start_plan(&found, promotable));
        assert!(plan(running(false), false).starts_with("AlreadyRunning"));
        assert!(plan(running(true), true).starts_with("AlreadyRunning"));
        assert!(plan(running(false), true).contains("already runs as a primary"));
        assert!(plan(unresponsive(), false).contains("does not answer"));
        assert!(plan(unresponsive(), true).contains("stop it first"));
        assert!(plan(crashed(), true).contains("after_crash: Some(InProduction)"));
        assert!(plan(InstanceState::Stopped, true).contains("after_crash: None"));
    }

    #[test]
    fn a_started_primary_is_never_a_successful_clone_start() {
        // (promotable, in recovery, stopped with a reason)
        let table = [
            (false, false, false),
            (false, true, false),
            (true, true, false),
            (true, false, true),
        ];
        for (promotable, in_recovery, stopped) in table {
            let got = after_start(promotable, in_recovery);
            assert_eq!(
                matches!(&got, Started::StopPrimary(e) if e.code == crate::ocf::code::OcfCode::ErrGeneric
                    && e.reason.len() < 100),
                stopped,
                "promotable={promotable} in_recovery={in_recovery}: {got:?}"
            );
        }
    }

    #[test]
    fn a_replay_cut_by_the_timeout_says_to_raise_it_and_how_far_it_got() {
        let lsn = |s: &str| s.parse::<Lsn>().unwrap();
        let progress = |at: Option<&str>| {
            Some(ReplayProgress {
                from: lsn("0/1500790"),
                at: at.map(lsn),
            })
        };
        let end = Some(lsn("0/10000000"));
        // (progress, WAL end, reason)
        let table = [
            (
                progress(Some("0/27EBBD0")),
                end,
                "raise op start timeout: crash recovery unfinished, at 0/27EBBD0 of at most 0/10000000 (from 0/1500790)",
            ),
            (
                progress(None),
                end,
                "raise op start timeout: crash recovery unfinished, from 0/1500790 of at most 0/10000000",
            ),
            (
                progress(Some("0/27EBBD0")),
                None,
                "raise op start timeout: crash recovery unfinished, at 0/27EBBD0 (from 0/1500790)",
            ),
            (
                None,
                end,
                "raise op start timeout: crash recovery unfinished, not replaying yet of at most 0/10000000",
            ),
        ];
        for (progress, wal_end, reason) in table {
            let got = replay_cut_reason("crash recovery", progress, wal_end);
            assert_eq!(got, reason);
            // With an instance name of 20 characters before it.
            assert!(got.len() + 22 < 128, "{got}");
        }
    }

    #[test]
    fn demote_stops_only_a_running_primary() {
        let table: Vec<(InstanceState, DemotePlan)> = vec![
            (running(true), DemotePlan::AlreadyStandby),
            (running(false), DemotePlan::StopThenStart),
            (unresponsive(), DemotePlan::StopThenStart),
            (crashed(), DemotePlan::LeaveToStart(ClusterState::InProduction)),
            (InstanceState::Stopped, DemotePlan::Start),
        ];
        for (found, expected) in table {
            let what = format!("{found:?}");
            assert_eq!(demote_plan(&found), expected, "{what}");
        }
    }
}
