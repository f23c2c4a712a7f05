//! The quorum gate of a promotion: may this candidate be promoted without
//! losing a commit the old primary acknowledged?
//!
//! The PostgreSQL fact behind it: with `ANY k (s1, ..., sN)` a commit is
//! acknowledged once any k of the N listed standbys have flushed it, and
//! `pg_stat_replication` reports every listed standby as `quorum`, whether
//! it confirmed the last commits or not: the label says a standby *may*
//! confirm, not that it has. Which node has every acknowledged commit
//! follows only from counting: any N−k+1 of the listed standbys include
//! at least one of the k that confirmed each commit (pigeonhole), so when
//! the election's participants include N−k+1 listed standbys, the most
//! advanced of them has every acknowledged commit, and a candidate at
//! least as advanced as each of them has them too. With fewer, the ones
//! that confirmed may all be among the absent. This is the rule of the
//! peers: Patroni's quorum mode, CloudNativePG's R+W>N, pg_auto_failover's
//! guard against data loss.
//!
//! `FIRST k (...)` takes the same bound: which k standbys confirmed
//! depends on which were connected at the time (a higher-priority one
//! that reconnects takes over), so the gate cannot tell them from the
//! list order and counts as if any k of the N may have.
//!
//! Inputs are the list in force as the primary published it (it must be
//! known after the primary is gone: [`SyncStandbyNames`]), and the
//! positions of *this round's* participants only
//! ([`crate::policy::promotion::round_votes`]): a stale position of a
//! node outside the round neither counts towards the quorum nor wins.
//! The old primary counts as absent even if it is listed: it is the one
//! being replaced. No sync label (`sync`, `quorum`, `async`,
//! `disconnected`) is an input: the most advanced of a quorum-covering set
//! is the right candidate whatever the old primary last called it (issue
//! 22: the veto refused it, the election handed over to it, no primary).

use std::collections::{BTreeMap, BTreeSet};

use crate::params::ReplicationMode;
use crate::policy::promotion::most_advanced;
use crate::vocab::{Position, SyncStandbyNames};

/// What the quorum gate lets promote do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Promote: enough listed standbys take part and none of them is more
    /// advanced than the candidate, or there is no gate (async mode, an
    /// empty list, a list with `*`). The election among all participants
    /// ([`crate::policy::promotion::election`]) still applies.
    Promote,
    /// A listed participant is more advanced: it should be promoted.
    HandOver { node: String, theirs: Position },
    /// Too few listed standbys take part: `have` of the `need`
    /// (N−k+1); `missing` are the listed standbys that do not, in list
    /// order. `reason` is for crm_mon and `pgha status`.
    Wait {
        have: usize,
        need: usize,
        missing: Vec<String>,
        reason: String,
    },
    /// `sync` only, once `sync_grace` is over without the quorum: promote
    /// the best candidate anyway; commits only `may_lose_from` confirmed
    /// may be lost, which `warning` says.
    PromoteWithLoss {
        may_lose_from: Vec<String>,
        warning: String,
    },
}

/// The node that would be promoted.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub name: &'a str,
    /// Its own position (whatever its entry among the participants says).
    pub position: Position,
    /// How long it has waited for the quorum so far (0 at the first try).
    pub waited_s: u64,
}

