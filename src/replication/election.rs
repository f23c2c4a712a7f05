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

pub use crate::vocab::Position;

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
/// promote (same node, same transition) in [`AgentFile::Election`]. Its one
/// spelling is [`Round::to_text`] / [`Round::parse`]: a line
/// `participant <node>` per participant, then `demoted <node>` per demoted
/// node (a node name has no newline: Pacemaker's node names are XML
/// attribute values of one line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub participants: Vec<String>,
    pub demoted: Vec<String>,
}

const PARTICIPANT: &str = "participant";
const DEMOTED: &str = "demoted";

impl Round {
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for n in &self.participants {
            text.push_str(&format!("{PARTICIPANT} {n}\n"));
        }
        for n in &self.demoted {
            text.push_str(&format!("{DEMOTED} {n}\n"));
        }
        text
    }

    /// Reads [`Round::to_text`]; lines it does not know are skipped (a
    /// later version's additions).
    pub fn parse(text: &str) -> Round {
        let mut round = Round::default();
        for line in text.lines() {
            match line.split_once(' ') {
                Some((PARTICIPANT, n)) => round.participants.push(n.to_string()),
                Some((DEMOTED, n)) => round.demoted.push(n.to_string()),
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
                    participants: names(&["node-a", "node b"]),
                    demoted: Vec::new(),
                },
                "participant node-a\nparticipant node b\n",
            ),
            (
                Round {
                    participants: names(&["n2", "n3"]),
                    demoted: names(&["n1"]),
                },
                "participant n2\nparticipant n3\ndemoted n1\n",
            ),
        ];
        for (round, text) in table {
            assert_eq!(round.to_text(), text);
            assert_eq!(Round::parse(text), round, "{text:?}");
        }
        assert_eq!(
            Round::parse("participant n2\nvoter n9\nnonsense\ndemoted n1"),
            Round {
                participants: names(&["n2"]),
                demoted: names(&["n1"]),
            },
            "unknown lines are skipped"
        );
    }
}
