//! The one place where an upkeep plan ([`crate::policy::upkeep::Step`]s)
//! meets the world: attribute and score writes (crm_attribute), ALTER
//! SYSTEM of `synchronous_standby_names`, slot creation and drops, memory
//! writes, and the log lines of each outcome.
//!
//! Every write goes through [`RunState`]: an attribute or a score is
//! written only when it changed (or its last write is older than its
//! refresh age, in case attrd lost it), so a steady cluster's monitor runs
//! no Pacemaker tool at all; what is remembered is what succeeded. A failed
//! step is logged and the plan goes on: the next monitor tries again.

use crate::context::Context;
use crate::ocf::log;
use crate::pcmk::attrs;
use crate::pg::instance::Instance;
use crate::pg::settings;
use crate::pg::slots as pg_slots;
use crate::policy::slots::describe;
use crate::policy::upkeep::{REFRESH_S, Remember, Step};
use crate::runstate::RunState;
use crate::vocab::{Attr, Key};
use crate::{log_info, log_warn};

/// Carries out `steps` in order on instance `inst`.
pub fn apply(ctx: &Context, memory: &mut RunState, inst: &Instance, steps: Vec<Step>) {
    // Slot steps that failed: the slots attribute shows what is there.
    let mut not_created: Vec<String> = Vec::new();
    let mut not_dropped: Vec<(String, bool)> = Vec::new();
    for step in steps {
        match step {
            Step::Attr {
                node,
                attr,
                value,
                max_age_s,
            } => publish_node_attr(ctx, memory, node.as_deref(), attr, &value, max_age_s),
            Step::Score { node, score } => publish_score(ctx, memory, node.as_deref(), score),
            Step::Memory(write) => remember(memory, write),
            Step::SyncNames {
                from,
                to,
                mode,
                streaming,
            } => match settings::set_synchronous_names(inst, &to, ctx.deadline) {
                Ok(()) => log_info!(
                    "synchronous_standby_names: '{from}' -> '{to}' ({mode:?} mode, streaming: {streaming:?})"
                ),
                Err(e) => log_warn!("cannot set synchronous_standby_names to '{to}': {e}"),
            },
            Step::CreateSlot(slot) => match pg_slots::create_slot(inst, &slot, ctx.deadline) {
                Ok(()) => log_info!("replication slot {slot} created"),
                Err(e) => {
                    log_warn!("cannot create replication slot {slot}: {e}");
                    not_created.push(slot);
                }
            },
            Step::RecreateSlot(slot) => {
                let again = pg_slots::drop_slot(inst, &slot, ctx.deadline)
                    .and_then(|()| pg_slots::create_slot(inst, &slot, ctx.deadline));
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
            Step::DropSlot {
                slot,
                active,
                gone_for,
            } => match pg_slots::drop_slot(inst, &slot, ctx.deadline) {
                Ok(()) => {
                    log_info!("replication slot {slot} dropped: its node left the cluster {gone_for}s ago");
                    memory.stamp_flag(&Key::SlotGone(slot), false);
                }
                Err(e) => {
                    log_warn!("cannot drop replication slot {slot}: {e}");
                    not_dropped.push((slot, active));
                }
            },
            Step::DropLeftoverSlot(slot) => match pg_slots::drop_slot(inst, &slot, ctx.deadline) {
                Ok(()) => log_info!("replication slot {slot} dropped: a standby keeps none"),
                Err(e) => log_warn!("cannot drop leftover replication slot {slot}: {e}"),
            },
            Step::SlotsAttr { kept } => {
                let mut kept: Vec<(String, bool)> = kept
                    .into_iter()
                    .filter(|(slot, _)| !not_created.contains(slot))
                    .chain(not_dropped.drain(..))
                    .collect();
                publish_node_attr(ctx, memory, None, Attr::Slots, &describe(&mut kept), REFRESH_S);
            }
            Step::Log(level, text) => log::write(level, format_args!("{text}")),
        }
    }
}

/// A memory write of a plan.
fn remember(memory: &mut RunState, write: Remember) {
    match write {
        Remember::Set(key, value) => memory.set(&key, &value),
        Remember::Change(key, value) => memory.set_if_changed(&key, &value),
        Remember::Flag(key, on) => memory.set_flag(&key, on),
        Remember::Stamp(key, on) => memory.stamp_flag(&key, on),
    }
}

/// Writes attribute `attr` = `value` of `node` (None: here) unless the
/// memory holds that value, written less than `max_age_s` ago.
pub fn publish_node_attr(
    ctx: &Context,
    memory: &mut RunState,
    node: Option<&str>,
    attr: Attr,
    value: &str,
    max_age_s: u64,
) {
    let key = Key::Attr(attr, node.map(str::to_string));
    if memory.is_fresh(&key, value, max_age_s) {
        return;
    }
    match attrs::set(ctx.resource(), attr, Some(value), node, ctx.deadline) {
        Ok(()) => memory.set(&key, value),
        Err(e) => log_warn!("cannot set {}: {}", attr.name(ctx.resource()), e),
    }
}

/// Sets the promotion score of `node` (None: here) if it changed.
fn publish_score(ctx: &Context, memory: &mut RunState, node: Option<&str>, score: i64) {
    let key = Key::Score(node.map(str::to_string));
    let value = score.to_string();
    if memory.is_fresh(&key, &value, REFRESH_S) {
        return;
    }
    match attrs::set_promotion_score(ctx.resource(), node, score, ctx.deadline) {
        Ok(()) => {
            log_info!(
                "promotion score of {} set to {score}",
                node.unwrap_or("this node")
            );
            memory.set(&key, &value);
        }
        Err(e) => log_warn!(
            "cannot set the promotion score of {}: {}",
            node.unwrap_or("this node"),
            e
        ),
    }
}
