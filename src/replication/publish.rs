//! What the monitor tells the cluster: node attributes that `crm_mon -A`
//! shows, and promotion scores.
//!
//! Every write goes through [`RunState`]: a value is written only when it
//! changed (or its last write is older than [`REFRESH_S`], in case attrd
//! lost it), so a steady cluster's monitor runs no Pacemaker tool at all.
//! WAL positions and lag change all the time under load; they are refreshed
//! at most every [`VOLATILE_S`] seconds.
//!
//! Scores are set by the primary, from its own view of the standbys in
//! `pg_stat_replication` (the standbys cannot judge themselves once the
//! primary is gone): streaming and within `maxlag` -> [`SCORE_STANDBY`]
//! (slightly less when more than a WAL segment behind the best one);
//! connecting or catching up -> -1; beyond `maxlag` -> -10; disconnected ->
//! -1000. The primary's own score is [`SCORE_PRIMARY`]. With no primary at
//! all (first start, or every node restarted), the most advanced standby that
//! is up gives itself [`SCORE_BOOTSTRAP`] (one more for a former primary) so
//! that Pacemaker has someone to promote, once every node of its partition
//! has published its position; the election at promote time checks again. These decisions are pure rules in
//! [`crate::policy::scores`]; this module reads the memory and the
//! attributes they need and writes what they decide.
//!
//! Only cluster members are standbys ([`cluster_replicas`]).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::context::Context;
use crate::pcmk::attrs;
use crate::pcmk::node;
use crate::pg::replication::{PrimaryStatus, StandbyStatus};
use crate::policy::members::{cluster_replicas, known_standbys};
use crate::policy::scores::{self, Bootstrap, SCORE_DISCONNECTED, ScoreDecision};
use crate::runstate::RunState;
use crate::vocab::{Attr, Key, Lsn, NO_VALUE, NodeRole, Position};
use crate::{log_info, log_warn};

pub use crate::policy::scores::{SCORE_BOOTSTRAP, SCORE_PRIMARY, SCORE_STANDBY};

/// Rewrite an unchanged value after this long.
pub const REFRESH_S: u64 = 300;
/// Refresh positions and lag at most this often.
pub const VOLATILE_S: u64 = 60;

/// Writes attribute `attr` = `value` here if it changed.
fn publish_attr(ctx: &Context, state: &mut RunState, attr: Attr, value: &str, max_age_s: u64) {
    publish_node_attr(ctx, state, None, attr, value, max_age_s);
}

/// Writes attribute `attr` = `value` of `node` (None: here) if it changed.
pub fn publish_node_attr(
    ctx: &Context,
    state: &mut RunState,
    node: Option<&str>,
    attr: Attr,
    value: &str,
    max_age_s: u64,
) {
    let key = Key::Attr(attr, node.map(str::to_string));
    if state.is_fresh(&key, value, max_age_s) {
        return;
    }
    match attrs::set(ctx.resource(), attr, Some(value), node, ctx.deadline) {
        Ok(()) => state.set(&key, value),
        Err(e) => log_warn!("cannot set {}: {}", attr.name(ctx.resource()), e),
    }
}

/// Sets the promotion score of `node` (None: here) if it changed.
fn publish_score(ctx: &Context, state: &mut RunState, node: Option<&str>, score: i64) {
    let key = Key::Score(node.map(str::to_string));
    let value = score.to_string();
    if state.is_fresh(&key, &value, REFRESH_S) {
        return;
    }
    match attrs::set_promotion_score(ctx.resource(), node, score, ctx.deadline) {
        Ok(()) => {
            log_info!(
                "promotion score of {} set to {score}",
                node.unwrap_or("this node")
            );
            state.set(&key, &value);
        }
        Err(e) => log_warn!(
            "cannot set the promotion score of {}: {}",
            node.unwrap_or("this node"),
            e
        ),
    }
}

/// What every running instance publishes: its role, timeline, WAL
/// position (refreshed at most every [`VOLATILE_S`]) and receiver state.
fn publish_instance(
    ctx: &Context,
    state: &mut RunState,
    role: NodeRole,
    timeline: u32,
    lsn: Lsn,
    receiver: &str,
) {
    publish_attr(ctx, state, Attr::Role, role.as_str(), REFRESH_S);
    publish_attr(ctx, state, Attr::Timeline, &timeline.to_string(), REFRESH_S);
    publish_attr(ctx, state, Attr::Receiver, receiver, REFRESH_S);
    publish_attr(ctx, state, Attr::Lsn, &lsn.to_string(), VOLATILE_S);
}