/// The quorum gate: whether `candidate` may be promoted, given the
/// `synchronous_standby_names` in force at the old primary, this round's
/// participants and their positions (`participants`, with or without the
/// candidate), the old primary (absent whatever its entry), and in `sync`
/// how long the candidate may wait (`sync_grace_s`).
///
/// The old primary as the candidate passes (it has every commit it
/// acknowledged). Ties go to the candidate; among equally advanced listed participants
/// ahead of it, the last in name order is handed the promotion (as the
/// election does, [`most_advanced`]).
pub fn quorum_gate(
    mode: ReplicationMode,
    in_force: &SyncStandbyNames,
    participants: &BTreeMap<String, Position>,
    old_primary: Option<&str>,
    candidate: Candidate<'_>,
    sync_grace_s: u64,
) -> Gate {
    let Candidate {
        name: candidate,
        position: mine,
        waited_s,
    } = candidate;
    let SyncStandbyNames::List {
        method,
        num_sync,
        names,
    } = in_force
    else {
        return Gate::Promote;
    };
    if mode == ReplicationMode::Async || in_force.has_wildcard() {
        return Gate::Promote;
    }
    // The old primary itself, back: it has every commit it acknowledged.
    if old_primary == Some(candidate) {
        return Gate::Promote;
    }
    // PostgreSQL matches names without regard to ASCII case and counts a
    // walsender once, however often its name is listed.
    let mut seen = BTreeSet::new();
    let listed: Vec<&String> = names
        .iter()
        .filter(|n| seen.insert(n.to_ascii_lowercase()))
        .collect();
    let is_old_primary = |n: &str| old_primary.is_some_and(|o| o == n);
    let mut present: BTreeMap<String, Position> = participants
        .iter()
        .filter(|(n, _)| n.as_str() != candidate && !is_old_primary(n))
        .map(|(n, p)| (n.clone(), *p))
        .collect();
    if !is_old_primary(candidate) {
        present.insert(candidate.to_string(), mine);
    }
    let takes_part = |listed_name: &str| present.keys().any(|p| p.eq_ignore_ascii_case(listed_name));
    let missing: Vec<String> = listed
        .iter()
        .filter(|n| !takes_part(n))
        .map(|n| n.to_string())
        .collect();
    let have = listed.len() - missing.len();
    let need = (listed.len() + 1).saturating_sub(*num_sync as usize);
    let listed_others: BTreeMap<String, Position> = present
        .iter()
        .filter(|(n, _)| n.as_str() != candidate && in_force.lists(n))
        .map(|(n, p)| (n.clone(), *p))
        .collect();
    let hand_over = most_advanced(mine, listed_others.iter()).map(|(node, theirs)| Gate::HandOver {
        node: node.to_string(),
        theirs,
    });
    if have >= need {
        return hand_over.unwrap_or(Gate::Promote);
    }
    let what = format!("{} {num_sync} of {}", method.as_str(), listed.len());
    let shown = missing.join(", ");
    match mode {
        ReplicationMode::Sync if waited_s >= sync_grace_s => hand_over.unwrap_or_else(|| Gate::PromoteWithLoss {
            warning: format!(
                "sync: sync_grace={sync_grace_s}s over with {have} of the {need} standbys needed ({what}): \
                 commits only {shown} confirmed may be lost"
            ),
            may_lose_from: missing,
        }),
        ReplicationMode::Sync => Gate::Wait {
            reason: format!(
                "sync: {have} of the {need} standbys needed ({what}) take part; waiting for {shown} \
                 or the old primary, {}s of sync_grace left",
                sync_grace_s - waited_s
            ),
            have,
            need,
            missing,
        },
        // Async returned above: no gate.
        ReplicationMode::StrictSync | ReplicationMode::Async => Gate::Wait {
            reason: format!(
                "strict-sync: {have} of the {need} standbys needed ({what}) take part; waiting for {shown} \
                 or the old primary"
            ),
            have,
            need,
            missing,
        },
    }
}

