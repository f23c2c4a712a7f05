//! The upkeep of a monitor as pure rules: from a view (what was gathered:
//! the server's report, the cluster's members, the memory's values and
//! ages, the parameters it needs) to a plan (the [`Step`]s to take, in
//! order, and the degraded reasons), which one applier
//! (`crate::replication::apply`) carries out.
//!
//! Invariants:
//! - a rule does no I/O and reads no clock: every age is in the view;
//! - a step that depends on an outcome says so ([`Step::Score`] remembers
//!   its value only once written, [`Step::DropSlot`] forgets the departure
//!   only once dropped, [`Step::SlotsAttr`] lists what the slot steps left);
//! - memory steps carry the memory's own semantics ([`Remember::Set`]
//!   restarts the age, [`Remember::Change`] only a change does), so that the
//!   memory file is what the inline code wrote;
//! - a degraded answer is data ([`PrimaryPlan::sync_risk`],
//!   [`PrimaryPlan::slot_collision`]), never an error.
//!
//! The primary's plan ([`primary_plan`]) is made of one rule per step:
//! [`instance_steps`] (its own attributes and score), [`score_steps`] (the
//! standbys' scores), [`sync_plan`] (synchronous_standby_names and the sync
//! attributes), [`slots_plan`] (the slots it keeps) and [`slot_wal_steps`]
//! (the WAL they retain).

use std::collections::{BTreeMap, BTreeSet};

use crate::ocf::log::Level;
use crate::params::ReplicationMode;

use crate::pg::replication::{PrimaryStatus, Replica, StandbyStatus};
use crate::policy::members::{cluster_replicas, is_standby, known_standbys};
use crate::policy::promotion;
use crate::policy::quorum::{Candidate, Gate, gate_all};
use crate::policy::readable;
use crate::policy::roles::{self, Barred};
use crate::policy::scores::{self, Bootstrap, SCORE_DISCONNECTED, SCORE_PRIMARY, ScoreDecision};
use crate::policy::slots::{self as slot_rule, ExistingSlot};
use crate::policy::sync as sync_rule;
use crate::policy::walsenders;
use crate::vocab::{
    Attr, Key, NO_VALUE, NOT_READABLE, NodeRole, NodeRoles, READABLE, SlotWal, SlotWalList, SyncListInForce,
    SyncStandbyNames,
};
use crate::vocab::{History, Lsn, Position};

/// Rewrite an unchanged attribute after this long (attrd may have lost it).
pub const REFRESH_S: u64 = 300;
/// Refresh WAL positions and lag at most this often.
pub const VOLATILE_S: u64 = 60;

/// A memory write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remember {
    /// Set `key` to the value, its age restarting now.
    Set(Key, String),
    /// Set `key` to the value only when it holds another (or none): its age
    /// counts from the last change.
    Change(Key, String),
    /// Turn flag `key` on or off ([`Key::flag`]), a [`Remember::Change`] of
    /// its spelling: its age counts from the last change.
    Flag(Key, bool),
    /// Turn flag `key` on or off and restart its age whatever it held: a
    /// stamp of when something was last looked at, and what was found.
    Stamp(Key, bool),
}

/// One thing an upkeep does, in the order of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Attribute `attr` of `node` (None: this node) is `value`: written
    /// unless the memory holds that value, written less than `max_age_s`
    /// ago; remembered once written.
    Attr {
        node: Option<String>,
        attr: Attr,
        value: String,
        max_age_s: u64,
    },
    /// The promotion score of `node` (None: this node), written (and
    /// logged) unless the memory holds it younger than [`REFRESH_S`].
    Score { node: Option<String>, score: i64 },
    /// A memory write that does not depend on any outcome.
    Memory(Remember),
    /// ALTER SYSTEM `synchronous_standby_names` from `from` to `to`, and
    /// reload; the log says which mode and which standbys streamed.
    SyncNames {
        from: String,
        to: String,
        mode: ReplicationMode,
        streaming: Vec<String>,
    },
    /// Create replication slot `slot`.
    CreateSlot(String),
    /// Drop the invalidated slot `slot` and create it again.
    RecreateSlot(String),
    /// Drop slot `slot` (its node left `gone_for` seconds ago; `active`: as
    /// listed) and, once dropped, forget the departure.
    DropSlot {
        slot: String,
        active: bool,
        gone_for: u64,
    },
    /// Drop a slot a standby kept from a time it was primary.
    DropLeftoverSlot(String),
    /// The slots attribute of this node: `kept` are the slots the plan
    /// keeps; a creation that fails is left out, a drop that fails kept.
    SlotsAttr { kept: Vec<(String, bool)> },
    /// A log line.
    Log(Level, String),
}

/// Shorthand for an attribute of this node.
fn own_attr(attr: Attr, value: &str, max_age_s: u64) -> Step {
    Step::Attr {
        node: None,
        attr,
        value: value.to_string(),
        max_age_s,
    }
}

/// What every running instance publishes: its role, timeline, receiver
/// state and WAL position (refreshed at most every [`VOLATILE_S`]), and
/// the history of the timeline its WAL is on ([`NO_VALUE`] when None).
pub fn instance_steps(
    role: NodeRole,
    timeline: u32,
    lsn: Lsn,
    receiver: &str,
    wal_history: Option<&History>,
) -> Vec<Step> {
    let wal_history = wal_history.map_or_else(|| NO_VALUE.to_string(), History::to_string);
    vec![
        own_attr(Attr::Role, role.as_str(), REFRESH_S),
        own_attr(Attr::Timeline, &timeline.to_string(), REFRESH_S),
        own_attr(Attr::Receiver, receiver, REFRESH_S),
        own_attr(Attr::Lsn, &lsn.to_string(), VOLATILE_S),
        own_attr(Attr::WalHistory, &wal_history, REFRESH_S),
    ]
}

/// The parameters the primary's upkeep reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimaryConfig {
    pub maxlag: u64,
    pub replication_mode: ReplicationMode,
    pub sync_standbys: u32,
    pub sync_grace_s: u64,
    pub replication_slots: bool,
    pub slot_grace_s: u64,
}

/// What the memory holds that the primary's upkeep reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrimaryMemory {
    /// The other nodes it wrote a score for.
    pub scored: Vec<String>,
    /// Standby -> seconds its `missing` flag has been on.
    pub missing_for: BTreeMap<String, u64>,
    /// The standbys it remembers having seen stream.
    pub remembered_standbys: Vec<String>,
    /// Seconds no standby has streamed (None: the flag is off).
    pub none_streaming_for: Option<u64>,
    /// Whether the synchronous_standby_names in force is the agent's doing.
    pub sync_managed: bool,
    /// Slot -> seconds since its node was remembered gone.
    pub slot_gone_for: BTreeMap<String, u64>,
    /// What it last published of its synchronous standbys.
    pub sync_published: sync_rule::SyncPublished,
    /// The WAL its slots retain as last published, and how many seconds ago.
    pub slot_wal_published: Option<(String, u64)>,
}

/// What a primary's upkeep gathered besides the server's own report
/// ([`PrimaryStatus`]): who is in the cluster and what the memory holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimaryView {
    pub me: String,
    /// The cluster's members (None: unknown).
    pub members: Option<Vec<String>>,
    /// The operator's role flags of the nodes.
    pub roles: NodeRoles,
    pub memory: PrimaryMemory,
    pub config: PrimaryConfig,
}

/// The primary's upkeep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrimaryPlan {
    pub steps: Vec<Step>,
    /// Sync modes: why commits are at risk.
    pub sync_risk: Option<String>,
    /// Two members map to one slot: the reason naming both.
    pub slot_collision: Option<String>,
}

/// The primary's monitor: its attributes and score, the standbys' scores,
/// synchronous replication and the slots.
pub fn primary_plan(view: &PrimaryView, status: &PrimaryStatus) -> PrimaryPlan {
    // No WAL history: only standbys' are compared at a bootstrap, and the
    // history of a primary's timeline is published apart, on every node
    // ([`Attr::History`]); the one it published as a standby would go
    // stale with its promotion.
    let mut steps = instance_steps(NodeRole::Primary, status.timeline, status.current, NO_VALUE, None);
    // A primary serves writes: the read VIP goes to a standby.
    steps.push(own_attr(Attr::Readable, NOT_READABLE, REFRESH_S));
    // A walsender counts as the member it names only when it holds that
    // member's slot: a client that took the name of a node that is down
    // gets neither its score, nor its place among the synchronous standbys.
    let (tied, refused) = walsenders::tied_replicas(
        &status.replicas,
        &status.slot_holders,
        view.config.replication_slots,
    );
    for (name, why) in refused {
        if is_standby(&name, view.members.as_deref(), &view.me) {
            steps.push(Step::Log(Level::Warn, format!("not counted as a standby: {why}")));
        }
    }
    let status = &PrimaryStatus {
        replicas: tied,
        ..status.clone()
    };
    steps.push(Step::Score {
        node: None,
        score: SCORE_PRIMARY,
    });
    steps.extend(score_steps(view, &status.replicas));
    let sync = sync_plan(view, status);
    steps.extend(sync.steps);
    let slots = slots_plan(view, &status.slots, &status.lost_slots);
    steps.extend(slots.steps);
    steps.extend(slot_wal_steps(view, &status.slot_wal));
    PrimaryPlan {
        steps,
        sync_risk: sync.risk,
        slot_collision: slots.collision,
    }
}

/// The age flag `on` has after being set: kept while it stays on, 0 when
/// it just turned on, None when off.
fn flag_age_after(before: Option<u64>, on: bool) -> Option<u64> {
    if on { Some(before.unwrap_or(0)) } else { None }
}

/// The replicas that are this cluster's standbys.
fn standbys(view: &PrimaryView, replicas: &[Replica]) -> Vec<Replica> {
    cluster_replicas(replicas, view.members.as_deref(), &view.me)
}

/// The standbys' scores ([`scores::standby_scores`]): a standby missing
/// from pg_stat_replication keeps its score for the grace period
/// ([`scores::after_grace`]), counted by its `missing` flag. Only cluster
/// members get a score: a pg_receivewal's application_name is not a node.
/// The roles apply last ([`roles::with_roles`]): a node that may not be
/// promoted gets [`roles::SCORE_NO_PROMOTE`], equal candidates are ranked
/// by priority. `replicas`: pg_stat_replication.
pub fn score_steps(view: &PrimaryView, replicas: &[Replica]) -> Vec<Step> {
    let members = view.members.as_deref();
    let known = known_standbys(view.memory.scored.clone(), members, &view.me);
    let sync_modes = view.config.replication_mode != ReplicationMode::Async;
    let scores = scores::standby_scores(
        &standbys(view, replicas),
        view.config.maxlag,
        sync_modes,
        &view.me,
        &known,
    );
    let with_roles = roles::with_roles(&scores, &view.roles);
    let mut steps = Vec::new();
    for (node, score) in scores {
        let missing = score == SCORE_DISCONNECTED;
        let score = with_roles.get(&node).copied().unwrap_or(score);
        let missing_for = flag_age_after(view.memory.missing_for.get(&node).copied(), missing);
        steps.push(Step::Memory(Remember::Flag(Key::Missing(node.clone()), missing)));
        match scores::after_grace(score, missing_for) {
            ScoreDecision::Hold => {}
            ScoreDecision::Publish(score) => steps.push(Step::Score {
                node: Some(node),
                score,
            }),
        }
    }
    steps
}