/// The primary's monitor: its attributes, its score and its standbys'.
pub fn primary(
    ctx: &Context,
    state: &mut RunState,
    status: &PrimaryStatus,
    maxlag: u64,
    sync_modes: bool,
    me: &str,
) {
    publish_instance(
        ctx,
        state,
        NodeRole::Primary,
        status.timeline,
        status.current,
        NO_VALUE,
    );
    publish_score(ctx, state, None, SCORE_PRIMARY);
    // Only cluster members get a score: a pg_receivewal's application_name
    // is not a node (crm_attribute would have been handed any string).
    let members = node::members(ctx.deadline, state);
    let members = members.as_deref();
    let status = &PrimaryStatus {
        replicas: cluster_replicas(&status.replicas, members, me),
        ..status.clone()
    };
    let known = known_standbys(state.scored_nodes(), members, me);
    let scores = scores::standby_scores(&status.replicas, maxlag, sync_modes, me, &known);
    for (node, score) in scores {
        // The memory counts how long it has been missing; the rule
        // (scores::after_grace) says whether its score drops yet.
        let missing = Key::Missing(node.clone());
        state.set_flag(&missing, score == SCORE_DISCONNECTED);
        match scores::after_grace(score, state.flag_age(&missing)) {
            ScoreDecision::Hold => {}
            ScoreDecision::Publish(score) => publish_score(ctx, state, Some(&node), score),
        }
    }
}

/// A standby's monitor: its attributes, and the bootstrap score when no node
/// has a positive one.
pub fn standby(ctx: &Context, state: &mut RunState, status: &StandbyStatus) {
    // The receiver's state, not a role: PostgreSQL has no receiver to show.
    let receiver = status.receiver_state().as_str();
    publish_instance(
        ctx,
        state,
        NodeRole::Standby,
        status.timeline,
        status.position(),
        receiver,
    );
    if let Some(lag) = status.lag() {
        publish_attr(ctx, state, Attr::Lag, &lag.to_string(), VOLATILE_S);
    }
    if !status.is_streaming() {
        bootstrap_score(ctx, state, Position::of_standby(status));
    }
}

/// With no primary streaming to us: if no node has a positive score and we
/// are the most advanced standby that is up, give ourselves the bootstrap
/// score ([`scores::bootstrap`]). Looked at every monitor while that is
/// undecided, once a minute while another node is promotable.
fn bootstrap_score(ctx: &Context, state: &mut RunState, mine: Position) {
    let checked_age = state.age(&Key::BootstrapChecked);
    let not_streaming_s = state.flag_age(&Key::ReceiverDown);
    if !scores::bootstrap_due(checked_age, not_streaming_s) {
        return;
    }
    let scores = match attrs::promotion_scores(ctx.resource(), ctx.deadline) {
        Ok(scores) => scores,
        Err(e) => {
            log_warn!("cannot read promotion scores: {}", e);
            return;
        }
    };
    let me = ctx.node_name();
    // Only asked when no node is promotable: the usual answer costs one call.
    let nobody_needs_it = scores.values().any(|s| *s > 0) || scores.contains_key(&me);
    let former_primary = state.flag(&Key::BootstrapPreferred);
    let mut attempt = 0;
    let (decision, positions) = loop {
        attempt += 1;
        let (positions, partition) = if nobody_needs_it {
            (BTreeMap::new(), None)
        } else {
            (standby_positions(ctx), node::partition(ctx.deadline))
        };
        let view = scores::BootstrapView {
            me: &me,
            former_primary,
            mine,
            scores: &scores,
            positions: &positions,
            partition: partition.as_deref(),
            waited_s: not_streaming_s.unwrap_or(0),
        };
        let decision = scores::bootstrap(&view);
        // After a full restart the nodes' first monitors run side by side,
        // and each may look before the others have published: look once
        // more a second later rather than a whole monitor interval later.
        if matches!(decision, Bootstrap::Waiting(_))
            && attempt == 1
            && ctx.deadline.remaining() > BOOTSTRAP_RETRY * 3
            && ctx.deadline.sleep(BOOTSTRAP_RETRY)
        {
            continue;
        }
        break (decision, positions);
    };
    match decision {
        Bootstrap::NotNeeded => state.stamp(&Key::BootstrapChecked),
        Bootstrap::Behind(node) => {
            log_info!("no node is promotable: {node} is as advanced or more ({mine} here), it goes first")
        }
        Bootstrap::Waiting(nodes) => {
            log_info!("no node is promotable: waiting for the positions of {nodes:?} ({mine} here)")
        }
        Bootstrap::Score(score) => {
            log_info!(
                "no node is promotable and no primary streams to us: bootstrap score {score} ({mine}, the most advanced of {:?})",
                positions
            );
            publish_score(ctx, state, None, score);
        }
    }
}

