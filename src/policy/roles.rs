//! Per-node roles as pure rules: a node that may never be promoted, a node
//! that may never be a synchronous standby, and a preference among equally
//! advanced candidates ([`NodeRoles`], the operator's permanent node
//! attributes `pgha-<rsc>-nopromote`, `-nosync`, `-priority`).
//!
//! Why node attributes, and not the location constraints themselves: the
//! agent would have to evaluate Pacemaker's rule language (scores, roles,
//! date specs, `#uname`, boolean operators) to know which nodes a
//! constraint bars, and would get it wrong as soon as an operator wrote a
//! rule it does not know. With an attribute the operator states the role
//! once, on the node, and the one documented location rule
//! (`role=Promoted score=-INFINITY pgha-<rsc>-nopromote eq true`) makes
//! Pacemaker read the very same attribute: agent and scheduler agree by
//! construction. `nosync` and `priority` have no Pacemaker counterpart.
//!
//! - Never promoted: Pacemaker's rule bars the node; the agent gives it no
//!   positive promotion score ([`SCORE_NO_PROMOTE`], so that no standby
//!   takes it for a promotable node when it looks for one), never hands a
//!   promotion over to it, and never lets it take the bootstrap score. A
//!   candidate behind it would lose the WAL only it holds: it waits
//!   ([`barred_ahead`]), like the quorum gate: strict-sync until the
//!   operator lets that node be promoted or the old primary is back; sync
//!   and async up to `sync_grace`, then it is promoted with a warning.
//! - Never synchronous: left out of `synchronous_standby_names`
//!   ([`sync_candidates`]); it still streams through its slot. The lists
//!   the primary publishes are cut from what it set, so the quorum gate
//!   counts only the standbys that can be synchronous.
//! - Priority: only between equally advanced candidates: a few points
//!   below the best within each class of score ([`with_roles`]), the
//!   election's tie ([`preferred_among_equals`]) and the bootstrap's tie.

use std::collections::{BTreeMap, BTreeSet};

use crate::params::ReplicationMode;
use crate::policy::promotion::most_advanced;
use crate::policy::quorum::Gate;
use crate::policy::scores::{SCORE_BEHIND, SCORE_NOT_SYNC, SCORE_STANDBY};
use crate::vocab::{NodeRoles, Position};

/// The promotion score of a node that may never be promoted: -INFINITY,
/// the same as the location rule's. Negative, so that a standby looking
/// for a promotable node does not count it, and present, so that the node
/// itself does not take the bootstrap score either.
pub const SCORE_NO_PROMOTE: i64 = -1_000_000;

/// How many priorities one class of score tells apart: the scores of a
/// class stay above the next class ([`SCORE_STANDBY`] 1000 > 951 >
/// [`SCORE_BEHIND`] 900 > 851 > [`SCORE_NOT_SYNC`] 500 > 451 > 0).
pub const PRIORITY_STEPS: i64 = 50;

/// The standbys' scores with the roles applied: a node that may not be
/// promoted gets [`SCORE_NO_PROMOTE`]; within each class of equally
/// advanced candidates (the same score: streaming within a segment of the
/// best, behind, not synchronous) the highest priority keeps the score,
/// the next one less, and so on, never below the class under it.
/// Scores of no class (catching up, lagging, disconnected) stay.
pub fn with_roles(scores: &BTreeMap<String, i64>, roles: &NodeRoles) -> BTreeMap<String, i64> {
    let mut out = scores.clone();
    for class in [SCORE_STANDBY, SCORE_BEHIND, SCORE_NOT_SYNC] {
        let members: Vec<&String> = scores
            .iter()
            .filter(|(n, s)| **s == class && roles.may_promote(n))
            .map(|(n, _)| n)
            .collect();
        let priorities: BTreeSet<i64> = members.iter().map(|n| roles.of(n).priority).collect();
        // Highest first: its rank is 0.
        let ranked: Vec<i64> = priorities.into_iter().rev().collect();
        for node in members {
            let rank = ranked
                .iter()
                .position(|p| *p == roles.of(node).priority)
                .unwrap_or(0) as i64;
            out.insert(node.clone(), class - rank.min(PRIORITY_STEPS - 1));
        }
    }
    for (node, score) in out.iter_mut() {
        if !roles.may_promote(node) {
            *score = SCORE_NO_PROMOTE;
        }
    }
    out
}

