//! Synchronous replication kept consistent with reality, in the primary's
//! monitor and in the notifications of a standby starting or stopping
//! (replication_mode sync or strict-sync).
//!
//! - the wanted `synchronous_standby_names` is computed from the standbys
//!   that stream now and those seen before ([`rule::synchronous_names`]); when it
//!   differs from the one in force, ALTER SYSTEM + reload (bounded);
//! - back in async mode, a value the agent had set is reset;
//! - only cluster members are standbys ([`cluster_replicas`]): a
//!   `pg_receivewal` in pg_stat_replication is never waited for;
//! - each standby's `sync_state` is published as `pgha-<rsc>-sync` on its
//!   node, so that promote can refuse a standby that was not synchronous
//!   while one that was is still there, even after the primary is gone.

use crate::context::Context;
use crate::params::{Config, ReplicationMode};
use crate::pcmk::node;
use crate::pg::instance::Instance;
use crate::pg::replication::{PrimaryStatus, Replication};
use crate::pg::settings;
use crate::pg::state::{self, InstanceState};
use crate::policy::members::{cluster_replicas, known_standbys};
use crate::policy::sync as rule;
use crate::replication::publish::{self, REFRESH_S};
use crate::runstate::RunState;
use crate::vocab::{Attr, Key};
use crate::{log_info, log_warn};

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
    if let Some(risk) = maintain(ctx, &mut memory, &inst, &status, &config, &ctx.node_name()) {
        log_warn!("{risk}");
    }
    memory.save();
}

/// Brings `synchronous_standby_names` in line with the standbys and
/// publishes their sync states. Returns why the primary is at risk in a
/// sync mode (no standby streams: commits wait, or are not replicated once
/// `sync_grace` is over), for the monitor's DEGRADED_PROMOTED.
pub fn maintain(
    ctx: &Context,
    state: &mut RunState,
    inst: &Instance,
    status: &PrimaryStatus,
    config: &Config,
    me: &str,
) -> Option<String> {
    let members = node::members(ctx.deadline, state);
    let members = members.as_deref();
    let replicas = cluster_replicas(&status.replicas, members, me);
    let streaming = rule::streaming(&replicas);
    for name in &streaming {
        state.remember_standby(name);
    }
    let known = known_standbys(state.remembered_standbys(), members, me);
    let others: Vec<String> = members
        .unwrap_or_default()
        .iter()
        .filter(|n| *n != me)
        .cloned()
        .collect();
    // How long no standby has streamed: sync mode keeps waiting for the
    // known ones until sync_grace is over.
    state.set_flag(&Key::SyncNoneStreaming, streaming.is_empty());
    let within_grace = rule::within_grace(state.flag_age(&Key::SyncNoneStreaming), config.sync_grace_s);
    let wanted = rule::synchronous_names(
        config.replication_mode,
        config.sync_standbys,
        &streaming,
        &known,
        &others,
        within_grace,
    );
    let target = rule::target(wanted.as_deref(), state.flag(&Key::SyncManaged));
    if let Some(target) = target.filter(|t| *t != status.synchronous_standby_names) {
        match settings::set_synchronous_names(inst, &target, ctx.deadline) {
            Ok(()) => log_info!(
                "synchronous_standby_names: '{}' -> '{target}' ({:?} mode, streaming: {streaming:?})",
                status.synchronous_standby_names,
                config.replication_mode
            ),
            Err(e) => log_warn!("cannot set synchronous_standby_names to '{target}': {e}"),
        }
    }
    state.set_flag(&Key::SyncManaged, wanted.is_some());
    if config.replication_mode != ReplicationMode::Async {
        for (node, sync_state) in rule::standby_sync_states(&replicas, &known, me) {
            publish::publish_node_attr(
                ctx,
                state,
                Some(&node),
                Attr::Sync,
                sync_state.as_str(),
                REFRESH_S,
            );
        }
    }
    let none_streaming_for = state.flag_age(&Key::SyncNoneStreaming);
    let risk = rule::degraded_reason(
        config.replication_mode,
        wanted.as_deref(),
        streaming.len(),
        none_streaming_for,
        config.sync_grace_s,
    );
    if risk.is_none() && streaming.is_empty() && wanted.as_deref().is_some_and(|w| !w.is_empty()) {
        log_info!(
            "no standby streams yet ({}s): commits wait for {:?}",
            none_streaming_for.unwrap_or(0),
            wanted.as_deref().unwrap_or_default()
        );
    }
    risk
}
