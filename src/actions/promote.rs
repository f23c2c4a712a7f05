//! `promote`: make this standby the primary, only if it is the best choice.
//!
//! - not a promotable clone: ERR_UNIMPLEMENTED (a primitive has no roles);
//! - already a primary: success;
//! - not a running, answering standby: ERR_GENERIC (Pacemaker starts an
//!   instance before promoting it);
//! - a node the operator marked `nopromote`: refuse, and pass the
//!   promotion to the best participant that may be promoted (Pacemaker's
//!   location rule normally keeps it from getting here);
//! - election (when pre-promote noted a round): wait, bounded, for every
//!   participant's position; if one that may be promoted is better
//!   (timeline, then LSN), hand the promotion to it (its score up, ours
//!   down) and fail so that Pacemaker plans again ([`promotion::election`]);
//! - roles: a participant that may not be promoted is ahead: wait like the
//!   quorum gate (strict-sync until it may be promoted or the old primary
//!   is back; sync and async up to `sync_grace`, then with a warning)
//!   ([`roles::barred_ahead`]); an equally advanced participant with a
//!   higher `priority` gets the promotion, except in a switchover, where
//!   the operator named the target ([`roles::preferred_among_equals`]);
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
//!   (but those marked `nosync`) before the promotion, so the first commit
//!   already waits for them;
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
use crate::policy::roles::{self, Barred};
use crate::policy::sync as sync_rule;
use crate::policy::upkeep;
use crate::replication::election::{self, Position};
use crate::replication::publish::{SCORE_BOOTSTRAP, SCORE_PRIMARY, SCORE_STANDBY};
use crate::replication::{apply, isolation, slots, timelines, upkeep as replication_upkeep};
use crate::runstate::RunState;
use crate::vocab::{Attr, Key, NO_VALUE, NodeRoles};
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
        log_warn!(
            "the timeline history of {diverged:?} forked from ours ({mine}): those with more WAL past the fork count as ahead"
        );
    }
    // Read now: a standby's memory is only as recent as its last look.
    let roles = {
        let mut memory = RunState::load(&rsc);
        let roles = replication_upkeep::node_roles_now(&rsc, ctx.deadline, &mut memory);
        memory.save();
        roles
    };
    if !roles.may_promote(&me) {
        return Err(refuse_barred(ctx, &rsc, mine, &published, &roles));
    }
    let promotable = roles::promotable(&published, &roles);
    if let Election::HandOver { node, theirs } = promotion::election(mine, &promotable) {
        return Err(hand_over(
            ctx,
            &rsc,
            &node,
            format!("{node} is more advanced ({theirs} > {mine})"),
        ));
    }
    let candidacy = Candidacy {
        me: &me,
        mine,
        participants: &round.participants,
        published: &published,
        roles: &roles,
    };
    check_roles(ctx, &config, &candidacy)?;
    if round.demoted.is_empty() {
        if let Some(node) = roles::preferred_among_equals(mine, &me, &promotable, &roles) {
            let (theirs, ours) = (roles.of(&node).priority, roles.of(&me).priority);
            return Err(hand_over(
                ctx,
                &rsc,
                &node,
                format!("{node} is as advanced ({mine}) and preferred (priority {theirs} > {ours})"),
            ));
        }
    }
    let switchover = check_switchover(ctx, &rsc, &round.demoted, mine)?;
    if config.replication_mode != ReplicationMode::Async && !switchover {
        check_quorum(ctx, &config, &candidacy)?;
    }
    let expected: Vec<String> = round.participants.iter().filter(|n| **n != me).cloned().collect();
    let waited_for = wait_for_the_expected_standbys(ctx, &inst, &config, &expected, &roles);
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
    apply::apply(
        ctx,
        &mut memory,
        &inst,
        upkeep::promoted_steps(&followers, &roles, waited_for.as_deref()),
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
/// follow it (the other participants of the election that may be
/// synchronous; in strict-sync with none, the other members) from the first
/// one: `synchronous_standby_names` is set while it is still a standby
/// (ALTER SYSTEM works there, and the value is read at promotion), so no
/// commit only this node has is acknowledged while another node could
/// still take it. The standbys waited for, when it was set. A failure is
/// logged, not fatal: refusing the promotion would leave no primary at
/// all, and the first monitor sets it.
fn wait_for_the_expected_standbys(
    ctx: &Context,
    inst: &Instance,
    config: &Config,
    expected: &[String],
    roles: &NodeRoles,
) -> Option<Vec<String>> {
    let mode = config.replication_mode;
    let eligible = expected.iter().any(|n| roles.may_be_sync(n));
    if mode == ReplicationMode::Async || (!eligible && mode == ReplicationMode::Sync) {
        return None;
    }
    // strict-sync with no other participant that may be synchronous: the
    // other members (or `*`), never the empty value the server may hold
    // from an async past, so that not one commit is acknowledged by this
    // node alone.
    let mut others: Vec<String> = Vec::new();
    if !eligible {
        let mut memory = RunState::load(ctx.resource());
        let me = ctx.node_name();
        others = replication_upkeep::members(ctx.resource(), ctx.deadline, &mut memory)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| *n != me)
            .collect();
        memory.save();
    }
    let candidates = roles::sync_candidates(mode, &[], expected, &others, roles);
    if let Some(reason) = roles::listed_anyway_reason(&candidates.listed_anyway) {
        log_warn!("{reason}");
    }
    let names = sync_rule::synchronous_names(
        mode,
        config.sync_standbys,
        &[],
        &candidates.known,
        &candidates.members,
        true,
    )?;
    match settings::set_synchronous_names(inst, &names, ctx.deadline) {
        Ok(()) => {
            log_info!("synchronous_standby_names set to '{names}' before the promotion");
            Some(candidates.known)
        }
        Err(e) => {
            log_warn!("cannot set synchronous_standby_names to '{names}' before the promotion: {e}");
            None
        }
    }
}

