//! Replication slots as rules: which slot each cluster node gets, which
//! slots a primary creates, keeps or drops, and how the list is shown.
//!
//! - every other member gets `pgha_<name>` ([`slot_name`]); two members
//!   whose names map to one slot get none, and the primary says so
//!   ([`slot_plan`], [`collision_reason`]);
//! - the slot of a node that left the cluster is dropped once it has been
//!   gone `slot_grace` seconds and the slot is inactive ([`existing_slot`]):
//!   retained WAL must not fill the primary's disk, nor must a node that
//!   only rebooted lose the WAL it needs;
//! - the slot of a node that is down but still configured is kept, and is
//!   bounded by PostgreSQL's own `max_slot_wal_keep_size` (validate-all and
//!   start warn when it is unbounded): the WAL each slot retains is
//!   published when it changed noticeably ([`retention_changed`]), and a
//!   slot PostgreSQL is about to invalidate is logged ([`newly_unreserved`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::pg::names::slot_name;
use crate::vocab::{NO_VALUE, SlotWal, WalStatus};

/// The slots the primary keeps for the cluster's nodes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SlotPlan {
    /// node -> slot, for every other node whose slot name is its own.
    pub slots: BTreeMap<String, String>,
    /// Two nodes (the first such pair, in name order) whose names map to
    /// the same slot: neither gets one, the monitor says so.
    pub collision: Option<(String, String)>,
    /// Every slot name two nodes map to: never created, never dropped.
    pub contested: BTreeSet<String>,
}

/// The slot of every member but `me`, and the collisions among all
/// members (`me` included: after a switchover it needs a slot too).
pub fn slot_plan(members: &[String], me: &str) -> SlotPlan {
    let mut by_slot: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for node in members {
        by_slot.entry(slot_name(node)).or_default().insert(node);
    }
    let mut plan = SlotPlan::default();
    for (slot, nodes) in by_slot {
        let mut nodes = nodes.into_iter();
        match (nodes.next(), nodes.next()) {
            (Some(a), Some(b)) => {
                if plan.collision.is_none() {
                    plan.collision = Some((a.to_string(), b.to_string()));
                }
                plan.contested.insert(slot);
            }
            (Some(node), None) if node != me => {
                plan.slots.insert(node.to_string(), slot);
            }
            _ => {}
        }
    }
    plan
}

/// The planned slots that do not exist yet.
pub fn missing_slots(plan: &SlotPlan, existing: &[(String, bool)]) -> Vec<String> {
    plan.slots
        .values()
        .filter(|w| !existing.iter().any(|(e, _)| e == *w))
        .cloned()
        .collect()
}

/// What to do with a slot that exists on the primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExistingSlot {
    /// Its node is a member (or the name is contested): keep it, and forget
    /// any departure remembered.
    Wanted,
    /// Its node just went away: remember since when.
    MarkGone,
    /// Gone, but not for `slot_grace` yet, or still in use: keep it.
    Wait,
    /// Gone for `gone_for` seconds, past the grace, and inactive: drop it.
    Drop { gone_for: u64 },
    /// Wanted, but PostgreSQL invalidated it (its WAL was removed) and no
    /// standby uses it: drop it and create it again, so that its standby,
    /// once rebuilt or back within reach, has a slot that holds WAL again.
    Recreate,
}

/// The decision for existing slot `slot` (`active`: a walsender uses it;
/// `lost`: PostgreSQL invalidated it), whose node has been remembered gone
/// for `gone_for` seconds (None: not remembered gone).
pub fn existing_slot(
    plan: &SlotPlan,
    slot: &str,
    active: bool,
    lost: bool,
    gone_for: Option<u64>,
    grace_s: u64,
) -> ExistingSlot {
    if plan.slots.values().any(|s| s == slot) {
        return if lost && !active {
            ExistingSlot::Recreate
        } else {
            ExistingSlot::Wanted
        };
    }
    if plan.contested.contains(slot) {
        return ExistingSlot::Wanted;
    }
    match gone_for {
        None => ExistingSlot::MarkGone,
        Some(age) if age >= grace_s && !active => ExistingSlot::Drop { gone_for: age },
        Some(_) => ExistingSlot::Wait,
    }
}

/// The exit reason of a primary whose members `a` and `b` map to one slot.
pub fn collision_reason(a: &str, b: &str) -> String {
    format!(
        "nodes '{}' and '{}' map to one slot: rename one or set replication_slots=false",
        short(a),
        short(b)
    )
}

/// A node name shortened for an exit reason (Pacemaker keeps 128 bytes,
/// the resource name and two node names included).
fn short(name: &str) -> String {
    let s: String = name.chars().take(16).collect();
    if s.len() < name.len() {
        format!("{s}...")
    } else {
        s
    }
}

