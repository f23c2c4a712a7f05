//! The monitors' upkeep in three moves: gather one view (the server's
//! report, the members, the attributes, the memory's values and ages, the
//! parameters), let the rule plan ([`rule::primary_plan`],
//! [`rule::standby_plan`]), apply the plan ([`apply::apply`]).
//!
//! This is the view-gathering side: what it reads from Pacemaker it may
//! cache in the memory (the members, asked at most once a minute; another
//! primary, looked for at most once a minute, after the writes as ever),
//! which records what was read and decides nothing. The members are asked once per monitor and the
//! view is shared by every step (scores, sync, slots).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::context::Context;
use crate::deadline::Deadline;
use crate::ocf::code::OcfResult;
use crate::params::{Config, ReplicationMode};
use crate::pcmk::{attrs, cib, node};
use crate::pg::follow;
use crate::pg::history;
use crate::pg::instance::Instance;
use crate::pg::replication::{PrimaryStatus, StandbyStatus};
use crate::policy::scores::Bootstrap;
use crate::policy::upkeep::{
    self as rule, BootstrapSeen, PrimaryConfig, PrimaryMemory, PrimaryView, StandbyMemory, StandbyView,
    VOLATILE_S,
};
use crate::replication::{apply, election, isolation};
use crate::runstate::RunState;
use crate::vocab::Position;
use crate::vocab::{Attr, History, Key, NodeRole, NodeRoles};
use crate::{log_info, log_warn};

/// What the primary's monitor reports once its upkeep is done.
#[derive(Debug)]
pub struct PrimaryUpkeep {
    /// Another node that reports itself primary.
    pub other_primary: Option<String>,
    /// Sync modes: why commits are at risk.
    pub sync_risk: Option<String>,
    /// Two members map to one slot: the reason naming both.
    pub slot_collision: Option<String>,
}

/// The primary's monitor upkeep: attributes and scores, synchronous
/// replication, slots, and a look for another primary.
pub fn primary(
    ctx: &Context,
    memory: &mut RunState,
    inst: &Instance,
    status: &PrimaryStatus,
    config: &Config,
    me: &str,
) -> PrimaryUpkeep {
    let members = members(ctx.resource(), ctx.deadline, memory);
    let view = primary_view(members, memory, config, me);
    let plan = rule::primary_plan(&view, status);
    apply::apply(ctx, memory, inst, plan.steps);
    PrimaryUpkeep {
        other_primary: other_primary(ctx.resource(), ctx.deadline, memory, me),
        sync_risk: plan.sync_risk,
        slot_collision: plan.slot_collision,
    }
}

/// What a primary's upkeep reads besides the server's report: the
/// `members` ([`members`]), the memory, the parameters; `me`: this node's
/// name.
pub fn primary_view(
    members: Option<Vec<String>>,
    memory: &RunState,
    config: &Config,
    me: &str,
) -> PrimaryView {
    PrimaryView {
        me: me.to_string(),
        members,
        roles: node_roles(memory),
        memory: primary_memory(memory),
        config: PrimaryConfig {
            maxlag: config.maxlag,
            replication_mode: config.replication_mode,
            sync_standbys: config.sync_standbys,
            sync_grace_s: config.sync_grace_s,
            replication_slots: config.replication_slots,
            slot_grace_s: config.slot_grace_s,
        },
    }
}

