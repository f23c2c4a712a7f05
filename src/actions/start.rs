//! `start`: bring the server up and return once the health probe answers.
//!
//! - parameters or host checks fail: their code (nothing is started);
//! - `Running`: success, already running (start is idempotent); in a
//!   promotable clone a running *primary* is an error: start must leave the
//!   instance unpromoted (OCF 1.1) and demoting is Pacemaker's decision;
//! - `Unresponsive`: ERR_GENERIC: a postmaster runs but does not answer;
//!   starting a second one is impossible and killing it is stop's job;
//! - `Stopped` or `Crashed`: clear what a crash left (orphaned backends, an
//!   empty or garbage `postmaster.pid`, moved aside, and a `postmaster.pid`
//!   naming a recycled pid), then
//!   - the logfile is checked as validate-all does and opened by the system
//!     user (a symlink, a directory or a file of another owner: refused);
//!   - primitive: spawn the postmaster as configured;
//!   - promotable clone: a former primary (pg_control not "in recovery", no
//!     `backup_label`) is, when another node reports a running primary,
//!     checked against it with `pg_rewind --dry-run` (a crashed one is first
//!     recovered in single-user mode):
//!     diverged, or pg_rewind cannot tell -> pg_rewind when rewind=true,
//!     else refuse with a reason (never follow a timeline it forked from);
//!     no primary reachable -> start and wait for one; a primary that
//!     demote made a standby where it stood (remembered until the next
//!     start) and that shut down cleanly since is compared the same way
//!     (cut off, it was demoted alone: [`rejoin::needs_compare`]); then `standby.signal`
//!     and the recovery settings on the command line, as a standby;
//!   - poll the probe until it answers. If the server exits, the reason
//!     quotes the cause from its output; at the deadline, ERR_GENERIC with
//!     the last thing it said (Pacemaker then stops it).
//!
//! The decisions are the rules [`lifecycle::start_plan`] and [`rejoin`];
//! this file gathers what they need and carries them out.

use std::time::Duration;

use super::stop;
use crate::context::{Context, Mode};
use crate::deadline::Deadline;
use crate::log_info;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::params::Config;
use crate::pg::controldata::{self, ClusterState};
use crate::pg::instance::Instance;
use crate::pg::names;
use crate::pg::probe;
use crate::pg::recovery;
use crate::pg::rewind::{self, Divergence};
use crate::pg::server::{self, Spawned};
use crate::pg::session::SqlError;
use crate::pg::state;
use crate::policy::lifecycle::{self, StartPlan};
use crate::policy::rejoin::{self, AfterCompare, BeforeCompare};
use crate::replication::publish;
use crate::runstate::RunState;
use crate::vocab::Key;

/// Pause between two probes while the server starts.
const POLL: Duration = Duration::from_millis(100);

pub fn run(ctx: &Context) -> OcfResult {
    let config = ctx.checked_config()?;
    let inst = ctx.instance(&config)?;
    match lifecycle::start_plan(
        &state::inspect(&inst, ctx.deadline, false)?,
        ctx.mode() == Mode::Promotable,
    ) {
        StartPlan::AlreadyRunning(pid) => {
            log_info!("already running (postmaster {pid})");
            return Ok(OcfCode::Success);
        }
        StartPlan::Refuse(e) => return Err(e),
        StartPlan::Start {
            after_crash: Some(state),
        } => {
            log_info!("starting after a crash (pg_control: {state:?})")
        }
        StartPlan::Start { after_crash: None } => {}
    }
    let mut memory = RunState::load(ctx.resource());
    match ctx.mode() {
        Mode::Primitive => {
            server::clear_leftovers(&inst, ctx.deadline)?;
            let spawned = server::spawn(&inst, &[], ctx.deadline)?;
            wait_until_ready(&inst, spawned, ctx.deadline)?;
        }
        Mode::Promotable => {
            names::check_node_name(&ctx.node_name())?;
            // A killed postmaster's zombie or orphans would make the
            // single-user crash recovery of rejoin_check refuse to run.
            server::clear_leftovers(&inst, ctx.deadline)?;
            let former_primary = rejoin_check(ctx, &inst, &config, memory.flag(&Key::DemotedPrimary))?;
            // With no primary anywhere (first start, full restart), the former
            // primary is the natural first candidate: see publish::bootstrap.
            publish::remember_former_primary(&mut memory, former_primary);
            // Compared (or nothing to compare with): the demote is history.
            memory.set_flag(&Key::DemotedPrimary, false);
            memory.save();
            start_standby(ctx, &inst, &config, ctx.deadline)?;
        }
    }
    // Running again: a forced stop of ours no longer explains pg_control
    // (the state file is written only if it held one).
    stop::forget(&mut memory);
    memory.save();
    log_info!("started");
    Ok(OcfCode::Success)
}

