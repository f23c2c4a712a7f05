//! The promotion scores the monitors publish, as pure rules.
//!
//! Scores are set by the primary, from its own view of the standbys in
//! `pg_stat_replication` (the standbys cannot judge themselves once the
//! primary is gone): streaming and within `maxlag` -> [`SCORE_STANDBY`]
//! (slightly less, [`SCORE_BEHIND`], when more than a WAL segment behind the
//! best one); connecting or catching up -> [`SCORE_CATCHUP`]; beyond
//! `maxlag` -> [`SCORE_LAGGING`]; disconnected -> [`SCORE_DISCONNECTED`],
//! after [`DISCONNECT_GRACE_S`]; in sync modes a standby that is not
//! synchronous gets at most [`SCORE_NOT_SYNC`]. The primary's own score is
//! [`SCORE_PRIMARY`]. With no primary at all (first start, or every node
//! restarted), the most advanced standby that is up gives itself
//! [`SCORE_BOOTSTRAP`] (one more for a former primary) so that Pacemaker has
//! someone to promote ([`bootstrap`]).
//!
//! `crate::replication::publish` reads the memory and the attributes, calls these
//! rules and writes what they decide.

use std::collections::BTreeMap;

use crate::pg::replication::Replica;
use crate::policy::promotion::most_advanced;
use crate::vocab::{NodeRoles, Position, WalSenderState};

pub const SCORE_PRIMARY: i64 = 1001;
pub const SCORE_STANDBY: i64 = 1000;
pub const SCORE_BEHIND: i64 = 900;
pub const SCORE_CATCHUP: i64 = -1;
pub const SCORE_LAGGING: i64 = -10;
pub const SCORE_DISCONNECTED: i64 = -1000;
pub const SCORE_BOOTSTRAP: i64 = 1;
/// Score of a streaming standby that is not synchronous while the mode asks
/// for synchronous ones: promotable only when no synchronous one is left.
pub const SCORE_NOT_SYNC: i64 = 500;

/// One WAL segment: standbys this close to the best are equal candidates.
pub const SEGMENT: u64 = 16 * 1024 * 1024;

/// How long a standby may be missing from pg_stat_replication before the
/// primary lowers its score to [`SCORE_DISCONNECTED`].
pub const DISCONNECT_GRACE_S: u64 = 30;

/// How long a standby with no primary waits for the position of a node of
/// its partition that has not published one yet (its instance is still
/// starting, or it runs no instance of the clone) before it decides without.
pub const BOOTSTRAP_WAIT_S: u64 = 10;

/// A standby looks for a promotable node at most this often.
pub const BOOTSTRAP_CHECK_S: u64 = 60;

/// Scores for the standbys the primary sees (`replicas`: the cluster's
/// standbys in `pg_stat_replication`), and [`SCORE_DISCONNECTED`] for those
/// it scored before (`known`) and no longer sees. In sync modes, a standby
/// with a walsender that is not synchronous is capped at [`SCORE_NOT_SYNC`].
/// Never a score for `me`.
pub fn standby_scores(
    replicas: &[Replica],
    maxlag: u64,
    sync_modes: bool,
    me: &str,
    known: &[String],
) -> BTreeMap<String, i64> {
    let best = replicas
        .iter()
        .filter(|r| r.state == WalSenderState::Streaming)
        .filter_map(|r| r.flush)
        .max()
        .unwrap_or_default();
    let mut scores: BTreeMap<String, i64> = known.iter().map(|n| (n.clone(), SCORE_DISCONNECTED)).collect();
    for r in replicas.iter().filter(|r| r.name != me) {
        let score = if r.state != WalSenderState::Streaming {
            SCORE_CATCHUP
        } else if maxlag > 0 && r.lag.unwrap_or(u64::MAX) > maxlag {
            SCORE_LAGGING
        } else if best.0.saturating_sub(r.flush.unwrap_or_default().0) > SEGMENT {
            SCORE_BEHIND
        } else {
            SCORE_STANDBY
        };
        // Two walsenders for one node (a reconnect in progress): the better.
        let entry = scores.entry(r.name.clone()).or_insert(score);
        if *entry == SCORE_DISCONNECTED || score > *entry {
            *entry = score;
        }
    }
    scores.remove(me);
    if sync_modes {
        for r in replicas.iter().filter(|r| !r.sync_state.is_synchronous()) {
            if let Some(score) = scores.get_mut(&r.name) {
                *score = (*score).min(SCORE_NOT_SYNC);
            }
        }
    }
    scores
}

