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
//! restarted), a standby gives itself [`SCORE_BOOTSTRAP`] (one more for a
//! former primary) so that Pacemaker has someone to promote.
//!
//! `crate::replication::publish` reads the memory and the attributes, calls these
//! rules and writes what they decide.

use std::collections::BTreeMap;

use crate::pg::replication::Replica;
use crate::vocab::SyncState;

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

/// How long a standby that was not a primary waits, not streaming, before
/// it gives itself the bootstrap score.
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
        .filter(|r| r.state == "streaming")
        .filter_map(|r| r.flush)
        .max()
        .unwrap_or_default();
    let mut scores: BTreeMap<String, i64> = known.iter().map(|n| (n.clone(), SCORE_DISCONNECTED)).collect();
    for r in replicas.iter().filter(|r| r.name != me) {
        let score = if r.state != "streaming" {
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
        for r in replicas
            .iter()
            .filter(|r| !SyncState::parse(&r.sync_state).is_synchronous())
        {
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

/// Whether a standby with no primary streaming to it looks at the promotion
/// scores now: at most every [`BOOTSTRAP_CHECK_S`] (`checked_age`: since it
/// last looked); a former primary (`preferred`), the natural first
/// candidate, at once; the others once they have not streamed for
/// [`BOOTSTRAP_WAIT_S`] (`not_streaming_for`), so that it goes first.
pub fn bootstrap_due(checked_age: Option<u64>, preferred: bool, not_streaming_for: Option<u64>) -> bool {
    if checked_age.is_some_and(|a| a < BOOTSTRAP_CHECK_S) {
        return false;
    }
    preferred || not_streaming_for.is_some_and(|a| a >= BOOTSTRAP_WAIT_S)
}

/// The bootstrap score this standby gives itself, if any: only when no node
/// has a positive score and this node (`me`) has none at all. A former
/// primary gets one more; the election at promote time still hands the
/// promotion to a more advanced standby if there is one.
pub fn bootstrap_score(preferred: bool, scores: &BTreeMap<String, i64>, me: &str) -> Option<i64> {
    if scores.values().any(|s| *s > 0) || scores.contains_key(me) {
        return None;
    }
    Some(if preferred {
        SCORE_BOOTSTRAP + 1
    } else {
        SCORE_BOOTSTRAP
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::lsn::Lsn;

    fn replica(name: &str, state: &str, sync_state: &str, flush: u64, lag: u64) -> Replica {
        Replica {
            name: name.into(),
            state: state.into(),
            sync_state: sync_state.into(),
            flush: Some(Lsn(flush)),
            lag: Some(lag),
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
    fn bootstrap_score_only_when_nobody_is_promotable() {
        // (checked age, preferred, not streaming for, scores, expected):
        // None = not due (no look at the scores), Some(score) otherwise.
        type Row = (
            Option<u64>,
            bool,
            Option<u64>,
            &'static [(&'static str, i64)],
            Option<Option<i64>>,
        );
        let table: &[Row] = &[
            // A former primary goes first.
            (None, true, Some(0), &[], Some(Some(SCORE_BOOTSTRAP + 1))),
            (
                None,
                true,
                None,
                &[("n2", -1000)],
                Some(Some(SCORE_BOOTSTRAP + 1)),
            ),
            // The others wait BOOTSTRAP_WAIT_S not streaming.
            (None, false, None, &[], None),
            (None, false, Some(BOOTSTRAP_WAIT_S - 1), &[], None),
            (
                None,
                false,
                Some(BOOTSTRAP_WAIT_S),
                &[],
                Some(Some(SCORE_BOOTSTRAP)),
            ),
            (
                None,
                false,
                Some(300),
                &[("n2", 0), ("n3", -1)],
                Some(Some(SCORE_BOOTSTRAP)),
            ),
            // Looked less than a minute ago.
            (Some(BOOTSTRAP_CHECK_S - 1), true, Some(300), &[], None),
            (
                Some(BOOTSTRAP_CHECK_S),
                true,
                Some(300),
                &[],
                Some(Some(SCORE_BOOTSTRAP + 1)),
            ),
            // Someone is promotable.
            (None, true, Some(300), &[("n2", 1)], Some(None)),
            (None, false, Some(300), &[("n2", SCORE_STANDBY)], Some(None)),
            // This node has a score already, even a non-positive one.
            (None, false, Some(300), &[("n1", -1)], Some(None)),
            (None, true, Some(300), &[("n1", SCORE_BOOTSTRAP)], Some(None)),
        ];
        for &(checked, preferred, not_streaming, scores, expected) in table {
            let scores: BTreeMap<String, i64> = scores.iter().map(|(n, s)| (n.to_string(), *s)).collect();
            let got = bootstrap_due(checked, preferred, not_streaming)
                .then(|| bootstrap_score(preferred, &scores, "n1"));
            assert_eq!(
                got, expected,
                "checked {checked:?} preferred {preferred} not streaming {not_streaming:?} {scores:?}"
            );
        }
    }
}
