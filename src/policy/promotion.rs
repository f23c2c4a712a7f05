//! The rules of `promote`: who wins the election, whether a switchover
//! target has every write the old primary acknowledged, and whether a sync
//! mode lets this standby be promoted. The action (`actions::promote`)
//! reads the round, the published positions, the shutdown checkpoints and
//! the sync attributes, calls these rules, and logs / fails / hands over as
//! they decide. [`round_id`] and [`round_votes`] keep the election to
//! this round's participants (issue 22: stale positions voted);
//! [`positions_by_history`] and [`bootstrap_positions`] compare
//! positions by history, not timeline number, by one rule.

use std::collections::BTreeMap;

use crate::pg::history::{ByHistory, History, compare_by_history};
use crate::pg::replication::StandbyStatus;
use crate::vocab::{Position, RoundId, RoundPosition};

impl Position {
    /// A standby's position: its timeline, and the greatest of what it
    /// received, replayed and holds on disk ([`StandbyStatus::position`]).
    /// After a full restart the receiver has not received anything yet: the
    /// end of the WAL in its `pg_wal` counts, not how far a delayed replay
    /// got (issue 22), and at least what it replayed (lab).
    pub fn of_standby(status: &StandbyStatus) -> Position {
        Position {
            timeline: status.timeline,
            lsn: status.position(),
        }
    }
}

/// The most advanced of `others` that is ahead of `mine` (a higher
/// timeline, or the same and a higher LSN); among equals, the last in
/// name order. The one way both the election and the bootstrap score
/// pick the node that should be primary.
pub fn most_advanced<'a>(
    mine: Position,
    others: impl Iterator<Item = (&'a String, &'a Position)>,
) -> Option<(&'a str, Position)> {
    others
        .filter(|(_, p)| **p > mine)
        .max_by_key(|(_, p)| **p)
        .map(|(n, p)| (n.as_str(), *p))
}

/// What promote does after the election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Election {
    /// No participant is better (ties proceed): go on with the checks.
    Proceed,
    /// `node` is more advanced: raise its score, lower ours, fail.
    HandOver { node: String, theirs: Position },
}

/// The election hand-over decision, over the positions the other
/// participants published: the most advanced, if it is ahead of `mine`
/// (ties go to us).
pub fn election(mine: Position, published: &BTreeMap<String, Position>) -> Election {
    match most_advanced(mine, published.iter()) {
        Some((node, theirs)) => Election::HandOver {
            node: node.to_string(),
            theirs,
        },
        None => Election::Proceed,
    }
}

/// The participants that can follow the new primary at `mine` right away
/// (they published no more WAL than it has), so they get a standby's score
/// at once.
pub fn followers(mine: Position, published: &BTreeMap<String, Position>, me: &str) -> Vec<String> {
    published
        .iter()
        .filter(|(n, p)| n.as_str() != me && p.lsn <= mine.lsn)
        .map(|(n, _)| n.clone())
        .collect()
}

/// One demoted node's checkpoint, as the switchover check judges it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoint {
    /// It published none: not a clean demote, nothing to check (warned).
    Unpublished,
    /// This standby received past it, on the same timeline.
    Passed(Position),
    /// Not past it, or on another timeline: the switchover is refused.
    NotPassed(Position),
}

/// In a switchover the target must have received past the shutdown
/// checkpoint of every node demoted in this round, on the same timeline:
/// at the checkpoint LSN exactly is not enough (the shutdown checkpoint
/// record itself is the last thing the old primary wrote). One verdict per
/// demoted node in order, ending at the first refusal.
pub fn switchover(
    mine: Position,
    demoted: &[String],
    checkpoints: &BTreeMap<String, Position>,
) -> Vec<(String, Checkpoint)> {
    let mut verdicts = Vec::new();
    for node in demoted {
        let verdict = match checkpoints.get(node) {
            None => Checkpoint::Unpublished,
            Some(&checkpoint) if mine.timeline != checkpoint.timeline || mine.lsn <= checkpoint.lsn => {
                Checkpoint::NotPassed(checkpoint)
            }
            Some(&checkpoint) => Checkpoint::Passed(checkpoint),
        };
        verdicts.push((node.clone(), verdict));
        if matches!(verdict, Checkpoint::NotPassed(_)) {
            break;
        }
    }
    verdicts
}