/// How long a standby waiting for the others' positions waits before it
/// looks again within the same monitor.
const BOOTSTRAP_RETRY: Duration = Duration::from_secs(1);

/// The positions the other running standbys published (role standby,
/// timeline and LSN attributes); a node missing one of them is left out.
fn standby_positions(ctx: &Context) -> BTreeMap<String, Position> {
    let query = |attr| attrs::query_all(ctx.resource(), attr, ctx.deadline).unwrap_or_default();
    let roles = query(Attr::Role);
    let timelines = query(Attr::Timeline);
    let lsns = query(Attr::Lsn);
    roles
        .iter()
        .filter(|(_, role)| NodeRole::parse(role) == Some(NodeRole::Standby))
        .filter_map(|(node, _)| {
            let position = Position::from_halves(timelines.get(node)?, lsns.get(node)?)?;
            Some((node.clone(), position))
        })
        .collect()
}

/// Remembers (start) whether this instance was a primary when it last
/// started: with no primary anywhere, it is the first bootstrap candidate.
pub fn remember_former_primary(state: &mut RunState, former_primary: bool) {
    state.set_flag(&Key::BootstrapPreferred, former_primary);
}

/// Right after a promotion: our score, and a standby's score for every
/// participant of the election that can follow us, so that a second failure
/// before our first monitor still finds a candidate (PAF has no promotable
/// standby until its next primary monitor).
pub fn after_promotion(ctx: &Context, state: &mut RunState, followers: &[String]) {
    publish_score(ctx, state, None, SCORE_PRIMARY);
    for node in followers {
        publish_score(ctx, state, Some(node), SCORE_STANDBY);
        state.remember_standby(node);
    }
    publish_attr(ctx, state, Attr::Role, NodeRole::Primary.as_str(), REFRESH_S);
}

/// Another node that reports itself primary, checked at most once a minute
/// from the role attributes the monitors publish.
pub fn other_primary(ctx: &Context, state: &mut RunState, me: &str) -> Option<String> {
    if state.age(&Key::SplitbrainChecked).is_some_and(|a| a < VOLATILE_S) {
        return state
            .get(&Key::SplitbrainOther)
            .filter(|o| !o.is_empty())
            .map(str::to_string);
    }
    let other = primaries(ctx).ok()?.into_iter().find(|node| node != me);
    state.stamp(&Key::SplitbrainChecked);
    state.set(&Key::SplitbrainOther, other.as_deref().unwrap_or(""));
    other
}

/// The nodes whose role attribute says primary.
pub fn primaries(ctx: &Context) -> crate::ocf::code::OcfResult<Vec<String>> {
    Ok(attrs::query_all(ctx.resource(), Attr::Role, ctx.deadline)?
        .into_iter()
        .filter(|(_, role)| NodeRole::parse(role) == Some(NodeRole::Primary))
        .map(|(node, _)| node)
        .collect())
}

/// Forgets this node's role attributes (stop).
pub fn clear_role(ctx: &Context, state: &mut RunState) {
    publish_attr(ctx, state, Attr::Role, NodeRole::Stopped.as_str(), REFRESH_S);
    publish_attr(ctx, state, Attr::Receiver, NO_VALUE, REFRESH_S);
    publish_attr(ctx, state, Attr::Lag, NO_VALUE, REFRESH_S);
}
