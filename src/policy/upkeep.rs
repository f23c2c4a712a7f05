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
//! attributes), [`slots_plan`] (the slots it keeps) and [`other_primary`]
//! (split brain).

use std::collections::{BTreeMap, BTreeSet};

use crate::ocf::log::Level;
use crate::params::ReplicationMode;
use crate::pg::lsn::Lsn;
use crate::pg::replication::{PrimaryStatus, Replica};
use crate::policy::members::{cluster_replicas, known_standbys};
use crate::policy::scores::{self, SCORE_DISCONNECTED, SCORE_PRIMARY, ScoreDecision};
use crate::policy::slots::{self as slot_rule, ExistingSlot};
use crate::policy::sync as sync_rule;
use crate::vocab::{Attr, Key, NO_VALUE, NodeRole};

/// Rewrite an unchanged attribute after this long (attrd may have lost it).
pub const REFRESH_S: u64 = 300;
/// Refresh WAL positions and lag at most this often.
pub const VOLATILE_S: u64 = 60;

/// Memory value of [`Key::SlotGone`] while the slot's node is away.
pub const GONE: &str = "gone";

/// A memory write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remember {
    /// Set `key` to the value, its age restarting now.
    Set(Key, String),
    /// Set `key` to the value only when it holds another (or none): its age
    /// counts from the last change. Flags are written so.
    Change(Key, String),
}

impl Remember {
    /// Turns flag `key` on or off ([`Key::flag`]).
    pub fn flag(key: Key, on: bool) -> Remember {
        let value = key.flag(on).to_string();
        Remember::Change(key, value)
    }
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
/// state and WAL position (refreshed at most every [`VOLATILE_S`]).
pub fn instance_steps(role: NodeRole, timeline: u32, lsn: Lsn, receiver: &str) -> Vec<Step> {
    vec![
        own_attr(Attr::Role, role.as_str(), REFRESH_S),
        own_attr(Attr::Timeline, &timeline.to_string(), REFRESH_S),
        own_attr(Attr::Receiver, receiver, REFRESH_S),
        own_attr(Attr::Lsn, &lsn.to_string(), VOLATILE_S),
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
}

/// Another primary, as far as this monitor knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrimariesSeen {
    /// Looked less than [`VOLATILE_S`] ago: the one found then.
    Remembered(Option<String>),
    /// Asked now: the nodes whose role attribute says primary.
    Asked(Vec<String>),
    /// Asked now, and the attributes could not be read.
    Unknown,
}

/// Whether the primary looks for another primary now (at most once a
/// minute), given the age of its last look.
pub fn other_primary_due(checked_age: Option<u64>) -> bool {
    checked_age.is_none_or(|a| a >= VOLATILE_S)
}

/// What a primary's upkeep gathered besides the server's own report
/// ([`PrimaryStatus`]): who is in the cluster and what the memory holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimaryView {
    pub me: String,
    /// The cluster's members (None: unknown).
    pub members: Option<Vec<String>>,
    pub memory: PrimaryMemory,
    pub config: PrimaryConfig,
}

/// The primary's upkeep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrimaryPlan {
    pub steps: Vec<Step>,
    /// Another node that reports itself primary.
    pub other_primary: Option<String>,
    /// Sync modes: why commits are at risk.
    pub sync_risk: Option<String>,
    /// Two members map to one slot: the reason naming both.
    pub slot_collision: Option<String>,
}

