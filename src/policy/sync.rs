//! Synchronous replication as a rule: the `synchronous_standby_names` a
//! primary should have for the mode, the standbys that stream and those it
//! knew.

use std::collections::BTreeMap;

use crate::params::ReplicationMode;
use crate::pg::names::quote_standby_name;
use crate::pg::replication::Replica;
use crate::vocab::SyncState;

/// The `synchronous_standby_names` a primary should have, or None when the
/// agent does not manage it (async). `streaming` and `known` hold cluster
/// members only; `members` are the other nodes of the cluster (empty when
/// no membership is known).
///
/// - sync: `ANY n (streaming standbys)`, n capped by how many stream; empty
///   (asynchronous) only when none streams;
/// - strict-sync: `ANY n (streaming and formerly seen standbys)`; before any
///   was seen, `ANY n (the other members)`, and `ANY n (*)` only when no
///   membership is known at all: never empty, so a commit no standby
///   confirmed is never acknowledged.
pub fn synchronous_names(
    mode: ReplicationMode,
    n: u32,
    streaming: &[String],
    known: &[String],
    members: &[String],
) -> Option<String> {
    fn list<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
        let mut names: Vec<&str> = names.map(String::as_str).filter(|n| !n.is_empty()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|n| quote_standby_name(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match mode {
        ReplicationMode::Async => None,
        ReplicationMode::Sync => {
            let names = list(streaming.iter());
            if names.is_empty() {
                return Some(String::new());
            }
            let k = (n as usize).min(names.len());
            Some(format!("ANY {k} ({})", quoted(&names)))
        }
        ReplicationMode::StrictSync => {
            let mut names = list(streaming.iter().chain(known));
            if names.is_empty() {
                names = list(members.iter());
            }
            if names.is_empty() {
                return Some(format!("ANY {n} (*)"));
            }
            Some(format!("ANY {n} ({})", quoted(&names)))
        }
    }
}

/// The `synchronous_standby_names` to set, given the wanted one (None:
/// async) and whether the agent set the one in force: back in async mode,
/// only a value the agent itself had set is undone.
pub fn target(wanted: Option<&str>, managed_by_us: bool) -> Option<String> {
    match (wanted, managed_by_us) {
        (Some(w), _) => Some(w.to_string()),
        (None, true) => Some(String::new()),
        (None, false) => None,
    }
}

/// The names of the replicas that stream now.
pub fn streaming(replicas: &[Replica]) -> Vec<String> {
    replicas
        .iter()
        .filter(|r| r.state == "streaming")
        .map(|r| r.name.clone())
        .collect()
}

/// The `sync` attribute of each standby this primary knows: its
/// `sync_state` (the better one while it has two walsenders, during a
/// reconnect), or "disconnected" for a standby seen before that no longer
/// connects, so that neither `pgha status` nor promote takes a stale
/// "quorum" for the truth.
pub fn standby_sync_states(replicas: &[Replica], known: &[String], me: &str) -> BTreeMap<String, SyncState> {
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

    #[test]
    fn names_are_quoted_for_synchronous_standby_names() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            synchronous_names(
                ReplicationMode::Sync,
                1,
                &s(&["node\"1", "it's", "Upper"]),
                &[],
                &[]
            )
            .unwrap(),
            r#"ANY 1 ("Upper", "it's", "node""1")"#
        );
    }

    #[test]
    fn synchronous_names_follow_the_mode() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let none: &[String] = &[];
        assert_eq!(
            synchronous_names(ReplicationMode::Async, 1, &s(&["b"]), none, none),
            None
        );
        assert_eq!(
            synchronous_names(ReplicationMode::Sync, 2, &s(&["c", "b", "b"]), none, none).unwrap(),
            "ANY 2 (\"b\", \"c\")"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::Sync, 2, &s(&["b"]), none, none).unwrap(),
            "ANY 1 (\"b\")"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::Sync, 1, none, &s(&["b"]), &s(&["b"])).unwrap(),
            "",
            "sync degrades"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::StrictSync, 1, none, &s(&["b"]), &s(&["b", "c"])).unwrap(),
            "ANY 1 (\"b\")",
            "strict keeps waiting for the standbys it knew"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::StrictSync, 1, none, none, &s(&["c", "b"])).unwrap(),
            "ANY 1 (\"b\", \"c\")",
            "before any standby was seen, the other members"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::StrictSync, 1, none, none, none).unwrap(),
            "ANY 1 (*)",
            "no membership known at all"
        );
    }

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

    #[test]
    fn async_mode_undoes_only_what_the_agent_set() {
        assert_eq!(
            target(Some("ANY 1 (\"b\")"), false).as_deref(),
            Some("ANY 1 (\"b\")")
        );
        assert_eq!(target(None, true).as_deref(), Some(""));
        assert_eq!(target(None, false), None);
    }
}
