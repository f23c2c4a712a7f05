//! Synchronous replication kept consistent with reality, in the primary's
//! monitor and in the notifications of a standby starting or stopping
//! (replication_mode sync or strict-sync).
//!
//! - the wanted `synchronous_standby_names` is computed from the standbys
//!   that stream now and those seen before
//!   ([`crate::policy::sync::synchronous_names`]); when it differs from the
//!   one in force, ALTER SYSTEM + reload (bounded). The rule is
//!   [`rule::sync_plan`], the part of the monitor's
//!   [`rule::primary_plan`] that a notification applies at once;
//! - back in async mode, a value the agent had set is reset;
//! - only cluster members are standbys ([`crate::policy::members::cluster_replicas`]): a
//!   `pg_receivewal` in pg_stat_replication is never waited for;
//! - each standby's `sync_state` is published as `pgha-<rsc>-sync` on its
//!   node, so that promote can refuse a standby that was not synchronous
//!   while one that was is still there, even after the primary is gone.

use crate::context::Context;
use crate::log_warn;
use crate::params::ReplicationMode;
use crate::pg::replication::Replication;
use crate::pg::state::{self, InstanceState};
use crate::policy::upkeep as rule;
use crate::replication::{apply, upkeep};
use crate::runstate::RunState;

/// On the primary, when a clone instance has started or stopped
/// (post-start/post-stop notification): apply the change now rather than at
/// the next monitor, e.g. so that `ANY 2` does not wait a whole monitor
/// interval for a standby that an operator stopped. Anywhere else, nothing.
pub fn refresh_on_notify(ctx: &Context) {
    let Ok(config) = ctx.config() else { return };
    if config.replication_mode == ReplicationMode::Async {
        return;
    }
    let Ok(inst) = ctx.instance(&config) else { return };
    let status = match state::inspect(&inst, ctx.deadline, true) {
        Ok(InstanceState::Running { health, .. }) => match health.replication {
            Some(Replication::Primary(status)) => status,
            _ => return,
        },
        _ => return,
    };
    let mut memory = RunState::load(ctx.resource());
    let members = upkeep::members(ctx.resource(), ctx.deadline, &mut memory);
    let view = upkeep::primary_view(members, &memory, &config, &ctx.node_name());
    let plan = rule::sync_plan(&view, &status);
    apply::apply(ctx, &mut memory, &inst, plan.steps);
    if let Some(risk) = plan.risk {
        log_warn!("{risk}");
    }
    memory.save();
}
