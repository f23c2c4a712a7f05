//! `monitor`: is the instance running here, and does it answer?
//!
//! Decision tree (states from [`crate::pg::state::inspect`]):
//! - pgdata/datadir missing or relative: ERR_CONFIGURED (nothing to look at);
//! - any other parameter invalid: ERR_CONFIGURED while a process of the
//!   instance runs (Pacemaker stops it, and stop needs only pgdata);
//!   NOT_RUNNING when none does, so that after that stop the resource is
//!   seen stopped instead of failed everywhere;
//! - host checks fail (no user, no data directory, no binaries here...):
//!   - a postmaster of this instance runs: it is monitored as usual from
//!     what the process table tells (its owner, its binary), and a healthy
//!     answer becomes DEGRADED / DEGRADED_PROMOTED naming the problem: a
//!     probe never says "stopped" while PostgreSQL runs (Pacemaker would
//!     start it elsewhere), nor "failed" over a check only a start needs;
//!   - orphaned processes of the instance, no postmaster: ERR_GENERIC, so
//!     that Pacemaker's stop kills them;
//!   - nothing runs, probe (interval 0): NOT_RUNNING: PostgreSQL cannot run
//!     where it is not installed, and a probe must not fail because of how
//!     we monitor;
//!   - nothing runs, recurring monitor: the check's own code (the instance
//!     vanished);
//! - `Stopped` (pg_control: shut down): NOT_RUNNING;
//! - `Running`:
//!   - primitive: SUCCESS, whatever the role;
//!   - promotable clone, primary: RUNNING_PROMOTED, after publishing its
//!     attributes and the standbys' scores (only what changed); another node
//!     that also reports itself primary: DEGRADED_PROMOTED with a loud
//!     reason (split brain), never a plain success;
//!   - promotable clone, standby: SUCCESS when its WAL receiver streams,
//!     DEGRADED (shown in crm_mon, no recovery) with the receiver's state
//!     when it has not streamed for 30 s (lost its primary, or cannot follow
//!     its timeline);
//! - `Unresponsive`: ERR_GENERIC, saying whether it timed out (frozen or
//!   overloaded: the reason says if the postmaster is SIGSTOPped, and how
//!   long the probe really waited) or what it answered; ERR_ARGS when the
//!   server rejects our connection settings (authentication, missing
//!   database), which is wrong on this host only;
//! - `Crashed` (no postmaster, pg_control not shut down):
//!   - the agent's own stop killed it (SIGQUIT/SIGKILL) and nothing ran it
//!     since: NOT_RUNNING, it was stopped on Pacemaker's order;
//!   - otherwise ERR_GENERIC naming the state, so Pacemaker stops (cleans
//!     leftovers) and starts it again (crash recovery); in a promotable
//!     clone a crashed primary is FAILED_PROMOTED, so Pacemaker demotes,
//!     stops and starts it.

use super::{Context, Mode, publish, slots, stop, sync};
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::params::{Config, ReplicationMode};
use crate::pg::controldata::ClusterState;
use crate::pg::instance::Instance;
use crate::pg::process::{self, Postmaster};
use crate::pg::replication::Replication;
use crate::pg::session::SqlError;
use crate::pg::state::{self, InstanceState};
use crate::runstate::RunState;
use crate::vocab::Key;
use crate::{log_info, log_warn};

pub fn run(ctx: &Context) -> OcfResult {
    let location = ctx.location()?;
    let canonical = process::canonical_datadir(&location.datadir);
    let config = match ctx.checked_config() {
        Ok(config) => config,
        Err(e) if process::instance_processes(&canonical).is_empty() => {
            log_warn!("not running, and the configuration is invalid: {e}");
            return Ok(OcfCode::NotRunning);
        }
        Err(e) => return Err(e),
    };
    let (inst, host_problem) = match ctx.instance(&config) {
        Ok(inst) => (inst, None),
        Err(problem) => match process::postmaster(&location.datadir, &canonical) {
            Postmaster::Running(pid) => {
                log_warn!("postmaster {pid} runs, but a host check fails: {problem}");
                let inst =
                    Instance::of_running_postmaster(&config, pid, ctx.env.path.as_deref(), ctx.deadline)?;
                (inst, Some(problem))
            }
            _ if !process::instance_processes(&canonical).is_empty() => {
                return Err(OcfError::generic(format!(
                    "processes of the instance run without a postmaster, and {}",
                    problem.reason
                )));
            }
            _ if ctx.is_probe() => {
                log_info!("probe: not running here ({})", problem.reason);
                return Ok(OcfCode::NotRunning);
            }
            _ => return Err(problem),
        },
    };
    let code = monitor(ctx, &config, &inst);
    match host_problem {
        None => code,
        Some(problem) => degraded_by(code, &problem),
    }
}

