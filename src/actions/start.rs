//! `start`: bring the server up and return once the health probe answers.
//!
//! - parameters fail: their code (nothing is started);
//! - what only an operator's mistake explains, as validate-all finds it
//!   ([`validate::check_distribution_service`] before anything is copied,
//!   [`validate::check_server_settings`] after the host checks): the
//!   distribution's own service for this data directory, `listen_addresses`
//!   no standby can reach: refused with the fix; the rest logged as
//!   warnings;
//! - promotable clone with bootstrap=basebackup, before the host checks
//!   ([`build::look`]): a missing or empty data directory of the system
//!   user is filled with a copy of the primary ([`build::copy`]), then
//!   started below like any standby; a directory that is not empty and not
//!   an instance, or not the user's, is refused with a reason;
//! - host checks fail: their code (nothing is started);
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
//!     else a rebuild when rebuild=true, else refuse with a reason (never
//!     follow a timeline it forked from); pg_rewind failed (the WAL since
//!     the fork is gone), or its crash recovery failed (its WAL is gone) ->
//!     a rebuild when rebuild=true, else their reason;
//!     no primary reachable -> start and wait for one;
//!   - any instance (a plain standby too) beside a primary that another
//!     node reports: the history of the WAL it holds must be a prefix of
//!     the primary's (asked over SQL, [`rejoin::fork`]); one that forked
//!     is compared and rewound like a diverged former primary, and when its
//!     timeline has the primary's number, which pg_rewind takes for the
//!     same timeline, rebuilt (rebuild=true) or refused;
//!   - a data directory whose pg_rewind did not finish (cut by the start's
//!     timeout, or killed with the agent; remembered across reboots) is
//!     never started as it is, nor rebuilt for that alone: pg_rewind runs
//!     again against the primary, and with no primary the start fails; a
//!     pg_rewind cut by the timeout fails the start with "raise op start
//!     timeout" ([`rejoin::REWIND_CUT`]);
//!   - a standby that the monitor found unable to follow the primary (the
//!     agent's memory says why, from its log) is rebuilt when rebuild=true
//!     and the primary confirms it ([`build::confirm_rebuild`]: pg_rewind
//!     for a fork, the primary's oldest WAL for removed WAL); with no
//!     confirmation it starts as a standby and the log says why;
//!   - a rebuild copies the primary beside the data directory, moves the
//!     old data aside (never deleted; the log says where) and puts the
//!     copy in place; then `standby.signal` and the recovery settings on
//!     the command line, as a standby;
//!   - a primary that demote made a standby where it stood and that shut
//!     down cleanly since is compared the same way (cut off, it was demoted
//!     alone: [`rejoin::needs_compare`]); the demote is remembered, across
//!     reboots ([`crate::runstate`]), until a start has compared it with a
//!     running primary (or rewound or copied it) or it streamed: a start
//!     that found no primary to compare with keeps it;
//!   - poll the probe until it answers; in a promotable clone a server
//!     that answers as a primary (`standby.signal` removed before the
//!     postmaster read it) is stopped again and the start fails
//!     ([`lifecycle::after_start`]). If the server exits, the reason
//!     quotes the cause from its output; if it refuses the probe's
//!     connection (pg_hba.conf, a role, pgdatabase), ERR_GENERIC at once
//!     with the fix; at the deadline, ERR_GENERIC with the last thing it
//!     said (Pacemaker then stops it).
//!
//! The decisions are the rules [`lifecycle::start_plan`], [`rejoin`] and
//! [`crate::policy::build`]; this file gathers what they need and carries
//! them out.

use std::time::Duration;

