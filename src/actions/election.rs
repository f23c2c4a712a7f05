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
//! Ties proceed: equally advanced standbys lose nothing either way.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::pcmk::attrs::{self, Visibility};
use crate::pg::lsn::Lsn;

/// How far a node could go if promoted now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub timeline: u32,
    pub lsn: Lsn,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.timeline, self.lsn)
    }
}

impl FromStr for Position {
    type Err = String;

    fn from_str(s: &str) -> Result<Position, String> {
        let (tl, lsn) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not timeline:LSN"))?;
        Ok(Position {
            timeline: tl.parse().map_err(|_| format!("'{s}': bad timeline"))?,
            lsn: lsn.parse()?,
        })
    }
}

/// The best participant, if it is better than `mine` (ties go to us).
pub fn better_candidate(mine: Position, others: &BTreeMap<String, Position>) -> Option<(&str, Position)> {
    others
        .iter()
        .filter(|(_, p)| **p > mine)
        .max_by_key(|(_, p)| **p)
        .map(|(n, p)| (n.as_str(), *p))
}

pub fn attr(rsc: &str) -> String {
    format!("pgha-{rsc}-election")
}

/// Publishes this node's position.
pub fn publish(rsc: &str, position: Position, deadline: Deadline) -> crate::ocf::code::OcfResult<()> {
    attrs::set(
        &attr(rsc),
        Some(&position.to_string()),
        None,
        Visibility::Private,
        deadline,
    )
}

/// Deletes this node's position.
pub fn withdraw(rsc: &str, deadline: Deadline) {
    let _ = attrs::set(&attr(rsc), None, None, Visibility::Private, deadline);
}

/// Where the promoting node keeps the election's facts between its
/// pre-promote notification and its promote (same node, same transition).
fn round_file(rsc: &str) -> Option<PathBuf> {
    crate::runstate::agent_file(rsc, "election")
}

/// Who takes part in this round, and who was demoted in it (a switchover).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub participants: Vec<String>,
    pub demoted: Vec<String>,
}

pub fn save_round(rsc: &str, round: &Round) {
    let Some(path) = round_file(rsc) else { return };
    let mut text = String::new();
    for n in &round.participants {
        text.push_str(&format!("participant {n}\n"));
    }
    for n in &round.demoted {
        text.push_str(&format!("demoted {n}\n"));
    }
    if let Err(e) = crate::runstate::write_private(&path, &text) {
        crate::log_warn!("cannot write {}: {e}", path.display());
    }
}

/// The round written by pre-promote, and forgets it.
pub fn take_round(rsc: &str) -> Option<Round> {
    let path = round_file(rsc)?;
    let text = fs::read_to_string(&path).ok()?;
    let _ = fs::remove_file(&path);
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

/// The attribute where a primary demoted cleanly publishes its shutdown
/// checkpoint, which the switchover target must have received.
pub fn shutdown_attr(rsc: &str) -> String {
    format!("pgha-{rsc}-shutdown")
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
        match attrs::query_all(&attr(rsc), deadline) {
            Ok(all) => {
                published = all
                    .into_iter()
                    .filter(|(n, _)| n != me)
                    .filter_map(|(n, v)| Some((n, v.parse::<Position>().ok()?)))
                    .collect();
            }
            Err(e) => crate::log_warn!("cannot read the election positions: {}", e.reason),
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

    fn pos(s: &str) -> Position {
        s.parse().unwrap()
    }

    #[test]
    fn timeline_first_then_lsn() {
        let mine = pos("2:0/5000000");
        let others: BTreeMap<String, Position> = [
            ("a".to_string(), pos("2:0/4000000")),
            ("b".to_string(), pos("3:0/1000000")),
        ]
        .into();
        assert_eq!(better_candidate(mine, &others), Some(("b", pos("3:0/1000000"))));
        let others: BTreeMap<String, Position> = [("a".to_string(), pos("2:0/5000000"))].into();
        assert_eq!(better_candidate(mine, &others), None, "a tie proceeds");
        let others: BTreeMap<String, Position> = [
            ("a".to_string(), pos("2:0/5000001")),
            ("c".to_string(), pos("2:0/6000000")),
        ]
        .into();
        assert_eq!(
            better_candidate(mine, &others).unwrap().0,
            "c",
            "the best one, not the first"
        );
    }

    #[test]
    fn positions_round_trip() {
        assert_eq!(pos("12:1/A0").to_string(), "12:1/A0");
        assert!("1-0/0".parse::<Position>().is_err());
    }
}
