//! Replication slots, one per cluster node, kept by the primary
//! (replication_slots=true).
//!
//! - every other node of the cluster (its members: `crm_node -l`, asked at
//!   most once a minute, else the last membership remembered, see
//!   [`node::members`]) gets a physical slot
//!   ([`crate::pg::names::slot_name`]) before its standby needs it;
//! - two nodes whose names map to the same slot get none, and the primary's
//!   monitor is DEGRADED_PROMOTED naming both;
//!   standbys stream through theirs (`primary_slot_name`), so WAL a lagging
//!   standby still needs is kept;
//! - the slot of a node that left the cluster is dropped once it has been
//!   gone for `slot_grace` seconds and the slot is inactive, so retained WAL
//!   cannot fill the primary's disk (`ocf:heartbeat:pgsql` never cleans up);
//! - a slot of a member that PostgreSQL invalidated (its WAL removed, by
//!   `max_slot_wal_keep_size` or PostgreSQL 18's
//!   `idle_replication_slot_timeout`) is dropped and created again, with a
//!   warning: its standby cannot stream through it;
//! - a standby drops the slots it kept from a time it was primary: on a
//!   standby they would only hold WAL back;
//! - the primary publishes the slots it keeps as `pgha-<rsc>-slots` (shown by
//!   `crm_mon -A` and `pgha status`), written only when the list changes.

use crate::context::Context;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::params::Config;
use crate::pcmk::node;
use crate::pg::instance::Instance;
use crate::pg::slots as pg_slots;
use crate::policy::slots::{self as rule, ExistingSlot};
use crate::replication::publish::{self, REFRESH_S};
use crate::runstate::RunState;
use crate::vocab::{Attr, Key, NO_VALUE};
use crate::{log_info, log_warn};

/// On the primary: create the missing slots, drop those of departed nodes
/// ([`rule::existing_slot`]). Two nodes whose names map to one slot:
/// DEGRADED_PROMOTED naming both.
pub fn maintain_primary(
    ctx: &Context,
    state: &mut RunState,
    inst: &Instance,
    config: &Config,
    me: &str,
    existing: &[(String, bool)],
    lost: &[String],
) -> OcfResult<()> {
    if !config.replication_slots {
        return Ok(());
    }
    let Some(nodes) = node::members(ctx.deadline, state) else {
        return Ok(()); // no cluster to ask: nothing is created or dropped blindly
    };
    let plan = rule::slot_plan(&nodes, me);
    // What is kept once this pass is done, for the attribute.
    let mut kept: Vec<(String, bool)> = Vec::new();
    for slot in rule::missing_slots(&plan, existing) {
        match pg_slots::create_slot(inst, &slot, ctx.deadline) {
            Ok(()) => {
                log_info!("replication slot {slot} created");
                kept.push((slot, false));
            }
            Err(e) => log_warn!("cannot create replication slot {slot}: {e}"),
        }
    }
    for (slot, active) in existing {
        let key = Key::SlotGone(slot.clone());
        let gone_for = state.flag_age(&key);
        let is_lost = lost.contains(slot);
        match rule::existing_slot(&plan, slot, *active, is_lost, gone_for, config.slot_grace_s) {
            // Back in the cluster: forget the departure (a no-op when none).
            ExistingSlot::Wanted if state.get(&key).is_some() => state.set_flag(&key, false),
            ExistingSlot::Wanted | ExistingSlot::Wait => {}
            ExistingSlot::MarkGone => state.stamp_flag(&key, true),
            ExistingSlot::Recreate => {
                let again = pg_slots::drop_slot(inst, slot, ctx.deadline)
                    .and_then(|()| pg_slots::create_slot(inst, slot, ctx.deadline));
                match again {
                    Ok(()) => log_warn!(
                        "replication slot {slot} was invalidated (its WAL was removed): created again; \
                         its standby may need a rebuild"
                    ),
                    Err(e) => {
                        log_warn!("replication slot {slot} is invalidated and cannot be made again: {e}")
                    }
                }
            }
            ExistingSlot::Drop { gone_for } => match pg_slots::drop_slot(inst, slot, ctx.deadline) {
                Ok(()) => {
                    log_info!("replication slot {slot} dropped: its node left the cluster {gone_for}s ago");
                    state.stamp_flag(&key, false);
                    continue;
                }
                Err(e) => log_warn!("cannot drop replication slot {slot}: {e}"),
            },
        }
        kept.push((slot.clone(), *active));
    }
    publish::publish_node_attr(
        ctx,
        state,
        None,
        Attr::Slots,
        &rule::describe(&mut kept),
        REFRESH_S,
    );
    match plan.collision {
        None => Ok(()),
        Some((a, b)) => Err(OcfError::new(
            OcfCode::DegradedPromoted,
            rule::collision_reason(&a, &b),
        )),
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
