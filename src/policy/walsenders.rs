//! Which walsender is which node: a replication client is a member's
//! standby only if it streams through that member's slot.
//!
//! The PostgreSQL fact behind it: `pg_stat_replication.application_name`
//! is whatever the client sent; anyone with the replication credentials
//! can name a client `node-b`. While node-b is down such a client would
//! get node-b's place in `synchronous_standby_names`, its score and its
//! `quorum` state, and node-b, which lacks the commits the client
//! confirmed, would be promoted next (issue 22). What a client cannot
//! fake while the real standby holds it is the slot: a physical slot is
//! held by one walsender at a time, and `pg_replication_slots.active_pid`
//! is that walsender's `pg_stat_replication.pid`. The agent's standbys
//! stream through `pgha_<node>` ([`slot_name`]) when `replication_slots`
//! is on, so a row is node X only when X's slot is active with the row's
//! pid. Without slots the name is all there is ([`Tie::NameOnly`]; the
//! node's address would be the second source).
//!
//! A client that takes the slot itself while node X is down still passes:
//! the slot names are not secret. The tie narrows the hole to the holders
//! of the replication credentials that also know the naming; the address
//! check closes it.

use crate::pg::names::slot_name;
use crate::pg::replication::Replica;

/// A row of `pg_stat_replication`, as far as the tie needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalSender {
    /// `pid`: the walsender's process.
    pub pid: i32,
    /// `application_name`: the node the client claims to be.
    pub name: String,
}

/// A row of `pg_replication_slots`, as far as the tie needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotUse {
    pub slot_name: String,
    /// `active_pid`: the walsender holding it (NULL: none).
    pub active_pid: Option<i32>,
}

/// Whether a walsender is the node it claims to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tie {
    /// It holds the node's slot.
    Tied,
    /// Slots are off: its name is the only evidence, taken as it is.
    NameOnly,
    /// Slots are on and it does not hold the node's slot: not that node
    /// (an impostor, or a standby between connecting and
    /// `START_REPLICATION`, which acquires the slot). Why, for the log.
    Untied(String),
}

/// Ties walsender `sender` to the node its `application_name` names,
/// given the agent's slots as `pg_replication_slots` shows them.
pub fn tie(sender: &WalSender, slots: &[SlotUse], slots_in_use: bool) -> Tie {
    if !slots_in_use {
        return Tie::NameOnly;
    }
    let slot = slot_name(&sender.name);
    match slots.iter().find(|s| s.slot_name == slot) {
        None => Tie::Untied(format!("{} (pid {}): no slot {slot}", sender.name, sender.pid)),
        Some(SlotUse {
            active_pid: Some(pid),
            ..
        }) if *pid == sender.pid => Tie::Tied,
        Some(SlotUse {
            active_pid: Some(pid),
            ..
        }) => Tie::Untied(format!(
            "{} (pid {}): slot {slot} is held by pid {pid}",
            sender.name, sender.pid
        )),
        Some(SlotUse { active_pid: None, .. }) => Tie::Untied(format!(
            "{} (pid {}): slot {slot} is not in use",
            sender.name, sender.pid
        )),
    }
}