/// Whether the primary writes a standby's score now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreDecision {
    Publish(i64),
    /// Keep the score it has: missing for less than the grace period.
    Hold,
}

/// A standby that just lost its connection (a primary just promoted, the
/// VIP moving, a receiver retrying) keeps its score for
/// [`DISCONNECT_GRACE_S`]: lowering it at once left a window where a second
/// failure found no promotable standby (seen in the lab right after a
/// bootstrap promotion). `missing_for`: the age of the memory's
/// `missing.<node>` flag, which is on exactly while `score` is
/// [`SCORE_DISCONNECTED`] (None while off).
pub fn after_grace(score: i64, missing_for: Option<u64>) -> ScoreDecision {
    if missing_for.is_some_and(|a| a < DISCONNECT_GRACE_S) {
        ScoreDecision::Hold
    } else {
        ScoreDecision::Publish(score)
    }
}

/// Whether a standby with no primary streaming to it (`not_streaming_for`
/// is Some) looks at the promotion scores now: at once, unless it looked
/// less than [`BOOTSTRAP_CHECK_S`] ago and found someone promotable
/// (`checked_age`).
pub fn bootstrap_due(checked_age: Option<u64>, not_streaming_for: Option<u64>) -> bool {
    not_streaming_for.is_some() && checked_age.is_none_or(|a| a >= BOOTSTRAP_CHECK_S)
}

/// What a standby that no primary streams to knows when it considers the
/// bootstrap score (first start, or every node restarted).
#[derive(Debug)]
pub struct BootstrapView<'a> {
    pub me: &'a str,
    /// This instance was a primary when it last started: it wins ties.
    pub former_primary: bool,
    pub mine: Position,
    /// Every node's promotion score.
    pub scores: &'a BTreeMap<String, i64>,
    /// The positions the other running standbys published, as compared
    /// with `mine` (`policy::promotion::bootstrap_positions`: by history
    /// where both are known).
    pub positions: &'a BTreeMap<String, Position>,
    /// Those of them whose history forked from this node's.
    pub forked: &'a [String],
    /// The nodes of this partition (`crm_node -p`); None when unknown.
    pub partition: Option<&'a [String]>,
    /// Seconds since this standby stopped streaming (or started).
    pub waited_s: u64,
    /// The operator's role flags: a node that may not be promoted never
    /// takes the score, nor is deferred to; ties go to the higher priority.
    pub roles: &'a NodeRoles,
}

/// The bootstrap decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// A node is promotable already, or this one has a score: nothing to do
    /// for [`BOOTSTRAP_CHECK_S`].
    NotNeeded,
    /// `node`, up in this partition, is more advanced (or ties and goes
    /// first): it takes the score. Looked at again at the next monitor.
    Behind(String),
    /// `node`, up in this partition, is on a fork of this node's history
    /// and holds more WAL past the fork point: it takes the score, and
    /// this node will need a rewind to follow it.
    Forked(String),
    /// These nodes of the partition have not published a position yet.
    Waiting(Vec<String>),
    /// Give ourselves this score.
    Score(i64),
    /// This node may not be promoted (`nopromote`): another one must be.
    MayNotBePromoted,
}