/// The memory's entries a primary's upkeep reads, with their ages.
fn primary_memory(memory: &RunState) -> PrimaryMemory {
    let mut seen = PrimaryMemory {
        scored: memory.scored_nodes(),
        remembered_standbys: memory.remembered_standbys(),
        none_streaming_for: memory.flag_age(&Key::SyncNoneStreaming),
        sync_managed: memory.flag(&Key::SyncManaged),
        sync_published: crate::policy::sync::SyncPublished::from_memory(
            memory.get(&Key::SyncPublished).unwrap_or(""),
        ),
        slot_wal_published: {
            let key = Key::Attr(Attr::SlotWal, None);
            memory.get(&key).map(str::to_string).zip(memory.age(&key))
        },
        ..PrimaryMemory::default()
    };
    for key in memory.keys() {
        match &key {
            Key::Missing(node) => {
                if let Some(age) = memory.flag_age(&key) {
                    seen.missing_for.insert(node.clone(), age);
                }
            }
            Key::SlotGone(slot) => {
                if let Some(age) = memory.flag_age(&key) {
                    seen.slot_gone_for.insert(slot.clone(), age);
                }
            }
            _ => {}
        }
    }
    seen
}

/// Look for another primary at most this often.
const OTHER_PRIMARY_MAX_AGE_S: u64 = VOLATILE_S;

/// Another node whose role attribute says primary: what the last look
/// found, for [`OTHER_PRIMARY_MAX_AGE_S`]; else the role attributes the
/// monitors publish, and the answer remembered. A failed look is not.
fn other_primary(rsc: &str, deadline: Deadline, memory: &mut RunState, me: &str) -> Option<String> {
    if let Some(other) = remembered_other_primary(memory) {
        return other;
    }
    let primaries = primaries(rsc, deadline).ok()?;
    remember_other_primary(memory, &primaries, me)
}

/// What the last look found, while it is recent (None: look again).
fn remembered_other_primary(memory: &RunState) -> Option<Option<String>> {
    let recent = memory
        .age(&Key::SplitbrainChecked)
        .is_some_and(|a| a < OTHER_PRIMARY_MAX_AGE_S);
    let other = memory.get(&Key::SplitbrainOther).filter(|o| !o.is_empty());
    recent.then(|| other.map(str::to_string))
}

/// The first of `primaries` that is not `me`, remembered with the time of
/// the look.
fn remember_other_primary(memory: &mut RunState, primaries: &[String], me: &str) -> Option<String> {
    let other = primaries.iter().find(|node| *node != me).cloned();
    memory.stamp(&Key::SplitbrainChecked);
    memory.set(&Key::SplitbrainOther, other.as_deref().unwrap_or(""));
    other
}

/// The nodes whose role attribute (of resource `rsc`) says primary.
pub fn primaries(rsc: &str, deadline: Deadline) -> OcfResult<Vec<String>> {
    Ok(attrs::query_all(rsc, Attr::Role, deadline)?
        .into_iter()
        .filter(|(_, role)| NodeRole::parse(role) == Some(NodeRole::Primary))
        .map(|(node, _)| node)
        .collect())
}

/// What a standby's monitor reports once its upkeep is done.
#[derive(Debug)]
pub struct StandbyUpkeep {
    /// Seconds it has not streamed (None while it streams).
    pub not_streaming_for: Option<u64>,
    /// Why its log says it can never follow the primary as it is.
    pub cannot_follow: Option<String>,
    /// A primary demoted where it stood that never streamed since.
    pub demoted: bool,
}