/// Synchronous replication's upkeep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncPlan {
    pub steps: Vec<Step>,
    /// Why the primary is at risk in a sync mode.
    pub risk: Option<String>,
}

/// `synchronous_standby_names` in line with the standbys
/// ([`sync_rule::synchronous_names`]), each standby's sync state published
/// on its node (sync modes), and why commits are at risk
/// ([`sync_rule::degraded_reason`]). The standbys seen streaming are
/// remembered (strict-sync waits for them); the `sync_grace` counts from
/// the moment none streams.
pub fn sync_plan(view: &PrimaryView, status: &PrimaryStatus) -> SyncPlan {
    let config = &view.config;
    let members = view.members.as_deref();
    let replicas = standbys(view, &status.replicas);
    let streaming = sync_rule::streaming(&replicas);
    let mut steps: Vec<Step> = streaming
        .iter()
        .map(|name| Step::Memory(Remember::Flag(Key::Standby(name.clone()), true)))
        .collect();
    let remembered: BTreeSet<String> = view
        .memory
        .remembered_standbys
        .iter()
        .chain(&streaming)
        .cloned()
        .collect();
    let known = known_standbys(remembered.into_iter().collect(), members, &view.me);
    let others: Vec<String> = members
        .unwrap_or_default()
        .iter()
        .filter(|n| **n != view.me)
        .cloned()
        .collect();
    let none_streaming = streaming.is_empty();
    steps.push(Step::Memory(Remember::Flag(
        Key::SyncNoneStreaming,
        none_streaming,
    )));
    let none_streaming_for = flag_age_after(view.memory.none_streaming_for, none_streaming);
    let within_grace = sync_rule::within_grace(none_streaming_for, config.sync_grace_s);
    // The nodes that must never be synchronous are left out of the list,
    // and so out of what the primary publishes for the quorum gate.
    let candidates =
        roles::sync_candidates(config.replication_mode, &streaming, &known, &others, &view.roles);
    let wanted = sync_rule::synchronous_names(
        config.replication_mode,
        config.sync_standbys,
        &candidates.streaming,
        &candidates.known,
        &candidates.members,
        within_grace,
    );
    let in_force = &status.synchronous_standby_names;
    let target = sync_rule::target(wanted.as_deref(), view.memory.sync_managed);
    if let Some(target) = target.clone().filter(|t| t != in_force) {
        steps.push(Step::SyncNames {
            from: in_force.clone(),
            to: target,
            mode: config.replication_mode,
            streaming: streaming.clone(),
        });
    }
    steps.push(Step::Memory(Remember::Flag(Key::SyncManaged, wanted.is_some())));
    if config.replication_mode != ReplicationMode::Async {
        let about_to_be = target.as_deref().unwrap_or(in_force);
        steps.extend(sync_list_steps(
            view,
            status,
            about_to_be,
            &replicas,
            &known,
            &others,
        ));
    }
    if config.replication_mode != ReplicationMode::Async {
        for (node, sync_state) in sync_rule::standby_sync_states(&replicas, &known, &view.me) {
            steps.push(Step::Attr {
                node: Some(node),
                attr: Attr::Sync,
                value: sync_state.as_str().to_string(),
                max_age_s: REFRESH_S,
            });
        }
    }
    let nosync_streaming: Vec<&String> = streaming.iter().filter(|n| !view.roles.may_be_sync(n)).collect();
    let risk = sync_rule::degraded_reason(
        config.replication_mode,
        wanted.as_deref(),
        candidates.streaming.len(),
        none_streaming_for,
        config.sync_grace_s,
    )
    .map(|risk| match nosync_streaming.as_slice() {
        [] => risk,
        nosync => format!(
            "{risk} ({} streams, nosync)",
            nosync.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
        ),
    })
    .or_else(|| roles::listed_anyway_reason(&candidates.listed_anyway));
    if risk.is_none() && none_streaming && wanted.as_deref().is_some_and(|w| !w.is_empty()) {
        steps.push(Step::Log(
            Level::Info,
            format!(
                "no standby streams yet ({}s): commits wait for {:?}",
                none_streaming_for.unwrap_or(0),
                wanted.as_deref().unwrap_or_default()
            ),
        ));
    }
    SyncPlan { steps, risk }
}

/// The synchronous standbys' list, published on every node the primary
/// knows so that it outlives the primary ([`Attr::SyncList`]): the list in
/// effect (`value`, the one in force or about to be set, cut to the
/// standbys that can confirm: [`sync_rule::effective_list`]) and those it
/// replaced until confirmed ([`sync_rule::published_lists`]). A value
/// PostgreSQL accepted but this agent cannot read publishes nothing: the
/// gate of a promotion then has no list to check (logged there).
fn sync_list_steps(
    view: &PrimaryView,
    status: &PrimaryStatus,
    value: &str,
    replicas: &[Replica],
    known: &[String],
    others: &[String],
) -> Vec<Step> {
    let Ok(list) = value.parse::<SyncStandbyNames>() else {
        return vec![Step::Log(
            Level::Warn,
            format!("cannot read synchronous_standby_names '{value}': not published for the promotion gate"),
        )];
    };
    let effective = sync_rule::effective_list(&list, replicas);
    let published =
        sync_rule::published_lists(&view.memory.sync_published, &effective, status.current, replicas);
    let value = SyncListInForce {
        primary: view.me.clone(),
        lists: published.lists(),
    }
    .to_string();
    let mut steps = vec![Step::Memory(Remember::Change(
        Key::SyncPublished,
        published.to_memory(),
    ))];
    let nodes: BTreeSet<&String> = known.iter().chain(others).filter(|n| **n != view.me).collect();
    steps.push(own_attr(Attr::SyncList, &value, REFRESH_S));
    for node in nodes {
        steps.push(Step::Attr {
            node: Some(node.clone()),
            attr: Attr::SyncList,
            value: value.clone(),
            max_age_s: REFRESH_S,
        });
    }
    steps
}

/// The slots' upkeep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotsPlan {
    pub steps: Vec<Step>,
    /// Two members map to one slot: the reason naming both.
    pub collision: Option<String>,
}

/// The slots a primary keeps (replication_slots=true): one per other
/// member ([`slot_rule::slot_plan`]); the missing ones created, those of
/// departed nodes dropped after `slot_grace`, invalidated ones recreated
/// ([`slot_rule::existing_slot`]), then the list published. With no
/// membership known nothing is created or dropped blindly, nor published.
/// `existing`: the agent's slots and whether each is in use; `lost`: those
/// PostgreSQL invalidated.
pub fn slots_plan(view: &PrimaryView, existing: &[(String, bool)], lost: &[String]) -> SlotsPlan {
    let Some(members) = view.members.as_deref().filter(|_| view.config.replication_slots) else {
        return SlotsPlan::default();
    };
    let plan = slot_rule::slot_plan(members, &view.me);
    let mut steps = Vec::new();
    let mut kept: Vec<(String, bool)> = Vec::new();
    for slot in slot_rule::missing_slots(&plan, existing) {
        steps.push(Step::CreateSlot(slot.clone()));
        kept.push((slot, false));
    }
    for (slot, active) in existing {
        let key = Key::SlotGone(slot.clone());
        let gone_for = view.memory.slot_gone_for.get(slot).copied();
        let is_lost = lost.contains(slot);
        match slot_rule::existing_slot(&plan, slot, *active, is_lost, gone_for, view.config.slot_grace_s) {
            // Back in the cluster: forget the departure.
            ExistingSlot::Wanted if gone_for.is_some() => {
                steps.push(Step::Memory(Remember::Flag(key, false)))
            }
            ExistingSlot::Wanted | ExistingSlot::Wait => {}
            ExistingSlot::MarkGone => steps.push(Step::Memory(Remember::Stamp(key, true))),
            ExistingSlot::Recreate => steps.push(Step::RecreateSlot(slot.clone())),
            ExistingSlot::Drop { gone_for } => {
                steps.push(Step::DropSlot {
                    slot: slot.clone(),
                    active: *active,
                    gone_for,
                });
                continue;
            }
        }
        kept.push((slot.clone(), *active));
    }
    steps.push(Step::SlotsAttr { kept });
    SlotsPlan {
        steps,
        collision: plan.collision.map(|(a, b)| slot_rule::collision_reason(&a, &b)),
    }
}

/// What the slots retain (replication_slots=true), published when it
/// changed noticeably ([`slot_rule::retention_changed`]) or the last write
/// is [`REFRESH_S`] old: every monitor would otherwise write it, since a
/// slot's WAL moves with every write. Every `pgha_*` slot as the server
/// listed it, so that a slot that cannot be dropped still shows what it
/// holds. A slot PostgreSQL is about to invalidate is logged once.
pub fn slot_wal_steps(view: &PrimaryView, slots: &[SlotWal]) -> Vec<Step> {
    if !view.config.replication_slots {
        return Vec::new();
    }
    let now = SlotWalList::sorted(slots.to_vec());
    let published = view
        .memory
        .slot_wal_published
        .as_ref()
        .map(|(value, age)| (value.parse::<SlotWalList>(), *age));
    let before = match &published {
        Some((Ok(list), _)) => list.0.as_slice(),
        _ => &[],
    };
    let due = match &published {
        Some((Ok(list), age)) => *age >= REFRESH_S || slot_rule::retention_changed(&list.0, &now.0),
        // Never published, or not in this spelling (an older agent's).
        _ => true,
    };
    if !due {
        return Vec::new();
    }
    let mut steps: Vec<Step> = slot_rule::newly_unreserved(before, &now.0)
        .into_iter()
        .map(|s| {
            Step::Log(
                Level::Warn,
                format!(
                    "replication slot {} retains {} MB, past max_slot_wal_keep_size: PostgreSQL removes that WAL \
                     at the next checkpoint, and its standby then needs a rebuild",
                    s.slot,
                    s.retained.unwrap_or(0) >> 20
                ),
            )
        })
        .collect();
    steps.push(own_attr(Attr::SlotWal, &now.to_string(), REFRESH_S));
    steps
}

/// What the memory holds that a standby's upkeep reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StandbyMemory {
    /// Seconds its receiver has not streamed (None: the flag is off).
    pub receiver_down_for: Option<u64>,
    /// Seconds since it last looked for a promotable node.
    pub bootstrap_checked_age: Option<u64>,
    /// It was a primary when it last started: bootstrap prefers it.
    pub former_primary: bool,
    /// A primary demoted where it stood, not compared with a primary since.
    pub demoted_primary: bool,
    /// Seconds the quorum gate has kept it from being promoted (None: off).
    pub gate_waiting_for: Option<u64>,
}