use super::{stop, validate};
use crate::context::{Context, Mode};
use crate::deadline::Deadline;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::params::Config;
use crate::pg::controldata::{self, ClusterState, ControlData};
use crate::pg::history;
use crate::pg::instance::Instance;
use crate::pg::layout;
use crate::pg::names;
use crate::pg::probe;
use crate::pg::recovery;
use crate::pg::remote;
use crate::pg::rewind::{self, Divergence, RewindFailed};
use crate::pg::server::{self, RecoveryFailed, Spawned};
use crate::pg::session::SqlError;
use crate::pg::state;
use crate::pg::waldump;
use crate::policy::build::BeforeStart;
use crate::policy::lifecycle::{self, StartPlan, Started};
use crate::policy::rejoin::{self, AfterCompare, AfterRewind, BeforeCompare};
use crate::policy::upkeep as upkeep_rule;
use crate::replication::{apply, build, isolation, upkeep};
use crate::runstate::RunState;
use crate::vocab::Key;
use crate::{log_info, log_warn};

/// Pause between two probes while the server starts.
const POLL: Duration = Duration::from_millis(100);

/// What a start keeps of its deadline, when the server is not ready, to
/// say how far its WAL replay got (a listing of pg_wal).
const REASON_RESERVE: Duration = Duration::from_millis(250);

pub fn run(ctx: &Context) -> OcfResult {
    let config = ctx.checked_config()?;
    validate::check_distribution_service(ctx, &config)?;
    if ctx.mode() == Mode::Promotable {
        match build::look(ctx, &config)? {
            BeforeStart::AsItIs => {}
            BeforeStart::Build => {
                names::check_node_name(&ctx.node_name())?;
                build::copy(ctx, &config, false, "the data directory is missing or empty")?;
            }
            BeforeStart::Refuse(e) => return Err(e),
        }
    }
    let mut inst = ctx.instance(&config)?;
    validate::check_server_settings(ctx, &config, &inst)?;
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
            wait_until_ready(&inst, spawned, false, ctx.deadline)?;
        }
        Mode::Promotable => {
            names::check_node_name(&ctx.node_name())?;
            // A killed postmaster's zombie or orphans would make the
            // single-user crash recovery of rejoin_check refuse to run.
            server::clear_leftovers(&inst, ctx.deadline)?;
            let demoted = memory.flag(&Key::DemotedPrimary);
            // The notifications missed while stopped may have shown a node
            // back: the departures seen before count from the next look.
            isolation::forget_all(&mut memory);
            let (mut former_primary, mut compared, rebuild) =
                match rejoin_check(ctx, &inst, &config, demoted, &mut memory)? {
                    Rejoin::Follow {
                        former_primary,
                        compared,
                    } => (
                        former_primary,
                        compared,
                        build::confirm_rebuild(ctx, &inst, &config, &mut memory),
                    ),
                    Rejoin::Rebuild(why) => (true, true, Some(why)),
                };
            let mut aside = None;
            if let Some(why) = rebuild {
                aside = build::copy(ctx, &config, true, &format!("rebuild: {why}"))?;
                inst = ctx.instance(&config)?;
                former_primary = false;
                compared = true; // a copy of the primary has its history
                memory = RunState::load(ctx.resource());
                // The copy replaced whatever a cut pg_rewind left.
                memory.set_flag(&Key::RewindStarted, false);
            }
            apply::apply(
                ctx,
                &mut memory,
                &inst,
                upkeep_rule::standby_start_steps(former_primary, demoted && !compared),
            );
            memory.save();
            start_standby(ctx, &inst, &config, ctx.deadline).map_err(|e| match &aside {
                // The reason says where the old data went, even now.
                Some(old) => OcfError::new(e.code, format!("old data in {}; {}", old.display(), e.reason)),
                None => e,
            })?;
        }
    }
    // Running again: a forced stop of ours no longer explains pg_control
    // (the state file is written only if it held one).
    stop::forget(&mut memory);
    memory.save();
    log_info!("started");
    Ok(OcfCode::Success)
}

/// What [`rejoin_check`] found.
enum Rejoin {
    /// Start as a standby; `former_primary`: it was a primary (and may
    /// follow, or lead, now); `compared`: its history was compared with a
    /// running primary's (and found part of it, or rewound onto it). A
    /// demote stays remembered until one is.
    Follow { former_primary: bool, compared: bool },
    /// It cannot follow as it is and rebuild=true: copy the primary.
    Rebuild(String),
}

