//! `notify`: the election's bookkeeping. Always returns success: Pacemaker
//! logs and ignores notify failures, and a failure here must not block a
//! failover; what could not be done is logged.
//!
//! - pre-promote, on every running standby: publish its position;
//!   on the node to be promoted: also note the participants ((active +
//!   starting) - stopping) and the demoted nodes (a switchover);
//! - post-promote, everywhere: withdraw the position and any shutdown
//!   checkpoint published by a demote;
//! - post-start and post-stop, on the primary in a sync mode: bring
//!   synchronous_standby_names up to date at once ([`sync`]);
//! - every notification: remember its node list (`notify_all_uname`), the
//!   membership used when `crm_node -l` cannot answer;
//! - anything else: nothing.

use crate::context::Context;
use crate::ocf::code::{OcfCode, OcfResult};
use crate::pg::replication::Replication;
use crate::pg::state::{self, InstanceState};
use crate::replication::election::{self, Position, Round};
use crate::replication::{sync, upkeep};
use crate::runstate::RunState;
use crate::{log_info, log_warn};

/// A space-separated notify list (Pacemaker may pass a single space).
fn list(ctx: &Context, name: &str) -> Vec<String> {
    ctx.env
        .meta(name)
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

pub fn run(ctx: &Context) -> OcfResult {
    // Every clone notification lists the nodes: the membership to fall back
    // on when the controller cannot be asked (and the only one in tests).
    let all = list(ctx, "notify_all_uname");
    if !all.is_empty() {
        let mut memory = RunState::load(ctx.resource());
        upkeep::remember_notified_members(&mut memory, &all);
        memory.save();
    }
    let kind = ctx.env.meta("notify_type").unwrap_or("").to_string();
    let operation = ctx.env.meta("notify_operation").unwrap_or("").to_string();
    match (kind.as_str(), operation.as_str()) {
        ("pre", "promote") => pre_promote(ctx),
        ("post", "promote") => election::withdraw(ctx.resource(), ctx.deadline),
        ("post", "start" | "stop") => sync::refresh_on_notify(ctx),
        _ => {}
    }
    Ok(OcfCode::Success)
}

fn pre_promote(ctx: &Context) {
    let me = ctx.node_name();
    let promoting = list(ctx, "notify_promote_uname");
    if promoting.contains(&me) {
        let stopping = list(ctx, "notify_stop_uname");
        let mut participants = list(ctx, "notify_active_uname");
        participants.extend(list(ctx, "notify_start_uname"));
        participants.retain(|n| !stopping.contains(n));
        participants.sort();
        participants.dedup();
        let demoted = list(ctx, "notify_demote_uname");
        log_info!("pre-promote: election among {participants:?} (demoted: {demoted:?})");
        election::save_round(
            ctx.resource(),
            &Round {
                participants,
                demoted,
            },
        );
    }
    let Ok(config) = ctx.config() else { return };
    let Ok(inst) = ctx.instance(&config) else { return };
    match state::inspect(&inst, ctx.deadline, true) {
        Ok(InstanceState::Running { health, .. }) => {
            if let Some(Replication::Standby(status)) = health.replication {
                let position = Position::of_standby(&status);
                match election::publish(ctx.resource(), position, ctx.deadline) {
                    Ok(()) => log_info!("pre-promote: published position {position}"),
                    Err(e) => log_warn!("pre-promote: cannot publish position {position}: {}", e),
                }
            }
        }
        Ok(other) => log_info!("pre-promote: not a running standby ({other:?}), nothing to publish"),
        Err(e) => log_warn!("pre-promote: cannot inspect the instance: {}", e),
    }
}