/// The standby's monitor upkeep: its attributes, the leftover slots, what
/// its log says when it does not stream, then the bootstrap score.
pub fn standby(
    ctx: &Context,
    memory: &mut RunState,
    inst: &Instance,
    status: &StandbyStatus,
    config: &Config,
) -> StandbyUpkeep {
    // With no receiver streaming, the timeline reported is that of the last
    // restartpoint, older than the WAL held when a promotion happened since:
    // the bootstrap score and the published position go by the timeline
    // that WAL is on (the lab's rack fault: a stale 1:... lost to 2:... and
    // the promotion went to the less advanced node, then was handed over).
    // The history of that timeline is published beside the position, so
    // that the bootstrap compares histories, not numbers.
    let on_timeline;
    let (status, wal_history) = if status.is_streaming() {
        (status, None)
    } else {
        let (position, wal_history) =
            history::position_with_history(inst, Position::of_standby(status), ctx.deadline);
        on_timeline = StandbyStatus {
            timeline: position.timeline,
            ..status.clone()
        };
        (&on_timeline, wal_history)
    };
    if memory.flag(&Key::PromoteDeclined) {
        forget_declined_promote(ctx, memory);
    }
    let remembered = StandbyMemory {
        receiver_down_for: memory.flag_age(&Key::ReceiverDown),
        bootstrap_checked_age: memory.age(&Key::BootstrapChecked),
        former_primary: memory.flag(&Key::BootstrapPreferred),
        demoted_primary: memory.flag(&Key::DemotedPrimary),
        gate_waiting_for: memory.flag_age(&Key::GateWaiting),
    };
    // Why it does not stream, from its log: only off the steady path, and
    // remembered for the start that may rebuild it.
    let cannot_follow = if status.is_streaming() {
        None
    } else {
        follow::from_logfile(&inst.logfile, &inst.user, ctx.deadline)
            .unwrap_or(None)
            .map(|refusal| refusal.text)
    };
    let view = StandbyView {
        status: status.clone(),
        memory: remembered,
        cannot_follow,
        replication_slots: config.replication_slots,
        maxlag: config.maxlag,
        wal_history,
    };
    let plan = rule::standby_plan(&view);
    apply::apply(ctx, memory, inst, plan.steps);
    // Only now: the others look for this node's position as it looks for
    // theirs (after a full restart their first monitors run side by side).
    if rule::bootstrap_due(status, &view.memory) {
        if let Some(seen) = bootstrap_seen(ctx, config, &view, memory) {
            apply::apply(
                ctx,
                memory,
                inst,
                rule::bootstrap_plan(&seen, status, &view.memory),
            );
        }
    }
    StandbyUpkeep {
        not_streaming_for: plan.not_streaming_for,
        cannot_follow: view.cannot_follow,
        demoted: plan.demoted,
    }
}

/// A promote here failed only to hand the promotion over or to wait for
/// the quorum gate: Pacemaker counted it as this node's failure. Once the
/// instance runs as a standby again (the recovery of that promote is
/// over), the failure is cleared, so that such rounds never add up to
/// `migration-threshold` and ban a healthy node.
fn forget_declined_promote(ctx: &Context, memory: &mut RunState) {
    match cib::clear_promote_failure(ctx.resource(), &ctx.node_name(), ctx.deadline) {
        Ok(()) => {
            log_info!("cleared the failed promote that only handed over or waited: not a fault of this node");
            memory.set_flag(&Key::PromoteDeclined, false);
        }
        Err(e) => log_warn!(
            "cannot clear the failed promote that only handed over or waited: {}",
            e
        ),
    }
}

/// How long a standby waiting for the others' positions waits before it
/// looks again within the same monitor.
const BOOTSTRAP_RETRY: Duration = Duration::from_secs(1);

