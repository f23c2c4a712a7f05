//! The election of the new primary, carried by private node attributes.
//!
//! - pre-promote notification, on every standby: publish its vote,
//!   `<timeline>:<LSN>@<round> <history>` (the end of the WAL it holds, the
//!   round's id, its timeline's history: [`RoundPosition`]) as
//!   `pgha-<rsc>-election`; the node about to be promoted also writes down
//!   which nodes take part, and the round's id.
//! - promote: wait (bounded) until every participant has voted in this
//!   round (a vote of another round, or of a node outside it, does not
//!   count), then proceed only if no participant is better, timelines
//!   compared by history ([`crate::policy::promotion::positions_by_history`]).
//!   Otherwise hand the promotion over
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
use crate::policy::promotion;
use crate::runstate::{self, AgentFile};
use crate::vocab::{Attr, RoundId, RoundPosition, SyncListInForce, SyncStandbyNames};

pub use crate::vocab::Position;

/// Publishes this node's vote in its round.
pub fn publish(rsc: &str, vote: &RoundPosition, deadline: Deadline) -> crate::ocf::code::OcfResult<()> {
    attrs::set(rsc, Attr::Election, Some(&vote.to_string()), None, deadline)
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

/// The synchronous standbys' lists the primaries published
/// ([`SyncListInForce`], on every node), each with its publisher: the
/// distinct lists over every node's value (a value it cannot read is
/// left out and logged).
pub fn published_sync_lists(rsc: &str, deadline: Deadline) -> Vec<(String, SyncStandbyNames)> {
    let mut lists: Vec<(String, SyncStandbyNames)> = Vec::new();
    for (node, value) in attrs::query_all(rsc, Attr::SyncList, deadline).unwrap_or_default() {
        match value.parse::<SyncListInForce>() {
            Ok(published) => {
                for list in published.lists {
                    let entry = (published.primary.clone(), list);
                    if !lists.contains(&entry) {
                        lists.push(entry);
                    }
                }
            }
            Err(e) => crate::log_warn!("the synchronous standbys published on {node}: {e}"),
        }
    }
    lists
}

/// Who takes part in this round, and who was demoted or stopped in it (a
/// switchover, a failed primary recovered): what the promoting node's
/// pre-promote notification leaves for its promote (same node, same
/// transition) in [`AgentFile::Election`]. Its one spelling is
/// [`Round::to_text`] / [`Round::parse`]: a line `round <id>`, a line
/// `participant <node>` per participant, then `demoted <node>` per demoted
/// node, then `stopped <node>` per node whose instance stops before this
/// promote (a node name has no newline: Pacemaker's node names are XML
/// attribute values of one line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// None in a file of an older version: no vote can then count.
    pub id: Option<RoundId>,
    pub participants: Vec<String>,
    pub demoted: Vec<String>,
    /// Not part of the round's id: only the promote's wait reads it.
    pub stopped: Vec<String>,
}

const ROUND: &str = "round";
const PARTICIPANT: &str = "participant";
const DEMOTED: &str = "demoted";
const STOPPED: &str = "stopped";

impl Round {
    /// The round a pre-promote notification describes, on every node alike
    /// ([`promotion::round_id`]).
    pub fn of_notification(promoting: &[String], participants: Vec<String>, demoted: Vec<String>) -> Round {
        Round {
            id: Some(promotion::round_id(promoting, &participants, &demoted)),
            participants,
            demoted,
            stopped: Vec::new(),
        }
    }

    pub fn to_text(&self) -> String {
        let mut text = String::new();
        if let Some(id) = self.id {
            text.push_str(&format!("{ROUND} {id}\n"));
        }
        for n in &self.participants {
            text.push_str(&format!("{PARTICIPANT} {n}\n"));
        }
        for n in &self.demoted {
            text.push_str(&format!("{DEMOTED} {n}\n"));
        }
        for n in &self.stopped {
            text.push_str(&format!("{STOPPED} {n}\n"));
        }
        text
    }

    /// Reads [`Round::to_text`]; lines it does not know are skipped (a
    /// later version's additions).
    pub fn parse(text: &str) -> Round {
        let mut round = Round::default();
        for line in text.lines() {
            match line.split_once(' ') {
                Some((ROUND, id)) => round.id = id.parse().ok(),
                Some((PARTICIPANT, n)) => round.participants.push(n.to_string()),
                Some((DEMOTED, n)) => round.demoted.push(n.to_string()),
                Some((STOPPED, n)) => round.stopped.push(n.to_string()),
                _ => {}
            }
        }
        round
    }
}

pub fn save_round(rsc: &str, round: &Round) {
    runstate::write_file(rsc, AgentFile::Election, &round.to_text());
}

/// The round written by pre-promote, and forgets it.
pub fn take_round(rsc: &str) -> Option<Round> {
    runstate::take_file(rsc, AgentFile::Election).map(|text| Round::parse(&text))
}

/// Waits until every participant but `me` has voted in `round`, or the
/// deadline. Returns the votes, and who is missing.
pub fn collect(
    rsc: &str,
    round: &Round,
    me: &str,
    deadline: Deadline,
) -> (BTreeMap<String, RoundPosition>, Vec<String>) {
    let participants = &round.participants;
    let mut published = BTreeMap::new();
    loop {
        match attrs::query_all(rsc, Attr::Election, deadline) {
            Ok(mut all) => {
                all.remove(me);
                published = match round.id {
                    Some(id) => promotion::round_votes(id, participants, &all),
                    None => BTreeMap::new(),
                };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_round_file_is_spelled_as_ever_and_round_trips() {
        let names = |l: &[&str]| l.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // (round, the file's text)
        let table = [
            (Round::default(), ""),
            (
                Round {
                    id: None,
                    participants: names(&["node-a", "node b"]),
                    demoted: Vec::new(),
                    stopped: Vec::new(),
                },
                "participant node-a\nparticipant node b\n",
            ),
            (
                Round {
                    id: Some(RoundId(0x2a)),
                    participants: names(&["n2", "n3"]),
                    demoted: names(&["n1"]),
                    stopped: names(&["n4"]),
                },
                "round 0000002a\nparticipant n2\nparticipant n3\ndemoted n1\nstopped n4\n",
            ),
        ];
        for (round, text) in table {
            assert_eq!(round.to_text(), text);
            assert_eq!(Round::parse(text), round, "{text:?}");
        }
        assert_eq!(
            Round::parse("participant n2\nvoter n9\nnonsense\ndemoted n1"),
            Round {
                id: None,
                participants: names(&["n2"]),
                demoted: names(&["n1"]),
                stopped: Vec::new(),
            },
            "unknown lines are skipped"
        );
    }
}
