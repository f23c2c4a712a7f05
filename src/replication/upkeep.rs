//! The primary's upkeep in three moves: gather one view (the server's
//! report, the members, the memory's values and ages, the parameters),
//! let the rule plan ([`crate::policy::upkeep::primary_plan`]), apply the
//! plan ([`apply::apply`]). The members are asked once per monitor and the
//! view is shared by every step (scores, sync, slots).

use crate::context::Context;
use crate::params::Config;
use crate::pg::instance::Instance;
use crate::pg::replication::PrimaryStatus;
use crate::policy::upkeep::{self as rule, GONE, PrimariesSeen, PrimaryConfig, PrimaryMemory, PrimaryView};
use crate::replication::{apply, members, publish};
use crate::runstate::RunState;
use crate::vocab::Key;

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
    let view = primary_view(ctx, memory, config, me);
    let primaries = primaries_seen(ctx, memory);
    let plan = rule::primary_plan(&view, status, &primaries);
    apply::apply(ctx, memory, inst, plan.steps);
    PrimaryUpkeep {
        other_primary: plan.other_primary,
        sync_risk: plan.sync_risk,
        slot_collision: plan.slot_collision,
    }
}

/// What a primary's upkeep reads besides the server's report: the members (asked at most once a
/// minute, [`members::members`]), the memory, the parameters; `me`: this
/// node's name.
pub fn primary_view(ctx: &Context, memory: &mut RunState, config: &Config, me: &str) -> PrimaryView {
    let members = members::members(ctx.deadline, memory);
    PrimaryView {
        me: me.to_string(),
        members,
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
                if let Some(age) = memory.age(&key).filter(|_| memory.get(&key) == Some(GONE)) {
                    seen.slot_gone_for.insert(slot.clone(), age);
                }
            }
            _ => {}
        }
    }
    seen
}

/// Another primary: remembered for a minute ([`rule::other_primary_due`]),
/// else asked from the role attributes the monitors publish.
fn primaries_seen(ctx: &Context, memory: &RunState) -> PrimariesSeen {
    if !rule::other_primary_due(memory.age(&Key::SplitbrainChecked)) {
        let other = memory.get(&Key::SplitbrainOther).filter(|o| !o.is_empty());
        return PrimariesSeen::Remembered(other.map(str::to_string));
    }
    match publish::primaries(ctx) {
        Ok(primaries) => PrimariesSeen::Asked(primaries),
        Err(_) => PrimariesSeen::Unknown,
    }
}