/// A former primary must not follow a timeline it diverged from
/// ([`rejoin`]). True when this instance was a primary (and may follow, or
/// lead, now). `demoted`: the memory of a demote since the last start
/// ([`rejoin::needs_compare`]).
fn rejoin_check(ctx: &Context, inst: &Instance, config: &Config, demoted: bool) -> OcfResult<bool> {
    let backup_label = inst.datadir.join("backup_label").exists();
    let state = if backup_label {
        ClusterState::Unknown(String::new()) // not read: a base backup follows as it is
    } else {
        controldata::read(&inst.bindir, &inst.datadir, &inst.user, ctx.deadline)?.state
    };
    let was_primary = match rejoin::before_compare(
        backup_label,
        &state,
        demoted,
        lazy_other_primary(ctx, &state, backup_label, demoted),
    ) {
        BeforeCompare::Follow { former_primary } => {
            if former_primary {
                log_info!("former primary, and no other node runs a primary: starting as a standby");
            }
            return Ok(former_primary);
        }
        BeforeCompare::Compare { crash_recover } => {
            if crash_recover {
                server::crash_recover(inst, ctx.deadline.fraction(0.5))?;
                let control = controldata::read(&inst.bindir, &inst.datadir, &inst.user, ctx.deadline)?;
                if control.state != ClusterState::ShutDown {
                    return Err(OcfError::generic(format!(
                        "crash recovery left pg_control '{:?}', not shut down: check the server log",
                        control.state
                    )));
                }
            }
            // A demoted primary shut down as a standby is compared, but it
            // was no primary at its last start (no bootstrap preference).
            rejoin::former_primary(backup_label, &state)
        }
    };
    if demoted && !was_primary {
        log_info!("demoted primary, shut down as a standby since: comparing its history with the primary's");
    }
    let divergence = rewind::check_divergence(inst, &config.primary_conninfo, ctx.deadline)?;
    match rejoin::after_compare(&divergence, config.rewind) {
        AfterCompare::Follow => {
            match &divergence {
                Divergence::NoPrimary(why) => {
                    log_info!("former primary: no primary to compare with ({why}); starting as a standby")
                }
                _ => log_info!("former primary: its history is part of the primary's, it can follow"),
            }
            Ok(was_primary)
        }
        AfterCompare::Rewind => {
            match &divergence {
                Divergence::Diverged(at) => log_info!("former primary diverged ({at}): running pg_rewind"),
                Divergence::Undecided(why) => {
                    log_info!("former primary: pg_rewind cannot tell ({why}); trying pg_rewind")
                }
                Divergence::None | Divergence::NoPrimary(_) => {}
            }
            rewind::rewind(inst, &config.primary_conninfo, ctx.deadline.fraction(0.7))?;
            log_info!("pg_rewind done");
            Ok(false)
        }
        AfterCompare::Refuse(e) => Err(e),
    }
}

/// Whether another node runs a primary, asked only when the answer matters
/// (a former primary): the attributes are a cluster tool call.
fn lazy_other_primary(
    ctx: &Context,
    state: &ClusterState,
    backup_label: bool,
    demoted: bool,
) -> Option<bool> {
    if rejoin::needs_compare(backup_label, state, demoted) {
        other_primary(ctx)
    } else {
        None
    }
}

/// Whether another node reports a running primary (its monitor's role
/// attribute); None when the cluster cannot be asked.
fn other_primary(ctx: &Context) -> Option<bool> {
    let me = ctx.node_name();
    let primaries = publish::primaries(ctx).ok()?;
    Some(primaries.iter().any(|node| *node != me))
}

/// Starts the instance as a standby of `primary_conninfo`.
pub fn start_standby(ctx: &Context, inst: &Instance, config: &Config, deadline: Deadline) -> OcfResult<()> {
    server::clear_leftovers(inst, deadline)?;
    recovery::write_standby_signal(inst, deadline)?;
    let node = ctx.node_name();
    let slot = config.replication_slots.then(|| names::slot_name(&node));
    let args = recovery::standby_args(
        &config.primary_conninfo,
        &node,
        slot.as_deref(),
        &config.start_opts,
    );
    let spawned = server::spawn(inst, &args, deadline)?;
    wait_until_ready(inst, spawned, deadline)
}

/// Polls the probe until the server answers, exits, or the deadline comes.
fn wait_until_ready(inst: &Instance, mut spawned: Spawned, deadline: Deadline) -> OcfResult<()> {
    let mut last: Option<SqlError> = None;
    loop {
        if let Some(cause) = spawned.exit_cause(inst) {
            return Err(OcfError::generic(format!("PostgreSQL failed to start: {cause}")));
        }
        match probe::probe(inst, deadline, false) {
            Ok(_) => return Ok(()),
            // A probe cut short by the deadline says nothing new.
            Err(SqlError::Timeout(d)) if d.is_zero() && last.is_some() => {}
            Err(e) => last = Some(e),
        }
        if !deadline.sleep(POLL) {
            let said = spawned.last_log_line();
            let answer = last.map(|e| e.to_string()).unwrap_or_default();
            return Err(OcfError::generic(format!(
                "PostgreSQL not ready before the start timeout: {answer}; last log line: {said}"
            )));
        }
    }
}