/// A former primary must not follow a timeline it diverged from
/// ([`rejoin`]). `demoted`: the memory of a demote since the last start
/// ([`rejoin::needs_compare`]). The memory of a pg_rewind that has not
/// finished ([`Key::RewindStarted`]) is kept in `memory`, saved before
/// pg_rewind runs: a kill of the agent meanwhile leaves it set.
fn rejoin_check(
    ctx: &Context,
    inst: &Instance,
    config: &Config,
    demoted: bool,
    memory: &mut RunState,
) -> OcfResult<Rejoin> {
    let unfinished = memory.flag(&Key::RewindStarted);
    let backup_label = layout::has_backup_label(&inst.datadir, &inst.user, ctx.deadline)?;
    // Not read for a fresh base backup: it follows as it is.
    let control = if backup_label && !unfinished {
        None
    } else {
        Some(controldata::read(
            &inst.bindir,
            &inst.datadir,
            &inst.user,
            ctx.deadline,
        )?)
    };
    let state = control
        .as_ref()
        .map_or(ClusterState::Unknown(String::new()), |c| c.state.clone());
    let other_primary = match &control {
        // Not asked for an unfinished rewind: only a primary can finish
        // it, whatever the attributes say.
        Some(_) if !unfinished => other_primary(ctx),
        _ => None,
    };
    let fork = match &control {
        Some(c) if other_primary == Some(true) => history_fork(ctx, inst, config, c),
        _ => None,
    };
    if let Some(fork) = &fork {
        log_warn!("{}: comparing it with the primary", fork.described());
    }
    let was_primary = match rejoin::before_compare(
        backup_label,
        &state,
        demoted,
        unfinished,
        fork.is_some(),
        other_primary,
    ) {
        BeforeCompare::RewindFinished => {
            log_info!("the last pg_rewind had written everything but the sync: starting as a standby");
            memory.set_flag(&Key::RewindStarted, false);
            return Ok(Rejoin::Follow {
                former_primary: false,
                compared: true,
            });
        }
        BeforeCompare::Follow { former_primary } => {
            if former_primary {
                log_info!("former primary, and no other node runs a primary: starting as a standby");
            }
            return Ok(Rejoin::Follow {
                former_primary,
                compared: false,
            });
        }
        BeforeCompare::Compare { crash_recover } => {
            if crash_recover {
                // A replay that fails for want of WAL fails at once, so a
                // rebuild after it still has its time: a long one gets most
                // of the budget, the comparison and the start the rest.
                let share = 0.6;
                match recover_in_place(ctx, inst, share) {
                    Ok(()) => {}
                    // Its WAL is there, only the time was short: never a
                    // reason to copy the primary over it.
                    Err(RecoveryFailed::TimedOut(_, e)) => return Err(e),
                    // Its own WAL is gone or broken: it can neither be
                    // compared nor rewound, only copied again.
                    Err(RecoveryFailed::Failed(e)) => {
                        return match rejoin::after_repair(e, config.rebuild) {
                            AfterRewind::Rebuild(why) => Ok(Rejoin::Rebuild(why)),
                            AfterRewind::Fail(e) => Err(e),
                        };
                    }
                }
            }
            // A demoted primary shut down as a standby is compared, but it
            // was no primary at its last start (no bootstrap preference).
            rejoin::former_primary(backup_label, &state)
        }
    };
    if unfinished {
        log_info!("the last pg_rewind did not finish: comparing with the primary to run it again");
    } else if demoted && !was_primary {
        log_info!("demoted primary, shut down as a standby since: comparing its history with the primary's");
    }
    let divergence = rewind::check_divergence(inst, &config.primary_conninfo, ctx.deadline)?;
    match rejoin::after_compare(
        &divergence,
        fork.as_ref(),
        unfinished,
        config.rewind,
        config.rebuild,
    ) {
        AfterCompare::Follow => {
            match &divergence {
                Divergence::NoPrimary(why) if demoted => log_info!(
                    "demoted primary: no primary to compare with ({why}); starting as a standby, compared at a later start"
                ),
                Divergence::NoPrimary(why) => {
                    log_info!("former primary: no primary to compare with ({why}); starting as a standby")
                }
                _ => log_info!("former primary: its history is part of the primary's, it can follow"),
            }
            Ok(Rejoin::Follow {
                former_primary: was_primary,
                compared: !matches!(divergence, Divergence::NoPrimary(_)),
            })
        }
        AfterCompare::Rebuild(why) => Ok(Rejoin::Rebuild(why)),
        AfterCompare::Rewind => {
            match &divergence {
                Divergence::Diverged(at) => log_info!("former primary diverged ({at}): running pg_rewind"),
                Divergence::Undecided(why) => {
                    log_info!("former primary: pg_rewind cannot tell ({why}); trying pg_rewind")
                }
                Divergence::None | Divergence::NoPrimary(_) => {}
            }
            // Remembered (synced) before pg_rewind writes anything: a
            // timeout, a kill or a power loss may stop it halfway.
            memory.set_flag(&Key::RewindStarted, true);
            memory.save();
            // A pg_rewind that refuses does so before it writes, at once,
            // leaving a rebuild its time; one that runs out of time is never
            // rebuilt, so it gets most of the budget, the server the rest.
            match rewind::rewind(inst, &config.primary_conninfo, ctx.deadline.fraction(0.7)) {
                Ok(()) => {
                    log_info!("pg_rewind done");
                    memory.set_flag(&Key::RewindStarted, false);
                    memory.save();
                    Ok(Rejoin::Follow {
                        former_primary: false,
                        compared: true,
                    })
                }
                // Its data is not lost, only half rewritten: the next start
                // runs it again (the memory stays).
                Err(RewindFailed::TimedOut(e)) => Err(OcfError::generic(rejoin::REWIND_CUT).with_source(e)),
                // A refusal (the WAL since the fork is gone) is the
                // primary's answer; the memory stays until a copy or a
                // pg_rewind that finishes replaces what it may have written.
                Err(RewindFailed::Failed(e)) => match rejoin::after_repair(e, config.rebuild) {
                    AfterRewind::Rebuild(why) => Ok(Rejoin::Rebuild(why)),
                    AfterRewind::Fail(e) => Err(e),
                },
            }
        }
        AfterCompare::Refuse(e) => Err(e),
    }
}

