//! Replication slots, one per cluster node, kept by the primary
//! (replication_slots=true).
//!
//! - every other node of the cluster (`crm_node -l`, asked at most once a
//!   minute) gets a physical slot `pgha_<node>` before its standby needs it;
//!   standbys stream through theirs (`primary_slot_name`), so WAL a lagging
//!   standby still needs is kept;
//! - the slot of a node that left the cluster is dropped once it has been
//!   gone for `slot_grace` seconds and the slot is inactive, so retained WAL
//!   cannot fill the primary's disk (`ocf:heartbeat:pgsql` never cleans up);
//! - a standby drops the slots it kept from a time it was primary: on a
//!   standby they would only hold WAL back;
//! - the primary publishes the slots it keeps as `pgha-<rsc>-slots` (shown by
//!   `crm_mon -A` and `pgha status`), written only when the list changes.

use super::Context;
use super::publish::{self, REFRESH_S};
use crate::params::Config;
use crate::pg::instance::Instance;
use crate::pg::replication::{self, slot_name};
use crate::runstate::RunState;
use crate::{log_info, log_warn};

const NODES: &str = "cluster.nodes";
const NODES_MAX_AGE_S: u64 = 60;
const GONE: &str = "slotgone.";
/// Node attribute: the slots the primary keeps ("-" on a standby).
const ATTR: &str = "slots";

/// The cluster's nodes, from the memory when fresh.
fn cluster_nodes(ctx: &Context, state: &mut RunState) -> Option<Vec<String>> {
    if state.age(NODES).is_some_and(|a| a < NODES_MAX_AGE_S) {
        return state.get(NODES).map(|v| {
            v.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        });
    }
    let nodes = crate::pcmk::node::cluster_nodes(ctx.deadline)?;
    state.set(NODES, &nodes.join(","));
    Some(nodes)
}

/// On the primary: create the missing slots, drop those of departed nodes.
pub fn maintain_primary(
    ctx: &Context,
    state: &mut RunState,
    inst: &Instance,
    config: &Config,
    me: &str,
    existing: &[(String, bool)],
) {
    if !config.replication_slots {
        return;
    }
    let Some(nodes) = cluster_nodes(ctx, state) else {
        return; // no cluster to ask: nothing is created or dropped blindly
    };
    let wanted: Vec<String> = nodes
        .iter()
        .filter(|n| n.as_str() != me)
        .map(|n| slot_name(n))
        .collect();
    // What is kept once this pass is done, for the attribute.
    let mut kept: Vec<(String, bool)> = Vec::new();
    for slot in wanted.iter().filter(|w| !existing.iter().any(|(e, _)| e == *w)) {
        match replication::create_slot(inst, slot, ctx.deadline) {
            Ok(()) => {
                log_info!("replication slot {slot} created");
                kept.push((slot.clone(), false));
            }
            Err(e) => log_warn!("cannot create replication slot {slot}: {e}"),
        }
    }
    for (slot, active) in existing {
        let key = format!("{GONE}{slot}");
        if wanted.contains(slot) {
            // Back in the cluster: forget the departure (a no-op when none).
            if state.get(&key).is_some() {
                state.set_if_changed(&key, "");
            }
        } else {
            match state.age(&key).filter(|_| state.get(&key) == Some("gone")) {
                None => state.set(&key, "gone"),
                Some(age) if age >= config.slot_grace_s && !active => {
                    match replication::drop_slot(inst, slot, ctx.deadline) {
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
    publish::publish_node_attr(ctx, state, None, ATTR, &describe(&mut kept), REFRESH_S);
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
        "-".to_string()
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
        match replication::drop_slot(inst, slot, ctx.deadline) {
            Ok(()) => log_info!("replication slot {slot} dropped: a standby keeps none"),
            Err(e) => log_warn!("cannot drop leftover replication slot {slot}: {e}"),
        }
    }
    if config.replication_slots {
        publish::publish_node_attr(ctx, state, None, ATTR, "-", REFRESH_S);
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
}
