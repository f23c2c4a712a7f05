//! Replication slots, one per cluster node, kept by the primary
//! (replication_slots=true).
//!
//! - every other node of the cluster (its members: `crm_node -l`, asked at
//!   most once a minute, else the last membership remembered, see
//!   [`node::members`]) gets a physical slot
//!   ([`crate::pg::names::slot_name`]) before its standby needs it;
//! - two nodes whose names map to the same slot get none, and the primary's
//!   monitor is DEGRADED_PROMOTED naming both ([`slot_plan`]);
//!   standbys stream through theirs (`primary_slot_name`), so WAL a lagging
//!   standby still needs is kept;
//! - the slot of a node that left the cluster is dropped once it has been
//!   gone for `slot_grace` seconds and the slot is inactive, so retained WAL
//!   cannot fill the primary's disk (`ocf:heartbeat:pgsql` never cleans up);
//! - a standby drops the slots it kept from a time it was primary: on a
//!   standby they would only hold WAL back;
//! - the primary publishes the slots it keeps as `pgha-<rsc>-slots` (shown by
//!   `crm_mon -A` and `pgha status`), written only when the list changes.

use std::collections::{BTreeMap, BTreeSet};

use super::publish::{self, REFRESH_S};
use crate::context::Context;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::params::Config;
use crate::pcmk::node;
use crate::pg::instance::Instance;
use crate::pg::names::slot_name;
use crate::pg::slots as pg_slots;
use crate::runstate::RunState;
use crate::vocab::{Attr, Key, NO_VALUE};
use crate::{log_info, log_warn};

/// Memory value of [`Key::SlotGone`] while the slot's node is away.
const GONE: &str = "gone";

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

/// A node name shortened for an exit reason (Pacemaker keeps 128 bytes).
fn short(name: &str) -> String {
    let s: String = name.chars().take(20).collect();
    if s.len() < name.len() {
        format!("{s}...")
    } else {
        s
    }
}

/// On the primary: create the missing slots, drop those of departed nodes.
/// Two nodes whose names map to one slot: DEGRADED_PROMOTED naming both.
pub fn maintain_primary(
    ctx: &Context,
    state: &mut RunState,
    inst: &Instance,
    config: &Config,
    me: &str,
    existing: &[(String, bool)],
) -> OcfResult<()> {
    if !config.replication_slots {
        return Ok(());
    }
    let Some(nodes) = node::members(ctx.deadline, state) else {
        return Ok(()); // no cluster to ask: nothing is created or dropped blindly
    };
    let plan = slot_plan(&nodes, me);
    let wanted: Vec<String> = plan.slots.values().cloned().collect();
    // What is kept once this pass is done, for the attribute.
    let mut kept: Vec<(String, bool)> = Vec::new();
    for slot in wanted.iter().filter(|w| !existing.iter().any(|(e, _)| e == *w)) {
        match pg_slots::create_slot(inst, slot, ctx.deadline) {
            Ok(()) => {
                log_info!("replication slot {slot} created");
                kept.push((slot.clone(), false));
            }
            Err(e) => log_warn!("cannot create replication slot {slot}: {e}"),
        }
    }
    for (slot, active) in existing {
        let key = Key::SlotGone(slot.clone());
        if wanted.contains(slot) || plan.contested.contains(slot) {
            // Back in the cluster: forget the departure (a no-op when none).
            if state.get(&key).is_some() {
                state.set_if_changed(&key, "");
            }
        } else {
            match state.age(&key).filter(|_| state.get(&key) == Some(GONE)) {
                None => state.set(&key, GONE),
                Some(age) if age >= config.slot_grace_s && !active => {
                    match pg_slots::drop_slot(inst, slot, ctx.deadline) {
                        Ok(()) => {
                            log_info!(
                                "replication slot {slot} dropped: its node left the cluster {age}s ago"
                            );
                            state.set(&key, "");
                            continue;
                        }
                        Err(e) => log_warn!("cannot drop replication slot {slot}: {e}"),
                    }
                }
                Some(_) => {}
            }
        }
        kept.push((slot.clone(), *active));
    }
    publish::publish_node_attr(ctx, state, None, Attr::Slots, &describe(&mut kept), REFRESH_S);
    match plan.collision {
        None => Ok(()),
        Some((a, b)) => Err(OcfError::new(
            OcfCode::DegradedPromoted,
            format!(
                "nodes '{}' and '{}' map to one slot name: rename one, or set replication_slots=false",
                short(&a),
                short(&b)
            ),
        )),
    }
}

/// The attribute's value: slot names in order, the unused ones marked
/// (a slot that stays inactive is WAL the primary keeps for nobody).
fn describe(slots: &mut [(String, bool)]) -> String {
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

/// On a standby: drop the slots left from a time it was the primary, and
/// say that this node keeps none.
pub fn maintain_standby(
    ctx: &Context,
    state: &mut RunState,
    inst: &Instance,
    config: &Config,
    existing: &[(String, bool)],
) {
    for (slot, _) in existing {
        match pg_slots::drop_slot(inst, slot, ctx.deadline) {
            Ok(()) => log_info!("replication slot {slot} dropped: a standby keeps none"),
            Err(e) => log_warn!("cannot drop leftover replication slot {slot}: {e}"),
        }
    }
    if config.replication_slots {
        publish::publish_node_attr(ctx, state, None, Attr::Slots, NO_VALUE, REFRESH_S);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attribute_lists_the_slots_in_order_and_marks_the_unused() {
        let mut slots = vec![
            ("pgha_node3".to_string(), false),
            ("pgha_node2".to_string(), true),
        ];
        assert_eq!(describe(&mut slots), "pgha_node2, pgha_node3 (inactive)");
        assert_eq!(describe(&mut []), "-");
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
}