/// Replays a crashed former primary's WAL in single-user mode within
/// `share` of the time left, and checks that it left it shut down.
/// Cut by its share, it says how far it got and where the WAL ends
/// ([`lifecycle::replay_cut_reason`]).
fn recover_in_place(ctx: &Context, inst: &Instance, share: f64) -> Result<(), RecoveryFailed> {
    match server::crash_recover(inst, ctx.deadline.fraction(share)) {
        Ok(()) => {}
        Err(RecoveryFailed::TimedOut(progress, _)) => {
            let end = waldump::last_written_segment_end(&inst.datadir, &inst.user, ctx.deadline);
            let reason = lifecycle::replay_cut_reason("crash recovery", progress, end);
            return Err(RecoveryFailed::TimedOut(progress, OcfError::generic(reason)));
        }
        Err(failed) => return Err(failed),
    }
    let control = controldata::read(&inst.bindir, &inst.datadir, &inst.user, ctx.deadline)
        .map_err(RecoveryFailed::Failed)?;
    if control.state != ClusterState::ShutDown {
        return Err(RecoveryFailed::Failed(OcfError::generic(format!(
            "crash recovery left pg_control '{:?}', not shut down: check the server log",
            control.state
        ))));
    }
    Ok(())
}

/// How long the look at the primary's history may take: a start that
/// cannot ask goes on as before, by the numbers.
const HISTORY_ASK: Duration = Duration::from_secs(10);

