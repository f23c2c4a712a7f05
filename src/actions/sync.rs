//! Synchronous replication kept consistent with reality, in the primary's
//! monitor and in the notifications of a standby starting or stopping
//! (replication_mode sync or strict-sync).
//!
//! - the wanted `synchronous_standby_names` is computed from the standbys
//!   that stream now and those seen before ([`synchronous_names`]); when it
//!   differs from the one in force, ALTER SYSTEM + reload (bounded);
//! - back in async mode, a value the agent had set is reset;
//! - each standby's `sync_state` is published as `pgha-<rsc>-sync` on its
//!   node, so that promote can refuse a standby that was not synchronous
//!   while one that was is still there, even after the primary is gone.

use super::Context;
use super::publish::{self, REFRESH_S};
use crate::params::{Config, ReplicationMode};
use crate::pg::instance::Instance;
use crate::pg::replication::{self, PrimaryStatus, Replication, synchronous_names};
use crate::pg::state::{self, InstanceState};
use crate::runstate::RunState;
use crate::{log_info, log_warn};

const MANAGED: &str = "sync.managed";
const STANDBY: &str = "standby.";

/// Remembers `node` as a standby of this primary (strict-sync waits for the
/// standbys it knew even when none streams).
pub fn remember_standby(state: &mut RunState, node: &str) {
    state.set_if_changed(&format!("{STANDBY}{node}"), "1");
}

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
    maintain(ctx, &mut memory, &inst, &status, &config, &ctx.node_name());
    memory.save();
}

pub fn maintain(
    ctx: &Context,
    state: &mut RunState,
    inst: &Instance,
    status: &PrimaryStatus,
    config: &Config,
    me: &str,
) {
    let streaming: Vec<String> = status
        .replicas
        .iter()
        .filter(|r| r.state == "streaming" && r.name != me)
        .map(|r| r.name.clone())
        .collect();
    for name in &streaming {
        remember_standby(state, name);
    }
    let known: Vec<String> = state
        .keys_with_prefix(STANDBY)
        .filter(|n| *n != me)
        .map(str::to_string)
        .collect();
    let wanted = synchronous_names(config.replication_mode, config.sync_standbys, &streaming, &known);
    let target = match (&wanted, state.get(MANAGED)) {
        (Some(w), _) => Some(w.clone()),
        // Back to async: undo only what the agent itself had set.
        (None, Some("1")) => Some(String::new()),
        (None, _) => None,
    };
    if let Some(target) = target
        && target != status.synchronous_standby_names
    {
        match replication::set_synchronous_names(inst, &target, ctx.deadline) {
            Ok(()) => log_info!(
                "synchronous_standby_names: '{}' -> '{target}' ({:?} mode, streaming: {streaming:?})",
                status.synchronous_standby_names,
                config.replication_mode
            ),
            Err(e) => log_warn!("cannot set synchronous_standby_names to '{target}': {e}"),
        }
    }
    state.set_if_changed(MANAGED, if wanted.is_some() { "1" } else { "0" });
    if config.replication_mode != ReplicationMode::Async {
        for r in status.replicas.iter().filter(|r| r.name != me) {
            publish::publish_node_attr(ctx, state, Some(&r.name), "sync", &r.sync_state, REFRESH_S);
        }
    }
}