/// The gate over every list the primaries published
/// ([`crate::vocab::SyncListInForce`]: the list in effect, and the lists
/// it replaced that its standbys have not confirmed past yet), each with
/// the node that published it as the old primary: a promotion must pass
/// each. A hand-over wins (the node it names is ahead of a quorum-covering
/// set), then a wait; the warnings of a promotion with loss are joined.
/// No list at all: nothing to check (an agent of an older version was
/// primary; the caller logs it).
pub fn gate_all(
    mode: ReplicationMode,
    lists: &[(String, SyncStandbyNames)],
    participants: &BTreeMap<String, Position>,
    candidate: Candidate<'_>,
    sync_grace_s: u64,
) -> Gate {
    let gates: Vec<Gate> = lists
        .iter()
        .map(|(primary, list)| quorum_gate(mode, list, participants, Some(primary), candidate, sync_grace_s))
        .collect();
    if let Some(hand_over) = gates.iter().find(|g| matches!(g, Gate::HandOver { .. })) {
        return hand_over.clone();
    }
    if let Some(wait) = gates.iter().find(|g| matches!(g, Gate::Wait { .. })) {
        return wait.clone();
    }
    let mut may_lose_from: Vec<String> = Vec::new();
    let mut warnings: Vec<&str> = Vec::new();
    for gate in &gates {
        if let Gate::PromoteWithLoss {
            may_lose_from: from,
            warning,
        } = gate
        {
            for node in from {
                if !may_lose_from.contains(node) {
                    may_lose_from.push(node.clone());
                }
            }
            warnings.push(warning);
        }
    }
    if warnings.is_empty() {
        return Gate::Promote;
    }
    Gate::PromoteWithLoss {
        may_lose_from,
        warning: warnings.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::sync::synchronous_names;
    use crate::vocab::SyncMethod;
    use ReplicationMode::{Async, StrictSync, Sync};

    fn pos(s: &str) -> Position {
        s.parse().unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    fn first_try(name: &'static str, at: &str) -> Candidate<'static> {
        Candidate {
            name,
            position: pos(at),
            waited_s: 0,
        }
    }

    /// What a row expects, without the texts (checked on their own).
    enum Want {
        Promote,
        HandOver(&'static str),
        Wait(usize, usize, &'static [&'static str]),
        Loss(&'static [&'static str]),
    }

    /// The shape of a decision, comparable with a [`Want`].
    fn shape(gate: &Gate) -> String {
        match gate {
            Gate::Promote => "promote".into(),
            Gate::HandOver { node, .. } => format!("hand over to {node}"),
            Gate::Wait {
                have, need, missing, ..
            } => format!("wait {have}/{need} for {missing:?}"),
            Gate::PromoteWithLoss { may_lose_from, .. } => format!("loss from {may_lose_from:?}"),
        }
    }

    fn wanted(want: &Want) -> String {
        let list = |l: &[&str]| format!("{:?}", names(l));
        match want {
            Want::Promote => "promote".into(),
            Want::HandOver(node) => format!("hand over to {node}"),
            Want::Wait(have, need, missing) => format!("wait {have}/{need} for {}", list(missing)),
            Want::Loss(from) => format!("loss from {}", list(from)),
        }
    }

    /// One case: (list in force, participants with positions, candidate,
    /// expected). The candidate is at its entry in the participants.
    type Row = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
        Want,
    );

    const AT: &str = "3:0/5000000";
    const BEHIND: &str = "3:0/4000000";
    const AHEAD: &str = "3:0/6000000";

    /// Runs `table` in `mode`, the old primary being `old_primary`, the
    /// candidate having waited `waited_s` of a sync_grace of 30 s.
    fn run(mode: ReplicationMode, old_primary: Option<&str>, waited_s: u64, table: &[Row]) {
        for (list, participants, candidate, want) in table {
            let in_force: SyncStandbyNames = list.parse().unwrap();
            let positions: BTreeMap<String, Position> = participants
                .iter()
                .map(|(n, p)| (n.to_string(), pos(p)))
                .collect();
            let who = Candidate {
                name: candidate,
                position: positions[*candidate],
                waited_s,
            };
            let gate = quorum_gate(mode, &in_force, &positions, old_primary, who, 30);
            assert_eq!(
                shape(&gate),
                wanted(want),
                "{mode:?} {list} {participants:?} candidate {candidate} old primary {old_primary:?} waited {waited_s}"
            );
        }
    }

    #[test]
    fn a_quorum_of_n_minus_k_plus_one_listed_standbys_gates_the_promotion() {
        use Want::*;
        let table: &[Row] = &[
            // k = 1, N = 2: both needed.
            ("ANY 1 (a, b)", &[("a", AT), ("b", AT)], "a", Promote),
            ("ANY 1 (a, b)", &[("a", AT)], "a", Wait(1, 2, &["b"])),
            // k = 1, N = 3 and 4: all of them.
            (
                "ANY 1 (a, b, c)",
                &[("a", AT), ("b", BEHIND), ("c", AT)],
                "a",
                Promote,
            ),
            (
                "ANY 1 (a, b, c)",
                &[("a", AT), ("b", AT)],
                "a",
                Wait(2, 3, &["c"]),
            ),
            (
                "ANY 1 (a, b, c, d)",
                &[("a", AT), ("b", AT), ("c", AT)],
                "a",
                Wait(3, 4, &["d"]),
            ),
            (
                "ANY 1 (a, b, c, d)",
                &[("a", AT), ("b", AT), ("c", AT), ("d", BEHIND)],
                "a",
                Promote,
            ),
            // k = 2, N = 2: one of them; N = 3: two; N = 4: three.
            ("ANY 2 (a, b)", &[("a", AT)], "a", Promote),
            ("ANY 2 (a, b, c)", &[("a", AT), ("c", BEHIND)], "a", Promote),
            ("ANY 2 (a, b, c)", &[("a", AT)], "a", Wait(1, 2, &["b", "c"])),
            (
                "ANY 2 (a, b, c, d)",
                &[("a", AT), ("b", AT), ("d", AT)],
                "a",
                Promote,
            ),
            (
                "ANY 2 (a, b, c, d)",
                &[("a", AT), ("b", AT)],
                "a",
                Wait(2, 3, &["c", "d"]),
            ),
            // FIRST k, its short form and a plain list take the same bound.
            ("FIRST 1 (a, b)", &[("a", AT)], "a", Wait(1, 2, &["b"])),
            ("a, b", &[("b", AT)], "b", Wait(1, 2, &["a"])),
            ("FIRST 2 (a, b, c)", &[("b", AT), ("c", AT)], "c", Promote),
            ("2 (a, b, c)", &[("b", AT)], "b", Wait(1, 2, &["a", "c"])),
            (
                "FIRST 2 (a, b, c, d)",
                &[("a", AT), ("b", AT), ("c", AT)],
                "a",
                Promote,
            ),
            // Issue 22's outage: the primary and p2, which confirmed its
            // last commits, lost together; p3 never confirmed them.
            (
                "ANY 1 (p2, p3, p4, p5)",
                &[("p3", AT), ("p4", AT), ("p5", BEHIND)],
                "p3",
                Wait(3, 4, &["p2"]),
            ),
            // The candidate need not be listed itself: the quorum covers.
            ("ANY 2 (b, c)", &[("a", AT), ("b", AT)], "a", Promote),
            // Names match as PostgreSQL matches them (ASCII case ignored),
            // and a name listed twice counts once.
            (
                "ANY 1 (\"Node-B\", c)",
                &[("node-b", AT), ("c", AT)],
                "node-b",
                Promote,
            ),
            ("ANY 1 (b, B, c)", &[("b", AT)], "b", Wait(1, 2, &["c"])),
            // More commits required than standbys listed: none was ever
            // acknowledged under this list.
            ("ANY 3 (a, b)", &[("x", AT)], "x", Promote),
        ];
        run(StrictSync, None, 0, table);
        run(Sync, None, 0, table);
    }

    #[test]
    fn no_gate_without_a_list_that_names_the_standbys() {
        use Want::*;
        let table: &[Row] = &[
            ("", &[("a", AT)], "a", Promote),
            ("ANY 1 (*)", &[("a", AT)], "a", Promote),
            ("ANY 1 (b, *)", &[("a", AT)], "a", Promote),
        ];
        run(StrictSync, None, 0, table);
        run(Sync, None, 0, table);
        run(Async, None, 0, &[("ANY 1 (a, b)", &[("a", AT)], "a", Promote)]);
    }

    #[test]
    fn the_most_advanced_listed_participant_is_promoted_whatever_its_label() {
        use Want::*;
        let table: &[Row] = &[
            // A listed participant ahead: hand over to it; from its side
            // the gate promotes.
            ("ANY 1 (a, b)", &[("a", AT), ("b", AHEAD)], "a", HandOver("b")),
            ("ANY 1 (a, b)", &[("a", AT), ("b", AHEAD)], "b", Promote),
            // Ties go to the candidate; two equal ahead: the last by name.
            ("ANY 1 (a, b)", &[("a", AT), ("b", AT)], "b", Promote),
            (
                "ANY 1 (a, b, c)",
                &[("a", AT), ("b", AHEAD), ("c", AHEAD)],
                "a",
                HandOver("c"),
            ),
            // A timeline ahead counts as ahead.
            (
                "ANY 2 (a, b)",
                &[("a", AT), ("b", "4:0/1000000")],
                "a",
                HandOver("b"),
            ),
            // An unlisted participant ahead is not the gate's business
            // (it has no acknowledged commit the listed ones lack).
            (
                "ANY 1 (a, b)",
                &[("a", AT), ("b", AT), ("x", AHEAD)],
                "a",
                Promote,
            ),
        ];
        run(StrictSync, None, 0, table);
        run(Sync, None, 0, table);

        // The lab's deadlock: "a" is the most advanced and was labelled
        // "disconnected" (a stale label after a reconnect) while "b" was
        // "quorum": the veto this gate replaced refused "a", the election
        // handed over to it. The gate reads no label and promotes "a".
        let participants: BTreeMap<String, Position> =
            [("a".to_string(), pos(AHEAD)), ("b".to_string(), pos(AT))].into();
        let list: SyncStandbyNames = "ANY 1 (a, b)".parse().unwrap();
        assert_eq!(
            quorum_gate(StrictSync, &list, &participants, None, first_try("a", AHEAD), 30),
            Gate::Promote
        );
        assert!(matches!(
            quorum_gate(StrictSync, &list, &participants, None, first_try("b", AT), 30),
            Gate::HandOver { ref node, .. } if node == "a"
        ));
    }

    #[test]
    fn the_old_primary_counts_as_absent() {
        use Want::*;
        let b_was_primary: &[Row] = &[(
            "ANY 1 (a, b)",
            &[("a", AT), ("b", AHEAD)],
            "a",
            Wait(1, 2, &["b"]),
        )];
        run(StrictSync, Some("b"), 0, b_was_primary);
        let c_was_primary: &[Row] = &[(
            "ANY 2 (a, b, c)",
            &[("a", AT), ("b", AT), ("c", AHEAD)],
            "a",
            Promote,
        )];
        run(StrictSync, Some("c"), 0, c_was_primary);
        // The old primary back as the candidate: it has its own commits.
        let back: &[Row] = &[("ANY 1 (a, b)", &[("c", AT)], "c", Promote)];
        run(StrictSync, Some("c"), 0, back);
    }

    #[test]
    fn sync_waits_for_the_quorum_up_to_sync_grace_then_names_who_may_lose() {
        use Want::*;
        let waiting: &[Row] = &[("ANY 1 (a, b, c)", &[("a", AT)], "a", Wait(1, 3, &["b", "c"]))];
        run(Sync, None, 0, waiting);
        run(Sync, None, 29, waiting);
        // strict-sync never gives up.
        run(StrictSync, None, 86_400, waiting);
        let grace_over: &[Row] = &[
            ("ANY 1 (a, b, c)", &[("a", AT)], "a", Loss(&["b", "c"])),
            // Past the grace, still the best of those present.
            ("ANY 1 (a, b, c)", &[("a", AT), ("b", AHEAD)], "a", HandOver("b")),
            ("ANY 1 (a, b, c)", &[("a", AT), ("b", AHEAD)], "b", Loss(&["c"])),
            // The quorum back in time: no loss.
            (
                "ANY 1 (a, b, c)",
                &[("a", AT), ("b", AT), ("c", AT)],
                "a",
                Promote,
            ),
        ];
        run(Sync, None, 30, grace_over);

        let list: SyncStandbyNames = "ANY 1 (a, b, c)".parse().unwrap();
        let only_a: BTreeMap<String, Position> = [("a".to_string(), pos(AT))].into();
        let gate = |mode, waited_s| {
            let a = Candidate {
                waited_s,
                ..first_try("a", AT)
            };
            quorum_gate(mode, &list, &only_a, None, a, 30)
        };
        let Gate::Wait { reason, .. } = gate(StrictSync, 0) else {
            panic!("strict-sync waits")
        };
        assert_eq!(
            reason,
            "strict-sync: 1 of the 3 standbys needed (ANY 1 of 3) take part; waiting for b, c or the old primary"
        );
        let Gate::Wait { reason, .. } = gate(Sync, 12) else {
            panic!("sync waits")
        };
        assert_eq!(
            reason,
            "sync: 1 of the 3 standbys needed (ANY 1 of 3) take part; waiting for b, c or the old primary, \
             18s of sync_grace left"
        );
        let Gate::PromoteWithLoss { warning, .. } = gate(Sync, 30) else {
            panic!("sync gives up")
        };
        assert_eq!(
            warning,
            "sync: sync_grace=30s over with 1 of the 3 standbys needed (ANY 1 of 3): commits only b, c confirmed may be lost"
        );
    }

    /// Every value `policy::sync::synchronous_names` writes parses, lists
    /// the names it was given, and formats back to the same bytes: what
    /// the primary publishes is what every node reads.
    #[test]
    fn every_value_the_primary_writes_parses_and_formats_back_byte_for_byte() {
        let sets: &[&[&str]] = &[
            &[],
            &["b"],
            &["c", "b", "b"],
            &["node\"1", "it's", "Upper"],
            &["node-b", "node b", "1", "any", "FIRST", "a,b", "(x)", "nœud"],
        ];
        let mut checked = 0;
        for mode in [Async, Sync, StrictSync] {
            for n in [1, 2, 5] {
                for streaming in sets {
                    for known in sets {
                        for grace in [true, false] {
                            let (streaming, known) = (names(streaming), names(known));
                            let Some(value) = synchronous_names(mode, n, &streaming, &known, &known, grace)
                            else {
                                continue;
                            };
                            let read: SyncStandbyNames = value
                                .parse()
                                .unwrap_or_else(|e| panic!("{value:?} does not parse: {e}"));
                            assert_eq!(read.to_string(), value, "format gives the same bytes");
                            if let SyncStandbyNames::List { method, names, .. } = &read {
                                assert_eq!(*method, SyncMethod::Any);
                                for name in names.iter().filter(|n| *n != "*") {
                                    assert!(
                                        streaming.contains(name) || known.contains(name),
                                        "{value:?}: {name:?}"
                                    );
                                }
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn every_published_list_gates_and_a_replaced_one_can_hold_the_promotion_back() {
        let list = |s: &str| -> SyncStandbyNames { s.parse().unwrap() };
        let positions = |l: &[(&str, &str)]| -> BTreeMap<String, Position> {
            l.iter().map(|(n, p)| (n.to_string(), pos(p))).collect()
        };
        let lists = |l: &[&str]| -> Vec<(String, SyncStandbyNames)> {
            l.iter().map(|s| ("n1".to_string(), list(s))).collect()
        };
        let present = positions(&[("b", AT), ("d", AT)]);
        // In effect ANY 1 (b, d): both take part. Replaced ANY 1 (b, c): c
        // may hold commits acknowledged before the change, b is not enough.
        let gate = gate_all(
            StrictSync,
            &lists(&["ANY 1 (b, d)", "ANY 1 (b, c)"]),
            &present,
            first_try("d", AT),
            30,
        );
        assert!(
            matches!(gate, Gate::Wait { ref missing, .. } if missing == &names(&["c"])),
            "{gate:?}"
        );
        assert_eq!(
            gate_all(
                StrictSync,
                &lists(&["ANY 1 (b, d)"]),
                &present,
                first_try("d", AT),
                30
            ),
            Gate::Promote
        );
        assert_eq!(
            gate_all(StrictSync, &[], &present, first_try("d", AT), 30),
            Gate::Promote
        );
        // A hand-over beats a wait: the node it names is ahead of a quorum.
        let ahead = positions(&[("b", AHEAD), ("d", AT)]);
        assert!(matches!(
            gate_all(StrictSync, &lists(&["ANY 1 (b, c)", "ANY 1 (b, d)"]), &ahead, first_try("d", AT), 30),
            Gate::HandOver { ref node, .. } if node == "b"
        ));
        // sync past the grace: the warnings of both lists, who may lose once.
        let gate = gate_all(
            Sync,
            &lists(&["ANY 1 (b, c, d)", "ANY 1 (c, d, e)"]),
            &positions(&[("d", AT)]),
            Candidate {
                name: "d",
                position: pos(AT),
                waited_s: 30,
            },
            30,
        );
        match gate {
            Gate::PromoteWithLoss {
                may_lose_from,
                warning,
            } => {
                assert_eq!(may_lose_from, names(&["b", "c", "e"]));
                assert_eq!(warning.matches("may be lost").count(), 2, "{warning}");
            }
            other => panic!("{other:?}"),
        }
    }
}