/// What the election does about participants that may not be promoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Barred {
    /// None of them is ahead of the candidate.
    Pass,
    /// `node`, which may not be promoted, holds WAL the candidate lacks:
    /// promoting the candidate would lose it. `reason` is for crm_mon.
    Wait {
        node: String,
        theirs: Position,
        reason: String,
    },
    /// sync and async, once `sync_grace` is over: promote anyway; what only
    /// `node` holds is lost, which `warning` says.
    PromoteWithLoss { node: String, warning: String },
}

/// Whether the candidate at `mine` may be promoted although participants
/// that may not be promoted (`published`: the other participants'
/// positions, compared by history) are ahead of it. The most advanced of
/// them is named. strict-sync waits for as long as it takes (the operator
/// lets that node be promoted, or the old primary comes back); sync and
/// async wait `sync_grace_s` (the candidate waited `waited_s` so far), the
/// bound the operator gave to losing commits. Nobody else can take over:
/// the others that may be promoted are behind the candidate or tie with
/// it (the election handed over to any that is ahead before this).
pub fn barred_ahead(
    mode: ReplicationMode,
    mine: Position,
    published: &BTreeMap<String, Position>,
    roles: &NodeRoles,
    waited_s: u64,
    sync_grace_s: u64,
) -> Barred {
    let barred = published.iter().filter(|(n, _)| !roles.may_promote(n));
    let Some((node, theirs)) = most_advanced(mine, barred) else {
        return Barred::Pass;
    };
    let node = node.to_string();
    let what = format!("{node} (nopromote) is ahead ({theirs} > {mine})");
    if mode != ReplicationMode::StrictSync && waited_s >= sync_grace_s {
        return Barred::PromoteWithLoss {
            warning: format!(
                "{}: sync_grace={sync_grace_s}s over: promoted anyway, the WAL only {node} has is lost \
                 ({node} must be rewound or rebuilt to follow)",
                what
            ),
            node,
        };
    }
    let left = match mode {
        ReplicationMode::StrictSync => String::new(),
        _ => format!(", sync_grace {}s left", sync_grace_s - waited_s),
    };
    Barred::Wait {
        reason: format!("{what}: waiting for the old primary or for {node} to be allowed{left}"),
        node,
        theirs,
    }
}

/// The quorum gate's decision once the roles have had their say: a
/// hand-over to a node that may not be promoted is no hand-over.
/// [`barred_ahead`] already ruled on that node (it passed, or the grace
/// is over and the loss is accepted), and every node that may be promoted
/// and is ahead got the promotion from the election before the gate: the
/// candidate goes on.
pub fn gate_after_roles(gate: Gate, roles: &NodeRoles) -> Gate {
    match gate {
        Gate::HandOver { ref node, .. } if !roles.may_promote(node) => Gate::Promote,
        other => other,
    }
}

/// The positions of the participants that may be promoted: the election
/// hands over only among them.
pub fn promotable(published: &BTreeMap<String, Position>, roles: &NodeRoles) -> BTreeMap<String, Position> {
    published
        .iter()
        .filter(|(n, _)| roles.may_promote(n))
        .map(|(n, p)| (n.clone(), *p))
        .collect()
}

/// The participant the promotion should go to although the candidate
/// (`me`, at `mine`) is as advanced: one that may be promoted, at the very
/// same position, with a higher priority (the highest; of equals, the
/// first name). None: the candidate is the preferred one of its equals.
pub fn preferred_among_equals(
    mine: Position,
    me: &str,
    published: &BTreeMap<String, Position>,
    roles: &NodeRoles,
) -> Option<String> {
    let my_priority = roles.of(me).priority;
    published
        .iter()
        .filter(|(n, p)| n.as_str() != me && **p == mine && roles.may_promote(n))
        .filter(|(n, _)| roles.of(n).priority > my_priority)
        .min_by_key(|(n, _)| (std::cmp::Reverse(roles.of(n).priority), n.as_str()))
        .map(|(n, _)| n.clone())
}