/// What the bootstrap decision reads: every node's score, and when no node
/// is promotable, the others' positions and this partition. After a full
/// restart the nodes' first monitors run side by side, and each may look
/// before the others have published: when the rule would wait, it looks
/// once more a second later rather than a whole monitor interval later.
/// The operator's roles come with the members (asked at most once a
/// minute). None when the scores cannot be read (logged).
fn bootstrap_seen(
    ctx: &Context,
    config: &Config,
    view: &StandbyView,
    run_state: &mut RunState,
) -> Option<BootstrapSeen> {
    let (status, memory) = (&view.status, &view.memory);
    let scores = match attrs::promotion_scores(ctx.resource(), ctx.deadline) {
        Ok(scores) => scores,
        Err(e) => {
            log_warn!("cannot read promotion scores: {}", e);
            return None;
        }
    };
    let me = ctx.node_name();
    let needs_positions = rule::bootstrap_needs_positions(&scores, &me);
    let mut seen = BootstrapSeen {
        me,
        scores,
        positions: BTreeMap::new(),
        histories: BTreeMap::new(),
        my_history: view.wal_history.clone(),
        partition: None,
        mode: config.replication_mode,
        sync_grace_s: config.sync_grace_s,
        sync_lists: Vec::new(),
        roles: NodeRoles::default(),
    };
    if !needs_positions {
        return Some(seen);
    }
    members(ctx.resource(), ctx.deadline, run_state);
    seen.roles = node_roles(run_state);
    if config.replication_mode != ReplicationMode::Async {
        seen.sync_lists = election::published_sync_lists(ctx.resource(), ctx.deadline);
    }
    let mine = Position::of_standby(status);
    let waited_s = rule::bootstrap_waited_s(status, memory);
    for attempt in 1..=2 {
        (seen.positions, seen.histories) = standby_positions(ctx);
        seen.partition = node::partition(ctx.deadline);
        let waiting = matches!(
            rule::bootstrap_decision(&seen, mine, memory, waited_s),
            Bootstrap::Waiting(_)
        );
        let again = waiting
            && attempt == 1
            && ctx.deadline.remaining() > BOOTSTRAP_RETRY * 3
            && ctx.deadline.sleep(BOOTSTRAP_RETRY);
        if !again {
            break;
        }
    }
    Some(seen)
}

/// The positions the other running standbys published (role standby,
/// timeline and LSN attributes); a node missing one of them is left out.
/// With them, the histories of their WAL, where they published one (an
/// older agent publishes none, a streaming standby `-`: both
/// then compare by number).
fn standby_positions(ctx: &Context) -> (BTreeMap<String, Position>, BTreeMap<String, History>) {
    let query = |attr| attrs::query_all(ctx.resource(), attr, ctx.deadline).unwrap_or_default();
    let roles = query(Attr::Role);
    let timelines = query(Attr::Timeline);
    let lsns = query(Attr::Lsn);
    let positions: BTreeMap<String, Position> = roles
        .iter()
        .filter(|(_, role)| NodeRole::parse(role) == Some(NodeRole::Standby))
        .filter_map(|(node, _)| {
            let timeline = timelines.get(node)?.parse().ok()?;
            let lsn = lsns.get(node)?.parse().ok()?;
            Some((node.clone(), Position { timeline, lsn }))
        })
        .collect();
    let histories = query(Attr::WalHistory)
        .into_iter()
        .filter(|(node, _)| positions.contains_key(node))
        .filter_map(|(node, text)| Some((node, text.parse().ok()?)))
        .collect();
    (positions, histories)
}

/// Ask the controller at most this often.
const MEMBERS_MAX_AGE_S: u64 = 60;