/// With no primary anywhere, Pacemaker needs a node with a positive score
/// to promote. The most advanced standby that is up gives itself
/// [`SCORE_BOOTSTRAP`] (one more for a former primary) as soon as every node
/// of its partition has published its position, or [`BOOTSTRAP_WAIT_S`]
/// after it stopped streaming: a node behind another candidate that is up is
/// never the one (issue 12; the election at promote time checks again).
/// Ties go to the higher priority, then to the former primary, then to the
/// first name. Only nodes that may be promoted count here: one that may
/// not be is never the one, and a candidate behind it is held by the
/// roles' gate (`policy::roles::barred_ahead`) once it decides to score.
/// The positions come compared by history where the nodes published one
/// (`policy::promotion::bootstrap_positions`): the same WAL on a higher
/// timeline number is a tie, and a node on a fork with more WAL past it
/// goes first as [`Bootstrap::Forked`].
pub fn bootstrap(view: &BootstrapView) -> Bootstrap {
    if view.scores.values().any(|s| *s > 0) || view.scores.contains_key(view.me) {
        return Bootstrap::NotNeeded;
    }
    if !view.roles.may_promote(view.me) {
        return Bootstrap::MayNotBePromoted;
    }
    let others = view
        .positions
        .iter()
        .filter(|(n, _)| n.as_str() != view.me && view.roles.may_promote(n));
    if let Some((node, _)) = most_advanced(view.mine, others.clone()) {
        return if view.forked.iter().any(|f| f == node) {
            Bootstrap::Forked(node.to_string())
        } else {
            Bootstrap::Behind(node.to_string())
        };
    }
    let priority = |n: &str| view.roles.of(n).priority;
    let mine = priority(view.me);
    let equals = others.clone().filter(|(_, p)| **p == view.mine);
    if let Some((node, _)) = equals
        .clone()
        .filter(|(n, _)| priority(n) > mine)
        .min_by_key(|(n, _)| (std::cmp::Reverse(priority(n)), n.as_str()))
    {
        return Bootstrap::Behind(node.clone());
    }
    if !view.former_primary {
        if let Some((node, _)) = equals
            .filter(|(n, _)| priority(n) == mine && n.as_str() < view.me)
            .min_by_key(|(n, _)| n.as_str())
        {
            return Bootstrap::Behind(node.clone());
        }
    }
    let unpublished: Vec<String> = view
        .partition
        .unwrap_or_default()
        .iter()
        .filter(|n| n.as_str() != view.me && !view.positions.contains_key(n.as_str()))
        .cloned()
        .collect();
    if !unpublished.is_empty() && view.waited_s < BOOTSTRAP_WAIT_S {
        return Bootstrap::Waiting(unpublished);
    }
    Bootstrap::Score(if view.former_primary {
        SCORE_BOOTSTRAP + 1
    } else {
        SCORE_BOOTSTRAP
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Lsn, SyncState};

    fn replica(name: &str, state: &str, sync_state: &str, flush: u64, lag: u64) -> Replica {
        Replica {
            name: name.into(),
            state: WalSenderState::parse(state),
            sync_state: SyncState::parse(sync_state),
            flush: Some(Lsn(flush)),
            lag: Some(lag),
            pid: None,
        }
    }

    #[test]
    fn ranks_standbys_from_the_primarys_view() {
        let s = SEGMENT;
        let streaming = |n: &str, flush, lag| replica(n, "streaming", "async", flush, lag);
        let sync = |n: &str, flush, lag| replica(n, "streaming", "sync", flush, lag);
        // (replicas, maxlag, sync_modes, known, expected scores); me is n1.
        type Row = (
            Vec<Replica>,
            u64,
            bool,
            &'static [&'static str],
            &'static [(&'static str, i64)],
        );
        let table: Vec<Row> = vec![
            (
                vec![
                    streaming("n2", 100 * s, 0),
                    streaming("n3", 90 * s, 10 * s),
                    replica("n4", "catchup", "async", 50 * s, 50 * s),
                    streaming("n1", 100 * s, 0), // never scores itself
                ],
                0,
                false,
                &["n5", "n2"],
                &[
                    ("n2", SCORE_STANDBY),
                    ("n3", SCORE_BEHIND),
                    ("n4", SCORE_CATCHUP),
                    ("n5", SCORE_DISCONNECTED),
                ],
            ),
            // Within one segment of the best: an equal candidate.
            (
                vec![streaming("n2", 100 * s, 0), streaming("n3", 99 * s, s)],
                0,
                false,
                &[],
                &[("n2", SCORE_STANDBY), ("n3", SCORE_STANDBY)],
            ),
            // Beyond maxlag is never promotable.
            (
                vec![streaming("n2", 100 * s, 0), streaming("n3", 90 * s, 10 * s)],
                s,
                false,
                &[],
                &[("n2", SCORE_STANDBY), ("n3", SCORE_LAGGING)],
            ),
            // Two walsenders of one node: the better one.
            (
                vec![
                    replica("n2", "startup", "async", 0, 0),
                    streaming("n2", 100 * s, 0),
                ],
                0,
                false,
                &["n2"],
                &[("n2", SCORE_STANDBY)],
            ),
            // Sync modes cap a standby that is not synchronous.
            (
                vec![
                    sync("n2", 100 * s, 0),
                    streaming("n3", 100 * s, 0),
                    replica("n4", "streaming", "potential", 100 * s, 0),
                ],
                0,
                true,
                &[],
                &[
                    ("n2", SCORE_STANDBY),
                    ("n3", SCORE_NOT_SYNC),
                    ("n4", SCORE_NOT_SYNC),
                ],
            ),
            (
                vec![streaming("n3", 100 * s, 0)],
                0,
                false,
                &[],
                &[("n3", SCORE_STANDBY)],
            ), // async mode: no cap
            // The cap never raises a score.
            (
                vec![replica("n3", "catchup", "async", 0, 0)],
                0,
                true,
                &[],
                &[("n3", SCORE_CATCHUP)],
            ),
            // A walsender of a node that is not synchronous caps it, even
            // if its other one is (reconnect in progress).
            (
                vec![sync("n2", 100 * s, 0), streaming("n2", 100 * s, 0)],
                0,
                true,
                &[],
                &[("n2", SCORE_NOT_SYNC)],
            ),
            // A standby that no longer connects is disconnected, whatever
            // sync state it had (lab: stale "quorum"): -1000, not capped up.
            (
                vec![sync("n2", 100 * s, 0)],
                0,
                true,
                &["n2", "n3"],
                &[("n2", SCORE_STANDBY), ("n3", SCORE_DISCONNECTED)],
            ),
            // A quorum standby that stopped streaming is catching up.
            (
                vec![replica("n3", "stopping", "quorum", 100 * s, 0)],
                0,
                true,
                &[],
                &[("n3", SCORE_CATCHUP)],
            ),
            (vec![], 0, true, &["n1"], &[]),
        ];
        for (replicas, maxlag, sync_modes, known, expected) in table {
            let known: Vec<String> = known.iter().map(|n| n.to_string()).collect();
            let expected: BTreeMap<String, i64> = expected.iter().map(|(n, v)| (n.to_string(), *v)).collect();
            assert_eq!(
                standby_scores(&replicas, maxlag, sync_modes, "n1", &known),
                expected,
                "{replicas:?} maxlag {maxlag} sync {sync_modes} known {known:?}"
            );
        }
    }

    #[test]
    fn a_missing_standby_keeps_its_score_for_the_grace_period() {
        use ScoreDecision::*;
        // (score, missing for, decision)
        let table = [
            (SCORE_STANDBY, None, Publish(SCORE_STANDBY)),
            (SCORE_NOT_SYNC, None, Publish(SCORE_NOT_SYNC)),
            // Right after a promotion, a follower not connected yet (lab):
            // it keeps the standby's score for 30 s, then drops to -1000.
            (SCORE_DISCONNECTED, Some(0), Hold),
            (SCORE_DISCONNECTED, Some(29), Hold),
            (
                SCORE_DISCONNECTED,
                Some(DISCONNECT_GRACE_S),
                Publish(SCORE_DISCONNECTED),
            ),
            (SCORE_DISCONNECTED, Some(3600), Publish(SCORE_DISCONNECTED)),
        ];
        for (score, missing_for, expected) in table {
            assert_eq!(
                after_grace(score, missing_for),
                expected,
                "{score} missing {missing_for:?}"
            );
        }
    }

    #[test]
    fn bootstrap_is_due_while_not_streaming_and_not_just_checked() {
        assert!(!bootstrap_due(None, None), "streaming");
        assert!(bootstrap_due(None, Some(0)), "at once, first monitor after start");
        assert!(!bootstrap_due(Some(BOOTSTRAP_CHECK_S - 1), Some(300)));
        assert!(bootstrap_due(Some(BOOTSTRAP_CHECK_S), Some(300)));
    }

    /// Issue 12: after a full restart without the former primary, the
    /// standbys waited 10 s and a monitor interval (22-27 s to stable writes)
    /// before one gave itself a score. Now the most advanced one that is up
    /// goes as soon as every node of the partition published its position.
    #[test]
    fn the_most_advanced_standby_that_is_up_takes_the_bootstrap_score() {
        let pos = |tl, lsn| Position {
            timeline: tl,
            lsn: Lsn(lsn),
        };
        let names = |v: &[&str]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let all = names(&["n1", "n2", "n3"]);
        // (former primary, mine, scores, others' positions, partition, waited, expected)
        type Row<'a> = (
            bool,
            Position,
            &'a [(&'a str, i64)],
            Vec<(&'a str, Position)>,
            Option<&'a [String]>,
            u64,
            Bootstrap,
        );
        let table: Vec<Row> = vec![
            // Everyone up has published; we are the most advanced: at once.
            (
                false,
                pos(2, 300),
                &[],
                vec![("n2", pos(2, 200)), ("n3", pos(1, 900))],
                Some(&all),
                0,
                Bootstrap::Score(SCORE_BOOTSTRAP),
            ),
            (
                true,
                pos(2, 300),
                &[("n2", -1000)],
                vec![("n2", pos(2, 300)), ("n3", pos(2, 300))],
                Some(&all),
                0,
                Bootstrap::Score(SCORE_BOOTSTRAP + 1),
            ),
            // Another node that is up is more advanced: never us.
            (
                true,
                pos(2, 300),
                &[],
                vec![("n2", pos(2, 301)), ("n3", pos(3, 1))],
                Some(&all),
                600,
                Bootstrap::Behind("n3".into()),
            ),
            // A tie goes to the first name, unless we were the primary.
            (
                false,
                pos(2, 300),
                &[],
                vec![("n0", pos(2, 300))],
                None,
                0,
                Bootstrap::Behind("n0".into()),
            ),
            (
                true,
                pos(2, 300),
                &[],
                vec![("n0", pos(2, 300))],
                None,
                0,
                Bootstrap::Score(SCORE_BOOTSTRAP + 1),
            ),
            (
                false,
                pos(2, 300),
                &[],
                vec![("n2", pos(2, 300))],
                Some(&all[..2]),
                0,
                Bootstrap::Score(SCORE_BOOTSTRAP),
            ),
            // A node of the partition has not published: wait, but not forever.
            (
                false,
                pos(2, 300),
                &[],
                vec![("n3", pos(2, 100))],
                Some(&all),
                BOOTSTRAP_WAIT_S - 1,
                Bootstrap::Waiting(names(&["n2"])),
            ),
            (
                false,
                pos(2, 300),
                &[],
                vec![("n3", pos(2, 100))],
                Some(&all),
                BOOTSTRAP_WAIT_S,
                Bootstrap::Score(SCORE_BOOTSTRAP),
            ),
            // Partition unknown: the positions published decide.
            (
                false,
                pos(2, 300),
                &[],
                vec![],
                None,
                0,
                Bootstrap::Score(SCORE_BOOTSTRAP),
            ),
            // Someone is promotable, or this node has a score already.
            (
                true,
                pos(9, 9),
                &[("n2", 1)],
                vec![],
                Some(&all),
                600,
                Bootstrap::NotNeeded,
            ),
            (
                false,
                pos(9, 9),
                &[("n1", -1)],
                vec![],
                Some(&all),
                600,
                Bootstrap::NotNeeded,
            ),
        ];
        for (former_primary, mine, scores, positions, partition, waited_s, expected) in table {
            let scores: BTreeMap<String, i64> = scores.iter().map(|(n, s)| (n.to_string(), *s)).collect();
            let positions: BTreeMap<String, Position> =
                positions.iter().map(|(n, p)| (n.to_string(), *p)).collect();
            let view = BootstrapView {
                me: "n1",
                former_primary,
                mine,
                scores: &scores,
                positions: &positions,
                forked: &[],
                partition,
                waited_s,
                roles: &NodeRoles::default(),
            };
            assert_eq!(bootstrap(&view), expected, "{view:?}");
        }
    }

    /// The bootstrap after a full restart when the most advanced node may
    /// not be promoted: it never takes the score, nobody defers to it (the
    /// roles' gate then holds the best of the others), and ties go to the
    /// higher priority.
    #[test]
    fn the_bootstrap_score_respects_the_roles() {
        use crate::vocab::RoleFlags;
        let pos = |lsn| Position {
            timeline: 2,
            lsn: Lsn(lsn),
        };
        let roles = |list: &[(&str, &str)]| {
            NodeRoles(
                list.iter()
                    .map(|(n, f)| (n.to_string(), f.parse::<RoleFlags>().unwrap()))
                    .collect(),
            )
        };
        // (former primary, mine, others, roles, expected); n1 is this node.
        type Row<'a> = (bool, Position, Vec<(&'a str, Position)>, NodeRoles, Bootstrap);
        let table: Vec<Row> = vec![
            // This node may not be promoted, however advanced.
            (
                true,
                pos(900),
                vec![("n2", pos(100))],
                roles(&[("n1", "nopromote")]),
                Bootstrap::MayNotBePromoted,
            ),
            // The most advanced may not be promoted: not deferred to (the
            // gate holds this node once it scores).
            (
                false,
                pos(300),
                vec![("n2", pos(900))],
                roles(&[("n2", "nopromote")]),
                Bootstrap::Score(SCORE_BOOTSTRAP),
            ),
            // ... but a node that may be, ahead, still is.
            (
                false,
                pos(300),
                vec![("n2", pos(900)), ("n3", pos(400))],
                roles(&[("n2", "nopromote")]),
                Bootstrap::Behind("n3".into()),
            ),
            // Ties: the higher priority first, even before a former primary.
            (
                true,
                pos(300),
                vec![("n3", pos(300))],
                roles(&[("n3", "priority=1")]),
                Bootstrap::Behind("n3".into()),
            ),
            (
                false,
                pos(300),
                vec![("n0", pos(300))],
                roles(&[("n1", "priority=1")]),
                Bootstrap::Score(SCORE_BOOTSTRAP),
            ),
            (
                false,
                pos(300),
                vec![("n2", pos(300)), ("n3", pos(300))],
                roles(&[("n2", "priority=2"), ("n3", "priority=3")]),
                Bootstrap::Behind("n3".into()),
            ),
            // Equal priorities: as before, the first name.
            (
                false,
                pos(300),
                vec![("n0", pos(300))],
                roles(&[("n0", "priority=2"), ("n1", "priority=2")]),
                Bootstrap::Behind("n0".into()),
            ),
            // A tie with a node that may not be promoted defers to nobody.
            (
                false,
                pos(300),
                vec![("n0", pos(300))],
                roles(&[("n0", "nopromote,priority=9")]),
                Bootstrap::Score(SCORE_BOOTSTRAP),
            ),
            // A priority never beats a more advanced node.
            (
                false,
                pos(300),
                vec![("n2", pos(301))],
                roles(&[("n1", "priority=9")]),
                Bootstrap::Behind("n2".into()),
            ),
        ];
        let scores = BTreeMap::new();
        for (former_primary, mine, positions, roles, expected) in table {
            let positions: BTreeMap<String, Position> =
                positions.iter().map(|(n, p)| (n.to_string(), *p)).collect();
            let view = BootstrapView {
                me: "n1",
                former_primary,
                mine,
                scores: &scores,
                positions: &positions,
                forked: &[],
                partition: None,
                waited_s: 0,
                roles: &roles,
            };
            assert_eq!(bootstrap(&view), expected, "{view:?}");
        }
    }
}
