//! `promote`: make this standby the primary, only if it is the best choice.
//!
//! - not a promotable clone: ERR_UNIMPLEMENTED (a primitive has no roles);
//! - already a primary: success;
//! - not a running, answering standby: ERR_GENERIC (Pacemaker starts an
//!   instance before promoting it);
//! - election (when pre-promote noted a round): wait, bounded, for every
//!   participant's position; if one is better (timeline, then LSN), hand
//!   the promotion to it (its score up, ours down) and fail so that
//!   Pacemaker plans again ([`promotion::election`]);
//! - switchover (a node was demoted in this round and published its shutdown
//!   checkpoint): refuse unless this standby received past that checkpoint,
//!   so no write the old primary acknowledged is lost; the old primary then
//!   stays primary ([`promotion::switchover`]);
//! - sync modes, unless a clean switchover passed: the quorum gate over
//!   the synchronous standbys' lists the primary published: enough of them
//!   take part that one has every acknowledged commit, and none is ahead;
//!   otherwise hand over, or wait with no node promotable (strict-sync
//!   until they are back; sync up to `sync_grace`, then with a warning)
//!   ([`quorum::gate_all`]);
//! - sync modes: `synchronous_standby_names` names the other participants
//!   before the promotion, so the first commit already waits for them;
//! - without fencing, a wait for a primary cut off from this partition to
//!   stop taking writes: the rest of 3 s from when this node first saw a
//!   node leave, none when every node is here or the old primary was
//!   demoted in this round ([`isolation::wait_before_promote`]);
//! - the history files of timeline numbers other nodes are known to have
//!   used are put in `pg_wal` first, so that the promotion makes a number
//!   of its own ([`timelines::hold_used_numbers`]); after it, its history
//!   is published on every member's node ([`timelines::publish`]);
//! - `pg_promote(wait => true)` within the deadline, then the probe must
//!   find a primary, then a CHECKPOINT so pg_control shows the new timeline
//!   (pg_rewind reads it to detect a diverged former primary); then scores: ours to the primary's, and the other
//!   participants that can follow us get a standby's right away, so a second
//!   failure before our next monitor still finds a candidate.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::context::Context;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::params::{Config, ReplicationMode};
use crate::pcmk::attrs;
use crate::pg::history;
use crate::pg::instance::Instance;
use crate::pg::probe;
use crate::pg::promote as pg_promote;
use crate::pg::replication::Replication;
use crate::pg::settings;
use crate::pg::state::{self, InstanceState};
use crate::policy::promotion::{self, Checkpoint, Election};
use crate::policy::quorum::{self, Candidate, Gate};
use crate::policy::sync as sync_rule;
use crate::policy::upkeep;
use crate::replication::election::{self, Position};
use crate::replication::publish::{SCORE_BOOTSTRAP, SCORE_PRIMARY, SCORE_STANDBY};
use crate::replication::{apply, isolation, slots, timelines, upkeep as replication_upkeep};
use crate::runstate::RunState;
use crate::vocab::{Attr, Key, NO_VALUE};
use crate::{log_info, log_warn};

/// How long promote waits for the participants' positions. attrd spreads a
/// value in milliseconds; a participant silent for this long (its instance
/// hung in the notification) must not delay the failover further.
const ELECTION_WAIT: Duration = Duration::from_secs(5);

