//! Who counts as this cluster's standby: a member other than this node.
//! A `pg_receivewal`, a backup tool or a name starting with `-` in
//! `pg_stat_replication` is not a node: it gets no score, no attribute, no
//! memory entry and no place in `synchronous_standby_names`.

use crate::pg::replication::Replica;

/// Whether `name`, as a replica's `application_name`, is one of this
/// cluster's standbys: a member other than this node. With no membership
/// known, nobody is.
pub fn is_standby(name: &str, members: Option<&[String]>, me: &str) -> bool {
    name != me && members.is_some_and(|m| m.iter().any(|n| n == name))
}

/// The replicas in `pg_stat_replication` that are this cluster's standbys
/// ([`is_standby`]).
pub fn cluster_replicas(replicas: &[Replica], members: Option<&[String]>, me: &str) -> Vec<Replica> {
    replicas
        .iter()
        .filter(|r| is_standby(&r.name, members, me))
        .cloned()
        .collect()
}

/// The standbys a primary remembers (those it scored, those it saw stream)
/// that are still standbys of this cluster: a node that left, or a name
/// remembered before membership was checked (a pg_receivewal seen by an
/// older version), no longer counts.
pub fn known_standbys(remembered: Vec<String>, members: Option<&[String]>, me: &str) -> Vec<String> {
    remembered
        .into_iter()
        .filter(|n| is_standby(n, members, me))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Lsn, SyncState, WalSenderState};

    #[test]
    fn only_other_members_are_standbys() {
        let members: Vec<String> = ["node-a", "node-b", "node\"1"].map(String::from).to_vec();
        let m = Some(members.as_slice());
        let table: &[(&str, Option<&[String]>, bool)] = &[
            ("node-b", m, true),
            ("node\"1", m, true),
            ("node-a", m, false), // this node itself
            ("backup", m, false), // a pg_receivewal
            ("-N", m, false),
            ("NODE-B", m, false), // Pacemaker names are exact
            ("", m, false),
            ("node-b", None, false), // no membership known: nobody
            ("node-b", Some(&[]), false),
        ];
        for (name, members, expected) in table {
            assert_eq!(
                is_standby(name, *members, "node-a"),
                *expected,
                "{name:?} {members:?}"
            );
        }
    }

    fn replica(name: &str, state: &str, flush: u64, lag: u64) -> Replica {
        Replica {
            name: name.into(),
            state: WalSenderState::parse(state),
            sync_state: SyncState::Async,
            flush: Some(Lsn(flush)),
            lag: Some(lag),
            pid: None,
        }
    }

    #[test]
    fn only_members_replicas_are_standbys() {
        let replicas = [
            replica("node-b", "streaming", 0, 0),
            replica("backup", "streaming", 0, 0),
            replica("-D", "streaming", 0, 0),
            replica("node-a", "streaming", 0, 0),
        ];
        let members = ["node-a".to_string(), "node-b".to_string()];
        let names = |members: Option<&[String]>| -> Vec<String> {
            cluster_replicas(&replicas, members, "node-a")
                .into_iter()
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(names(Some(&members)), vec!["node-b"]);
        assert!(names(None).is_empty(), "no membership: nobody is trusted");
    }

    #[test]
    fn remembered_names_count_while_they_are_other_members() {
        let members = ["me".to_string(), "b".to_string()];
        let remembered = vec!["b".to_string(), "gone".to_string(), "me".to_string()];
        assert_eq!(
            known_standbys(remembered.clone(), Some(&members), "me"),
            vec!["b"]
        );
        assert!(known_standbys(remembered, None, "me").is_empty());
    }
}