/// The standbys `synchronous_standby_names` may list, from those the
/// primary would list (`streaming`, `known`, `members`, as
/// `policy::sync::synchronous_names` takes them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncCandidates {
    pub streaming: Vec<String>,
    pub known: Vec<String>,
    pub members: Vec<String>,
    /// strict-sync only, when every other member is `nosync`: those listed
    /// all the same, so that no commit is acknowledged by the primary
    /// alone (strict-sync's promise comes first; the monitor says so).
    pub listed_anyway: Vec<String>,
}

/// Leaves the `nosync` nodes out. In strict-sync, with no other member
/// that may be synchronous, they stay in ([`SyncCandidates::listed_anyway`]):
/// an empty list or `*` would let a commit be acknowledged with no standby
/// (`*` would list them too).
pub fn sync_candidates(
    mode: ReplicationMode,
    streaming: &[String],
    known: &[String],
    members: &[String],
    roles: &NodeRoles,
) -> SyncCandidates {
    let keep =
        |list: &[String]| -> Vec<String> { list.iter().filter(|n| roles.may_be_sync(n)).cloned().collect() };
    let eligible = SyncCandidates {
        streaming: keep(streaming),
        known: keep(known),
        members: keep(members),
        listed_anyway: Vec::new(),
    };
    let none_eligible =
        eligible.streaming.is_empty() && eligible.known.is_empty() && eligible.members.is_empty();
    if mode != ReplicationMode::StrictSync || !none_eligible {
        return eligible;
    }
    let mut listed_anyway: Vec<String> = streaming
        .iter()
        .chain(known)
        .chain(members)
        .filter(|n| !roles.may_be_sync(n))
        .cloned()
        .collect();
    listed_anyway.sort_unstable();
    listed_anyway.dedup();
    SyncCandidates {
        streaming: streaming.to_vec(),
        known: known.to_vec(),
        members: members.to_vec(),
        listed_anyway,
    }
}

/// Why a primary in strict-sync lists standbys marked `nosync`
/// ([`SyncCandidates::listed_anyway`]), for its DEGRADED_PROMOTED.
pub fn listed_anyway_reason(listed_anyway: &[String]) -> Option<String> {
    (!listed_anyway.is_empty()).then(|| {
        format!(
            "strict-sync: no other member may be synchronous: {} (nosync) listed anyway, or commits would be \
             acknowledged alone",
            listed_anyway.join(", ")
        )
    })
}