pub fn run(ctx: &Context) -> OcfResult {
    let config = ctx.promotable_config("promote")?;
    let inst = ctx.instance(&config)?;
    let rsc = ctx.resource().to_string();
    let status = match state::inspect(&inst, ctx.deadline, true)? {
        InstanceState::Running { health, .. } => match health.replication {
            Some(Replication::Standby(status)) => status,
            _ => {
                log_info!("already a primary");
                return Ok(OcfCode::Success);
            }
        },
        other => {
            return Err(OcfError::generic(format!(
                "cannot promote: the instance is not a running standby ({other:?})"
            )));
        }
    };
    let me = ctx.node_name();
    let (mine, my_history) =
        history::position_with_history(&inst, Position::of_standby(&status), ctx.deadline);
    let round = election::take_round(&rsc).unwrap_or_default();
    let (votes, missing) = election::collect(&rsc, &round, &me, ctx.deadline.within(ELECTION_WAIT));
    if !missing.is_empty() {
        log_warn!("no vote from {missing:?} in this round in time: they take no part in this election");
    }
    let (published, diverged) = promotion::positions_by_history(mine, my_history.as_ref(), &votes);
    if !diverged.is_empty() {
        log_warn!("the timeline history of {diverged:?} forked from ours: not counted as ahead of {mine}");
    }
    if let Election::HandOver { node, theirs } = promotion::election(mine, &published) {
        return Err(hand_over(
            ctx,
            &rsc,
            &node,
            format!("{node} is more advanced ({theirs} > {mine})"),
        ));
    }
    let switchover = check_switchover(ctx, &rsc, &round.demoted, mine)?;
    if config.replication_mode != ReplicationMode::Async && !switchover {
        check_quorum(ctx, &config, &me, mine, &round.participants, &published)?;
    }
    let expected: Vec<String> = round.participants.iter().filter(|n| **n != me).cloned().collect();
    let sync_set = wait_for_the_expected_standbys(ctx, &inst, &config, &expected);
    let (wait, why) = isolation::wait_before_promote(ctx, &round);
    if !wait.is_zero() {
        // Cut short, the wait would let two primaries take writes.
        if ctx.deadline.remaining() <= wait {
            return Err(OcfError::generic(format!(
                "no fencing: the promote timeout leaves less than the {:.1}s wait for a cut-off primary to stop; raise op promote timeout",
                wait.as_secs_f64()
            )));
        }
        log_info!(
            "no fencing: waiting {:.1}s so that a primary cut off from this partition has stopped taking writes \
             (no-quorum-policy=stop) before this node takes any: {why}",
            wait.as_secs_f64()
        );
        ctx.deadline.sleep(wait);
    }
    timelines::hold_used_numbers(ctx, &inst, mine, &votes);
    log_info!("promoting at {mine} (participants {:?})", round.participants);
    pg_promote::promote(&inst, ctx.deadline)
        .map_err(|e| OcfError::generic(format!("pg_promote failed: {e}")).with_source(e))?;
    // One probe confirms the new role and lists the slots already there.
    let (existing_slots, lost_slots, timeline) = match probe::probe(&inst, ctx.deadline, true) {
        Ok(health) if !health.in_recovery => match health.replication {
            Some(Replication::Primary(status)) => (status.slots, status.lost_slots, Some(status.timeline)),
            _ => (Vec::new(), Vec::new(), None),
        },
        Ok(_) => return Err(OcfError::generic("promoted, but the server is still in recovery")),
        Err(e) => return Err(OcfError::generic(format!("promoted, but the probe failed: {e}"))),
    };
    if let Err(e) = pg_promote::checkpoint(&inst, Duration::from_secs(30), ctx.deadline) {
        log_warn!(
            "checkpoint after promotion failed ({e}): pg_rewind of a former primary may miss the divergence until the next checkpoint"
        );
    }
    let mut memory = RunState::load(&rsc);
    memory.clear_except(Key::is_membership);
    let followers = promotion::followers(mine, &published, &me);
    let expected = sync_set.then_some(expected.as_slice());
    apply::apply(
        ctx,
        &mut memory,
        &inst,
        upkeep::promoted_steps(&followers, expected),
    );
    if let Some(timeline) = timeline {
        timelines::publish(ctx, &inst, timeline, &mut memory);
    }
    // Slots for the others now, before their standbys reconnect.
    if let Some(collision) = slots::maintain_primary(
        ctx,
        &mut memory,
        &inst,
        &config,
        &me,
        &existing_slots,
        &lost_slots,
    ) {
        log_warn!("{collision}"); // the monitor reports it
    }
    memory.save();
    log_info!("promoted; standbys that can follow: {followers:?} (score {SCORE_STANDBY})");
    Ok(OcfCode::Success)
}

/// Sync modes: the new primary's commits wait for the standbys expected to
/// follow it (the other participants of the election; in strict-sync with
/// none, the other members) from the first one:
/// `synchronous_standby_names` is set while it is still a standby (ALTER
/// SYSTEM works there, and the value is read at promotion), so no commit
/// only this node has is acknowledged while another node could still take
/// it. True when it was set. A failure is logged, not fatal: refusing the
/// promotion would leave no primary at all, and the first monitor sets it.
fn wait_for_the_expected_standbys(
    ctx: &Context,
    inst: &Instance,
    config: &Config,
    expected: &[String],
) -> bool {
    let mode = config.replication_mode;
    if mode == ReplicationMode::Async || (expected.is_empty() && mode == ReplicationMode::Sync) {
        return false;
    }
    // strict-sync with no other participant: the other members (or `*`),
    // never the empty value the server may hold from an async past, so
    // that not one commit is acknowledged by this node alone.
    let mut others: Vec<String> = expected.to_vec();
    if expected.is_empty() {
        let mut memory = RunState::load(ctx.resource());
        let me = ctx.node_name();
        others = replication_upkeep::members(ctx.deadline, &mut memory)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| *n != me)
            .collect();
        memory.save();
    }
    let Some(names) = sync_rule::synchronous_names(mode, config.sync_standbys, &[], expected, &others, true)
    else {
        return false;
    };
    match settings::set_synchronous_names(inst, &names, ctx.deadline) {
        Ok(()) => {
            log_info!("synchronous_standby_names set to '{names}' before the promotion");
            true
        }
        Err(e) => {
            log_warn!("cannot set synchronous_standby_names to '{names}' before the promotion: {e}");
            false
        }
    }
}