/// What a standby with no primary streaming to it read of the others to
/// decide on the bootstrap score ([`scores::bootstrap`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootstrapSeen {
    pub me: String,
    /// Every node's promotion score.
    pub scores: BTreeMap<String, i64>,
    /// The positions the other running standbys published (read only when
    /// no node is promotable: [`bootstrap_needs_positions`]).
    pub positions: BTreeMap<String, Position>,
    /// The histories of their WAL that they published with them (none from
    /// an agent of an older version).
    pub histories: BTreeMap<String, History>,
    /// The history of this standby's own WAL (None: unknown).
    pub my_history: Option<History>,
    /// The nodes of this partition (None: unknown, or not asked).
    pub partition: Option<Vec<String>>,
    /// The replication mode and `sync_grace`, for the quorum gate.
    pub mode: ReplicationMode,
    pub sync_grace_s: u64,
    /// The synchronous standbys' lists the primaries published, each with
    /// its publisher (read only when no node is promotable).
    pub sync_lists: Vec<(String, SyncStandbyNames)>,
    /// The operator's role flags of the nodes.
    pub roles: NodeRoles,
}

/// Whether a standby looks at the others for the bootstrap score now
/// ([`scores::bootstrap_due`]), given what the memory says: the receiver
/// flag as this monitor leaves it counts (the first monitor after a start
/// already counts as not streaming).
pub fn bootstrap_due(status: &StandbyStatus, memory: &StandbyMemory) -> bool {
    let down_for = flag_age_after(memory.receiver_down_for, !status.is_streaming());
    scores::bootstrap_due(memory.bootstrap_checked_age, down_for)
}

/// Whether the positions and the partition are worth asking: no node is
/// promotable and this one has no score. The usual answer costs one call.
pub fn bootstrap_needs_positions(scores: &BTreeMap<String, i64>, me: &str) -> bool {
    !(scores.values().any(|s| *s > 0) || scores.contains_key(me))
}

/// Seconds since the receiver stopped streaming, as this monitor leaves
/// its flag (0 right after it stopped, or after a start).
pub fn bootstrap_waited_s(status: &StandbyStatus, memory: &StandbyMemory) -> u64 {
    flag_age_after(memory.receiver_down_for, !status.is_streaming()).unwrap_or(0)
}

/// The bootstrap decision for what was read (`mine`: this standby's
/// position), `waited_s` after the receiver stopped streaming. The others'
/// positions are compared by history where they published one
/// ([`promotion::bootstrap_positions`]).
pub fn bootstrap_decision(
    seen: &BootstrapSeen,
    mine: Position,
    memory: &StandbyMemory,
    waited_s: u64,
) -> Bootstrap {
    let (positions, forked) = compared_positions(seen, mine);
    scores::bootstrap(&scores::BootstrapView {
        me: &seen.me,
        former_primary: memory.former_primary,
        mine,
        scores: &seen.scores,
        positions: &positions,
        forked: &forked,
        partition: seen.partition.as_deref(),
        waited_s,
        roles: &seen.roles,
    })
}

/// The positions `seen` as compared with `mine`, and the forked nodes.
fn compared_positions(seen: &BootstrapSeen, mine: Position) -> (BTreeMap<String, Position>, Vec<String>) {
    promotion::bootstrap_positions(mine, seen.my_history.as_ref(), &seen.positions, &seen.histories)
}

/// What a standby's monitor gathered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandbyView {
    pub status: StandbyStatus,
    pub memory: StandbyMemory,
    /// Why its log says it can never follow the primary as it is (read
    /// only while it does not stream).
    pub cannot_follow: Option<String>,
    pub replication_slots: bool,
    /// The `maxlag` parameter: the bound of a readable standby's lag.
    pub maxlag: u64,
    /// The history of the timeline its WAL is on (read only while it does
    /// not stream: `pg::history::position_with_history`).
    pub wal_history: Option<History>,
}

/// A standby's upkeep, and what its monitor answers from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandbyPlan {
    pub steps: Vec<Step>,
    /// Seconds it has not streamed (None while it streams).
    pub not_streaming_for: Option<u64>,
    /// Whether it is a demoted primary not compared with a primary since.
    pub demoted: bool,
}

/// A standby's monitor: the receiver flag, its attributes, the slots left
/// from a time it was primary dropped (on a standby they would only hold
/// WAL back), and what its log says; the bootstrap score is a second plan
/// ([`bootstrap_plan`]), made once these are published. A
/// demoted primary that streams followed the new primary: its history is
/// part of it (monitor_answer::standby); it is no longer the former primary
/// that bootstrap prefers, nor the one whose promote recovers it in place
/// (policy::safety).
pub fn standby_plan(view: &StandbyView) -> StandbyPlan {
    let status = &view.status;
    let streaming = status.is_streaming();
    let not_streaming_for = flag_age_after(view.memory.receiver_down_for, !streaming);
    let mut steps = vec![Step::Memory(Remember::Flag(Key::ReceiverDown, !streaming))];
    // The receiver's state, not a role: PostgreSQL has no receiver to show.
    let receiver = status.receiver_state().as_str();
    // Its WAL's history only while no primary streams to it, when a
    // bootstrap compares it: one read while streaming would go stale at
    // the first timeline switch it streams through.
    let wal_history = view.wal_history.as_ref().filter(|_| !streaming);
    steps.extend(instance_steps(
        NodeRole::Standby,
        status.timeline,
        status.position(),
        receiver,
        wal_history,
    ));
    if let Some(lag) = status.lag() {
        steps.push(own_attr(Attr::Lag, &lag.to_string(), VOLATILE_S));
    }
    // Written only when it flips: a read VIP follows it within a monitor.
    let readable = readable::readable(status, view.maxlag);
    steps.push(own_attr(
        Attr::Readable,
        if readable { READABLE } else { NOT_READABLE },
        REFRESH_S,
    ));
    steps.extend(
        status
            .slots
            .iter()
            .map(|(slot, _)| Step::DropLeftoverSlot(slot.clone())),
    );
    if view.replication_slots {
        steps.push(own_attr(Attr::Slots, NO_VALUE, REFRESH_S));
        steps.push(own_attr(Attr::SlotWal, NO_VALUE, REFRESH_S));
    }
    if streaming {
        steps.push(Step::Memory(Remember::Change(Key::RebuildNeeded, String::new())));
        steps.push(Step::Memory(Remember::Flag(Key::DemotedPrimary, false)));
        steps.push(Step::Memory(Remember::Flag(Key::BootstrapPreferred, false)));
        steps.push(Step::Memory(Remember::Flag(Key::GateWaiting, false)));
    } else if let Some(why) = &view.cannot_follow {
        steps.push(Step::Memory(Remember::Change(Key::RebuildNeeded, why.clone())));
    }
    StandbyPlan {
        steps,
        not_streaming_for,
        demoted: view.memory.demoted_primary && !streaming,
    }
}

/// The bootstrap score of a standby no primary streams to, once its own
/// position is published (the others look for it, as it looks for
/// theirs): what the decision ([`bootstrap_decision`]) writes and says.
pub fn bootstrap_plan(seen: &BootstrapSeen, status: &StandbyStatus, memory: &StandbyMemory) -> Vec<Step> {
    let mine = Position::of_standby(status);
    let (positions, forked) = compared_positions(seen, mine);
    let positions = &positions;
    match bootstrap_decision(seen, mine, memory, bootstrap_waited_s(status, memory)) {
        Bootstrap::NotNeeded => vec![Step::Memory(Remember::Stamp(Key::BootstrapChecked, true))],
        // Looked at again in a minute, like a node that found one.
        Bootstrap::MayNotBePromoted => vec![
            Step::Log(
                Level::Info,
                format!(
                    "no node is promotable: this node may not be promoted (nopromote), another one must be ({mine} here)"
                ),
            ),
            Step::Memory(Remember::Stamp(Key::BootstrapChecked, true)),
        ],
        Bootstrap::Behind(node) => vec![Step::Log(
            Level::Info,
            format!("no node is promotable: {node} is as advanced or more ({mine} here), it goes first"),
        )],
        Bootstrap::Forked(node) => vec![Step::Log(
            Level::Warn,
            format!(
                "no node is promotable: {node} is on a fork of this node's history with more WAL past the fork \
                 ({} against {mine} here), it goes first: this node will need a rewind to follow it",
                seen.positions
                    .get(&node)
                    .map_or_else(String::new, Position::to_string)
            ),
        )],
        Bootstrap::Waiting(nodes) => vec![Step::Log(
            Level::Info,
            format!("no node is promotable: waiting for the positions of {nodes:?} ({mine} here)"),
        )],
        Bootstrap::Score(score) => {
            let waited_s = bootstrap_waited_s(status, memory).max(memory.gate_waiting_for.unwrap_or(0));
            let mut steps = Vec::new();
            let candidate = Candidate {
                name: &seen.me,
                position: mine,
                waited_s,
            };
            let others: BTreeMap<String, Position> = positions
                .iter()
                .filter(|(n, _)| **n != seen.me)
                .map(|(n, p)| (n.clone(), *p))
                .collect();
            match roles::barred_ahead(seen.mode, mine, &others, &seen.roles, waited_s, seen.sync_grace_s) {
                Barred::Wait { reason, .. } => return gate_wait(reason),
                Barred::PromoteWithLoss { warning, .. } => steps.push(Step::Log(Level::Warn, warning)),
                Barred::Pass => {}
            }
            let gate = gate_all(
                seen.mode,
                &seen.sync_lists,
                positions,
                candidate,
                seen.sync_grace_s,
            );
            match roles::gate_after_roles(gate, &seen.roles) {
                Gate::Wait { reason, .. } => return gate_wait(reason),
                Gate::HandOver { node, theirs } => {
                    return vec![Step::Log(
                        Level::Info,
                        format!(
                            "no node is promotable: {node}, a listed synchronous standby, is ahead ({theirs} > {mine}), it goes first"
                        ),
                    )];
                }
                Gate::PromoteWithLoss { warning, .. } => steps.push(Step::Log(Level::Warn, warning)),
                Gate::Promote => {}
            }
            // The roles' gate holds in async mode too.
            if seen.mode != ReplicationMode::Async || seen.roles.0.values().any(|f| f.no_promote) {
                steps.push(own_attr(Attr::Gate, NO_VALUE, REFRESH_S));
            }
            if !forked.is_empty() {
                steps.push(Step::Log(
                    Level::Warn,
                    format!(
                        "the histories of {forked:?} forked from this node's, with no more WAL past the fork: \
                         they will need a rewind to follow it"
                    ),
                ));
            }
            let published = &seen.positions;
            steps.push(Step::Log(
                Level::Info,
                format!(
                    "no node is promotable and no primary streams to us: bootstrap score {score} ({mine}, the most advanced of {published:?})"
                ),
            ));
            steps.push(Step::Score { node: None, score });
            steps
        }
    }
}

/// A standby that would take the bootstrap score but for a gate: why,
/// published (crm_mon, `pgha status`), and since when it waits.
fn gate_wait(reason: String) -> Vec<Step> {
    vec![
        Step::Log(Level::Info, format!("no node is promotable: {reason}")),
        own_attr(Attr::Gate, &reason, REFRESH_S),
        Step::Memory(Remember::Flag(Key::GateWaiting, true)),
    ]
}