/// The scores a new primary gives at once to the participants that can
/// follow it: a standby's, but [`SCORE_NO_PROMOTE`] for a node that may
/// not be promoted (its first monitor then ranks them by priority).
pub fn follower_scores(followers: &[String], roles: &NodeRoles) -> Vec<(String, i64)> {
    followers
        .iter()
        .map(|n| {
            let score = if roles.may_promote(n) {
                SCORE_STANDBY
            } else {
                SCORE_NO_PROMOTE
            };
            (n.clone(), score)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::scores::{SCORE_CATCHUP, SCORE_DISCONNECTED, SCORE_LAGGING};
    use crate::vocab::RoleFlags;
    use ReplicationMode::{Async, StrictSync, Sync};

    fn roles(list: &[(&str, &str)]) -> NodeRoles {
        NodeRoles(
            list.iter()
                .map(|(n, f)| (n.to_string(), f.parse::<RoleFlags>().unwrap()))
                .collect(),
        )
    }

    fn pos(s: &str) -> Position {
        s.parse().unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn roles_bar_a_node_and_rank_equal_candidates_by_priority() {
        // (base scores, roles, expected)
        type Row = (
            &'static [(&'static str, i64)],
            &'static [(&'static str, &'static str)],
            &'static [(&'static str, i64)],
        );
        let table: &[Row] = &[
            // No roles: unchanged.
            (
                &[("n2", SCORE_STANDBY), ("n3", SCORE_BEHIND)],
                &[],
                &[("n2", SCORE_STANDBY), ("n3", SCORE_BEHIND)],
            ),
            // A node that may not be promoted, whatever it scored.
            (
                &[("n2", SCORE_STANDBY), ("n3", SCORE_DISCONNECTED)],
                &[("n2", "nopromote"), ("n3", "nopromote")],
                &[("n2", SCORE_NO_PROMOTE), ("n3", SCORE_NO_PROMOTE)],
            ),
            // Equal candidates: the higher priority keeps the score.
            (
                &[
                    ("n2", SCORE_STANDBY),
                    ("n3", SCORE_STANDBY),
                    ("n4", SCORE_STANDBY),
                ],
                &[("n3", "priority=5"), ("n4", "priority=-1")],
                &[
                    ("n2", SCORE_STANDBY - 1),
                    ("n3", SCORE_STANDBY),
                    ("n4", SCORE_STANDBY - 2),
                ],
            ),
            // Never across classes: a preferred node behind stays behind
            // the others, and the barred node does not count among equals.
            (
                &[("n2", SCORE_STANDBY), ("n3", SCORE_BEHIND), ("n4", SCORE_STANDBY)],
                &[("n3", "priority=9"), ("n4", "nopromote,priority=9")],
                &[
                    ("n2", SCORE_STANDBY),
                    ("n3", SCORE_BEHIND),
                    ("n4", SCORE_NO_PROMOTE),
                ],
            ),
            // Sync modes' cap is a class of its own.
            (
                &[
                    ("n2", SCORE_NOT_SYNC),
                    ("n3", SCORE_NOT_SYNC),
                    ("n4", SCORE_STANDBY),
                ],
                &[("n2", "priority=1")],
                &[
                    ("n2", SCORE_NOT_SYNC),
                    ("n3", SCORE_NOT_SYNC - 1),
                    ("n4", SCORE_STANDBY),
                ],
            ),
            // Catching up, lagging, disconnected: no class, no priority.
            (
                &[
                    ("n2", SCORE_CATCHUP),
                    ("n3", SCORE_LAGGING),
                    ("n4", SCORE_DISCONNECTED),
                ],
                &[("n2", "priority=3"), ("n3", "priority=3")],
                &[
                    ("n2", SCORE_CATCHUP),
                    ("n3", SCORE_LAGGING),
                    ("n4", SCORE_DISCONNECTED),
                ],
            ),
        ];
        for (base, given, expected) in table {
            let base: BTreeMap<String, i64> = base.iter().map(|(n, s)| (n.to_string(), *s)).collect();
            let expected: BTreeMap<String, i64> = expected.iter().map(|(n, s)| (n.to_string(), *s)).collect();
            assert_eq!(with_roles(&base, &roles(given)), expected, "{base:?} {given:?}");
        }
        // Many priorities never reach the class below.
        let many: BTreeMap<String, i64> = (0..200).map(|i| (format!("n{i}"), SCORE_STANDBY)).collect();
        let ranked = NodeRoles(
            (0..200)
                .map(|i| {
                    let flags = RoleFlags {
                        priority: i,
                        ..RoleFlags::default()
                    };
                    (format!("n{i}"), flags)
                })
                .collect(),
        );
        let scored = with_roles(&many, &ranked);
        assert_eq!(scored["n199"], SCORE_STANDBY);
        assert_eq!(scored["n0"], SCORE_STANDBY - (PRIORITY_STEPS - 1));
        assert!(scored.values().all(|s| *s > SCORE_BEHIND));
    }

    /// What a row expects of [`barred_ahead`].
    #[derive(Debug, PartialEq)]
    enum Want {
        Pass,
        Wait(&'static str),
        Loss(&'static str),
    }

    #[test]
    fn a_candidate_behind_a_node_that_may_not_be_promoted_waits_for_it() {
        use Want::*;
        const AT: &str = "3:0/5000000";
        // (mode, the other participants, roles, waited of a 30 s grace, expected)
        type Row = (
            ReplicationMode,
            &'static [(&'static str, &'static str)],
            &'static [(&'static str, &'static str)],
            u64,
            Want,
        );
        let table: &[Row] = &[
            (StrictSync, &[("n2", "3:0/6000000")], &[], 0, Pass),
            (
                StrictSync,
                &[("n2", "3:0/6000000")],
                &[("n2", "nopromote")],
                0,
                Wait("n2"),
            ),
            // strict-sync waits for as long as it takes.
            (
                StrictSync,
                &[("n2", "3:0/6000000")],
                &[("n2", "nopromote")],
                86_400,
                Wait("n2"),
            ),
            // sync and async: the grace is the bound on losing it.
            (
                Sync,
                &[("n2", "3:0/6000000")],
                &[("n2", "nopromote")],
                29,
                Wait("n2"),
            ),
            (
                Sync,
                &[("n2", "3:0/6000000")],
                &[("n2", "nopromote")],
                30,
                Loss("n2"),
            ),
            (
                Async,
                &[("n2", "3:0/6000000")],
                &[("n2", "nopromote")],
                0,
                Wait("n2"),
            ),
            (
                Async,
                &[("n2", "3:0/6000000")],
                &[("n2", "nopromote")],
                30,
                Loss("n2"),
            ),
            // Not ahead: a tie or behind passes.
            (
                StrictSync,
                &[("n2", AT), ("n3", "3:0/4000000")],
                &[("n2", "nopromote"), ("n3", "nopromote")],
                0,
                Pass,
            ),
            // The most advanced of them is named.
            (
                StrictSync,
                &[("n2", "3:0/6000000"), ("n3", "4:0/1000000"), ("n4", "5:0/0")],
                &[("n2", "nopromote"), ("n3", "nopromote")],
                0,
                Wait("n3"),
            ),
        ];
        for (mode, others, given, waited_s, want) in table {
            let published: BTreeMap<String, Position> =
                others.iter().map(|(n, p)| (n.to_string(), pos(p))).collect();
            let got = match barred_ahead(*mode, pos(AT), &published, &roles(given), *waited_s, 30) {
                Barred::Pass => Pass,
                Barred::Wait { node, reason, theirs } => {
                    assert!(reason.contains(&format!("({theirs} > {AT})")), "{reason}");
                    // What the exit reason must show fits in it; the rest is in the
                    // gate attribute, whole.
                    let essential = reason.find(": waiting").unwrap();
                    assert!(
                        essential + "not promoted: ".len() < 100,
                        "fits an exit reason: {reason}"
                    );
                    Wait(if node == "n2" { "n2" } else { "n3" })
                }
                Barred::PromoteWithLoss { node, warning } => {
                    assert!(warning.contains("the WAL only n2 has is lost"), "{warning}");
                    Loss(if node == "n2" { "n2" } else { "n3" })
                }
            };
            assert_eq!(&got, want, "{mode:?} {others:?} {given:?} waited {waited_s}");
        }
    }

    #[test]
    fn the_quorum_gate_never_hands_over_to_a_node_that_may_not_be_promoted() {
        let given = roles(&[("n2", "nopromote")]);
        let to = |node: &str| Gate::HandOver {
            node: node.into(),
            theirs: pos("3:0/6000000"),
        };
        assert_eq!(gate_after_roles(to("n2"), &given), Gate::Promote);
        assert_eq!(gate_after_roles(to("n3"), &given), to("n3"));
        assert_eq!(gate_after_roles(Gate::Promote, &given), Gate::Promote);
        let published: BTreeMap<String, Position> =
            [("n2".to_string(), pos(AT_)), ("n3".to_string(), pos(AT_))].into();
        assert_eq!(
            promotable(&published, &given).into_keys().collect::<Vec<_>>(),
            ["n3"]
        );
    }

    const AT_: &str = "3:0/5000000";

    #[test]
    fn an_equal_candidate_with_a_higher_priority_is_preferred() {
        // (the others' positions, roles, expected) for n1 at AT_.
        type Row = (
            &'static [(&'static str, &'static str)],
            &'static [(&'static str, &'static str)],
            Option<&'static str>,
        );
        let table: &[Row] = &[
            (&[("n2", AT_)], &[], None),
            (&[("n2", AT_)], &[("n2", "priority=1")], Some("n2")),
            (
                &[("n2", AT_)],
                &[("n2", "priority=1"), ("n1", "priority=1")],
                None,
            ),
            // Only the very same position: behind is no equal.
            (&[("n2", "3:0/4FFFFFF")], &[("n2", "priority=9")], None),
            // The highest, then the first name; never one that may not be promoted.
            (
                &[("n2", AT_), ("n3", AT_), ("n4", AT_), ("n5", AT_)],
                &[
                    ("n2", "priority=2"),
                    ("n3", "priority=5"),
                    ("n4", "priority=5"),
                    ("n5", "nopromote,priority=9"),
                ],
                Some("n3"),
            ),
            // 0 for a node with no priority: above a negative one.
            (&[("n2", AT_)], &[("n1", "priority=-1")], Some("n2")),
            (
                &[("n2", AT_)],
                &[("n1", "priority=-1"), ("n2", "priority=-1")],
                None,
            ),
        ];
        for (others, given, expected) in table {
            let published: BTreeMap<String, Position> =
                others.iter().map(|(n, p)| (n.to_string(), pos(p))).collect();
            assert_eq!(
                preferred_among_equals(pos(AT_), "n1", &published, &roles(given)).as_deref(),
                *expected,
                "{others:?} {given:?}"
            );
        }
    }

    #[test]
    fn nosync_nodes_are_never_listed_but_strict_sync_never_goes_alone() {
        // (mode, streaming, known, members, roles, expected lists, listed anyway)
        type Row = (
            ReplicationMode,
            &'static [&'static str],
            &'static [&'static str],
            &'static [&'static str],
            &'static [(&'static str, &'static str)],
            [&'static [&'static str]; 3],
            &'static [&'static str],
        );
        let table: &[Row] = &[
            (
                Sync,
                &["n2", "n3"],
                &["n2", "n3"],
                &["n2", "n3"],
                &[],
                [&["n2", "n3"], &["n2", "n3"], &["n2", "n3"]],
                &[],
            ),
            (
                Sync,
                &["n2", "n3"],
                &["n2", "n3"],
                &["n2", "n3"],
                &[("n3", "nosync")],
                [&["n2"], &["n2"], &["n2"]],
                &[],
            ),
            // sync with only nosync standbys: none listed (commits are
            // acknowledged alone, as with no standby; the monitor says so).
            (
                Sync,
                &["n3"],
                &["n3"],
                &["n3"],
                &[("n3", "nosync")],
                [&[], &[], &[]],
                &[],
            ),
            // strict-sync waits for a member that may be synchronous, even
            // a stopped one, rather than list the nosync one that streams.
            (
                StrictSync,
                &["n3"],
                &["n3"],
                &["n2", "n3"],
                &[("n3", "nosync")],
                [&[], &[], &["n2"]],
                &[],
            ),
            // strict-sync with no member that may be: listed anyway.
            (
                StrictSync,
                &["n3"],
                &["n3"],
                &["n3"],
                &[("n3", "nosync")],
                [&["n3"], &["n3"], &["n3"]],
                &["n3"],
            ),
            // A priority changes nothing here.
            (
                StrictSync,
                &["n2"],
                &[],
                &["n2"],
                &[("n2", "priority=3")],
                [&["n2"], &[], &["n2"]],
                &[],
            ),
        ];
        for (mode, streaming, known, members, given, [s, k, m], anyway) in table {
            let got = sync_candidates(
                *mode,
                &names(streaming),
                &names(known),
                &names(members),
                &roles(given),
            );
            let want = SyncCandidates {
                streaming: names(s),
                known: names(k),
                members: names(m),
                listed_anyway: names(anyway),
            };
            assert_eq!(
                got, want,
                "{mode:?} {streaming:?} {known:?} {members:?} {given:?}"
            );
            assert_eq!(
                listed_anyway_reason(&got.listed_anyway).is_some(),
                !anyway.is_empty()
            );
        }
    }

    #[test]
    fn a_new_primarys_followers_get_a_standbys_score_unless_they_may_not_be_promoted() {
        let given = roles(&[("n3", "nopromote"), ("n4", "priority=3")]);
        assert_eq!(
            follower_scores(&names(&["n2", "n3", "n4"]), &given),
            vec![
                ("n2".to_string(), SCORE_STANDBY),
                ("n3".to_string(), SCORE_NO_PROMOTE),
                ("n4".to_string(), SCORE_STANDBY)
            ]
        );
    }
}
