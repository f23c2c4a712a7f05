//! Synchronous replication kept consistent with reality, in the primary's
//! monitor and in the notifications of a standby starting or stopping
//! (replication_mode sync or strict-sync).
//!
//! - the wanted `synchronous_standby_names` is computed from the standbys
//!   that stream now and those seen before ([`synchronous_names`]); when it
//!   differs from the one in force, ALTER SYSTEM + reload (bounded);
//! - back in async mode, a value the agent had set is reset;
//! - only cluster members are standbys ([`publish::cluster_replicas`]): a
//!   `pg_receivewal` in pg_stat_replication is never waited for;
//! - each standby's `sync_state` is published as `pgha-<rsc>-sync` on its
//!   node, so that promote can refuse a standby that was not synchronous
//!   while one that was is still there, even after the primary is gone.

use std::collections::BTreeMap;

use super::publish::{self, REFRESH_S, cluster_replicas};
use crate::context::Context;
use crate::params::{Config, ReplicationMode};
use crate::pcmk::node;
use crate::pg::instance::Instance;
use crate::pg::replication::{PrimaryStatus, Replica, Replication};
use crate::pg::settings;
use crate::pg::state::{self, InstanceState};
use crate::policy::sync::synchronous_names;
use crate::runstate::RunState;
use crate::vocab::{Attr, Key, SyncState};
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
    let members = node::members(ctx.deadline, state);
    let members = members.as_deref();
    let replicas = cluster_replicas(&status.replicas, members, me);
    let streaming: Vec<String> = replicas
        .iter()
        .filter(|r| r.state == "streaming")
        .map(|r| r.name.clone())
        .collect();
    for name in &streaming {
        state.remember_standby(name);
    }
    let known = remembered_standbys(state, members, me);
    let others: Vec<String> = members
        .unwrap_or_default()
        .iter()
        .filter(|n| *n != me)
        .cloned()
        .collect();
    let wanted = synchronous_names(
        config.replication_mode,
        config.sync_standbys,
        &streaming,
        &known,
        &others,
    );
    let target = match (&wanted, state.flag(&Key::SyncManaged)) {
        (Some(w), _) => Some(w.clone()),
        // Back to async: undo only what the agent itself had set.
        (None, true) => Some(String::new()),
        (None, false) => None,
    };
    if let Some(target) = target
        && target != status.synchronous_standby_names
    {
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
        for (node, sync_state) in standby_sync_states(&replicas, &known, me) {
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
}

/// The standbys synchronous replication knows: those this primary has seen
/// stream ([`RunState::remembered_standbys`]) that are still members. A
/// name remembered before membership was checked (a pg_receivewal seen by
/// an older version) no longer counts.
fn remembered_standbys(state: &RunState, members: Option<&[String]>, me: &str) -> Vec<String> {
    state
        .remembered_standbys()
        .into_iter()
        .filter(|n| node::is_standby(n, members, me))
        .collect()
}

/// The `sync` attribute of each standby this primary knows: its
/// `sync_state` (the better one while it has two walsenders, during a
/// reconnect), or "disconnected" for a standby seen before that no longer
/// connects, so that neither `pgha status` nor promote takes a stale
/// "quorum" for the truth.
fn standby_sync_states(replicas: &[Replica], known: &[String], me: &str) -> BTreeMap<String, SyncState> {
    let mut states: BTreeMap<String, SyncState> = known
        .iter()
        .map(|n| (n.clone(), SyncState::Disconnected))
        .collect();
    for r in replicas {
        let seen = SyncState::parse(&r.sync_state);
        // A walsender first seen with an unranked state (an empty one while
        // it starts) is published empty, as it always was.
        let entry = states
            .entry(r.name.clone())
            .or_insert_with(|| SyncState::Other(String::new()));
        if *entry == SyncState::Disconnected || seen.rank() > entry.rank() {
            *entry = seen;
        }
    }
    states.remove(me);
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(name: &str, sync_state: &str) -> Replica {
        Replica {
            name: name.into(),
            state: "streaming".into(),
            sync_state: sync_state.into(),
            flush: None,
            lag: None,
        }
    }

    #[test]
    fn a_known_standby_that_no_longer_connects_is_not_left_synchronous() {
        let replicas = [
            replica("b", "quorum"),
            replica("c", "async"),
            replica("c", "quorum"),
        ];
        let known = ["b".to_string(), "d".to_string(), "me".to_string()];
        let states = standby_sync_states(&replicas, &known, "me");
        let expected: BTreeMap<String, SyncState> = [
            ("b".to_string(), SyncState::Quorum),
            ("c".to_string(), SyncState::Quorum),
            ("d".to_string(), SyncState::Disconnected),
        ]
        .into();
        assert_eq!(states, expected);
    }
}