/// Right after a promotion: its score, and a standby's score for every
/// participant of the election that can follow it (`followers`, none for a
/// node that may not be promoted: [`roles::follower_scores`]), so that a
/// second failure before its first monitor still finds a candidate (PAF has
/// no promotable standby until its next primary monitor); its role, and
/// that it serves no reads as a standby does any more. In sync
/// modes, with `synchronous_standby_names` set for `expected` before the
/// promotion (None: not set), the first monitor keeps waiting for them
/// until one streams, or until `sync_grace` (counted from now) is over.
pub fn promoted_steps(followers: &[String], roles: &NodeRoles, expected: Option<&[String]>) -> Vec<Step> {
    let mut steps = vec![Step::Score {
        node: None,
        score: SCORE_PRIMARY,
    }];
    for (node, score) in roles::follower_scores(followers, roles) {
        steps.push(Step::Score {
            node: Some(node.clone()),
            score,
        });
        steps.push(Step::Memory(Remember::Flag(Key::Standby(node), true)));
    }
    steps.push(own_attr(Attr::Role, NodeRole::Primary.as_str(), REFRESH_S));
    steps.push(own_attr(Attr::Readable, NOT_READABLE, REFRESH_S));
    if let Some(expected) = expected {
        steps.extend(
            expected
                .iter()
                .map(|node| Step::Memory(Remember::Flag(Key::Standby(node.clone()), true))),
        );
        steps.push(Step::Memory(Remember::Flag(Key::SyncManaged, true)));
        steps.push(Step::Memory(Remember::Flag(Key::SyncNoneStreaming, true)));
    }
    steps
}

