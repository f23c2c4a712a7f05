//! Timeline numbers across promotions: a promotion must not make a
//! timeline number another node is known to have used
//! ([`history::histories_to_hold`]).
//!
//! PostgreSQL picks the first number after the newest history file it
//! finds; a primary that died before any standby got its history file
//! leaves its number free on every other node, and the next promotion
//! would reuse it (issue 22). So every primary publishes its history on
//! every member's node right after its promotion ([`publish`],
//! [`Attr::History`]: it outlives the primary, whose own attributes attrd
//! drops when its node is lost), and before `pg_promote` the candidate
//! puts the history files of the numbers others used into its `pg_wal`
//! ([`hold_used_numbers`]), from those and from the histories in this
//! round's votes.

use std::collections::BTreeMap;

use crate::context::Context;
use crate::pcmk::attrs;
use crate::pg::history::{self, History};
use crate::pg::instance::Instance;
use crate::replication::upkeep;
use crate::runstate::RunState;
use crate::userfs::Created;
use crate::vocab::{Attr, Position, RoundPosition};
use crate::{log_info, log_warn};

/// The histories the primaries published ([`publish`]), on any node.
fn published(ctx: &Context) -> Vec<History> {
    attrs::query_all(ctx.resource(), Attr::History, ctx.deadline)
        .unwrap_or_default()
        .into_values()
        .filter_map(|value| value.parse().ok())
        .collect()
}

/// Before `pg_promote`: the history files of the timeline numbers others
/// used right after this node's newest (`mine`: its position), known from
/// the `votes` of this round and what primaries published. A file that
/// cannot be written is logged: the promotion goes on (a node that comes
/// back on the other timeline of that number is then refused or rebuilt
/// at its start, [`crate::policy::rejoin::fork`]).
pub fn hold_used_numbers(
    ctx: &Context,
    inst: &Instance,
    mine: Position,
    votes: &BTreeMap<String, RoundPosition>,
) {
    let mut known: Vec<History> = votes.values().filter_map(|v| v.history.clone()).collect();
    known.extend(published(ctx));
    let newest = history::newest_held(inst, mine.timeline, ctx.deadline);
    for used in history::histories_to_hold(&known, newest) {
        let number = used.current;
        match history::hold(inst, &used, ctx.deadline) {
            Ok(Ok(Created::New)) => log_warn!(
                "timeline {number} was used by another node ({used}): its history file is put in pg_wal, \
                 so that this promotion makes a number of its own"
            ),
            Ok(Ok(Created::AlreadyThere)) => {}
            Ok(Err(e)) => {
                log_warn!(
                    "cannot write the history file of timeline {number}, used by another node ({e}): this promotion may reuse it"
                )
            }
            Err(e) => {
                log_warn!(
                    "cannot write the history file of timeline {number}, used by another node ({}): this promotion may reuse it",
                    e
                )
            }
        }
    }
}

/// After a promotion to `timeline`: its history, on every member's node.
/// A failure is logged: the next promotion then knows less.
pub fn publish(ctx: &Context, inst: &Instance, timeline: u32, memory: &mut RunState) {
    let Some(history) = history::read_current(inst, timeline, ctx.deadline) else {
        log_warn!("cannot read the history of timeline {timeline}: not published");
        return;
    };
    let value = history.to_string();
    let me = ctx.node_name();
    let members = upkeep::members(ctx.resource(), ctx.deadline, memory).unwrap_or_default();
    let nodes = std::iter::once(me.as_str()).chain(members.iter().map(String::as_str).filter(|n| *n != me));
    for node in nodes {
        let on = (node != me).then_some(node);
        if let Err(e) = attrs::set(ctx.resource(), Attr::History, Some(&value), on, ctx.deadline) {
            log_warn!("cannot publish the timeline history on {node}: {}", e);
        }
    }
    log_info!("published the history of timeline {timeline} ({value})");
}
