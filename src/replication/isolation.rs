//! The wait of a promote without fencing: what this partition has seen of
//! the nodes that left it, for [`crate::policy::safety::isolation_wait`].
//!
//! Corosync sees a node leave on both sides of a cut at about the same
//! time, and the side without quorum stops its primary a moment later; so
//! the wait counts from the membership change. No tool tells when that
//! was (the CIB's `node_state` says who is a member, and in newer
//! Pacemaker since when it joined, never when it left), so this node notes
//! when it first saw each node outside its partition ([`Key::Absent`],
//! monotonic milliseconds): that sight came no sooner than the change, and
//! counting from it never waits too little. It looks when it already asks
//! the cluster: the monitors' membership (`crm_node -l`, at most once a
//! minute), every standby's pre-promote notification and the promote
//! itself (`crm_node -p`). A node seen back, or taking part in a clone
//! notification, is forgotten, and so is everything at a start (its
//! notifications were missed meanwhile): a forgotten node counts as seen
//! away only now, the safe side.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::context::Context;
use crate::deadline::{self, Deadline};
use crate::pcmk::{cib, node};
use crate::policy::safety::{self, ClusterFacts};
use crate::replication::election::Round;
use crate::replication::upkeep;
use crate::runstate::RunState;
use crate::vocab::Key;

/// How long a look at this partition may take.
const ASK: Duration = Duration::from_secs(2);

/// Notes what a look at the cluster found, `(node, member of this
/// partition)` for each node, at `now` ([`deadline::boot_millis`]; None:
/// unknown, nothing new is noted): a node away keeps the time it was first
/// seen away, a member's entry goes.
pub fn note_seen(memory: &mut RunState, seen: &[(String, bool)], now: Option<u64>) {
    for (node, member) in seen {
        let key = Key::Absent(node.clone());
        match (member, now) {
            (true, _) => memory.remove(&key),
            (false, Some(now)) if memory.get(&key).is_none() => memory.set(&key, &now.to_string()),
            (false, _) => {}
        }
    }
}

/// Forgets the departures of `nodes`, seen taking part in the cluster.
pub fn forget(memory: &mut RunState, nodes: &[String]) {
    for node in nodes {
        memory.remove(&Key::Absent(node.clone()));
    }
}

/// Forgets every departure (a start: the notifications it missed may have
/// shown a node back).
pub fn forget_all(memory: &mut RunState) {
    let keys: Vec<Key> = memory.keys().filter(|k| matches!(k, Key::Absent(_))).collect();
    for key in keys {
        memory.remove(&key);
    }
}

/// How long each node noted away has been seen away, at `now` (None: no
/// time, every one counts as seen only now).
fn away_for(memory: &RunState, now: Option<u64>) -> BTreeMap<String, Duration> {
    memory
        .keys()
        .filter_map(|key| {
            let Key::Absent(node) = &key else {
                return None;
            };
            let since: u64 = memory.get(&key)?.parse().ok()?;
            let away = now.map_or(0, |now| now.saturating_sub(since));
            Some((node.clone(), Duration::from_millis(away)))
        })
        .collect()
}

/// This partition's nodes now (`crm_node -p`), with the cluster's members,
/// noted in `memory`; None when the cluster cannot be asked.
pub fn look(rsc: &str, deadline: Deadline, memory: &mut RunState) -> (Option<Vec<String>>, Vec<String>) {
    let members = upkeep::members(rsc, deadline, memory).unwrap_or_default();
    let partition = node::partition(deadline.within(ASK));
    if let Some(partition) = &partition {
        let seen: Vec<(String, bool)> = members
            .iter()
            .map(|n| (n.clone(), partition.contains(n)))
            .collect();
        note_seen(memory, &seen, deadline::boot_millis());
    }
    (partition, members)
}

/// The pre-promote notification's part, on every standby: a look at the
/// partition, so that the promote (here, or after a hand-over on another
/// node that also looked) counts from this sight or an earlier one.
pub fn look_before_promote(ctx: &Context) {
    let mut memory = RunState::load(ctx.resource());
    look(ctx.resource(), ctx.deadline, &mut memory);
    memory.save();
}

/// How long this promote waits before `pg_promote`, and why
/// ([`safety::isolation_wait`] over what the CIB, the partition, this
/// node's sights and the `round` say).
pub fn wait_before_promote(ctx: &Context, round: &Round) -> (Duration, String) {
    let facts = cib::configuration(ctx.deadline.within(ASK))
        .map(|c| ClusterFacts::new(c.options, c.nodes, c.fence_devices));
    if facts.as_ref().is_some_and(safety::fencing_on) {
        return (Duration::ZERO, String::new());
    }
    let mut memory = RunState::load(ctx.resource());
    let (partition, members) = look(ctx.resource(), ctx.deadline, &mut memory);
    memory.save();
    let stopped: Vec<String> = round.demoted.iter().chain(&round.stopped).cloned().collect();
    let departure = safety::departure(
        &ctx.node_name(),
        &members,
        partition.as_deref(),
        &stopped,
        &away_for(&memory, deadline::boot_millis()),
    );
    let wait = safety::isolation_wait(facts.as_ref(), !round.demoted.is_empty(), departure);
    let why = match departure {
        safety::Departure::AwayFor(away) => format!(
            "a node left this partition {:.1}s ago, and a primary cut off there may still take writes",
            away.as_secs_f64()
        ),
        _ => {
            "this partition's members are not known, and a primary cut off may still take writes".to_string()
        }
    };
    (wait, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_departure_keeps_its_first_sight_until_the_node_is_seen_back() {
        let mut memory = RunState::load("../not-saved");
        let seen = |v: &[(&str, bool)]| v.iter().map(|(n, m)| (n.to_string(), *m)).collect::<Vec<_>>();
        note_seen(&mut memory, &seen(&[("n1", false), ("n2", true)]), Some(1_000));
        note_seen(&mut memory, &seen(&[("n1", false), ("n3", false)]), Some(4_000));
        let d = Duration::from_millis;
        assert_eq!(
            away_for(&memory, Some(5_000)),
            [("n1".into(), d(4_000)), ("n3".into(), d(1_000))].into()
        );
        assert_eq!(
            away_for(&memory, None),
            [("n1".into(), d(0)), ("n3".into(), d(0))].into(),
            "no clock: seen away only now"
        );
        // Seen back: forgotten; away again: counted from the new sight.
        note_seen(&mut memory, &seen(&[("n1", true)]), Some(6_000));
        note_seen(&mut memory, &seen(&[("n1", false)]), Some(7_000));
        assert_eq!(away_for(&memory, Some(7_500)).get("n1"), Some(&d(500)));
        note_seen(&mut memory, &seen(&[("n4", false)]), None);
        assert_eq!(
            away_for(&memory, Some(7_500)).get("n4"),
            None,
            "no clock: nothing noted"
        );
        forget(&mut memory, &["n3".to_string()]);
        assert_eq!(away_for(&memory, Some(7_500)).keys().collect::<Vec<_>>(), ["n1"]);
        forget_all(&mut memory);
        assert!(away_for(&memory, Some(7_500)).is_empty());
    }
}