/// The id of an election round, the same on every node that takes part:
/// computed from what the pre-promote notification gives each of them
/// alike (the nodes to be promoted, the participants, the demoted ones;
/// each list in any order). A later round with other participants or
/// another target gets another id, so a position published for an earlier
/// round whose post-promote never came (a failed promote) no longer
/// votes. Two rounds with the very same lists share an id: between them
/// every participant publishes again, and a node outside them cannot
/// count ([`round_votes`]).
pub fn round_id(promoting: &[String], participants: &[String], demoted: &[String]) -> RoundId {
    // A node name has no NUL and no newline (it is a one-line XML attribute
    // value), so the canonical text is unambiguous.
    let mut text = String::new();
    for list in [promoting, participants, demoted] {
        let mut list: Vec<&str> = list.iter().map(String::as_str).collect();
        list.sort_unstable();
        list.dedup();
        for name in list {
            text.push_str(name);
            text.push('\0');
        }
        text.push('\n');
    }
    RoundId(crate::pg::names::fnv1a32(text.as_bytes()))
}

/// The votes of round `round`: those of its `participants` whose
/// published value ([`Attr`](crate::vocab::Attr)`::Election`, by node) is
/// tagged with this round. A stopped or banned node keeps the value it
/// published in an earlier round (withdrawn only at post-promote, which a
/// failed promote never gets): it is not a participant, and a
/// participant's own earlier value names another round, so neither wins
/// an election it takes no part in. An untagged or unreadable value is
/// left out too; the participant then counts as missing.
pub fn round_votes(
    round: RoundId,
    participants: &[String],
    published: &BTreeMap<String, String>,
) -> BTreeMap<String, RoundPosition> {
    published
        .iter()
        .filter(|(node, _)| participants.contains(node))
        .filter_map(|(node, value)| {
            let vote: RoundPosition = value.parse().ok()?;
            (vote.round == round).then(|| (node.clone(), vote))
        })
        .collect()
}

/// The positions of other nodes (`others`: name, position, published
/// history) as the election, the quorum gate and the bootstrap score
/// compare them with the candidate's (`mine`, of history `my_history`),
/// with the nodes whose history forked from the candidate's. Where both
/// histories are known (each on its own position's timeline), the LSNs
/// decide, not the timeline numbers:
///
/// - on one history, the node with the higher LSN holds all the other's
///   WAL and more; the same LSN is the same WAL, whatever the numbers (a
///   promotion that wrote nothing yet: `12:0/665F358` ties with
///   `10:0/665F358`: a hand-over between equals cost a failed promote),
///   and a node behind by history is behind whatever its number (timeline
///   numbers are reused);
/// - on a fork both hold the WAL up to the fork point, so the higher LSN
///   holds more past it, commits the other never had: that node counts as
///   ahead whatever the numbers (a higher number with less WAL is only a
///   later promotion, maybe one that failed before writing). Counting a
///   fork as never ahead let a former primary that wrote a little past a
///   fork and stayed away while the others went on promote itself over
///   them, throwing away everything they acknowledged since. The forked
///   node is not one the candidate could follow, so it is reported; both
///   sides of a fork compute the same answer, so exactly one of them wins.
///
/// A node without a published history (an agent of an older version), one
/// whose history is not on its position's timeline, or a candidate without
/// one compares by number, as before. Each position is returned as
/// compared: the candidate's timeline with the other's LSN where the
/// histories decided, the other's own where it is ahead on a higher one.
fn compare_with_mine<'a>(
    mine: Position,
    my_history: Option<&History>,
    others: impl Iterator<Item = (&'a String, Position, Option<&'a History>)>,
) -> (BTreeMap<String, Position>, Vec<String>) {
    let my_history = my_history.filter(|h| h.current == mine.timeline);
    let mut forked = Vec::new();
    let compared = others
        .map(|(node, theirs, their_history)| {
            let their_history = their_history.filter(|h| h.current == theirs.timeline);
            let Some((my_history, their_history)) = my_history.zip(their_history) else {
                return (node.clone(), theirs);
            };
            if compare_by_history(theirs, their_history, mine, my_history) == ByHistory::Diverged {
                forked.push(node.clone());
            }
            // On one history the LSNs agree with it, and on a fork they
            // say who has more WAL past it: the LSN decides, on the
            // candidate's timeline, so that a higher number alone is no
            // lead and the same LSN ties; ahead on a lower number still
            // compares as ahead.
            let on_mine = Position {
                timeline: mine.timeline,
                lsn: theirs.lsn,
            };
            let compared = if theirs.lsn > mine.lsn {
                theirs.max(on_mine)
            } else {
                on_mine
            };
            (node.clone(), compared)
        })
        .collect();
    (compared, forked)
}