/// Whether the history of the WAL this stopped instance holds forked from
/// the running primary's, or its WAL goes past where the primary left its
/// timeline ([`rejoin::fork`]); the primary tells its history over SQL.
/// None when it is part of it, or when either cannot be read (logged: the
/// timeline numbers then decide, as pg_rewind and PostgreSQL do).
fn history_fork(
    ctx: &Context,
    inst: &Instance,
    config: &Config,
    control: &ControlData,
) -> Option<rejoin::Fork> {
    let deadline = ctx.deadline.within(HISTORY_ASK);
    let primary = match remote::primary_history(&inst.bindir, &inst.user, &config.primary_conninfo, deadline)
    {
        Ok(Ok(history)) => history,
        Ok(Err(why)) => {
            log_warn!("cannot read the primary's timeline history ({why}): timelines compared by number");
            return None;
        }
        Err(e) => {
            log_warn!("cannot ask the primary for its timeline history: {}", e);
            return None;
        }
    };
    let mine = history::of_stopped(inst, control.timeline, deadline);
    if mine.is_none() {
        log_warn!("cannot read this node's timeline history: timelines compared by number");
    }
    rejoin::fork(mine.as_ref(), Some(&primary), Some(control.wal_end()))
}

/// Whether another node reports a running primary (its monitor's role
/// attribute); None when the cluster cannot be asked.
fn other_primary(ctx: &Context) -> Option<bool> {
    let me = ctx.node_name();
    let primaries = upkeep::primaries(ctx.resource(), ctx.deadline).ok()?;
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
    wait_until_ready(inst, spawned, true, deadline)
}

/// Polls the probe until the server answers, exits, or the deadline comes.
/// `promotable`: a clone's instance, which must answer as a standby
/// ([`lifecycle::after_start`]): one that came up as a primary is stopped
/// again (fast, escalating within what is left of the deadline) and the
/// start fails.
///
/// A replay still under way at the deadline (crash recovery, or a standby
/// not yet consistent) is the reason, with how far it got and where the
/// WAL ends ([`lifecycle::replay_cut_reason`]); a little of the deadline is
/// kept to read that.
fn wait_until_ready(
    inst: &Instance,
    mut spawned: Spawned,
    promotable: bool,
    deadline: Deadline,
) -> OcfResult<()> {
    let ready_by = deadline.within(deadline.remaining().saturating_sub(REASON_RESERVE));
    let mut last: Option<SqlError> = None;
    loop {
        if let Some(cause) = spawned.exit_cause(inst) {
            return Err(OcfError::generic(format!("PostgreSQL failed to start: {cause}")));
        }
        match probe::probe(inst, ready_by, false) {
            Ok(health) => {
                return match lifecycle::after_start(promotable, health.in_recovery) {
                    Started::Ready => Ok(()),
                    Started::StopPrimary(e) => {
                        log_warn!("{}", e.reason);
                        let mode = server::stop(&inst.datadir, &inst.canonical_datadir, deadline)?;
                        log_info!("the primary it started is stopped ({mode:?})");
                        Err(e)
                    }
                };
            }
            // Refused (pg_hba.conf, a role, pgdatabase): the server accepts
            // connections (one still starting says so before it reads
            // pg_hba.conf), and waiting for the start timeout changes
            // nothing: say why now. Pacemaker stops it.
            Err(e) if state::is_connection_misconfigured(&e) => {
                log_warn!("the server refuses the health probe: {e}");
                return Err(OcfError::generic(format!(
                    "PostgreSQL started, but refuses the probe ({}): fix pg_hba.conf, system_user or pgdatabase",
                    state::refusal(&e)
                )));
            }
            // A probe cut short by the deadline says nothing new.
            Err(SqlError::Timeout(d)) if d.is_zero() && last.is_some() => {}
            Err(e) => last = Some(e),
        }
        if !ready_by.sleep(POLL) {
            if let Some(progress) = spawned.replay_progress() {
                let end = waldump::last_written_segment_end(&inst.datadir, &inst.user, deadline);
                let reason = lifecycle::replay_cut_reason("WAL replay", Some(progress), end);
                return Err(OcfError::generic(reason));
            }
            let said = spawned.last_log_line();
            let answer = last.map(|e| e.to_string()).unwrap_or_default();
            return Err(OcfError::generic(format!(
                "PostgreSQL not ready before the start timeout: {answer}; last log line: {said}"
            )));
        }
    }
}