/// A healthy answer, turned into the degraded one that names a problem the
/// next start will trip over.
fn degraded_by(code: OcfResult, problem: &OcfError) -> OcfResult {
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

/// The monitor proper, on an instance whose host checks passed (or that
/// runs although they fail).
fn monitor(ctx: &Context, config: &Config, inst: &Instance) -> OcfResult {
    let promotable = ctx.mode() == Mode::Promotable;
    let found = match state::inspect(inst, ctx.deadline, promotable) {
        Ok(found) => found,
        Err(e) if ctx.is_probe() => {
            log_info!(
                "probe: no postmaster and pg_control unreadable, not running ({})",
                e.reason
            );
            return Ok(OcfCode::NotRunning);
        }
        Err(e) => return Err(e),
    };
    match found {
        InstanceState::Running { health, .. } if promotable => match health.replication {
            Some(Replication::Primary(status)) => {
                let mut memory = RunState::load(ctx.resource());
                let me = ctx.node_name();
                let sync_modes = config.replication_mode != ReplicationMode::Async;
                publish::primary(ctx, &mut memory, &status, config.maxlag, sync_modes, &me);
                sync::maintain(ctx, &mut memory, inst, &status, config, &me);
                let slots = slots::maintain_primary(ctx, &mut memory, inst, config, &me, &status.slots);
                let other = publish::other_primary(ctx, &mut memory, &me);
                memory.save();
                split_brain(other).and_then(|code| slots.map(|()| code))
            }
            Some(Replication::Standby(status)) => {
                let mut memory = RunState::load(ctx.resource());
                publish::standby(ctx, &mut memory, &status);
                slots::maintain_standby(ctx, &mut memory, inst, config, &status.slots);
                let code = standby_code(&status, &mut memory);
                memory.save();
                code
            }
            None => Ok(OcfCode::Success),
        },
        InstanceState::Crashed { state }
            if stop::was_forced_by_us(&RunState::load(ctx.resource()), &inst.datadir) =>
        {
            log_info!("stopped by the agent's forced stop (pg_control '{state:?}'): not running");
            Ok(OcfCode::NotRunning)
        }
        InstanceState::Crashed {
            state: ClusterState::InProduction,
        } if promotable => Err(OcfError::new(
            OcfCode::FailedPromoted,
            "the primary crashed: no postmaster, pg_control says 'in production'",
        )),
        found => code_for(found),
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

/// How long a standby may go without streaming before it says so: the WAL
/// receiver retries every few seconds and a failover moves the VIP, so a
/// short gap is normal and must not fill crm_mon's failed actions.
const NOT_STREAMING_GRACE_S: u64 = 30;

/// A standby that has not streamed for a while is degraded: shown with the
/// reason (crm_mon, exit reason), never recovered by Pacemaker.
fn standby_code(status: &crate::pg::replication::StandbyStatus, memory: &mut RunState) -> OcfResult {
    // Also what the bootstrap score waits on (publish::standby).
    memory.set_flag(&Key::ReceiverDown, !status.is_streaming());
    if status.is_streaming() {
        return Ok(OcfCode::Success);
    }
    if memory
        .flag_age(&Key::ReceiverDown)
        .is_some_and(|a| a < NOT_STREAMING_GRACE_S)
    {
        return Ok(OcfCode::Success);
    }
    Err(OcfError::new(
        OcfCode::Degraded,
        format!(
            "standby not replicating: WAL receiver {} at {} (timeline {}); check primary_conninfo and the server log",
            status.receiver.as_deref().unwrap_or("not running"),
            status.position(),
            status.timeline
        ),
    ))
}

/// Maps an inspected state to the monitor's answer.
pub fn code_for(found: InstanceState) -> OcfResult {
    match found {
        InstanceState::Stopped => Ok(OcfCode::NotRunning),
        InstanceState::Running { .. } => Ok(OcfCode::Success),
        InstanceState::Unresponsive { pid, frozen, error } => Err(unresponsive(pid, frozen, error)),
        InstanceState::Crashed { state } => Err(crashed(&state)),
    }
}

fn unresponsive(pid: nix::unistd::Pid, frozen: bool, error: SqlError) -> OcfError {
    let frozen_note = if frozen { " (postmaster is SIGSTOPped)" } else { "" };
    match &error {
        // The time the probe really had: probe_timeout, or less when the
        // action's own deadline came first.
        SqlError::Timeout(waited) => OcfError::generic(format!(
            "postmaster {pid} gave no answer to the health probe within {:.1}s{frozen_note}: frozen or overloaded",
            waited.as_secs_f64()
        )),
        e if state::is_connection_misconfigured(e) => OcfError::args(format!(
            "health probe refused: {e}; fix pg_hba.conf, system_user or pgdatabase"
        )),
        e => OcfError::generic(format!("postmaster {pid} runs but the health probe failed{frozen_note}: {e}")),
    }
    .with_source(error)
}

fn crashed(state: &ClusterState) -> OcfError {
    let what = match state {
        ClusterState::InProduction => "a primary",
        ClusterState::InArchiveRecovery => "a standby",
        _ => "the instance",
    };
    OcfError::generic(format!(
        "{what} crashed: no postmaster, but pg_control says '{}'",
        state_name(state)
    ))
}

fn state_name(state: &ClusterState) -> &str {
    match state {
        ClusterState::StartingUp => "starting up",
        ClusterState::ShutDown => "shut down",
        ClusterState::ShutDownInRecovery => "shut down in recovery",
        ClusterState::ShuttingDown => "shutting down",
        ClusterState::InCrashRecovery => "in crash recovery",
        ClusterState::InArchiveRecovery => "in archive recovery",
        ClusterState::InProduction => "in production",
        ClusterState::Unknown(s) => s,
    }
}