/// A clone instance about to start as a standby. With no primary anywhere
/// (first start, full restart) a former primary (`former_primary`) is the
/// natural first bootstrap candidate ([`bootstrap_decision`]).
///
/// `uncompared_demote`: it is a primary demoted where it stood whose
/// history no start has compared with a running primary's yet (none was
/// reachable: a restart while still cut off). The memory of the demote
/// stays until a comparison happens, or the next start would take it for
/// a plain standby and follow without pg_rewind.
///
/// The receiver's memory is forgotten: the bootstrap wait counts from this
/// start. Kept, a standby restarted after a long downtime would count the
/// downtime as waited and take the bootstrap score while a more advanced
/// node is still starting.
pub fn standby_start_steps(former_primary: bool, uncompared_demote: bool) -> Vec<Step> {
    vec![
        Step::Memory(Remember::Flag(Key::BootstrapPreferred, former_primary)),
        Step::Memory(Remember::Flag(Key::DemotedPrimary, uncompared_demote)),
        Step::Memory(Remember::Flag(Key::ReceiverDown, false)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::scores::{SCORE_CATCHUP, SCORE_NOT_SYNC, SCORE_STANDBY};
    use crate::vocab::{ReceiverStatus, SyncState, WalSenderState};

    fn s(v: &str) -> String {
        v.to_string()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|n| s(n)).collect()
    }

    fn replica(name: &str, state: &str, sync_state: &str) -> Replica {
        Replica {
            name: s(name),
            state: WalSenderState::parse(state),
            sync_state: SyncState::parse(sync_state),
            flush: Some(Lsn(0x3000000)),
            lag: Some(0),
            pid: None,
        }
    }

    /// A primary with no standby and no slot.
    fn status() -> PrimaryStatus {
        PrimaryStatus {
            timeline: 2,
            current: Lsn(0x3000000),
            replicas: Vec::new(),
            synchronous_standby_names: String::new(),
            slots: Vec::new(),
            slot_holders: Vec::new(),
            lost_slots: Vec::new(),
            slot_wal: Vec::new(),
        }
    }

    /// A primary `n1` of members n1, n2, n3 with an empty memory, async,
    /// slots off: each row changes what it tests.
    fn view() -> PrimaryView {
        PrimaryView {
            me: s("n1"),
            members: Some(names(&["n1", "n2", "n3"])),
            roles: NodeRoles::default(),
            memory: PrimaryMemory::default(),
            config: PrimaryConfig {
                maxlag: 0,
                replication_mode: ReplicationMode::Async,
                sync_standbys: 1,
                sync_grace_s: 60,
                replication_slots: false,
                slot_grace_s: 600,
            },
        }
    }

    /// One row's input: the view and the server's report.
    struct Case {
        view: PrimaryView,
        status: PrimaryStatus,
    }

    fn case() -> Case {
        Case {
            view: view(),
            status: status(),
        }
    }

    fn missing(node: &str, on: bool) -> Step {
        Step::Memory(Remember::Flag(Key::Missing(s(node)), on))
    }

    fn score(node: &str, score: i64) -> Step {
        Step::Score {
            node: Some(s(node)),
            score,
        }
    }

    #[test]
    fn the_primary_publishes_itself_first() {
        let plan = primary_plan(&view(), &status());
        assert_eq!(
            plan.steps[..7],
            [
                own_attr(Attr::Role, "primary", REFRESH_S),
                own_attr(Attr::Timeline, "2", REFRESH_S),
                own_attr(Attr::Receiver, NO_VALUE, REFRESH_S),
                own_attr(Attr::Lsn, &Lsn(0x3000000).to_string(), VOLATILE_S),
                own_attr(Attr::WalHistory, NO_VALUE, REFRESH_S),
                own_attr(Attr::Readable, "0", REFRESH_S),
                Step::Score {
                    node: None,
                    score: SCORE_PRIMARY
                },
            ],
            "role, timeline, receiver, position, no reads, then its own score"
        );
        assert_eq!(plan.sync_risk, None);
        assert_eq!(plan.slot_collision, None);
    }

    #[test]
    fn standby_scores_by_table() {
        type Row = (&'static str, fn(&mut Case), Vec<Step>);
        let table: Vec<Row> = vec![
            ("no standby, none scored before: nothing", |_| {}, vec![]),
            (
                "a streaming standby gets the standby score",
                |v| v.status.replicas = vec![replica("n2", "streaming", "async")],
                vec![missing("n2", false), score("n2", SCORE_STANDBY)],
            ),
            (
                "catching up: -1",
                |v| v.status.replicas = vec![replica("n2", "catchup", "async")],
                vec![missing("n2", false), score("n2", SCORE_CATCHUP)],
            ),
            (
                "a pg_receivewal is no node: no score",
                |v| v.status.replicas = vec![replica("backup", "streaming", "async")],
                vec![],
            ),
            (
                "no membership known: nobody is a standby",
                |v| {
                    v.view.members = None;
                    v.status.replicas = vec![replica("n2", "streaming", "async")];
                },
                vec![],
            ),
            (
                "sync mode caps a standby that is not synchronous",
                |v| {
                    v.view.config.replication_mode = ReplicationMode::Sync;
                    v.status.replicas = vec![replica("n2", "streaming", "async")];
                },
                vec![missing("n2", false), score("n2", SCORE_NOT_SYNC)],
            ),
            (
                "scored before, just gone: the flag goes on, the score holds",
                |v| v.view.memory.scored = names(&["n2"]),
                vec![missing("n2", true)],
            ),
            (
                "missing within the grace period: the score holds",
                |v| {
                    v.view.memory.scored = names(&["n2"]);
                    v.view
                        .memory
                        .missing_for
                        .insert(s("n2"), scores::DISCONNECT_GRACE_S - 1);
                },
                vec![missing("n2", true)],
            ),
            (
                "missing past the grace period: disconnected",
                |v| {
                    v.view.memory.scored = names(&["n2"]);
                    v.view
                        .memory
                        .missing_for
                        .insert(s("n2"), scores::DISCONNECT_GRACE_S);
                },
                vec![missing("n2", true), score("n2", SCORE_DISCONNECTED)],
            ),
            (
                "a scored node that left the cluster is forgotten",
                |v| v.view.memory.scored = names(&["n9"]),
                vec![],
            ),
        ];
        for (what, change, expected) in table {
            let mut v = case();
            change(&mut v);
            assert_eq!(score_steps(&v.view, &v.status.replicas), expected, "{what}");
        }
    }

    /// Sync mode, the agent's names in force waiting for n2, which it
    /// remembers having seen stream.
    fn sync_with_n2(v: &mut Case) {
        v.view.config.replication_mode = ReplicationMode::Sync;
        v.status.synchronous_standby_names = s(r#"ANY 1 ("n2")"#);
        v.view.memory.remembered_standbys = names(&["n2"]);
        v.view.memory.sync_managed = true;
    }

    fn standby_flag(node: &str) -> Step {
        Step::Memory(Remember::Flag(Key::Standby(s(node)), true))
    }

    fn none_streaming(on: bool) -> Step {
        Step::Memory(Remember::Flag(Key::SyncNoneStreaming, on))
    }

    fn managed(on: bool) -> Step {
        Step::Memory(Remember::Flag(Key::SyncManaged, on))
    }

    fn sync_attr(node: &str, value: &str) -> Step {
        Step::Attr {
            node: Some(s(node)),
            attr: Attr::Sync,
            value: s(value),
            max_age_s: REFRESH_S,
        }
    }

    fn names_step(from: &str, to: &str, mode: ReplicationMode, streaming: &[&str]) -> Step {
        Step::SyncNames {
            from: s(from),
            to: s(to),
            mode,
            streaming: names(streaming),
        }
    }

    #[test]
    fn synchronous_replication_by_table() {
        use ReplicationMode::{Async, StrictSync, Sync};
        type Row = (&'static str, fn(&mut Case), Vec<Step>, Option<&'static str>);
        let table: Vec<Row> = vec![
            (
                "async, nothing the agent set: nothing to undo",
                |_| {},
                vec![none_streaming(true), managed(false)],
                None,
            ),
            (
                "async again after sync: the agent's value is reset",
                |v| {
                    v.view.memory.sync_managed = true;
                    v.status.synchronous_standby_names = s(r#"ANY 1 ("n2")"#);
                },
                vec![
                    none_streaming(true),
                    names_step(r#"ANY 1 ("n2")"#, "", Async, &[]),
                    managed(false),
                ],
                None,
            ),
            (
                "sync, a standby streams: it is waited for and remembered",
                |v| {
                    v.view.config.replication_mode = Sync;
                    v.status.replicas = vec![replica("n2", "streaming", "async")];
                },
                vec![
                    standby_flag("n2"),
                    none_streaming(false),
                    names_step("", r#"ANY 1 ("n2")"#, Sync, &["n2"]),
                    managed(true),
                    sync_attr("n2", "async"),
                ],
                None,
            ),
            (
                "sync, already in force: no ALTER SYSTEM",
                |v| {
                    v.view.config.replication_mode = Sync;
                    v.status.replicas = vec![replica("n2", "streaming", "quorum")];
                    v.status.synchronous_standby_names = s(r#"ANY 1 ("n2")"#);
                    v.view.memory.remembered_standbys = names(&["n2"]);
                    v.view.memory.sync_managed = true;
                },
                vec![
                    standby_flag("n2"),
                    none_streaming(false),
                    managed(true),
                    sync_attr("n2", "quorum"),
                ],
                None,
            ),
            (
                "sync, none streams, within the grace: commits wait for the known one",
                |v| {
                    sync_with_n2(v);
                    v.view.memory.none_streaming_for = Some(5);
                },
                vec![
                    none_streaming(true),
                    managed(true),
                    sync_attr("n2", "disconnected"),
                    Step::Log(
                        Level::Info,
                        s(r#"no standby streams yet (5s): commits wait for "ANY 1 (\"n2\")""#),
                    ),
                ],
                None,
            ),
            (
                "sync, none streams past the reconnect allowance: degraded, still waiting",
                |v| {
                    sync_with_n2(v);
                    v.view.memory.none_streaming_for = Some(30);
                },
                vec![
                    none_streaming(true),
                    managed(true),
                    sync_attr("n2", "disconnected"),
                ],
                Some(
                    "replication_mode=sync: no standby streams: commits wait for one, at most sync_grace=60s",
                ),
            ),
            (
                "sync, none streams after the grace: asynchronous, degraded",
                |v| {
                    sync_with_n2(v);
                    v.view.memory.none_streaming_for = Some(60);
                },
                vec![
                    none_streaming(true),
                    names_step(r#"ANY 1 ("n2")"#, "", Sync, &[]),
                    managed(true),
                    sync_attr("n2", "disconnected"),
                ],
                Some("replication_mode=sync: no standby streams: commits are acknowledged without one"),
            ),
            (
                "strict-sync before any standby was seen: the other members",
                |v| v.view.config.replication_mode = StrictSync,
                vec![
                    none_streaming(true),
                    names_step("", r#"ANY 1 ("n2", "n3")"#, StrictSync, &[]),
                    managed(true),
                    Step::Log(
                        Level::Info,
                        s(r#"no standby streams yet (0s): commits wait for "ANY 1 (\"n2\", \"n3\")""#),
                    ),
                ],
                None,
            ),
            (
                "strict-sync, no membership known: any standby",
                |v| {
                    v.view.config.replication_mode = StrictSync;
                    v.view.members = None;
                },
                vec![
                    none_streaming(true),
                    names_step("", "ANY 1 (*)", StrictSync, &[]),
                    managed(true),
                    Step::Log(
                        Level::Info,
                        s("no standby streams yet (0s): commits wait for \"ANY 1 (*)\""),
                    ),
                ],
                None,
            ),
            (
                "a missing member's memory is not a standby, nor a pg_receivewal",
                |v| {
                    v.view.config.replication_mode = Sync;
                    v.status.replicas = vec![
                        replica("n2", "streaming", "quorum"),
                        replica("backup", "streaming", "async"),
                    ];
                    v.status.synchronous_standby_names = s(r#"ANY 1 ("n2")"#);
                    v.view.memory.remembered_standbys = names(&["n2", "n9"]);
                    v.view.memory.sync_managed = true;
                },
                vec![
                    standby_flag("n2"),
                    none_streaming(false),
                    managed(true),
                    sync_attr("n2", "quorum"),
                ],
                None,
            ),
        ];
        for (what, change, steps, risk) in table {
            let mut v = case();
            change(&mut v);
            let plan = sync_plan(&v.view, &v.status);
            // The published list has its own test below.
            let others: Vec<Step> = plan.steps.into_iter().filter(|s| !is_sync_list_step(s)).collect();
            assert_eq!(others, steps, "{what}");
            assert_eq!(plan.risk.as_deref(), risk, "{what}");
        }
    }

    fn is_sync_list_step(step: &Step) -> bool {
        matches!(
            step,
            Step::Attr {
                attr: Attr::SyncList,
                ..
            } | Step::Memory(Remember::Change(Key::SyncPublished, _))
        )
    }

    /// The SyncList attributes a plan writes: node (None: here) -> value.
    fn published_sync_lists(steps: &[Step]) -> BTreeMap<Option<String>, String> {
        steps
            .iter()
            .filter_map(|step| match step {
                Step::Attr {
                    node,
                    attr: Attr::SyncList,
                    value,
                    ..
                } => Some((node.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_synchronous_list_is_published_on_every_node_and_outlives_a_change() {
        let everywhere = |value: &str| -> BTreeMap<Option<String>, String> {
            [None, Some(s("n2")), Some(s("n3"))]
                .into_iter()
                .map(|n| (n, value.to_string()))
                .collect()
        };
        // Async: nothing to publish.
        let mut v = case();
        v.status.replicas = vec![replica("n2", "streaming", "async")];
        assert!(published_sync_lists(&sync_plan(&v.view, &v.status).steps).is_empty());
        // Sync, n2 streams: the list about to be set, on n1, n2 and n3.
        v.view.config.replication_mode = ReplicationMode::Sync;
        let plan = sync_plan(&v.view, &v.status);
        assert_eq!(published_sync_lists(&plan.steps), everywhere("n1: ANY 1 (n2)"));
        // n3 stopped streaming while n2 had not confirmed past the current
        // position: the old list stays published beside the new one.
        let mut v = case();
        v.view.config.replication_mode = ReplicationMode::StrictSync;
        v.status.synchronous_standby_names = s(r#"ANY 1 ("n2", "n3")"#);
        v.status.current = Lsn(0x5000000);
        v.status.replicas = vec![replica("n2", "streaming", "quorum")];
        v.view.memory.remembered_standbys = names(&["n2", "n3"]);
        v.view.memory.sync_published = sync_rule::SyncPublished {
            effective: Some(r#"ANY 1 ("n2", "n3")"#.parse().unwrap()),
            replaced: vec![],
        };
        let plan = sync_plan(&v.view, &v.status);
        assert_eq!(
            published_sync_lists(&plan.steps),
            everywhere("n1: ANY 1 (n2) | ANY 1 (n2, n3)")
        );
        let remembered = plan.steps.iter().find_map(|step| match step {
            Step::Memory(Remember::Change(Key::SyncPublished, v)) => Some(v.clone()),
            _ => None,
        });
        assert_eq!(
            remembered.as_deref().map(sync_rule::SyncPublished::from_memory),
            Some(sync_rule::SyncPublished {
                effective: Some(r#"ANY 1 ("n2")"#.parse().unwrap()),
                replaced: vec![(Lsn(0x5000000), r#"ANY 1 ("n2", "n3")"#.parse().unwrap())],
            })
        );
    }

    fn slots_attr(kept: &[(&str, bool)]) -> Step {
        Step::SlotsAttr {
            kept: kept.iter().map(|(n, a)| (s(n), *a)).collect(),
        }
    }

    /// The memory says the node of `slot` left `age` seconds ago.
    fn gone(v: &mut Case, slot: &str, age: u64) {
        v.view.memory.slot_gone_for.insert(s(slot), age);
    }

    fn gone_key(slot: &str) -> Key {
        Key::SlotGone(s(slot))
    }

    #[test]
    fn slots_by_table() {
        type Row = (
            &'static str,
            fn(&mut Case),
            Vec<(&'static str, bool)>,
            Vec<&'static str>,
            Vec<Step>,
            Option<&'static str>,
        );
        // The members' slots, and the one of n9, which left the cluster.
        let with_n9 = |active| vec![("pgha_n2", true), ("pgha_n3", true), ("pgha_n9", active)];
        let table: Vec<Row> = vec![
            (
                "replication_slots=false: nothing",
                |v| v.view.config.replication_slots = false,
                vec![],
                vec![],
                vec![],
                None,
            ),
            (
                "no membership known: nothing created or dropped blindly",
                |v| {
                    v.view.members = None;
                },
                vec![("pgha_n9", false)],
                vec![],
                vec![],
                None,
            ),
            (
                "the others' slots are created",
                |_| {},
                vec![],
                vec![],
                vec![
                    Step::CreateSlot(s("pgha_n2")),
                    Step::CreateSlot(s("pgha_n3")),
                    slots_attr(&[("pgha_n2", false), ("pgha_n3", false)]),
                ],
                None,
            ),
            (
                "existing slots are kept as they are",
                |_| {},
                vec![("pgha_n2", true), ("pgha_n3", false)],
                vec![],
                vec![slots_attr(&[("pgha_n2", true), ("pgha_n3", false)])],
                None,
            ),
            (
                "a departed node's slot: its departure is remembered",
                |_| {},
                with_n9(false),
                vec![],
                vec![
                    Step::Memory(Remember::Stamp(gone_key("pgha_n9"), true)),
                    slots_attr(&with_n9(false)),
                ],
                None,
            ),
            (
                "gone within slot_grace: kept",
                |v| gone(v, "pgha_n9", 599),
                with_n9(false),
                vec![],
                vec![slots_attr(&with_n9(false))],
                None,
            ),
            (
                "gone past slot_grace but in use: kept",
                |v| gone(v, "pgha_n9", 600),
                with_n9(true),
                vec![],
                vec![slots_attr(&with_n9(true))],
                None,
            ),
            (
                "gone past slot_grace and inactive: dropped",
                |v| gone(v, "pgha_n9", 600),
                with_n9(false),
                vec![],
                vec![
                    Step::DropSlot {
                        slot: s("pgha_n9"),
                        active: false,
                        gone_for: 600,
                    },
                    slots_attr(&[("pgha_n2", true), ("pgha_n3", true)]),
                ],
                None,
            ),
            (
                "back in the cluster: the departure is forgotten",
                |v| gone(v, "pgha_n3", 100),
                vec![("pgha_n2", true), ("pgha_n3", false)],
                vec![],
                vec![
                    Step::Memory(Remember::Flag(gone_key("pgha_n3"), false)),
                    slots_attr(&[("pgha_n2", true), ("pgha_n3", false)]),
                ],
                None,
            ),
            (
                "invalidated and unused: recreated",
                |_| {},
                vec![("pgha_n2", false), ("pgha_n3", true)],
                vec!["pgha_n2"],
                vec![
                    Step::RecreateSlot(s("pgha_n2")),
                    slots_attr(&[("pgha_n2", false), ("pgha_n3", true)]),
                ],
                None,
            ),
            (
                "invalidated but a walsender uses it: kept",
                |_| {},
                vec![("pgha_n2", true), ("pgha_n3", true)],
                vec!["pgha_n2"],
                vec![slots_attr(&[("pgha_n2", true), ("pgha_n3", true)])],
                None,
            ),
            (
                "two members map to one slot: neither gets it, degraded naming both",
                |v| {
                    // db-1's folded slot is the plain name of the other.
                    v.view.members = Some(names(&["n1", "db-1", "db_1_4476ec01"]));
                },
                vec![("pgha_db_1_4476ec01", false)],
                vec![],
                vec![slots_attr(&[("pgha_db_1_4476ec01", false)])],
                Some(
                    "nodes 'db-1' and 'db_1_4476ec01' map to one slot: rename one or set replication_slots=false",
                ),
            ),
        ];
        for (what, change, existing, lost, steps, collision) in table {
            let mut v = case();
            v.view.config.replication_slots = true;
            change(&mut v);
            let existing: Vec<(String, bool)> = existing.iter().map(|(n, a)| (s(n), *a)).collect();
            let plan = slots_plan(&v.view, &existing, &names(&lost));
            assert_eq!(plan.steps, steps, "{what}");
            assert_eq!(plan.collision.as_deref(), collision, "{what}");
        }
    }

    #[test]
    fn the_wal_slots_retain_is_published_only_when_it_changed_noticeably() {
        use crate::vocab::WalStatus;
        let held = |slot: &str, mb: u64, status: &str| SlotWal {
            slot: s(slot),
            retained: Some(mb << 20),
            status: Some(WalStatus::parse(status)),
        };
        let attr = |value: &str| own_attr(Attr::SlotWal, value, REFRESH_S);
        let b1 = "pgha_b=1048576 reserved";
        // (what, slots on, published value and age, the server's slots, steps)
        type Row = (
            &'static str,
            bool,
            Option<(&'static str, u64)>,
            Vec<SlotWal>,
            Vec<Step>,
        );
        let table: Vec<Row> = vec![
            ("slots off: nothing", false, None, vec![held("pgha_b", 1, "reserved")], vec![]),
            (
                "never published: published, in slot order",
                true,
                None,
                vec![held("pgha_c", 0, "reserved"), held("pgha_b", 1, "reserved")],
                vec![attr("pgha_b=1048576 reserved, pgha_c=0 reserved")],
            ),
            ("no slot: said so", true, Some((b1, 10)), vec![], vec![attr(NO_VALUE)]),
            (
                "a few MB more: no news",
                true,
                Some((b1, 10)),
                vec![held("pgha_b", 9, "reserved")],
                vec![],
            ),
            (
                "a few MB more, but old: refreshed",
                true,
                Some((b1, REFRESH_S)),
                vec![held("pgha_b", 9, "reserved")],
                vec![attr("pgha_b=9437184 reserved")],
            ),
            (
                "a down standby's slot grew a segment and more",
                true,
                Some((b1, 10)),
                vec![held("pgha_b", 40, "reserved")],
                vec![attr("pgha_b=41943040 reserved")],
            ),
            (
                "an older agent's value: published again",
                true,
                Some(("pgha_b (inactive)", 10)),
                vec![held("pgha_b", 1, "reserved")],
                vec![attr(b1)],
            ),
            (
                "past max_slot_wal_keep_size: said once, in the log",
                true,
                Some(("pgha_b=9663676416 extended", 10)),
                vec![held("pgha_b", 9300, "unreserved")],
                vec![
                    Step::Log(
                        Level::Warn,
                        "replication slot pgha_b retains 9300 MB, past max_slot_wal_keep_size: PostgreSQL removes \
                         that WAL at the next checkpoint, and its standby then needs a rebuild"
                            .into(),
                    ),
                    attr("pgha_b=9751756800 unreserved"),
                ],
            ),
            (
                "still unreserved, refreshed: not said again",
                true,
                Some(("pgha_b=9751756800 unreserved", REFRESH_S)),
                vec![held("pgha_b", 9300, "unreserved")],
                vec![attr("pgha_b=9751756800 unreserved")],
            ),
        ];
        for (what, slots_on, published, slots, steps) in table {
            let mut v = view();
            v.config.replication_slots = slots_on;
            v.memory.slot_wal_published = published.map(|(value, age)| (s(value), age));
            assert_eq!(slot_wal_steps(&v, &slots), steps, "{what}");
        }
        // Part of the primary's plan, after the slots' own steps.
        let mut c = case();
        c.view.config.replication_slots = true;
        c.status.slot_wal = vec![held("pgha_n2", 1, "reserved")];
        let plan = primary_plan(&c.view, &c.status);
        assert_eq!(
            plan.steps.last(),
            Some(&attr("pgha_n2=1048576 reserved")),
            "{:?}",
            plan.steps
        );
    }

    /// A standby on timeline 2 at 0/3000000 that streams, with nothing
    /// remembered and slots off: each row changes what it tests.
    fn standby_view() -> StandbyView {
        StandbyView {
            status: StandbyStatus {
                timeline: 2,
                receive: Some(Lsn(0x3000000)),
                replay: Some(Lsn(0x3000000)),
                receiver: Some(ReceiverStatus::Streaming),
                primary_end: Some(Lsn(0x3000100)),
                slots: Vec::new(),
                wal_end: None,
                wal_segment_size: None,
            },
            memory: StandbyMemory::default(),
            cannot_follow: None,
            replication_slots: false,
            maxlag: 0,
            wal_history: None,
        }
    }

    fn not_streaming(v: &mut StandbyView) {
        v.status.receiver = Some(ReceiverStatus::Waiting);
        v.status.primary_end = None;
    }

    /// The steps every standby takes first: the receiver flag, its role,
    /// timeline, receiver state and position.
    fn standby_head(receiver: &str) -> Vec<Step> {
        vec![
            Step::Memory(Remember::Flag(Key::ReceiverDown, receiver != "streaming")),
            own_attr(Attr::Role, "standby", REFRESH_S),
            own_attr(Attr::Timeline, "2", REFRESH_S),
            own_attr(Attr::Receiver, receiver, REFRESH_S),
            own_attr(Attr::Lsn, &Lsn(0x3000000).to_string(), VOLATILE_S),
            own_attr(Attr::WalHistory, NO_VALUE, REFRESH_S),
        ]
    }

    fn readable(on: bool) -> Step {
        own_attr(Attr::Readable, if on { "1" } else { "0" }, REFRESH_S)
    }

    fn seen(scores: &[(&str, i64)], positions: &[(&str, u64)], partition: Option<&[&str]>) -> BootstrapSeen {
        BootstrapSeen {
            me: s("n1"),
            scores: scores.iter().map(|(n, v)| (s(n), *v)).collect(),
            positions: positions
                .iter()
                .map(|(n, lsn)| {
                    (
                        s(n),
                        Position {
                            timeline: 2,
                            lsn: Lsn(*lsn),
                        },
                    )
                })
                .collect(),
            histories: BTreeMap::new(),
            my_history: None,
            partition: partition.map(names),
            mode: ReplicationMode::Async,
            sync_grace_s: 30,
            sync_lists: Vec::new(),
            roles: NodeRoles::default(),
        }
    }

    #[test]
    fn standby_upkeep_by_table() {
        let streaming_tail = || {
            vec![
                Step::Memory(Remember::Change(Key::RebuildNeeded, String::new())),
                Step::Memory(Remember::Flag(Key::DemotedPrimary, false)),
                Step::Memory(Remember::Flag(Key::BootstrapPreferred, false)),
                Step::Memory(Remember::Flag(Key::GateWaiting, false)),
            ]
        };
        let lag = own_attr(Attr::Lag, "256", VOLATILE_S);
        let streaming = || {
            [
                standby_head("streaming"),
                vec![lag.clone(), readable(true)],
                streaming_tail(),
            ]
            .concat()
        };
        type Row = (&'static str, fn(&mut StandbyView), Vec<Step>, Option<u64>, bool);
        let table: Vec<Row> = vec![
            (
                "streaming: its attributes and lag; no longer demoted nor preferred",
                |v| v.memory.demoted_primary = true,
                streaming(),
                None,
                false,
            ),
            (
                "slots on: it says it keeps none, and drops the leftovers",
                |v| {
                    v.replication_slots = true;
                    v.status.slots = vec![(s("pgha_n2"), false)];
                },
                [
                    standby_head("streaming"),
                    vec![
                        lag.clone(),
                        readable(true),
                        Step::DropLeftoverSlot(s("pgha_n2")),
                        own_attr(Attr::Slots, NO_VALUE, REFRESH_S),
                        own_attr(Attr::SlotWal, NO_VALUE, REFRESH_S),
                    ],
                    streaming_tail(),
                ]
                .concat(),
                None,
                false,
            ),
            (
                "just stopped streaming: the flag goes on, not streaming for 0 s, no reads",
                not_streaming,
                [standby_head("waiting"), vec![readable(false)]].concat(),
                Some(0),
                false,
            ),
            (
                "not streaming: the history of its WAL beside its position",
                |v| {
                    not_streaming(v);
                    v.wal_history = Some("1@0/1000000,2".parse().unwrap());
                },
                [
                    standby_head("waiting")[..5].to_vec(),
                    vec![
                        own_attr(Attr::WalHistory, "1@0/1000000,2", REFRESH_S),
                        readable(false),
                    ],
                ]
                .concat(),
                Some(0),
                false,
            ),
            (
                "streaming: no history, it would go stale at a timeline switch",
                |v| v.wal_history = Some("1@0/1000000,2".parse().unwrap()),
                streaming(),
                None,
                false,
            ),
            (
                "no receiver at all: stopped; a demoted primary stays demoted",
                |v| {
                    v.status.receiver = None;
                    v.status.primary_end = None;
                    v.memory.receiver_down_for = Some(40);
                    v.memory.demoted_primary = true;
                },
                [standby_head("stopped"), vec![readable(false)]].concat(),
                Some(40),
                true,
            ),
            (
                "its log says it cannot follow: remembered for the start",
                |v| {
                    not_streaming(v);
                    v.memory.receiver_down_for = Some(40);
                    v.cannot_follow = Some(s("requested WAL segment has already been removed"));
                },
                [
                    standby_head("waiting"),
                    vec![
                        readable(false),
                        Step::Memory(Remember::Change(
                            Key::RebuildNeeded,
                            s("requested WAL segment has already been removed"),
                        )),
                    ],
                ]
                .concat(),
                Some(40),
                false,
            ),
        ];
        for (what, change, steps, not_streaming_for, demoted) in table {
            let mut v = standby_view();
            change(&mut v);
            let plan = standby_plan(&v);
            assert_eq!(plan.steps, steps, "{what}");
            assert_eq!(plan.not_streaming_for, not_streaming_for, "{what}");
            assert_eq!(plan.demoted, demoted, "{what}");
        }
    }

    #[test]
    fn bootstrap_by_table() {
        let mine = Position {
            timeline: 2,
            lsn: Lsn(0x3000000),
        };
        type Row = (&'static str, fn(&mut StandbyView, &mut BootstrapSeen), Vec<Step>);
        let table: Vec<Row> = vec![
            (
                "bootstrap: another node is promotable, nothing for a minute",
                |v, seen_by| {
                    not_streaming(v);
                    *seen_by = seen(&[("n2", 1000)], &[], None);
                },
                vec![Step::Memory(Remember::Stamp(Key::BootstrapChecked, true))],
            ),
            (
                "bootstrap: waiting for a node of the partition to publish",
                |v, seen_by| {
                    not_streaming(v);
                    *seen_by = seen(&[], &[], Some(&["n1", "n2"]));
                },
                vec![Step::Log(
                    Level::Info,
                    format!("no node is promotable: waiting for the positions of [\"n2\"] ({mine} here)"),
                )],
            ),
            (
                "bootstrap: behind a more advanced standby, which goes first",
                |v, seen_by| {
                    not_streaming(v);
                    *seen_by = seen(&[], &[("n2", 0x4000000)], Some(&["n1", "n2"]));
                },
                vec![Step::Log(
                    Level::Info,
                    format!("no node is promotable: n2 is as advanced or more ({mine} here), it goes first"),
                )],
            ),
            (
                "bootstrap: the most advanced takes the score",
                |v, seen_by| {
                    not_streaming(v);
                    *seen_by = seen(&[], &[("n2", 0x2000000)], Some(&["n1", "n2"]));
                },
                vec![
                    Step::Log(
                        Level::Info,
                        format!(
                            "no node is promotable and no primary streams to us: bootstrap score {} ({mine}, the most advanced of {{\"n2\": Position {{ timeline: 2, lsn: Lsn(33554432) }}}})",
                            scores::SCORE_BOOTSTRAP
                        ),
                    ),
                    Step::Score {
                        node: None,
                        score: scores::SCORE_BOOTSTRAP,
                    },
                ],
            ),
            (
                "bootstrap: a former primary wins the tie, one point more",
                |v, seen_by| {
                    not_streaming(v);
                    v.memory.former_primary = true;
                    *seen_by = seen(&[], &[], Some(&["n1"]));
                },
                vec![
                    Step::Log(
                        Level::Info,
                        format!(
                            "no node is promotable and no primary streams to us: bootstrap score {} ({mine}, the most advanced of {{}})",
                            scores::SCORE_BOOTSTRAP + 1
                        ),
                    ),
                    Step::Score {
                        node: None,
                        score: scores::SCORE_BOOTSTRAP + 1,
                    },
                ],
            ),
        ];
        for (what, change, steps) in table {
            let mut v = standby_view();
            let mut seen_by = seen(&[], &[], None);
            change(&mut v, &mut seen_by);
            assert_eq!(bootstrap_plan(&seen_by, &v.status, &v.memory), steps, "{what}");
        }
    }

    /// After a failed promotion or a full restart, the bootstrap compares
    /// the published positions by history where both are known: the same
    /// WAL on a higher timeline number ties, a fork goes to the node with
    /// more WAL past the fork point, and an older agent (no history) is
    /// compared by number. Each row is looked at from both sides: exactly
    /// one of the two takes the score.
    #[test]
    fn the_bootstrap_score_goes_by_history_not_by_timeline_number() {
        let pos = |p: &str| -> Position { p.parse().unwrap() };
        let hist = |h: &str| -> History { h.parse().unwrap() };
        let (n1, n1_history) = (pos("2:0/3000000"), "1@0/1000000,2");
        let score = Bootstrap::Score(scores::SCORE_BOOTSTRAP);
        // (the other, its position, its history, n1's decision, the other's)
        type Row = (
            &'static str,
            &'static str,
            Option<&'static str>,
            Bootstrap,
            Bootstrap,
        );
        let table: Vec<Row> = vec![
            // A promotion that wrote nothing: a tie, to the first name.
            (
                "n2",
                "4:0/3000000",
                Some("1@0/1000000,2@0/3000000,3@0/3000000,4"),
                score.clone(),
                Bootstrap::Behind(s("n1")),
            ),
            (
                "n0",
                "4:0/3000000",
                Some("1@0/1000000,2@0/3000000,3@0/3000000,4"),
                Bootstrap::Behind(s("n0")),
                score.clone(),
            ),
            // Ahead on n1's history.
            (
                "n2",
                "3:0/4000000",
                Some("1@0/1000000,2@0/3500000,3"),
                Bootstrap::Behind(s("n2")),
                score.clone(),
            ),
            // The same number on a fork, more WAL past it: it goes first.
            (
                "n2",
                "2:0/4000000",
                Some("1@0/800000,2"),
                Bootstrap::Forked(s("n2")),
                score.clone(),
            ),
            // ... the same LSN: a tie.
            (
                "n2",
                "2:0/3000000",
                Some("1@0/800000,2"),
                score.clone(),
                Bootstrap::Behind(s("n1")),
            ),
            // A higher number on a fork with less WAL past it (a promotion
            // from less WAL that wrote nothing): not ahead.
            (
                "n2",
                "4:0/2000000",
                Some("1@0/1000000,2@0/2000000,3@0/2000000,4"),
                score.clone(),
                Bootstrap::Forked(s("n1")),
            ),
            // An older agent publishes no history: by number, as before.
            (
                "n2",
                "4:0/3000000",
                None,
                Bootstrap::Behind(s("n2")),
                score.clone(),
            ),
        ];
        let decide =
            |me: &str, mine: Position, mine_h: Option<&str>, other: &str, theirs, theirs_h: Option<&str>| {
                let mut seen_by = seen(&[], &[], None);
                seen_by.me = s(me);
                seen_by.positions = [(s(other), theirs)].into_iter().collect();
                seen_by.histories = theirs_h.map(|h| (s(other), hist(h))).into_iter().collect();
                seen_by.my_history = mine_h.map(hist);
                bootstrap_decision(&seen_by, mine, &StandbyMemory::default(), 0)
            };
        for (other, theirs, their_history, expected, expected_there) in table {
            // An older agent compares by number on both sides.
            let mine_h = their_history.map(|_| n1_history);
            let here = decide("n1", n1, mine_h, other, pos(theirs), their_history);
            assert_eq!(here, expected, "n1 against {other} at {theirs} {their_history:?}");
            let there = decide(other, pos(theirs), their_history, "n1", n1, mine_h);
            assert_eq!(there, expected_there, "{other} at {theirs} against n1");
        }
    }

    /// What a standby says on a fork: the node with more WAL past the fork
    /// goes first, and the one that scores names those it leaves behind.
    #[test]
    fn a_bootstrap_on_a_fork_says_which_node_needs_a_rewind() {
        let mut v = standby_view();
        not_streaming(&mut v);
        let mut seen_by = seen(&[], &[("n2", 0x4000000)], None);
        seen_by.my_history = Some("1@0/1000000,2".parse().unwrap());
        seen_by.histories = [(s("n2"), "1@0/800000,2".parse().unwrap())].into_iter().collect();
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert_eq!(
            steps,
            vec![Step::Log(
                Level::Warn,
                "no node is promotable: n2 is on a fork of this node's history with more WAL past the fork \
                 (2:0/4000000 against 2:0/3000000 here), it goes first: this node will need a rewind to follow it"
                    .to_string()
            )]
        );
        seen_by.positions.insert(s("n2"), "2:0/2000000".parse().unwrap());
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert!(
            steps.contains(&Step::Log(
                Level::Warn,
                "the histories of [\"n2\"] forked from this node's, with no more WAL past the fork: \
                 they will need a rewind to follow it"
                    .to_string()
            )),
            "{steps:?}"
        );
        assert!(steps.contains(&Step::Score {
            node: None,
            score: scores::SCORE_BOOTSTRAP
        }));
    }

    /// A bootstrap plan held by a gate: the reason logged and published,
    /// and since when it waits.
    fn waits_at_gate(reason: &str) -> Vec<Step> {
        vec![
            Step::Log(Level::Info, format!("no node is promotable: {reason}")),
            own_attr(Attr::Gate, reason, REFRESH_S),
            Step::Memory(Remember::Flag(Key::GateWaiting, true)),
        ]
    }

    /// A bootstrap plan that goes past a gate with a loss: the warning
    /// (holding `warning`) first, the reason withdrawn, the score.
    #[track_caller]
    fn assert_scores_past_a_gate(steps: &[Step], warning: &str) {
        assert!(
            matches!(&steps[0], Step::Log(Level::Warn, w) if w.contains(warning)),
            "{steps:?}"
        );
        assert!(
            steps.contains(&own_attr(Attr::Gate, NO_VALUE, REFRESH_S)),
            "{steps:?}"
        );
        assert!(steps.contains(&Step::Score {
            node: None,
            score: scores::SCORE_BOOTSTRAP
        }));
    }

    #[test]
    fn the_bootstrap_score_waits_for_a_quorum_of_the_synchronous_standbys() {
        // n1 and n2 are up; the old primary n0 listed ANY 1 (n1, n2, n3):
        // n3 may be the one that confirmed the last commits.
        let list = |l: &str| vec![(s("n0"), l.parse::<SyncStandbyNames>().unwrap())];
        let mut v = standby_view();
        not_streaming(&mut v);
        let mut seen_by = seen(&[], &[("n2", 0x2000000)], Some(&["n1", "n2"]));
        seen_by.mode = ReplicationMode::StrictSync;
        seen_by.sync_lists = list("ANY 1 (n1, n2, n3)");
        let reason = "strict-sync: 2 of the 3 standbys needed (ANY 1 of 3) take part; waiting for n3 or the old primary";
        assert_eq!(
            bootstrap_plan(&seen_by, &v.status, &v.memory),
            waits_at_gate(reason)
        );
        // The same in sync mode once sync_grace is over: the score, with
        // the warning that names who may have commits this node lacks.
        seen_by.mode = ReplicationMode::Sync;
        v.memory.receiver_down_for = Some(40);
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert_scores_past_a_gate(&steps, "commits only n3 confirmed may be lost");
        // The grace counts from the first wait, not from the last start
        // (the recovery of a failed promote restarts the instance).
        v.memory.receiver_down_for = Some(0);
        v.memory.gate_waiting_for = Some(40);
        assert!(
            bootstrap_plan(&seen_by, &v.status, &v.memory).contains(&Step::Score {
                node: None,
                score: scores::SCORE_BOOTSTRAP
            })
        );
        v.memory.gate_waiting_for = Some(5);
        assert!(
            !bootstrap_plan(&seen_by, &v.status, &v.memory).contains(&Step::Score {
                node: None,
                score: scores::SCORE_BOOTSTRAP
            })
        );
        // n3 back (or a list it is not on): the score at once.
        seen_by.mode = ReplicationMode::StrictSync;
        seen_by.sync_lists = list("ANY 1 (n1, n2)");
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert!(steps.contains(&Step::Score {
            node: None,
            score: scores::SCORE_BOOTSTRAP
        }));
        // The old primary itself back: it has every commit it acknowledged.
        let mut seen_by = seen(&[], &[], Some(&["n1"]));
        seen_by.mode = ReplicationMode::StrictSync;
        seen_by.sync_lists = vec![(s("n1"), "ANY 1 (n2, n3)".parse().unwrap())];
        assert!(
            bootstrap_plan(&seen_by, &v.status, &v.memory).contains(&Step::Score {
                node: None,
                score: scores::SCORE_BOOTSTRAP
            })
        );
    }

    fn roles(list: &[(&str, &str)]) -> NodeRoles {
        NodeRoles(list.iter().map(|(n, f)| (s(n), f.parse().unwrap())).collect())
    }

    /// The gates after the bootstrap decision compare as it does: a node
    /// that may not be promoted, with the same WAL on a higher timeline
    /// number, is not ahead once both histories say so (by number, with no
    /// history, it holds the candidate).
    #[test]
    fn the_bootstrap_gates_compare_by_history_too() {
        let mut v = standby_view();
        not_streaming(&mut v);
        let mut seen_by = seen(&[], &[], Some(&["n1", "n2"]));
        seen_by.positions.insert(s("n2"), "4:0/3000000".parse().unwrap());
        seen_by.roles = roles(&[("n2", "nopromote")]);
        seen_by.my_history = Some("1@0/1000000,2".parse().unwrap());
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert!(
            steps.contains(&Step::Memory(Remember::Flag(Key::GateWaiting, true))),
            "no history of n2: ahead by number {steps:?}"
        );
        seen_by
            .histories
            .insert(s("n2"), "1@0/1000000,2@0/3000000,3@0/3000000,4".parse().unwrap());
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert!(
            steps.contains(&Step::Score {
                node: None,
                score: scores::SCORE_BOOTSTRAP
            }),
            "the same WAL: a tie {steps:?}"
        );
    }

    /// After a full restart the most advanced node, n2, may not be
    /// promoted: it never scores, and n1, behind it, waits with the reason
    /// published (strict-sync for good; async until sync_grace is over,
    /// then with the warning that what only n2 has is lost).
    #[test]
    fn the_bootstrap_waits_behind_a_node_that_may_not_be_promoted() {
        let mut v = standby_view();
        not_streaming(&mut v);
        let mut seen_by = seen(&[], &[("n2", 0x4000000)], Some(&["n1", "n2"]));
        seen_by.roles = roles(&[("n2", "nopromote")]);
        let reason = "n2 (nopromote) is ahead (2:0/4000000 > 2:0/3000000): waiting for the old primary or for n2 \
                      to be allowed, sync_grace 30s left";
        assert_eq!(
            bootstrap_plan(&seen_by, &v.status, &v.memory),
            waits_at_gate(reason),
            "async: waits within sync_grace"
        );
        seen_by.mode = ReplicationMode::StrictSync;
        v.memory.gate_waiting_for = Some(86_400);
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert!(
            steps.contains(&Step::Memory(Remember::Flag(Key::GateWaiting, true))),
            "strict-sync: for good {steps:?}"
        );
        seen_by.mode = ReplicationMode::Async;
        v.memory.gate_waiting_for = Some(30);
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert_scores_past_a_gate(&steps, "the WAL only n2 has is lost");
        // n2 itself never takes the score, however advanced.
        let mut seen_by = seen(&[], &[("n2", 0x1000000)], Some(&["n1", "n2"]));
        seen_by.roles = roles(&[("n1", "nopromote")]);
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert!(
            !steps.iter().any(|s| matches!(s, Step::Score { .. })),
            "{steps:?}"
        );
        assert!(steps.contains(&Step::Memory(Remember::Stamp(Key::BootstrapChecked, true))));
        // A node behind it in the quorum gate's hand-over: no hand-over to
        // it (the roles' gate ruled: the grace is over), the score.
        let mut seen_by = seen(&[], &[("n2", 0x4000000)], Some(&["n1", "n2"]));
        seen_by.roles = roles(&[("n2", "nopromote")]);
        seen_by.mode = ReplicationMode::Sync;
        seen_by.sync_lists = vec![(s("n0"), "ANY 1 (n1, n2)".parse().unwrap())];
        let steps = bootstrap_plan(&seen_by, &v.status, &v.memory);
        assert!(
            steps.contains(&Step::Score {
                node: None,
                score: scores::SCORE_BOOTSTRAP
            }),
            "{steps:?}"
        );
    }

    /// nosync: n3 streams but is never listed, and what the primary
    /// publishes for the quorum gate lists n2 alone (N = 1).
    #[test]
    fn a_nosync_standby_streams_but_is_never_listed_nor_counted() {
        let mut v = case();
        v.view.config.replication_mode = ReplicationMode::Sync;
        v.view.roles = roles(&[("n3", "nosync")]);
        v.status.replicas = vec![
            replica("n2", "streaming", "async"),
            replica("n3", "streaming", "async"),
        ];
        let plan = sync_plan(&v.view, &v.status);
        assert!(
            plan.steps.contains(&names_step(
                "",
                r#"ANY 1 ("n2")"#,
                ReplicationMode::Sync,
                &["n2", "n3"]
            )),
            "{:?}",
            plan.steps
        );
        let published = plan.steps.iter().find_map(|step| match step {
            Step::Attr {
                node: None,
                attr: Attr::SyncList,
                value,
                ..
            } => Some(value.clone()),
            _ => None,
        });
        // The list about to be set, cut to the standbys that stream and are
        // on it: n2 only.
        assert_eq!(published.as_deref(), Some("n1: ANY 1 (n2)"), "{:?}", plan.steps);
        assert_eq!(plan.risk, None);
        // Only nosync standbys stream: sync acknowledges alone, and says why.
        v.view.roles = roles(&[("n2", "nosync"), ("n3", "nosync")]);
        let plan = sync_plan(&v.view, &v.status);
        assert_eq!(
            plan.risk.as_deref(),
            Some(
                "replication_mode=sync: no standby streams: commits are acknowledged without one (n2, n3 streams, nosync)"
            )
        );
        // strict-sync with every other member nosync: listed anyway, degraded.
        v.view.config.replication_mode = ReplicationMode::StrictSync;
        let plan = sync_plan(&v.view, &v.status);
        assert!(
            plan.steps.contains(&names_step(
                "",
                r#"ANY 1 ("n2", "n3")"#,
                ReplicationMode::StrictSync,
                &["n2", "n3"]
            )),
            "{:?}",
            plan.steps
        );
        assert!(
            plan.risk
                .as_deref()
                .is_some_and(|r| r.contains("n2, n3 (nosync) listed anyway")),
            "{:?}",
            plan.risk
        );
    }

    #[test]
    fn a_node_that_may_not_be_promoted_gets_no_positive_score_and_priority_breaks_ties() {
        let mut v = case();
        v.view.roles = roles(&[("n2", "nopromote"), ("n3", "priority=2")]);
        v.status.replicas = vec![
            replica("n2", "streaming", "async"),
            replica("n3", "streaming", "async"),
        ];
        let mut v4 = v.view.clone();
        v4.members = Some(names(&["n1", "n2", "n3", "n4"]));
        assert_eq!(
            score_steps(&v.view, &v.status.replicas),
            vec![
                missing("n2", false),
                score("n2", roles::SCORE_NO_PROMOTE),
                missing("n3", false),
                score("n3", SCORE_STANDBY)
            ]
        );
        let replicas = [
            v.status.replicas.clone(),
            vec![replica("n4", "streaming", "async")],
        ]
        .concat();
        assert_eq!(
            score_steps(&v4, &replicas),
            vec![
                missing("n2", false),
                score("n2", roles::SCORE_NO_PROMOTE),
                missing("n3", false),
                score("n3", SCORE_STANDBY),
                missing("n4", false),
                score("n4", SCORE_STANDBY - 1)
            ],
            "n3 preferred to n4, equally advanced"
        );
        // Missing: the grace still counts from the score it had.
        v.view.memory.scored = names(&["n2"]);
        v.status.replicas.clear();
        assert_eq!(
            score_steps(&v.view, &v.status.replicas),
            vec![missing("n2", true)]
        );
    }

    #[test]
    fn bootstrap_is_looked_at_only_when_due_and_positions_only_when_nobody_is_promotable() {
        let mut v = standby_view();
        assert!(!bootstrap_due(&v.status, &v.memory), "streaming: never");
        not_streaming(&mut v);
        assert!(
            bootstrap_due(&v.status, &v.memory),
            "just stopped streaming: at once"
        );
        v.memory.bootstrap_checked_age = Some(scores::BOOTSTRAP_CHECK_S - 1);
        assert!(
            !bootstrap_due(&v.status, &v.memory),
            "found someone promotable a moment ago"
        );
        v.memory.bootstrap_checked_age = Some(scores::BOOTSTRAP_CHECK_S);
        assert!(bootstrap_due(&v.status, &v.memory), "a minute later");
        let scores = |v: &[(&str, i64)]| {
            v.iter()
                .map(|(n, s)| (n.to_string(), *s))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(bootstrap_needs_positions(&scores(&[("n2", -1)]), "n1"));
        assert!(!bootstrap_needs_positions(&scores(&[("n2", 1000)]), "n1"));
        assert!(
            !bootstrap_needs_positions(&scores(&[("n1", -1)]), "n1"),
            "it has a score"
        );
    }

    #[test]
    fn a_new_primary_scores_its_followers_and_waits_for_the_expected_ones() {
        let flag = |key: Key| Step::Memory(Remember::Flag(key, true));
        let head = vec![
            Step::Score {
                node: None,
                score: SCORE_PRIMARY,
            },
            score("n2", scores::SCORE_STANDBY),
            flag(Key::Standby(s("n2"))),
            own_attr(Attr::Role, "primary", REFRESH_S),
            own_attr(Attr::Readable, "0", REFRESH_S),
        ];
        let none = NodeRoles::default();
        assert_eq!(promoted_steps(&names(&["n2"]), &none, None), head, "async");
        assert_eq!(
            promoted_steps(&names(&["n2"]), &none, Some(&names(&["n2", "n3"]))),
            [
                head.clone(),
                vec![
                    flag(Key::Standby(s("n2"))),
                    flag(Key::Standby(s("n3"))),
                    flag(Key::SyncManaged),
                    flag(Key::SyncNoneStreaming),
                ],
            ]
            .concat(),
            "sync names set before the promotion"
        );
    }

    #[test]
    fn a_standby_start_keeps_an_uncompared_demote_and_remembers_a_former_primary() {
        for former in [false, true] {
            for uncompared in [false, true] {
                assert_eq!(
                    standby_start_steps(former, uncompared),
                    [
                        Step::Memory(Remember::Flag(Key::BootstrapPreferred, former)),
                        Step::Memory(Remember::Flag(Key::DemotedPrimary, uncompared)),
                        Step::Memory(Remember::Flag(Key::ReceiverDown, false)),
                    ],
                    "former primary: {former}, demote not compared: {uncompared}"
                );
            }
        }
    }

    /// A standby whose receiver was down for ten minutes before a restart
    /// (Pacemaker restarted, the node did not reboot): its first monitor
    /// after the start counts the bootstrap wait from zero, not from ten
    /// minutes ago.
    #[test]
    fn the_bootstrap_wait_starts_over_at_a_start() {
        let down = || {
            let mut v = standby_view();
            not_streaming(&mut v);
            v.status
        };
        let mut memory = crate::runstate::RunState::load("../not-saved");
        memory.set_flag(&Key::ReceiverDown, true);
        memory.backdate(&Key::ReceiverDown, 600);
        let seen = |m: &crate::runstate::RunState| StandbyMemory {
            receiver_down_for: m.flag_age(&Key::ReceiverDown),
            ..StandbyMemory::default()
        };
        assert!(bootstrap_waited_s(&down(), &seen(&memory)) >= 600);
        for step in standby_start_steps(false, false) {
            if let Step::Memory(Remember::Flag(key, on)) = step {
                memory.set_flag(&key, on);
            }
        }
        assert_eq!(bootstrap_waited_s(&down(), &seen(&memory)), 0);
    }
}
