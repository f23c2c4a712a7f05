//! Replication slots, one per cluster node, kept by the primary
//! (replication_slots=true).
//!
//! - every other node of the cluster (its members: `crm_node -l`, asked at
//!   most once a minute, else the last membership remembered, see
//!   [`crate::replication::upkeep::members`]) gets a physical slot
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
//!
//! The rule is [`crate::policy::upkeep::slots_plan`] (the monitor's part of
//! [`crate::policy::upkeep::primary_plan`]); promote applies it at once.

use crate::context::Context;
use crate::params::Config;
use crate::pg::instance::Instance;
use crate::policy::upkeep as rule;
use crate::replication::{apply, upkeep};
use crate::runstate::RunState;

/// On the primary (right after promote): create the missing slots, drop
/// those of departed nodes ([`rule::slots_plan`]). Two nodes whose names map
/// to one slot: the reason naming both, for the monitor's DEGRADED_PROMOTED.
/// `existing`: the agent's slots and whether each is in use; `lost`: those
/// PostgreSQL invalidated.
pub fn maintain_primary(
    ctx: &Context,
    memory: &mut RunState,
    inst: &Instance,
    config: &Config,
    me: &str,
    existing: &[(String, bool)],
    lost: &[String],
) -> Option<String> {
    if !config.replication_slots {
        return None; // not even the members are asked
    }
    let members = upkeep::members(ctx.resource(), ctx.deadline, memory);
    let view = upkeep::primary_view(members, memory, config, me);
    let plan = rule::slots_plan(&view, existing, lost);
    apply::apply(ctx, memory, inst, plan.steps);
    plan.collision
}
