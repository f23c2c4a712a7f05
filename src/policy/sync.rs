//! Synchronous replication as a rule: the `synchronous_standby_names` a
//! primary should have for the mode, the standbys that stream and those it
//! knew.

use crate::params::ReplicationMode;
use crate::pg::names::quote_standby_name;

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
}
