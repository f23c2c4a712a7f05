//! The election of the new primary, carried by private node attributes.
//!
//! - pre-promote notification, on every standby: publish `<timeline>:<LSN>`
//!   (the greater of received and replayed) as `pgha-<rsc>-election`; the
//!   node about to be promoted also writes down which nodes take part.
//! - promote: wait (bounded) until every participant has published, then
//!   proceed only if no participant is better: a higher timeline, or the
//!   same timeline and a higher LSN. Otherwise hand the promotion over
//!   (raise the better node's score, lower ours) and fail, so Pacemaker
//!   plans again.
//! - post-promote: everyone deletes its value.
//!
//! Ties proceed: equally advanced standbys lose nothing either way. The
//! decisions themselves (who wins, who may follow, the switchover check)
//! are pure rules in [`crate::policy::promotion`]; this module carries the
//! positions between nodes.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::pcmk::attrs;
use crate::runstate::{self, AgentFile};
use crate::vocab::Attr;

pub use crate::policy::promotion::Position;

/// Publishes this node's position.
pub fn publish(rsc: &str, position: Position, deadline: Deadline) -> crate::ocf::code::OcfResult<()> {
    attrs::set(rsc, Attr::Election, Some(&position.to_string()), None, deadline)
}

/// Deletes this node's position, and any shutdown checkpoint it published
/// (post-promote: the round is over).
pub fn withdraw(rsc: &str, deadline: Deadline) {
    let _ = attrs::set(rsc, Attr::Election, None, None, deadline);
    let _ = attrs::set(rsc, Attr::Shutdown, None, None, deadline);
}

/// Publishes the shutdown checkpoint of a primary demoted cleanly, which
/// the switchover target must have received.
pub fn publish_shutdown(
    rsc: &str,
    checkpoint: Position,
    deadline: Deadline,
) -> crate::ocf::code::OcfResult<()> {
    attrs::set(rsc, Attr::Shutdown, Some(&checkpoint.to_string()), None, deadline)
}

/// The shutdown checkpoints published by demoted primaries, by node
/// (values that are not a position are left out).
pub fn shutdown_checkpoints(rsc: &str, deadline: Deadline) -> BTreeMap<String, Position> {
    attrs::query_all(rsc, Attr::Shutdown, deadline)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(n, v)| Some((n, v.parse().ok()?)))
        .collect()
}

/// Who takes part in this round, and who was demoted in it (a switchover):
/// what the promoting node's pre-promote notification leaves for its
/// promote (same node, same transition) in [`AgentFile::Election`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub participants: Vec<String>,
    pub demoted: Vec<String>,
}

pub fn save_round(rsc: &str, round: &Round) {
    let mut text = String::new();
    for n in &round.participants {
        text.push_str(&format!("participant {n}\n"));
    }
    for n in &round.demoted {
        text.push_str(&format!("demoted {n}\n"));
    }
    runstate::write_file(rsc, AgentFile::Election, &text);
}

/// The round written by pre-promote, and forgets it.
pub fn take_round(rsc: &str) -> Option<Round> {
    let text = runstate::take_file(rsc, AgentFile::Election)?;
    let mut round = Round::default();
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("participant", n)) => round.participants.push(n.to_string()),
            Some(("demoted", n)) => round.demoted.push(n.to_string()),
            _ => {}
        }
    }
    Some(round)
}

/// Waits until every participant but `me` has published, or the deadline.
/// Returns what was published, and who is missing.
pub fn collect(
    rsc: &str,
    participants: &[String],
    me: &str,
    deadline: Deadline,
) -> (BTreeMap<String, Position>, Vec<String>) {
    let mut published = BTreeMap::new();
    loop {
        match attrs::query_all(rsc, Attr::Election, deadline) {
            Ok(all) => {
                published = all
                    .into_iter()
                    .filter(|(n, _)| n != me)
                    .filter_map(|(n, v)| Some((n, v.parse::<Position>().ok()?)))
                    .collect();
            }
            Err(e) => crate::log_warn!("cannot read the election positions: {}", e),
        }
        let missing: Vec<String> = participants
            .iter()
            .filter(|n| n.as_str() != me && !published.contains_key(n.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() || !deadline.sleep(Duration::from_millis(200)) {
            return (published, missing);
        }
    }
}
