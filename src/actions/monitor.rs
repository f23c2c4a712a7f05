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
//!   - promotable clone, standby: SUCCESS when its WAL receiver streams;
//!     when it does not, its log says whether it cannot follow at all (the
//!     WAL it needs was removed, its timeline forked): with rebuild=true
//!     ERR_GENERIC, so that Pacemaker restarts it and the start rebuilds
//!     it, else DEGRADED naming the cause; otherwise DEGRADED (shown in
//!     crm_mon, no recovery) with the receiver's state once it has not
//!     streamed for 30 s (lost its primary); ERR_GENERIC instead for a
//!     primary demoted where it stood that never streamed since (its
//!     history may have diverged: the restart's start compares it with the
//!     primary, and rewinds it);
//! - `Unresponsive`: ERR_GENERIC, saying whether it timed out (frozen or
//!   overloaded: the reason says if the postmaster is SIGSTOPped, and how
//!   long the probe really waited) or what it answered; when the server
//!   refuses our connection (authentication, missing database: a
//!   pg_hba.conf mistake, often copied to every node) it runs and serves:
//!   DEGRADED, or DEGRADED_PROMOTED for a clone's primary, in the role
//!   pg_control gives, with the fix; ERR_GENERIC only when pg_control
//!   gives no role (never a hard error, which would bar node after node);
//! - `Crashed` (no postmaster, pg_control not shut down):
//!   - the agent's own stop killed it (SIGQUIT/SIGKILL) and nothing ran it
//!     since: NOT_RUNNING, it was stopped on Pacemaker's order;
//!   - a probe (a node that boots after a power loss, a cleanup) with no
//!     process of the instance left: NOT_RUNNING, so Pacemaker starts it
//!     (and start recovers it) instead of recording a failure and stopping
//!     it first; orphaned backends keep the error, for stop to kill them;
//!   - otherwise ERR_GENERIC naming the state, so Pacemaker stops (cleans
//!     leftovers) and starts it again (crash recovery); in a promotable
//!     clone a crashed primary is FAILED_PROMOTED, so Pacemaker demotes,
//!     stops and starts it.
//!
//! The answer for each of these states is the pure rule
//! [`monitor_answer::answer`] (and [`monitor_answer::with_host_problem`]);
//! this file gathers what it needs (the inspection, the upkeep's results).
//! The upkeep of a running clone instance is [`upkeep::primary`] or
//! [`upkeep::standby`]: one view gathered, one plan
//! ([`crate::policy::upkeep`]), applied in one place; its degraded answers
//! (split brain, slot collision, sync risk, not streaming) come back as
//! data for the answer.
//!
//! Every monitor that gets as far as the instance notes its answer and how
//! long its health probe took in the memory ([`Key::MonitorAnswer`],
//! [`Key::MonitorProbeUs`]): what `pgha status --prometheus` reports of
//! this node, at no query of its own.

use std::time::Instant;

use super::stop;
use crate::context::{Context, Mode};
use crate::ocf::code::{OcfCode, OcfResult};
use crate::params::Config;
use crate::pg::controldata;
use crate::pg::instance::Instance;
use crate::pg::process::{self, Postmaster};
use crate::pg::replication::Replication;
use crate::pg::state::{self, InstanceState};
use crate::policy::monitor_answer::{self, Found, HostCheckFailed};
use crate::replication::upkeep;
use crate::runstate::RunState;
use crate::vocab::Key;
use crate::{log_info, log_warn};

pub fn run(ctx: &Context) -> OcfResult {
    let location = ctx.location()?;
    // Only the branches below that look at the process table need it: the
    // steady path (parameters and host checks fine) resolves it in Instance.
    let canonical = || process::canonical_datadir_within(&location.datadir, ctx.deadline.fraction(0.2));
    let config = match ctx.checked_config() {
        Ok(config) => config,
        Err(e) => {
            let processes_run = !process::instance_processes(&canonical()).is_empty();
            if !processes_run {
                log_warn!("not running, and the configuration is invalid: {e}");
            }
            return monitor_answer::with_invalid_config(e, processes_run);
        }
    };
    let (inst, host_problem) = match ctx.instance(&config) {
        Ok(inst) => (inst, None),
        Err(problem) => {
            let canonical = canonical();
            let postmaster =
                match process::postmaster_within(&location.datadir, &canonical, ctx.deadline.fraction(0.2)) {
                    Postmaster::Running(pid) => Some(pid),
                    Postmaster::NoPidFile | Postmaster::Stale(_) => None,
                };
            let orphans = postmaster.is_none() && !process::instance_processes(&canonical).is_empty();
            match monitor_answer::when_host_check_fails(problem, postmaster, orphans, ctx.is_probe()) {
                HostCheckFailed::MonitorRunning { pid, problem } => {
                    log_warn!("postmaster {pid} runs, but a host check fails: {problem}");
                    let settings = config.instance_settings();
                    let inst = Instance::of_running_postmaster(
                        &settings,
                        pid,
                        ctx.env.path.as_deref(),
                        ctx.deadline,
                    )?;
                    (inst, Some(problem))
                }
                HostCheckFailed::NotRunningHere { problem } => {
                    log_info!("probe: not running here ({})", problem);
                    return Ok(OcfCode::NotRunning);
                }
                HostCheckFailed::Fail(e) => return Err(e),
            }
        }
    };
    let mut memory = RunState::load(ctx.resource());
    let code = monitor(ctx, &config, &inst, &mut memory);
    let code = monitor_answer::with_host_problem(code, host_problem.as_ref());
    remember_answer(&mut memory, &code);
    memory.save();
    code
}