/// The quorum gate ([`quorum::gate_all`]) over the lists the primary
/// published: a candidate is promoted only when enough of the listed
/// standbys take part that one of them has every acknowledged commit, and
/// none of them is ahead. `sync` waits up to `sync_grace` (counted from
/// when this standby stopped streaming), then promotes with a warning.
/// A wait fails the promote after deleting every participant's score: no
/// node is then promotable, and the standbys' monitors give the bootstrap
/// score to the best one once the gate passes ([`Attr::Gate`] says why
/// meanwhile).
fn check_quorum(
    ctx: &Context,
    config: &Config,
    me: &str,
    mine: Position,
    participants: &[String],
    published: &BTreeMap<String, Position>,
) -> OcfResult<()> {
    let rsc = ctx.resource();
    let lists = election::published_sync_lists(rsc, ctx.deadline);
    if lists.is_empty() {
        log_warn!("no synchronous_standby_names was published: the quorum gate has nothing to check");
        return Ok(());
    }
    let memory = RunState::load(rsc);
    let waited_s = [Key::ReceiverDown, Key::GateWaiting]
        .iter()
        .filter_map(|k| memory.flag_age(k))
        .max()
        .unwrap_or(0);
    let candidate = Candidate {
        name: me,
        position: mine,
        waited_s,
    };
    match quorum::gate_all(
        config.replication_mode,
        &lists,
        published,
        candidate,
        config.sync_grace_s,
    ) {
        gate @ (Gate::Promote | Gate::PromoteWithLoss { .. }) => {
            if let Gate::PromoteWithLoss { warning, .. } = gate {
                log_warn!("{warning}");
            }
            let _ = attrs::set(rsc, Attr::Gate, Some(NO_VALUE), None, ctx.deadline);
            Ok(())
        }
        Gate::HandOver { node, theirs } => Err(hand_over(
            ctx,
            rsc,
            &node,
            format!("{node}, a listed synchronous standby, is more advanced ({theirs} > {mine})"),
        )),
        Gate::Wait { reason, .. } => {
            let _ = attrs::set(rsc, Attr::Gate, Some(&reason), None, ctx.deadline);
            for node in participants.iter().map(String::as_str).chain([me]) {
                if let Err(e) = attrs::delete_promotion_score(rsc, node, ctx.deadline) {
                    log_warn!("cannot delete the promotion score of {node}: {}", e);
                }
            }
            remember_declined(memory, true);
            Err(OcfError::generic(format!("not promoted: {reason}")))
        }
    }
}

/// Hands the promotion over to `node` (its score up, ours down) and
/// returns the failure that makes Pacemaker plan again.
fn hand_over(ctx: &Context, rsc: &str, node: &str, why: String) -> OcfError {
    let _ = attrs::set_promotion_score(rsc, Some(node), SCORE_PRIMARY, ctx.deadline);
    let _ = attrs::set_promotion_score(rsc, None, SCORE_BOOTSTRAP, ctx.deadline);
    remember_declined(RunState::load(rsc), false);
    OcfError::generic(format!("{why}: promotion handed over to it"))
}

/// Notes that this promote fails without a fault of this node: its next
/// standby monitor clears the failure ([`Key::PromoteDeclined`]); when it
/// waits for the quorum gate, also since when ([`Key::GateWaiting`]: the
/// flag keeps its first age, which `sync_grace` counts from).
fn remember_declined(mut memory: RunState, waiting: bool) {
    memory.set_flag(&Key::PromoteDeclined, true);
    if waiting {
        memory.set_flag(&Key::GateWaiting, true);
    }
    memory.save();
}

/// Applies [`promotion::switchover`] to the shutdown checkpoints the
/// demoted primaries published (read only in a switchover). True when
/// this standby received past every one of them: it then has every commit
/// the old primary acknowledged, and no quorum gate is needed.
fn check_switchover(ctx: &Context, rsc: &str, demoted: &[String], mine: Position) -> OcfResult<bool> {
    if demoted.is_empty() {
        return Ok(false);
    }
    let mut passed_all = true;
    let checkpoints = election::shutdown_checkpoints(rsc, ctx.deadline);
    for (node, verdict) in promotion::switchover(mine, demoted, &checkpoints) {
        match verdict {
            Checkpoint::Unpublished => {
                passed_all = false;
                log_warn!("switchover: {node} published no shutdown checkpoint (not a clean demote)")
            }
            Checkpoint::NotPassed(checkpoint) => {
                return Err(OcfError::generic(format!(
                    "switchover refused: received {mine}, not past {node}'s shutdown checkpoint {checkpoint}"
                )));
            }
            Checkpoint::Passed(checkpoint) => {
                log_info!("switchover: received {mine}, past {node}'s shutdown checkpoint {checkpoint}")
            }
        }
    }
    Ok(passed_all)
}