/// The primary's monitor: its attributes and score, the standbys' scores,
/// synchronous replication, the slots, and a look for another primary
/// (`primaries`: what the monitor knows of the others' roles).
pub fn primary_plan(view: &PrimaryView, status: &PrimaryStatus, primaries: &PrimariesSeen) -> PrimaryPlan {
    let mut steps = instance_steps(NodeRole::Primary, status.timeline, status.current, NO_VALUE);
    steps.push(Step::Score {
        node: None,
        score: SCORE_PRIMARY,
    });
    steps.extend(score_steps(view, &status.replicas));
    let sync = sync_plan(view, status);
    steps.extend(sync.steps);
    let slots = slots_plan(view, &status.slots, &status.lost_slots);
    steps.extend(slots.steps);
    let (other_primary, look) = other_primary(primaries, &view.me);
    steps.extend(look);
    PrimaryPlan {
        steps,
        other_primary,
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
/// `replicas`: pg_stat_replication.
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
    let mut steps = Vec::new();
    for (node, score) in scores {
        let missing = score == SCORE_DISCONNECTED;
        let missing_for = flag_age_after(view.memory.missing_for.get(&node).copied(), missing);
        steps.push(Step::Memory(Remember::flag(Key::Missing(node.clone()), missing)));
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
        .map(|name| Step::Memory(Remember::flag(Key::Standby(name.clone()), true)))
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
    steps.push(Step::Memory(Remember::flag(
        Key::SyncNoneStreaming,
        none_streaming,
    )));
    let none_streaming_for = flag_age_after(view.memory.none_streaming_for, none_streaming);
    let within_grace = sync_rule::within_grace(none_streaming_for, config.sync_grace_s);
    let wanted = sync_rule::synchronous_names(
        config.replication_mode,
        config.sync_standbys,
        &streaming,
        &known,
        &others,
        within_grace,
    );
    let in_force = &status.synchronous_standby_names;
    let target = sync_rule::target(wanted.as_deref(), view.memory.sync_managed);
    if let Some(target) = target.filter(|t| t != in_force) {
        steps.push(Step::SyncNames {
            from: in_force.clone(),
            to: target,
            mode: config.replication_mode,
            streaming: streaming.clone(),
        });
    }
    steps.push(Step::Memory(Remember::flag(Key::SyncManaged, wanted.is_some())));
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
    let risk = sync_rule::degraded_reason(
        config.replication_mode,
        wanted.as_deref(),
        streaming.len(),
        none_streaming_for,
        config.sync_grace_s,
    );
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
                steps.push(Step::Memory(Remember::Change(key, String::new())))
            }
            ExistingSlot::Wanted | ExistingSlot::Wait => {}
            ExistingSlot::MarkGone => steps.push(Step::Memory(Remember::Set(key, GONE.to_string()))),
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

/// Another node that reports itself primary, and what to remember of the
/// look: a fresh answer is remembered for [`VOLATILE_S`], a failed look
/// not at all.
pub fn other_primary(seen: &PrimariesSeen, me: &str) -> (Option<String>, Vec<Step>) {
    match seen {
        PrimariesSeen::Remembered(other) => (other.clone(), Vec::new()),
        PrimariesSeen::Unknown => (None, Vec::new()),
        PrimariesSeen::Asked(primaries) => {
            let other = primaries.iter().find(|node| *node != me).cloned();
            let steps = vec![
                Step::Memory(Remember::Set(Key::SplitbrainChecked, "1".to_string())),
                Step::Memory(Remember::Set(
                    Key::SplitbrainOther,
                    other.clone().unwrap_or_default(),
                )),
            ];
            (other, steps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::scores::{SCORE_CATCHUP, SCORE_NOT_SYNC, SCORE_STANDBY};

    fn s(v: &str) -> String {
        v.to_string()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|n| s(n)).collect()
    }

    fn replica(name: &str, state: &str, sync_state: &str) -> Replica {
        Replica {
            name: s(name),
            state: s(state),
            sync_state: s(sync_state),
            flush: Some(Lsn(0x3000000)),
            lag: Some(0),
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
            lost_slots: Vec::new(),
        }
    }

    /// A primary `n1` of members n1, n2, n3 with an empty memory, async,
    /// slots off: each row changes what it tests.
    fn view() -> PrimaryView {
        PrimaryView {
            me: s("n1"),
            members: Some(names(&["n1", "n2", "n3"])),
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
        Step::Memory(Remember::flag(Key::Missing(s(node)), on))
    }

    fn score(node: &str, score: i64) -> Step {
        Step::Score {
            node: Some(s(node)),
            score,
        }
    }

    #[test]
    fn the_primary_publishes_itself_first() {
        let plan = primary_plan(&view(), &status(), &PrimariesSeen::Remembered(None));
        assert_eq!(
            plan.steps[..5],
            [
                own_attr(Attr::Role, "primary", REFRESH_S),
                own_attr(Attr::Timeline, "2", REFRESH_S),
                own_attr(Attr::Receiver, NO_VALUE, REFRESH_S),
                own_attr(Attr::Lsn, &Lsn(0x3000000).to_string(), VOLATILE_S),
                Step::Score {
                    node: None,
                    score: SCORE_PRIMARY
                },
            ],
            "role, timeline, receiver, position, then its own score"
        );
        assert_eq!(plan.other_primary, None);
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

    fn standby_flag(node: &str) -> Step {
        Step::Memory(Remember::flag(Key::Standby(s(node)), true))
    }

    fn none_streaming(on: bool) -> Step {
        Step::Memory(Remember::flag(Key::SyncNoneStreaming, on))
    }

    fn managed(on: bool) -> Step {
        Step::Memory(Remember::flag(Key::SyncManaged, on))
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
                    v.view.config.replication_mode = Sync;
                    v.status.synchronous_standby_names = s(r#"ANY 1 ("n2")"#);
                    v.view.memory.remembered_standbys = names(&["n2"]);
                    v.view.memory.sync_managed = true;
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
                    v.view.config.replication_mode = Sync;
                    v.status.synchronous_standby_names = s(r#"ANY 1 ("n2")"#);
                    v.view.memory.remembered_standbys = names(&["n2"]);
                    v.view.memory.sync_managed = true;
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
                    v.view.config.replication_mode = Sync;
                    v.status.synchronous_standby_names = s(r#"ANY 1 ("n2")"#);
                    v.view.memory.remembered_standbys = names(&["n2"]);
                    v.view.memory.sync_managed = true;
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
            assert_eq!(plan.steps, steps, "{what}");
            assert_eq!(plan.risk.as_deref(), risk, "{what}");
        }
    }

    fn slots_attr(kept: &[(&str, bool)]) -> Step {
        Step::SlotsAttr {
            kept: kept.iter().map(|(n, a)| (s(n), *a)).collect(),
        }
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
        let table: Vec<Row> = vec![
            (
                "replication_slots=false: nothing",
                |_| {},
                vec![],
                vec![],
                vec![],
                None,
            ),
            (
                "no membership known: nothing created or dropped blindly",
                |v| {
                    v.view.config.replication_slots = true;
                    v.view.members = None;
                },
                vec![("pgha_n9", false)],
                vec![],
                vec![],
                None,
            ),
            (
                "the others' slots are created",
                |v| v.view.config.replication_slots = true,
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
                |v| v.view.config.replication_slots = true,
                vec![("pgha_n2", true), ("pgha_n3", false)],
                vec![],
                vec![slots_attr(&[("pgha_n2", true), ("pgha_n3", false)])],
                None,
            ),
            (
                "a departed node's slot: its departure is remembered",
                |v| v.view.config.replication_slots = true,
                vec![("pgha_n2", true), ("pgha_n3", true), ("pgha_n9", false)],
                vec![],
                vec![
                    Step::Memory(Remember::Set(gone_key("pgha_n9"), s(GONE))),
                    slots_attr(&[("pgha_n2", true), ("pgha_n3", true), ("pgha_n9", false)]),
                ],
                None,
            ),
            (
                "gone within slot_grace: kept",
                |v| {
                    v.view.config.replication_slots = true;
                    v.view.memory.slot_gone_for.insert(s("pgha_n9"), 599);
                },
                vec![("pgha_n2", true), ("pgha_n3", true), ("pgha_n9", false)],
                vec![],
                vec![slots_attr(&[
                    ("pgha_n2", true),
                    ("pgha_n3", true),
                    ("pgha_n9", false),
                ])],
                None,
            ),
            (
                "gone past slot_grace but in use: kept",
                |v| {
                    v.view.config.replication_slots = true;
                    v.view.memory.slot_gone_for.insert(s("pgha_n9"), 600);
                },
                vec![("pgha_n2", true), ("pgha_n3", true), ("pgha_n9", true)],
                vec![],
                vec![slots_attr(&[
                    ("pgha_n2", true),
                    ("pgha_n3", true),
                    ("pgha_n9", true),
                ])],
                None,
            ),
            (
                "gone past slot_grace and inactive: dropped",
                |v| {
                    v.view.config.replication_slots = true;
                    v.view.memory.slot_gone_for.insert(s("pgha_n9"), 600);
                },
                vec![("pgha_n2", true), ("pgha_n3", true), ("pgha_n9", false)],
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
                |v| {
                    v.view.config.replication_slots = true;
                    v.view.memory.slot_gone_for.insert(s("pgha_n3"), 100);
                },
                vec![("pgha_n2", true), ("pgha_n3", false)],
                vec![],
                vec![
                    Step::Memory(Remember::Change(gone_key("pgha_n3"), String::new())),
                    slots_attr(&[("pgha_n2", true), ("pgha_n3", false)]),
                ],
                None,
            ),
            (
                "invalidated and unused: recreated",
                |v| v.view.config.replication_slots = true,
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
                |v| v.view.config.replication_slots = true,
                vec![("pgha_n2", true), ("pgha_n3", true)],
                vec!["pgha_n2"],
                vec![slots_attr(&[("pgha_n2", true), ("pgha_n3", true)])],
                None,
            ),
            (
                "two members map to one slot: neither gets it, degraded naming both",
                |v| {
                    v.view.config.replication_slots = true;
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
            change(&mut v);
            let existing: Vec<(String, bool)> = existing.iter().map(|(n, a)| (s(n), *a)).collect();
            let plan = slots_plan(&v.view, &existing, &names(&lost));
            assert_eq!(plan.steps, steps, "{what}");
            assert_eq!(plan.collision.as_deref(), collision, "{what}");
        }
    }

    #[test]
    fn another_primary_by_table() {
        let checked = |other: &str| {
            vec![
                Step::Memory(Remember::Set(Key::SplitbrainChecked, s("1"))),
                Step::Memory(Remember::Set(Key::SplitbrainOther, s(other))),
            ]
        };
        let table = [
            (PrimariesSeen::Remembered(None), None, vec![]),
            (PrimariesSeen::Remembered(Some(s("n2"))), Some("n2"), vec![]),
            (PrimariesSeen::Unknown, None, vec![]),
            (PrimariesSeen::Asked(names(&["n1"])), None, checked("")),
            (
                PrimariesSeen::Asked(names(&["n1", "n2"])),
                Some("n2"),
                checked("n2"),
            ),
        ];
        for (seen, other, steps) in table {
            let (found, look) = other_primary(&seen, "n1");
            assert_eq!(found.as_deref(), other, "{seen:?}");
            assert_eq!(look, steps, "{seen:?}");
        }
        assert!(other_primary_due(None));
        assert!(!other_primary_due(Some(VOLATILE_S - 1)));
        assert!(other_primary_due(Some(VOLATILE_S)));
    }
}