/// The replicas of `pg_stat_replication` that are the nodes they name
/// ([`tie`], given each slot's holder as `pg_replication_slots` shows it),
/// and why each other one is not, for the log.
pub fn tied_replicas(
    replicas: &[Replica],
    slot_holders: &[(String, Option<i32>)],
    slots_in_use: bool,
) -> (Vec<Replica>, Vec<(String, String)>) {
    let slots: Vec<SlotUse> = slot_holders
        .iter()
        .map(|(slot_name, active_pid)| SlotUse {
            slot_name: slot_name.clone(),
            active_pid: *active_pid,
        })
        .collect();
    let mut tied = Vec::new();
    let mut refused = Vec::new();
    for replica in replicas {
        let sender = WalSender {
            // A row without a pid holds no slot.
            pid: replica.pid.unwrap_or(0),
            name: replica.name.clone(),
        };
        match tie(&sender, &slots, slots_in_use) {
            Tie::Tied | Tie::NameOnly => tied.push(replica.clone()),
            Tie::Untied(why) => refused.push((replica.name.clone(), why)),
        }
    }
    (tied, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(name: &str, pid: i32) -> WalSender {
        WalSender {
            pid,
            name: name.to_string(),
        }
    }

    fn slot(name: &str, active_pid: Option<i32>) -> SlotUse {
        SlotUse {
            slot_name: slot_name(name),
            active_pid,
        }
    }

    #[test]
    fn a_walsender_is_a_node_only_through_that_nodes_slot() {
        // (walsender, slots, slots in use, tied, why contains)
        type Row = (WalSender, Vec<SlotUse>, bool, bool, &'static str);
        let table: Vec<Row> = vec![
            (
                sender("node-b", 101),
                vec![slot("node-b", Some(101))],
                true,
                true,
                "",
            ),
            // Issue 22: a client named node-b while node-b is down: the
            // slot is idle, the client is not node-b.
            (
                sender("node-b", 202),
                vec![slot("node-b", None)],
                true,
                false,
                "is not in use",
            ),
            // ... and while node-b streams: the slot is node-b's.
            (
                sender("node-b", 202),
                vec![slot("node-b", Some(101))],
                true,
                false,
                "held by pid 101",
            ),
            // Another node's slot is no proof.
            (
                sender("node-b", 303),
                vec![slot("node-c", Some(303))],
                true,
                false,
                "no slot pgha_node_b_",
            ),
            (
                sender("node1", 404),
                vec![slot("node1", Some(404))],
                true,
                true,
                "",
            ),
            // Slots off: the name is all there is.
            (sender("node-b", 202), vec![], false, true, ""),
        ];
        for (walsender, slots, in_use, tied, why) in table {
            let verdict = tie(&walsender, &slots, in_use);
            match &verdict {
                Tie::Untied(reason) => {
                    assert!(!tied, "{walsender:?} {slots:?}: {reason}");
                    assert!(reason.contains(why), "{reason}");
                }
                Tie::Tied => assert!(tied && in_use, "{walsender:?}"),
                Tie::NameOnly => assert!(tied && !in_use, "{walsender:?}"),
            }
        }
    }

    #[test]
    fn of_two_walsenders_under_one_name_only_the_slot_holder_counts() {
        // A reconnect (the old walsender not gone yet), or an impostor
        // beside the real node: the one holding the slot is the node.
        let replica = |name: &str, pid: i32| Replica {
            name: name.into(),
            state: crate::vocab::WalSenderState::Streaming,
            sync_state: crate::vocab::SyncState::Quorum,
            flush: None,
            lag: None,
            pid: Some(pid),
        };
        let replicas = [
            replica("node-b", 101),
            replica("node-b", 202),
            replica("node-c", 303),
        ];
        let holders = vec![(slot_name("node-b"), Some(202)), (slot_name("node-c"), Some(303))];
        let (tied, refused) = tied_replicas(&replicas, &holders, true);
        let pids: Vec<Option<i32>> = tied.iter().map(|r| r.pid).collect();
        assert_eq!(pids, [Some(202), Some(303)]);
        assert_eq!(refused.len(), 1);
        assert!(refused[0].1.starts_with("node-b (pid 101)"), "{:?}", refused[0]);
    }

    #[test]
    fn a_replica_that_does_not_hold_its_nodes_slot_is_not_that_node() {
        use crate::vocab::{SyncState, WalSenderState};
        let replica = |name: &str, pid: Option<i32>| Replica {
            name: name.into(),
            state: WalSenderState::Streaming,
            sync_state: SyncState::Quorum,
            flush: None,
            lag: None,
            pid,
        };
        let replicas = [
            replica("node-b", Some(101)),
            replica("node-c", Some(202)), // an impostor while node-c is down
            replica("node-d", None),
        ];
        let holders = vec![
            (slot_name("node-b"), Some(101)),
            (slot_name("node-c"), None),
            (slot_name("node-d"), Some(404)),
        ];
        let (tied, refused) = tied_replicas(&replicas, &holders, true);
        let names: Vec<&str> = tied.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["node-b"]);
        let refused: Vec<&str> = refused.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(refused, ["node-c", "node-d"]);
        // Slots off: the name is all there is.
        let (tied, refused) = tied_replicas(&replicas, &holders, false);
        assert_eq!(tied.len(), 3);
        assert!(refused.is_empty());
    }
}