/// The cluster's members, as well as this node can know them:
/// - `crm_node -l`, asked at most once a minute, while it answers;
/// - when the controller cannot be asked, the last membership remembered:
///   the newer of what `crm_node -l` last listed and what the last clone
///   notification listed ([`remember_notified_members`]);
/// - None when neither was ever seen (logged once): no replica may then be
///   taken for a cluster node.
///
/// Only members are standbys: a `pg_receivewal` or a backup tool in
/// `pg_stat_replication` gets no score, no attribute and no place in
/// `synchronous_standby_names`.
///
/// The same read of the CIB gives the operator's role flags of resource
/// `rsc` ([`NodeRoles`]), remembered beside the members ([`node_roles`]):
/// they take effect within a minute of `crm_attribute --lifetime forever`,
/// at no call of their own.
pub fn members(rsc: &str, deadline: Deadline, memory: &mut RunState) -> Option<Vec<String>> {
    if memory
        .age(&Key::MembersAsked)
        .is_none_or(|a| a >= MEMBERS_MAX_AGE_S)
    {
        match node::cluster_nodes(deadline) {
            Some(membership) => {
                let nodes: Vec<&str> = membership.nodes.iter().map(|(n, _)| n.as_str()).collect();
                memory.set(&Key::MembersCrmNode, &nodes.join(" "));
                memory.stamp_flag(&Key::MembersAsked, true);
                // Who is lost is news for a promote without fencing.
                isolation::note_seen(memory, &membership.nodes, crate::deadline::boot_millis());
                if let Some(attributes) = &membership.attributes {
                    remember_roles(memory, &NodeRoles::from_node_attributes(rsc, attributes));
                }
            }
            None => memory.stamp_flag(&Key::MembersAsked, false),
        }
    }
    let source = if memory.flag(&Key::MembersAsked) {
        Some(&Key::MembersCrmNode)
    } else {
        [&Key::MembersCrmNode, &Key::MembersNotify]
            .into_iter()
            .filter(|k| memory.get(k).is_some_and(|v| !v.trim().is_empty()))
            .min_by_key(|k| memory.age(k).unwrap_or(u64::MAX))
    };
    let nodes: Option<Vec<String>> = source
        .and_then(|k| memory.get(k))
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .filter(|n: &Vec<String>| !n.is_empty());
    match &nodes {
        Some(_) => memory.set_flag(&Key::MembersUnknown, false),
        None if !memory.flag(&Key::MembersUnknown) => {
            log_warn!(
                "cluster membership unknown (crm_node -l failed, no notification seen yet): \
                 no replica is taken for a standby"
            );
            memory.set_flag(&Key::MembersUnknown, true);
        }
        None => {}
    }
    nodes
}

/// Remembers the operator's role flags, logging what changed.
fn remember_roles(memory: &mut RunState, roles: &NodeRoles) {
    let before = node_roles(memory);
    if before != *roles {
        log_info!(
            "node roles: {}",
            if roles.0.is_empty() {
                "none".to_string()
            } else {
                roles.to_string()
            }
        );
    }
    memory.set_if_changed(&Key::MembersRoles, &roles.to_string());
}

/// The role flags remembered by the last read of the CIB ([`members`]);
/// none when never read.
pub fn node_roles(memory: &RunState) -> NodeRoles {
    memory
        .get(&Key::MembersRoles)
        .and_then(|text| text.parse().ok())
        .unwrap_or_default()
}

/// The role flags as the CIB says now (one bounded `cibadmin` call): what
/// a promote decides from, since a standby's memory is only as recent as
/// its last look; the remembered ones when the CIB cannot be read.
pub fn node_roles_now(rsc: &str, deadline: Deadline, memory: &mut RunState) -> NodeRoles {
    match node::configured_nodes(deadline) {
        Some(attributes) => {
            let roles = NodeRoles::from_node_attributes(rsc, &attributes);
            remember_roles(memory, &roles);
            roles
        }
        None => node_roles(memory),
    }
}

/// Remembers the node list of a clone notification (`notify_all_uname`),
/// the membership used when the controller cannot be asked.
pub fn remember_notified_members(memory: &mut RunState, nodes: &[String]) {
    if !nodes.is_empty() {
        // Written even when unchanged: its age says how recent it is.
        memory.set(&Key::MembersNotify, &nodes.join(" "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_primary_is_looked_for_at_most_once_a_minute() {
        let names = |v: &[&str]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let mut memory = RunState::load("../not-saved");
        assert_eq!(remembered_other_primary(&memory), None, "never looked: look");
        assert_eq!(remember_other_primary(&mut memory, &names(&["n1"]), "n1"), None);
        assert_eq!(memory.get(&Key::SplitbrainOther), Some(""));
        assert_eq!(
            remembered_other_primary(&memory),
            Some(None),
            "just looked: nobody"
        );
        let other = remember_other_primary(&mut memory, &names(&["n1", "n2"]), "n1");
        assert_eq!(other.as_deref(), Some("n2"));
        assert_eq!(remembered_other_primary(&memory), Some(Some("n2".to_string())));
        memory.remove(&Key::SplitbrainChecked);
        assert_eq!(
            remembered_other_primary(&memory),
            None,
            "no time of the look: look again"
        );
    }
}