/// Notes the answer in the memory for `pgha status --prometheus`: a value
/// that changes only with the answer, so that its age says since when the
/// monitor answers so.
fn remember_answer(memory: &mut RunState, code: &OcfResult) {
    let code = match code {
        Ok(code) => *code,
        Err(e) => e.code,
    };
    memory.set_if_changed(&Key::MonitorAnswer, &code.as_i32().to_string());
}

/// The monitor proper, on an instance whose host checks passed (or that
/// runs although they fail), with the agent's memory of this resource.
fn monitor(ctx: &Context, config: &Config, inst: &Instance, memory: &mut RunState) -> OcfResult {
    let promotable = ctx.mode() == Mode::Promotable;
    let probe = Instant::now();
    let inspected = state::inspect(inst, ctx.deadline, promotable);
    // What the probe cost, for `pgha status --prometheus`: timed here, so
    // that it costs no query of its own; its age says when the monitor ran.
    memory.set(&Key::MonitorProbeUs, &probe.elapsed().as_micros().to_string());
    let found = match inspected {
        Ok(found) => found,
        Err(e) => {
            if ctx.is_probe() {
                log_info!(
                    "probe: no postmaster and pg_control unreadable, not running ({})",
                    e
                );
            }
            return monitor_answer::when_inspection_fails(e, ctx.is_probe());
        }
    };
    let found = match found {
        InstanceState::Running { health, .. } if promotable => match health.replication {
            Some(Replication::Primary(status)) => {
                let me = ctx.node_name();
                let upkeep = upkeep::primary(ctx, memory, inst, &status, config, &me);
                Found::Primary {
                    other_primary: upkeep.other_primary,
                    slot_collision: upkeep.slot_collision,
                    sync_risk: upkeep.sync_risk,
                }
            }
            Some(Replication::Standby(status)) => {
                let upkeep = upkeep::standby(ctx, memory, inst, &status, config);
                Found::Standby {
                    status,
                    not_streaming_for: upkeep.not_streaming_for,
                    cannot_follow: upkeep.cannot_follow,
                    rebuild: config.rebuild,
                    demoted: upkeep.demoted,
                }
            }
            None => Found::Running,
        },
        InstanceState::Running { .. } => Found::Running,
        InstanceState::Stopped => Found::Stopped,
        InstanceState::Unresponsive { pid, frozen, error } => {
            // Refused by the server (pg_hba.conf, a role, pgdatabase): the
            // clone's role comes from pg_control, so that the answer keeps
            // a serving instance in its role (monitor_answer::refused).
            let control = (promotable && state::is_connection_misconfigured(&error))
                .then(|| controldata::read(&inst.bindir, &inst.datadir, &inst.user, ctx.deadline))
                .and_then(|read| read.map_err(|e| log_warn!("pg_control: {e}")).ok())
                .map(|control| control.state);
            if state::is_connection_misconfigured(&error) {
                log_warn!("the server refuses the health probe: {error}");
            }
            Found::Unresponsive {
                pid,
                frozen,
                error,
                control,
                promotable,
            }
        }
        InstanceState::Crashed { state } => {
            let forced_by_us = stop::was_forced_by_us(memory, &inst.datadir);
            let quiet_probe =
                ctx.is_probe() && process::instance_processes(&inst.canonical_datadir).is_empty();
            if forced_by_us {
                log_info!("stopped by the agent's forced stop (pg_control '{state:?}'): not running");
            } else if quiet_probe {
                log_info!("probe: nothing runs, left by a crash (pg_control '{state:?}'): start recovers it");
            }
            Found::Crashed {
                state,
                forced_by_us,
                promotable,
                quiet_probe,
            }
        }
    };
    monitor_answer::answer(found)
}
