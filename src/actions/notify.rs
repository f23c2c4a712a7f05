//! `notify`: the election's bookkeeping. Always returns success: Pacemaker
//! logs and ignores notify failures, and a failure here must not block a
//! failover; what could not be done is logged.
//!
//! - pre-promote, on every running standby: publish its vote (position,
//!   round, history); on the node to be promoted: also note the round: its
//!   id, the participants ((active + starting) - stopping) and the demoted
//!   nodes (a switchover);
//! - post-promote, everywhere: withdraw the position and any shutdown
//!   checkpoint published by a demote;
//! - post-start and post-stop, on the primary in a sync mode: bring
//!   synchronous_standby_names up to date at once ([`sync`]);
//! - pre-promote, on every running standby, after its vote: a look at this
//!   partition, noting since when each node outside it was seen away
//!   ([`isolation`]: what a promote without fencing counts its wait from);
//! - every notification: remember its node list (`notify_all_uname`), the
//!   membership used when `crm_node -l` cannot answer; forget the
//!   departures of the nodes whose instances run, start or are promoted;
//! - anything else: nothing.

use crate::context::Context;
use crate::ocf::code::{OcfCode, OcfResult};
use crate::pg::history;
use crate::pg::replication::Replication;
use crate::pg::state::{self, InstanceState};
use crate::replication::election::{self, Position, Round};
use crate::replication::{isolation, sync, upkeep};
use crate::runstate::RunState;
use crate::vocab::RoundPosition;
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
    // A node whose instance runs, starts or is promoted is back in the
    // cluster: no longer one a promote without fencing waits for.
    let all = list(ctx, "notify_all_uname");
    let taking_part: Vec<String> = [
        "notify_active_uname",
        "notify_start_uname",
        "notify_promote_uname",
    ]
    .iter()
    .flat_map(|name| list(ctx, name))
    .collect();
    if !all.is_empty() || !taking_part.is_empty() {
        let mut memory = RunState::load(ctx.resource());
        upkeep::remember_notified_members(&mut memory, &all);
        isolation::forget(&mut memory, &taking_part);
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

/// Every standby votes: its position, tagged with the round (the same id
/// on every node, from the notification's lists) and its timeline's
/// history; the node to be promoted also writes the round down for its
/// promote.
fn pre_promote(ctx: &Context) {
    let me = ctx.node_name();
    let promoting = list(ctx, "notify_promote_uname");
    let stopping = list(ctx, "notify_stop_uname");
    let mut participants = list(ctx, "notify_active_uname");
    participants.extend(list(ctx, "notify_start_uname"));
    participants.retain(|n| !stopping.contains(n));
    participants.sort();
    participants.dedup();
    let demoted = list(ctx, "notify_demote_uname");
    let mut round = Round::of_notification(&promoting, participants, demoted);
    round.stopped = stopping;
    if promoting.contains(&me) {
        log_info!(
            "pre-promote: election among {:?} (demoted: {:?})",
            round.participants,
            round.demoted
        );
        election::save_round(ctx.resource(), &round);
    }
    let Ok(config) = ctx.config() else { return };
    let Ok(inst) = ctx.instance(&config) else { return };
    match state::inspect(&inst, ctx.deadline, true) {
        Ok(InstanceState::Running { health, .. }) => {
            if let Some(Replication::Standby(status)) = health.replication {
                let (position, history) =
                    history::position_with_history(&inst, Position::of_standby(&status), ctx.deadline);
                let vote = RoundPosition {
                    position,
                    round: round.id.unwrap_or_default(),
                    history,
                };
                match election::publish(ctx.resource(), &vote, ctx.deadline) {
                    Ok(()) => log_info!("pre-promote: voted {vote}"),
                    Err(e) => log_warn!("pre-promote: cannot publish vote {vote}: {}", e),
                }
                // After the vote, which the promote waits for.
                isolation::look_before_promote(ctx);
            }
        }
        Ok(other) => log_info!("pre-promote: not a running standby ({other:?}), nothing to publish"),
        Err(e) => log_warn!("pre-promote: cannot inspect the instance: {}", e),
    }
}