/// This round's votes as the election and the quorum gate compare them
/// with the candidate's position ([`compare_with_mine`]). Returns the
/// positions and the nodes whose history forked from the candidate's.
pub fn positions_by_history(
    mine: Position,
    my_history: Option<&History>,
    votes: &BTreeMap<String, RoundPosition>,
) -> (BTreeMap<String, Position>, Vec<String>) {
    compare_with_mine(
        mine,
        my_history,
        votes
            .iter()
            .map(|(node, vote)| (node, vote.position, vote.history.as_ref())),
    )
}

/// The positions the other standbys published, with their histories, as
/// the bootstrap score compares them with the candidate's
/// ([`compare_with_mine`]).
pub fn bootstrap_positions(
    mine: Position,
    my_history: Option<&History>,
    positions: &BTreeMap<String, Position>,
    histories: &BTreeMap<String, History>,
) -> (BTreeMap<String, Position>, Vec<String>) {
    compare_with_mine(
        mine,
        my_history,
        positions
            .iter()
            .map(|(node, &theirs)| (node, theirs, histories.get(node))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Lsn;

    fn pos(s: &str) -> Position {
        s.parse().unwrap()
    }

    fn positions(list: &[(&str, &str)]) -> BTreeMap<String, Position> {
        list.iter().map(|(n, p)| (n.to_string(), pos(p))).collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_standby_stands_at_the_greater_of_received_and_replayed() {
        // (receive, replay, expected LSN)
        let table: &[(Option<u64>, Option<u64>, u64)] = &[
            (Some(0x300), Some(0x200), 0x300),
            // Full restart: nothing received yet, replayed up to where it was.
            (None, Some(0x500), 0x500),
            (Some(0x100), Some(0x500), 0x500),
            (None, None, 0),
        ];
        for &(receive, replay, expected) in table {
            let status = StandbyStatus {
                timeline: 3,
                receive: receive.map(Lsn),
                replay: replay.map(Lsn),
                receiver: None,
                primary_end: None,
                slots: Vec::new(),
                wal_segment_size: None,
                wal_end: None,
            };
            assert_eq!(
                Position::of_standby(&status),
                Position {
                    timeline: 3,
                    lsn: Lsn(expected)
                },
                "receive {receive:?} replay {replay:?}"
            );
        }
    }

    #[test]
    fn the_election_hands_over_to_the_most_advanced() {
        // (mine, published, expected hand-over)
        type Row = (
            &'static str,
            &'static [(&'static str, &'static str)],
            Option<(&'static str, &'static str)>,
        );
        let table: &[Row] = &[
            ("2:0/5000000", &[], None),
            ("2:0/5000000", &[("a", "2:0/4000000")], None),
            ("2:0/5000000", &[("a", "2:0/5000000")], None), // a tie proceeds
            (
                "2:0/5000000",
                &[("a", "2:0/4000000"), ("b", "3:0/1000000")],
                Some(("b", "3:0/1000000")),
            ),
            ("2:0/5000000", &[("a", "1:0/9000000")], None), // timeline first
            (
                "2:0/5000000",
                &[("a", "2:0/5000001"), ("c", "2:0/6000000")],
                Some(("c", "2:0/6000000")), // the best one, not the first
            ),
        ];
        for (mine, published, expected) in table {
            let expected = match expected {
                None => Election::Proceed,
                Some((node, theirs)) => Election::HandOver {
                    node: node.to_string(),
                    theirs: pos(theirs),
                },
            };
            assert_eq!(
                election(pos(mine), &positions(published)),
                expected,
                "{mine} vs {published:?}"
            );
        }
    }

    #[test]
    fn followers_published_no_more_than_the_new_primary() {
        // (mine, published, me, expected followers)
        type Row = (
            &'static str,
            &'static [(&'static str, &'static str)],
            &'static str,
            &'static [&'static str],
        );
        let table: &[Row] = &[
            ("2:0/500", &[], "n1", &[]),
            (
                "2:0/500",
                &[("n2", "2:0/400"), ("n3", "2:0/500")],
                "n1",
                &["n2", "n3"],
            ),
            ("2:0/500", &[("n2", "2:0/501")], "n1", &[]),
            ("2:0/500", &[("n1", "2:0/400"), ("n2", "2:0/400")], "n1", &["n2"]),
        ];
        for (mine, published, me, expected) in table {
            assert_eq!(
                followers(pos(mine), &positions(published), me),
                names(expected),
                "{published:?}"
            );
        }
    }

    #[test]
    fn a_switchover_target_must_be_past_each_shutdown_checkpoint() {
        use Checkpoint::*;
        // (mine, demoted, checkpoints, expected verdicts)
        type Row<'a> = (
            &'a str,
            &'a [&'a str],
            &'a [(&'a str, &'a str)],
            &'a [(&'a str, Checkpoint)],
        );
        let table: &[Row<'_>] = &[
            ("1:0/3000000", &[], &[("n1", "1:0/3000000")], &[]), // no switchover
            // Exactly at the checkpoint LSN: refused (lab).
            (
                "1:0/3000000",
                &["n1"],
                &[("n1", "1:0/3000000")],
                &[("n1", NotPassed(pos("1:0/3000000")))],
            ),
            // One past it: accepted (lab).
            (
                "1:0/3000001",
                &["n1"],
                &[("n1", "1:0/3000000")],
                &[("n1", Passed(pos("1:0/3000000")))],
            ),
            (
                "1:0/2FFFFFF",
                &["n1"],
                &[("n1", "1:0/3000000")],
                &[("n1", NotPassed(pos("1:0/3000000")))],
            ),
            // A different timeline: refused, either way (lab).
            (
                "2:0/4000000",
                &["n1"],
                &[("n1", "1:0/3000000")],
                &[("n1", NotPassed(pos("1:0/3000000")))],
            ),
            (
                "1:0/4000000",
                &["n1"],
                &[("n1", "2:0/3000000")],
                &[("n1", NotPassed(pos("2:0/3000000")))],
            ),
            // No checkpoint published (not a clean demote): nothing to check.
            ("1:0/3000000", &["n1"], &[], &[("n1", Unpublished)]),
            // Every demoted node is checked, up to the first refusal.
            (
                "1:0/3000001",
                &["n1", "n2", "n3"],
                &[("n1", "1:0/3000000"), ("n2", "1:0/3000001"), ("n3", "1:0/1")],
                &[
                    ("n1", Passed(pos("1:0/3000000"))),
                    ("n2", NotPassed(pos("1:0/3000001"))),
                ],
            ),
        ];
        for (mine, demoted, checkpoints, expected) in table {
            let expected: Vec<(String, Checkpoint)> =
                expected.iter().map(|(n, v)| (n.to_string(), *v)).collect();
            assert_eq!(
                switchover(pos(mine), &names(demoted), &positions(checkpoints)),
                expected,
                "{mine} demoted {demoted:?} checkpoints {checkpoints:?}"
            );
        }
    }

    #[test]
    fn every_node_of_a_round_computes_its_id_alike_and_another_round_differs() {
        let id = |p: &[&str], a: &[&str], d: &[&str]| round_id(&names(p), &names(a), &names(d));
        let this = id(&["n2"], &["n2", "n3", "n4"], &[]);
        assert_eq!(
            this,
            id(&["n2"], &["n4", "n2", "n3", "n3"], &[]),
            "order and repeats do not matter"
        );
        // (what differs, another round)
        let others = [
            ("another target", id(&["n3"], &["n2", "n3", "n4"], &[])),
            ("a participant less", id(&["n2"], &["n2", "n3"], &[])),
            ("a switchover", id(&["n2"], &["n2", "n3", "n4"], &["n1"])),
            (
                "the names moved between lists",
                id(&["n2"], &["n2", "n3"], &["n4"]),
            ),
            ("names that run together", id(&["n2"], &["n2n3", "n4"], &[])),
        ];
        for (what, other) in others {
            assert_ne!(this, other, "{what}");
        }
        // Pinned: agents of one release on different nodes, or of two
        // releases during an upgrade, must agree on the id.
        assert_eq!(
            this.to_string(),
            format!("{:08x}", crate::pg::names::fnv1a32(b"n2\0\nn2\0n3\0n4\0\n\n"))
        );
    }

    #[test]
    fn only_this_rounds_participants_vote() {
        let round = RoundId(0x2a);
        let earlier = RoundId(0x29);
        let tagged = |p: &str, r: RoundId| {
            RoundPosition {
                position: pos(p),
                round: r,
                history: None,
            }
            .to_string()
        };
        // (participants, published by node, expected votes)
        type Row = (
            &'static [&'static str],
            Vec<(&'static str, String)>,
            &'static [(&'static str, &'static str)],
        );
        let table: Vec<Row> = vec![
            (
                &["n2", "n3"],
                vec![("n2", tagged("3:0/500", round)), ("n3", tagged("3:0/400", round))],
                &[("n2", "3:0/500"), ("n3", "3:0/400")],
            ),
            // A stale, higher position of a node that is stopped or
            // banned now (outside the round): ignored, even tagged.
            (
                &["n2", "n3"],
                vec![
                    ("n2", tagged("3:0/500", round)),
                    ("n3", tagged("3:0/400", round)),
                    ("n5", tagged("4:0/900", earlier)),
                    ("n6", tagged("4:0/900", round)),
                ],
                &[("n2", "3:0/500"), ("n3", "3:0/400")],
            ),
            // A participant that has not published for this round yet:
            // its earlier value does not stand in for it.
            (
                &["n2", "n3"],
                vec![
                    ("n2", tagged("3:0/500", round)),
                    ("n3", tagged("3:0/900", earlier)),
                ],
                &[("n2", "3:0/500")],
            ),
            // Untagged (an older agent) or unreadable: left out.
            (
                &["n2", "n3", "n4"],
                vec![
                    ("n2", tagged("3:0/500", round)),
                    ("n3", "3:0/900".to_string()),
                    ("n4", "garbage".to_string()),
                ],
                &[("n2", "3:0/500")],
            ),
            (&[], vec![("n2", tagged("3:0/500", round))], &[]),
        ];
        for (participants, published, expected) in table {
            let published: BTreeMap<String, String> =
                published.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
            let votes: BTreeMap<String, Position> = round_votes(round, &names(participants), &published)
                .into_iter()
                .map(|(n, v)| (n, v.position))
                .collect();
            assert_eq!(votes, positions(expected), "{participants:?} {published:?}");
        }
    }

    /// The bootstrap after a failed promotion or a full restart: the
    /// others' positions compared with the candidate's by history where
    /// both are known, by number otherwise.
    #[test]
    fn the_bootstrap_compares_positions_by_history() {
        let hist = |h: &str| -> History { h.parse().unwrap() };
        let mine = pos("10:0/665F358");
        let my_history = hist("1@0/3000000,10");
        // (theirs, their history, what it counts as, forked)
        let table: &[(&str, Option<&str>, &str, bool)] = &[
            // A promotion that wrote nothing: the same WAL, a tie.
            (
                "12:0/665F358",
                Some("1@0/3000000,10@0/665F358,11@0/665F358,12"),
                "10:0/665F358",
                false,
            ),
            // Seen from the other side: a tie too.
            ("10:0/665F358", Some("1@0/3000000,10"), "10:0/665F358", false),
            // Ahead on the candidate's history.
            (
                "11:0/7000000",
                Some("1@0/3000000,10@0/665F358,11"),
                "11:0/7000000",
                false,
            ),
            // A higher number that left the candidate's timeline before the
            // candidate's LSN (a promotion, from less WAL, that wrote
            // nothing): a fork with less WAL past it, behind.
            (
                "12:0/6000000",
                Some("1@0/3000000,10@0/6000000,11@0/6000000,12"),
                "10:0/6000000",
                true,
            ),
            // Behind on the candidate's history.
            ("10:0/5000000", Some("1@0/3000000,10"), "10:0/5000000", false),
            // The same number, another fork point, more WAL: ahead past the
            // fork, and forked.
            ("10:0/7000000", Some("1@0/2000000,10"), "10:0/7000000", true),
            // ... the same LSN: a tie, forked.
            ("10:0/665F358", Some("1@0/2000000,10"), "10:0/665F358", true),
            // A lower number with more WAL past the fork: ahead.
            ("2:0/7000000", Some("1@0/2000000,2"), "10:0/7000000", true),
            // No history published (an older agent): by number, as before.
            ("12:0/665F358", None, "12:0/665F358", false),
            // A history that is not of its position's timeline: unknown.
            ("12:0/665F358", Some("1@0/3000000,10"), "12:0/665F358", false),
        ];
        for &(theirs, their_history, counts_as, forked) in table {
            let positions = positions(&[("n2", theirs)]);
            let histories: BTreeMap<String, History> = their_history
                .map(|h| ("n2".to_string(), hist(h)))
                .into_iter()
                .collect();
            let (compared, diverged) = bootstrap_positions(mine, Some(&my_history), &positions, &histories);
            assert_eq!(
                compared,
                self::positions(&[("n2", counts_as)]),
                "{theirs} {their_history:?}"
            );
            assert_eq!(diverged, if forked { names(&["n2"]) } else { vec![] }, "{theirs}");
            // A candidate whose history is unknown compares by number.
            let (compared, diverged) = bootstrap_positions(mine, None, &positions, &histories);
            assert_eq!(
                (compared, diverged),
                (positions, vec![]),
                "{theirs}, no history here"
            );
        }
    }

    #[test]
    fn timelines_compare_by_history_not_by_number() {
        let hist = |h: &str| -> History { h.parse().unwrap() };
        let vote = |p: &str, h: Option<&str>| RoundPosition {
            position: pos(p),
            round: RoundId(1),
            history: h.map(hist),
        };
        // (candidate, its history, the other's vote, what the other counts as, diverged)
        type Row = (
            &'static str,
            Option<&'static str>,
            RoundPosition,
            &'static str,
            bool,
        );
        let table: Vec<Row> = vec![
            // The lab's loop: the same WAL, a higher timeline number from a
            // promotion that wrote nothing yet: a tie, the candidate goes on.
            (
                "10:0/665F358",
                Some("1@0/3000000,10"),
                vote("12:0/665F358", Some("1@0/3000000,10@0/665F358,11@0/665F358,12")),
                "10:0/665F358",
                false,
            ),
            // Ahead by history and by WAL: counts as ahead.
            (
                "10:0/665F358",
                Some("1@0/3000000,10"),
                vote("11:0/7000000", Some("1@0/3000000,10@0/665F358,11")),
                "11:0/7000000",
                false,
            ),
            // The same number, another fork point (a reused timeline
            // number): diverged; more WAL past the fork counts as ahead.
            (
                "3:0/5000000",
                Some("1@0/3000000,2@0/4000000,3"),
                vote("3:0/9000000", Some("1@0/3000000,2@0/4800000,3")),
                "3:0/9000000",
                true,
            ),
            (
                "3:0/9000000",
                Some("1@0/3000000,2@0/4000000,3"),
                vote("3:0/5000000", Some("1@0/3000000,2@0/4800000,3")),
                "3:0/5000000",
                true,
            ),
            // A higher number on a fork the candidate left earlier.
            (
                "3:0/6000000",
                Some("1@0/3000000,3"),
                vote("4:0/6500000", Some("1@0/3000000,2@0/4000000,4")),
                "4:0/6500000",
                true,
            ),
            // The chaos run's case: a former primary that wrote a little
            // past where the others left timeline 3, then stayed away
            // while 22 more promotions went on. Promoted (a switchover to
            // it), it threw away 80,154 acknowledged commits; the others
            // now count as ahead.
            (
                "3:0/60B7698",
                Some("1@0/60000A0,2@0/6083968,3"),
                vote(
                    "25:0/79E2C10",
                    Some("1@0/60000A0,2@0/6083968,3@0/60B75A8,4@0/61AEF30,25"),
                ),
                "25:0/79E2C10",
                true,
            ),
            // Behind on the same history: behind.
            (
                "3:0/6000000",
                Some("1@0/3000000,3"),
                vote("3:0/5000000", Some("1@0/3000000,3")),
                "3:0/5000000",
                false,
            ),
            // No history on one side: by number, as before.
            (
                "3:0/6000000",
                None,
                vote("4:0/1000000", Some("1@0/3000000,4")),
                "4:0/1000000",
                false,
            ),
            (
                "3:0/6000000",
                Some("1@0/3000000,3"),
                vote("4:0/1000000", None),
                "4:0/1000000",
                false,
            ),
        ];
        for (mine, my_history, theirs, counts_as, forked) in table {
            let votes: BTreeMap<String, RoundPosition> = [("n2".to_string(), theirs.clone())].into();
            let my_history = my_history.map(hist);
            let (positions, diverged) = positions_by_history(pos(mine), my_history.as_ref(), &votes);
            assert_eq!(positions["n2"], pos(counts_as), "{mine} against {theirs}");
            assert_eq!(diverged == ["n2"], forked, "{mine} against {theirs}");
            if !forked && counts_as == mine {
                assert_eq!(
                    election(pos(mine), &positions),
                    Election::Proceed,
                    "{mine} against {theirs}"
                );
            }
        }
    }
}
