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
//! Only cluster members are standbys
//! ([`crate::policy::members::cluster_replicas`]). The primary's part is
//! planned in [`crate::policy::upkeep`] and gathered in
//! [`crate::replication::upkeep`]; every write goes through
//! [`crate::replication::apply`].

use std::collections::BTreeMap;
use std::time::Duration;

use crate::context::Context;
use crate::pcmk::attrs;
use crate::pcmk::node;
use crate::pg::instance::Instance;
use crate::pg::replication::StandbyStatus;
use crate::policy::promotion::Position;
use crate::policy::scores::{self, Bootstrap};
use crate::policy::upkeep::{self, REFRESH_S, Remember, Step, VOLATILE_S};
use crate::replication::apply;
use crate::runstate::RunState;
use crate::vocab::{Attr, Key, NO_VALUE, NodeRole};
use crate::{log_info, log_warn};

pub use crate::policy::scores::{SCORE_BOOTSTRAP, SCORE_PRIMARY, SCORE_STANDBY};

/// A standby's monitor: its attributes, and the bootstrap score when no node
/// has a positive one.
pub fn standby(ctx: &Context, state: &mut RunState, inst: &Instance, status: &StandbyStatus) {
    // The receiver's state, not a role: PostgreSQL has no receiver to show.
    let receiver = status.receiver.as_deref().unwrap_or("stopped");
    let mut steps = upkeep::instance_steps(NodeRole::Standby, status.timeline, status.position(), receiver);
    if let Some(lag) = status.lag() {
        steps.push(Step::Attr {
            node: None,
            attr: Attr::Lag,
            value: lag.to_string(),
            max_age_s: VOLATILE_S,
        });
    }
    apply::apply(ctx, state, inst, steps);
    if !status.is_streaming() {
        bootstrap_score(ctx, state, inst, Position::of_standby(status));
    }
}

/// With no primary streaming to us: if no node has a positive score and we
/// are the most advanced standby that is up, give ourselves the bootstrap
/// score ([`scores::bootstrap`]). Looked at every monitor while that is
/// undecided, once a minute while another node is promotable.
fn bootstrap_score(ctx: &Context, state: &mut RunState, inst: &Instance, mine: Position) {
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
        Bootstrap::NotNeeded => state.set(&Key::BootstrapChecked, "1"),
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
            apply::apply(ctx, state, inst, vec![Step::Score { node: None, score }]);
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
            let timeline = timelines.get(node)?.parse().ok()?;
            let lsn = lsns.get(node)?.parse().ok()?;
            Some((node.clone(), Position { timeline, lsn }))
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
pub fn after_promotion(ctx: &Context, state: &mut RunState, inst: &Instance, followers: &[String]) {
    let mut steps = vec![Step::Score {
        node: None,
        score: SCORE_PRIMARY,
    }];
    for node in followers {
        steps.push(Step::Score {
            node: Some(node.clone()),
            score: SCORE_STANDBY,
        });
        steps.push(Step::Memory(Remember::flag(Key::Standby(node.clone()), true)));
    }
    steps.push(Step::Attr {
        node: None,
        attr: Attr::Role,
        value: NodeRole::Primary.as_str().to_string(),
        max_age_s: REFRESH_S,
    });
    apply::apply(ctx, state, inst, steps);
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
    let stopped = [
        (Attr::Role, NodeRole::Stopped.as_str()),
        (Attr::Receiver, NO_VALUE),
        (Attr::Lag, NO_VALUE),
    ];
    for (attr, value) in stopped {
        apply::publish_node_attr(ctx, state, None, attr, value, REFRESH_S);
    }
}