/// The attribute's value: slot names in order, the unused ones marked
/// (a slot that stays inactive is WAL the primary keeps for nobody).
pub fn describe(slots: &mut [(String, bool)]) -> String {
    slots.sort();
    let names: Vec<String> = slots
        .iter()
        .map(|(name, active)| {
            if *active {
                name.clone()
            } else {
                format!("{name} (inactive)")
            }
        })
        .collect();
    if names.is_empty() {
        NO_VALUE.to_string()
    } else {
        names.join(", ")
    }
}

/// The slot names in an attribute value that [`describe`] wrote: what a
/// node about to copy the primary reads to know whether its slot exists.
pub fn described_names(value: &str) -> Vec<String> {
    value
        .split(", ")
        .map(|s| s.trim_end_matches(" (inactive)").trim())
        .filter(|s| !s.is_empty() && *s != NO_VALUE)
        .map(str::to_string)
        .collect()
}

/// Below this change of the WAL one slot retains, nothing is news: a
/// WAL segment (the default size), about what a streaming standby's slot
/// holds back between two monitors.
pub const RETAINED_NOTICEABLE_BYTES: u64 = 16 << 20;

/// Whether what the slots retain changed enough to publish again: a slot
/// came or went, its `wal_status` changed, or it holds a segment and a
/// tenth more or less than was published. A down standby's slot grows at
/// the primary's write rate; relative steps keep attrd's writes to a few
/// dozen from a segment to a terabyte, instead of one per monitor. Both
/// lists are in slot order ([`crate::vocab::SlotWalList::sorted`]).
pub fn retention_changed(published: &[SlotWal], now: &[SlotWal]) -> bool {
    published.len() != now.len()
        || published.iter().zip(now).any(|(before, after)| {
            before.slot != after.slot
                || before.status != after.status
                || match (before.retained, after.retained) {
                    (Some(b), Some(a)) => b.abs_diff(a) >= RETAINED_NOTICEABLE_BYTES.max(b / 10),
                    (b, a) => b != a,
                }
        })
}