/// How long this standby has waited for a gate (the quorum's, the roles'):
/// since it stopped streaming, or since a gate first held it.
fn gate_waited_s(memory: &RunState) -> u64 {
    [Key::ReceiverDown, Key::GateWaiting]
        .iter()
        .filter_map(|k| memory.flag_age(k))
        .max()
        .unwrap_or(0)
}

/// What the gates judge: this standby (`me`, at `mine`), the round's
/// participants, the positions they voted (compared by history) and the
/// operator's roles.
struct Candidacy<'a> {
    me: &'a str,
    mine: Position,
    participants: &'a [String],
    published: &'a BTreeMap<String, Position>,
    roles: &'a NodeRoles,
}

/// A gate keeps this standby from being promoted now: every
/// participant's score deleted (no node is promotable, so Pacemaker does
/// not try again and again), the reason published ([`Attr::Gate`]), and
/// the failure that says it; the standbys' monitors give the bootstrap
/// score to the best one once the gate passes.
fn wait_at_gate(ctx: &Context, c: &Candidacy, reason: &str) -> OcfError {
    let rsc = ctx.resource();
    let _ = attrs::set(rsc, Attr::Gate, Some(reason), None, ctx.deadline);
    for node in c.participants.iter().map(String::as_str).chain([c.me]) {
        if let Err(e) = attrs::delete_promotion_score(rsc, node, ctx.deadline) {
            log_warn!("cannot delete the promotion score of {node}: {}", e);
        }
    }
    remember_declined(RunState::load(rsc), true);
    OcfError::generic(format!("not promoted: {reason}"))
}

/// The roles' gate ([`roles::barred_ahead`]): a participant that may not
/// be promoted holds WAL this standby lacks. It never gets the promotion;
/// this one waits for it (or for the old primary), within `sync_grace`
/// but in strict-sync, like the quorum gate.
fn check_roles(ctx: &Context, config: &Config, c: &Candidacy) -> OcfResult<()> {
    if c.roles.0.values().all(|f| !f.no_promote) {
        return Ok(());
    }
    let waited_s = gate_waited_s(&RunState::load(ctx.resource()));
    match roles::barred_ahead(
        config.replication_mode,
        c.mine,
        c.published,
        c.roles,
        waited_s,
        config.sync_grace_s,
    ) {
        Barred::Pass => {}
        Barred::PromoteWithLoss { warning, .. } => log_warn!("{warning}"),
        Barred::Wait { reason, .. } => return Err(wait_at_gate(ctx, c, &reason)),
    }
    // The quorum gate, in sync modes, may still hold it; it writes its own.
    if config.replication_mode == ReplicationMode::Async {
        let _ = attrs::set(ctx.resource(), Attr::Gate, Some(NO_VALUE), None, ctx.deadline);
    }
    Ok(())
}

/// A promote on a node that may not be promoted (the location rule is
/// missing, or the operator set the flag a moment ago): it is refused; the
/// most advanced participant that may be promoted gets the promotion
/// (when none is, nobody: the standbys' bootstrap finds one), and this
/// node's score is the barred one, so that Pacemaker does not come back.
fn refuse_barred(
    ctx: &Context,
    rsc: &str,
    mine: Position,
    published: &BTreeMap<String, Position>,
    roles: &NodeRoles,
) -> OcfError {
    let best = roles::promotable(published, roles)
        .into_iter()
        .max_by_key(|(n, p)| (*p, std::cmp::Reverse(n.clone())));
    let _ = attrs::set_promotion_score(rsc, None, roles::SCORE_NO_PROMOTE, ctx.deadline);
    remember_declined(RunState::load(rsc), false);
    let to = match &best {
        Some((node, theirs)) => {
            let _ = attrs::set_promotion_score(rsc, Some(node), SCORE_PRIMARY, ctx.deadline);
            format!(": promotion handed over to {node} ({theirs}, here {mine})")
        }
        None => String::new(),
    };
    OcfError::generic(format!(
        "this node may not be promoted ({} is true){to}",
        crate::vocab::RoleAttr::NoPromote.name(rsc)
    ))
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
fn check_quorum(ctx: &Context, config: &Config, c: &Candidacy) -> OcfResult<()> {
    let rsc = ctx.resource();
    let lists = election::published_sync_lists(rsc, ctx.deadline);
    if lists.is_empty() {
        log_warn!("no synchronous_standby_names was published: the quorum gate has nothing to check");
        return Ok(());
    }
    let candidate = Candidate {
        name: c.me,
        position: c.mine,
        waited_s: gate_waited_s(&RunState::load(rsc)),
    };
    let gate = quorum::gate_all(
        config.replication_mode,
        &lists,
        c.published,
        candidate,
        config.sync_grace_s,
    );
    match roles::gate_after_roles(gate, c.roles) {
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
            format!(
                "{node}, a listed synchronous standby, is more advanced ({theirs} > {})",
                c.mine
            ),
        )),
        Gate::Wait { reason, .. } => Err(wait_at_gate(ctx, c, &reason)),
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