/// The slots PostgreSQL now says it no longer keeps WAL for (`unreserved`:
/// past `max_slot_wal_keep_size`, removed at the next checkpoint) that were
/// not so when last published: their standby will need a rebuild unless it
/// streams again at once.
pub fn newly_unreserved<'a>(published: &[SlotWal], now: &'a [SlotWal]) -> Vec<&'a SlotWal> {
    now.iter()
        .filter(|s| s.status == Some(WalStatus::Unreserved))
        .filter(|s| {
            !published
                .iter()
                .any(|p| p.slot == s.slot && p.status == Some(WalStatus::Unreserved))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_names_read_back_from_the_attribute() {
        let mut slots = vec![
            ("pgha_node3".to_string(), false),
            ("pgha_node2".to_string(), true),
        ];
        let value = describe(&mut slots);
        assert_eq!(described_names(&value), ["pgha_node2", "pgha_node3"]);
        assert!(described_names(&describe(&mut [])).is_empty());
    }

    #[test]
    fn the_attribute_lists_the_slots_in_order_and_marks_the_unused() {
        let mut slots = vec![
            ("pgha_node3".to_string(), false),
            ("pgha_node2".to_string(), true),
        ];
        assert_eq!(describe(&mut slots), "pgha_node2, pgha_node3 (inactive)");
        assert_eq!(describe(&mut []), "-");
    }

    fn held(slot: &str, retained: Option<u64>, status: &str) -> SlotWal {
        SlotWal {
            slot: slot.to_string(),
            retained,
            status: Some(WalStatus::parse(status)),
        }
    }

    #[test]
    fn what_the_slots_retain_is_news_only_when_it_changed_noticeably() {
        const MB: u64 = 1 << 20;
        let one = |retained, status| vec![held("pgha_b", retained, status)];
        // (published, now, changed)
        let table: Vec<(Vec<SlotWal>, Vec<SlotWal>, bool)> = vec![
            (one(Some(0), "reserved"), one(Some(0), "reserved"), false),
            // A streaming standby's slot wobbles within a segment.
            (
                one(Some(2 * MB), "reserved"),
                one(Some(15 * MB), "reserved"),
                false,
            ),
            (
                one(Some(2 * MB), "reserved"),
                one(Some(18 * MB), "reserved"),
                true,
            ),
            // A down standby's: a tenth of what it held.
            (
                one(Some(1000 * MB), "reserved"),
                one(Some(1090 * MB), "reserved"),
                false,
            ),
            (
                one(Some(1000 * MB), "reserved"),
                one(Some(1100 * MB), "reserved"),
                true,
            ),
            (
                one(Some(1100 * MB), "reserved"),
                one(Some(990 * MB), "reserved"),
                true,
            ),
            (
                one(Some(1000 * MB), "reserved"),
                one(Some(1001 * MB), "extended"),
                true,
            ),
            (one(Some(MB), "reserved"), one(None, "lost"), true),
            (one(Some(MB), "reserved"), vec![], true),
            (vec![], one(Some(0), "reserved"), true),
            (
                one(Some(0), "reserved"),
                vec![
                    held("pgha_b", Some(0), "reserved"),
                    held("pgha_c", Some(0), "reserved"),
                ],
                true,
            ),
            (
                one(Some(0), "reserved"),
                vec![held("pgha_c", Some(0), "reserved")],
                true,
            ),
            (vec![], vec![], false),
        ];
        for (published, now, changed) in table {
            assert_eq!(
                retention_changed(&published, &now),
                changed,
                "{published:?} -> {now:?}"
            );
        }
    }

    #[test]
    fn a_slot_about_to_lose_its_wal_is_told_once() {
        let now = vec![
            held("pgha_b", Some(9 << 30), "unreserved"),
            held("pgha_c", Some(1 << 30), "extended"),
        ];
        let names = |v: Vec<&SlotWal>| v.iter().map(|s| s.slot.clone()).collect::<Vec<_>>();
        assert_eq!(names(newly_unreserved(&[], &now)), ["pgha_b"]);
        let before = vec![held("pgha_b", Some(8 << 30), "extended")];
        assert_eq!(names(newly_unreserved(&before, &now)), ["pgha_b"]);
        let before = vec![held("pgha_b", Some(8 << 30), "unreserved")];
        assert!(newly_unreserved(&before, &now).is_empty());
    }

    #[test]
    fn colliding_slot_names_are_found_among_the_members() {
        let m = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // "db_1_<hash of db-1>" is a plain name equal to db-1's folded slot.
        let twin = slot_name("db-1").trim_start_matches("pgha_").to_string();
        // (members, expected node -> slot, expected collision)
        type Row<'a> = (Vec<String>, &'a [(&'a str, &'a str)], Option<(&'a str, &'a str)>);
        let table: &[Row] = &[
            (m(&["a", "b"]), &[("b", "pgha_b")], None),
            (
                m(&["a", "db-1", "db_1", "DB.1"]),
                &[
                    ("DB.1", "pgha_db_1_871ccd92"),
                    ("db-1", "pgha_db_1_4476ec01"),
                    ("db_1", "pgha_db_1"),
                ],
                None,
            ),
            (
                vec!["a".into(), "db-1".into(), twin.clone(), "c".into()],
                &[("c", "pgha_c")],
                Some(("db-1", twin.as_str())),
            ),
            // This node collides too: it needs its slot after a switchover.
            (
                vec!["db-1".into(), twin.clone()],
                &[],
                Some(("db-1", twin.as_str())),
            ),
            (m(&[]), &[], None),
        ];
        for (members, slots, collision) in table {
            let plan = slot_plan(members, "a");
            let expected: BTreeMap<String, String> = slots
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect();
            assert_eq!(plan.slots, expected, "{members:?}");
            assert_eq!(
                plan.collision,
                collision.map(|(a, b)| (a.to_string(), b.to_string())),
                "{members:?}"
            );
            assert_eq!(plan.contested.len(), usize::from(collision.is_some()));
        }
    }

    #[test]
    fn a_departed_nodes_slot_is_dropped_only_after_the_grace_and_when_inactive() {
        let m = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let plan = slot_plan(&m(&["a", "b"]), "a");
        // (slot, active, remembered gone for, expected)
        let table: &[(&str, bool, Option<u64>, ExistingSlot)] = &[
            ("pgha_b", false, None, ExistingSlot::Wanted),
            ("pgha_b", true, Some(500), ExistingSlot::Wanted),
            ("pgha_c", false, None, ExistingSlot::MarkGone),
            ("pgha_c", false, Some(19), ExistingSlot::Wait),
            ("pgha_c", true, Some(500), ExistingSlot::Wait),
            ("pgha_c", false, Some(20), ExistingSlot::Drop { gone_for: 20 }),
            // This node's own slot (left from before a switchover) is not wanted.
            ("pgha_a", false, None, ExistingSlot::MarkGone),
        ];
        for (slot, active, gone_for, expected) in table {
            assert_eq!(
                &existing_slot(&plan, slot, *active, false, *gone_for, 20),
                expected,
                "{slot} {active} {gone_for:?}"
            );
        }
        // An invalidated slot of a member is made again, unless in use; one
        // of a departed node follows the departure rules.
        assert_eq!(
            existing_slot(&plan, "pgha_b", false, true, None, 20),
            ExistingSlot::Recreate
        );
        assert_eq!(
            existing_slot(&plan, "pgha_b", true, true, None, 20),
            ExistingSlot::Wanted
        );
        assert_eq!(
            existing_slot(&plan, "pgha_c", false, true, Some(20), 20),
            ExistingSlot::Drop { gone_for: 20 }
        );
        assert_eq!(missing_slots(&plan, &[("pgha_c".into(), true)]), vec!["pgha_b"]);
        assert!(missing_slots(&plan, &[("pgha_b".into(), false)]).is_empty());
        // Under 128 bytes with the resource name before it (Pacemaker cuts there).
        assert!(collision_reason(&"x".repeat(60), &"y".repeat(60)).len() < 115);
    }
}
