//! Timeline histories: which WAL a node holds is named by its timeline
//! *and* the fork points of every ancestor, not by the timeline number.
//!
//! The PostgreSQL facts behind it:
//!
//! - a promotion creates timeline T+1 where T is the newest timeline whose
//!   history file the server finds (`findNewestTimeLine`: it probes
//!   `pg_wal` and the archive for `T+1.history`, `T+2.history`...), and
//!   writes `NNNNNNNN.history` (the new timeline in 8 hex digits): one line
//!   `parentTLI<TAB>switchpoint<TAB>reason` per ancestor, oldest first,
//!   the switchpoint being the LSN at which that ancestor was left
//!   (`writeTimeLineHistory`); a reader skips blank lines and `#` comments,
//!   reads `%u\t%X/%X` and ignores the rest of the line, and requires
//!   increasing timeline ids below the file's own (`readTimeLineHistory`);
//! - timeline numbers are not identities: two primaries that never saw
//!   each other's history file both create timeline 3 (issue 22: after an
//!   async double fault a third primary reused the number of a second one
//!   that died before any standby got its history file; pg_rewind compared
//!   numbers, said "no rewind required", and the node followed a history
//!   it had forked from). Two histories with the same number and
//!   different fork points are different histories: [`compare_by_history`]
//!   says [`ByHistory::Diverged`], never compares the numbers;
//! - a standby streams from a primary only if its own timeline is in the
//!   primary's history and it has no WAL past the point where that
//!   history left it ([`follows`]); otherwise it must be rewound or
//!   rebuilt.
//!
//! [`History`] has two spellings: PostgreSQL's file ([`History::from_file`],
//! read only) and the compact form a node publishes
//! (`1@0/3000060,2@0/5000000,3`, [`Display`](fmt::Display) /
//! [`FromStr`]), so that every node knows the others' histories when it
//! compares positions.

pub use crate::vocab::History;

use crate::deadline::Deadline;
use crate::ocf::code::OcfResult;
use crate::pg::instance::Instance;
use crate::pg::waldump;
use crate::userfs;
use crate::vocab::{Lsn, Position};

/// The name of timeline `timeline`'s history file in `pg_wal` (timeline 1
/// has none).
pub fn history_file_name(timeline: u32) -> String {
    format!("{timeline:08X}.history")
}

impl History {
    /// Reads the text of `history_file_name(timeline)` as
    /// `readTimeLineHistory` does.
    pub fn from_file(timeline: u32, text: &str) -> Result<History, String> {
        let mut ancestors = Vec::new();
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // sscanf's "\t" matches any run of blanks; the reason that
            // follows the switchpoint is ignored.
            let mut fields = line.split_whitespace();
            let parent: u32 = fields.next().and_then(|f| f.parse().ok()).ok_or_else(|| {
                format!("syntax error in history file: {line:?}: expected a numeric timeline ID")
            })?;
            let switchpoint: Lsn = fields.next().and_then(|f| f.parse().ok()).ok_or_else(|| {
                format!(
                    "syntax error in history file: {line:?}: expected a write-ahead log switchpoint location"
                )
            })?;
            ancestors.push((parent, switchpoint));
        }
        History::checked(ancestors, timeline)
    }
}

/// The most a history file may hold: one short line per promotion.
const HISTORY_FILE_MAX: u64 = 256 * 1024;

/// The history of `timeline` as this instance holds it: timeline 1 has no
/// file; any other is read from `pg_wal` as the system user (a file of
/// PGDATA), within the deadline. None when it cannot be read: the
/// comparison then falls back to the timeline number (logged by the
/// caller's use).
pub fn read_current(inst: &Instance, timeline: u32, deadline: Deadline) -> Option<History> {
    if timeline <= 1 {
        return Some(History::root(timeline.max(1)));
    }
    let path = inst.datadir.join("pg_wal").join(history_file_name(timeline));
    let bytes = userfs::read_small(&inst.user, deadline, &path, HISTORY_FILE_MAX)
        .ok()?
        .ok()?;
    History::from_file(timeline, std::str::from_utf8(&bytes).ok()?).ok()
}

/// The history of the WAL a stopped instance holds: that of the newest
/// timeline it has WAL segments of (the segment names say which: a node
/// holds a timeline's WAL only after it read that timeline's history, or
/// made it), or of pg_control's checkpoint timeline when that is newer
/// (`checkpoint_timeline`). A checkpoint or restartpoint alone may lag a
/// timeline switch the node replayed past. None when it cannot be read.
pub fn of_stopped(inst: &Instance, checkpoint_timeline: u32, deadline: Deadline) -> Option<History> {
    let names = waldump::wal_files(&inst.datadir, &inst.user, deadline).ok()?;
    let timeline = names
        .iter()
        .filter_map(|n| waldump::segment_timeline(n))
        .chain([checkpoint_timeline])
        .max()?;
    read_current(inst, timeline, deadline)
}

/// How many newer timelines [`position_with_history`] looks for.
const NEWER_TIMELINES_MAX: u32 = 16;

/// The timeline a standby's WAL at `position.lsn` is on, and its history.
/// A standby restarted with no receiver reports the timeline of its last
/// restartpoint, older than the WAL it holds when a promotion happened
/// since (the lab: `1:0/602FD68` on a node whose timeline 1 ended at
/// 0/60000A0); its `pg_wal` has the history files of the newer timelines it
/// followed. The newest timeline whose switch point the position has
/// reached is the one its WAL there is on ([`newest_reached`]).
pub fn position_with_history(
    inst: &Instance,
    position: Position,
    deadline: Deadline,
) -> (Position, Option<History>) {
    let mut histories = Vec::new();
    if let Some(h) = read_current(inst, position.timeline, deadline) {
        histories.push(h);
    }
    for timeline in position.timeline + 1..=position.timeline + NEWER_TIMELINES_MAX {
        match read_current(inst, timeline, deadline) {
            Some(h) => histories.push(h),
            None => break,
        }
    }
    match newest_reached(position, &histories) {
        Some(h) => (
            Position {
                timeline: h.current,
                lsn: position.lsn,
            },
            Some(h.clone()),
        ),
        None => (position, None),
    }
}

/// Of `histories` (the reported timeline's and newer ones), the newest one
/// that `position` has reached: its reported timeline's, or a newer one
/// whose switch point (where it left its parent) is at or before the
/// position and whose parent is a timeline the position's history holds.
pub fn newest_reached(position: Position, histories: &[History]) -> Option<&History> {
    let mut best: Option<&History> = histories.iter().find(|h| h.current == position.timeline);
    for h in histories.iter().filter(|h| h.current > position.timeline) {
        let Some((parent, switch)) = h.ancestors.last() else {
            continue;
        };
        let continues = best.is_none_or(|b| b.current == *parent && is_prefix(b, h));
        if continues && *switch <= position.lsn {
            best = Some(h);
        }
    }
    best
}

/// Whether a node at `position` can stream from a primary with `history`
/// without a rewind: its timeline is in that history, and it holds no WAL
/// past the point where the history left that timeline (at the point
/// exactly is fine: the next timeline starts there).
pub fn follows(history: &History, position: Position) -> bool {
    match history.left_at(position.timeline) {
        None => false,
        Some(None) => true,
        Some(Some(end)) => position.lsn <= end,
    }
}

/// Whether history `a` is a prefix of `b`: `b` is `a` itself, or went on
/// from `a`'s current timeline, every fork point of `a` being one of `b`'s.
pub fn is_prefix(a: &History, b: &History) -> bool {
    let n = a.ancestors.len();
    if b.ancestors.len() < n || b.ancestors[..n] != a.ancestors[..] {
        return false;
    }
    match b.ancestors.get(n) {
        None => a.current == b.current,
        Some((timeline, _)) => *timeline == a.current,
    }
}

/// How one node's WAL compares with another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByHistory {
    /// Holds all the other has, and more.
    Ahead,
    /// The other holds all this one has, and more.
    Behind,
    /// The same history, at the same LSN.
    Equal,
    /// Each holds WAL the other lacks (or a position is not on its own
    /// history's current timeline): not comparable; one must be rewound.
    Diverged,
}

/// Whether all the WAL of `x` (at `x_pos`, history `x_hist`) is WAL of
/// `y`: `x`'s history is a prefix of `y`'s and `x` stops no later than `y`
/// on `x`'s timeline, where `y` left it or stands.
fn contained(x_pos: Position, x_hist: &History, y_pos: Position, y_hist: &History) -> bool {
    if !is_prefix(x_hist, y_hist) {
        return false;
    }
    match y_hist.left_at(x_pos.timeline) {
        Some(None) => x_pos.lsn <= y_pos.lsn,
        Some(Some(end)) => x_pos.lsn <= end,
        None => false,
    }
}

/// Compares node `a` with node `b` by history: ahead and behind mean one
/// holds all the other's WAL and more; two histories that share a timeline
/// number with different fork points are [`ByHistory::Diverged`], whatever
/// the numbers say. A position must be on its history's current timeline.
pub fn compare_by_history(a_pos: Position, a_hist: &History, b_pos: Position, b_hist: &History) -> ByHistory {
    if a_pos.timeline != a_hist.current || b_pos.timeline != b_hist.current {
        return ByHistory::Diverged;
    }
    match (
        contained(a_pos, a_hist, b_pos, b_hist),
        contained(b_pos, b_hist, a_pos, a_hist),
    ) {
        (true, true) => ByHistory::Equal,
        (true, false) => ByHistory::Behind,
        (false, true) => ByHistory::Ahead,
        (false, false) => ByHistory::Diverged,
    }
}

/// The timeline a promotion would create, and whether another node is
/// known to have used that number already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextTimeline {
    /// No other node is known to have used it.
    Free(u32),
    /// Another node used it: promoting would make a second, different
    /// timeline of that number.
    Collides(u32),
}

/// The history of `timeline` as `history`, which holds it, tells: itself
/// when it is its current timeline, else its ancestry up to it.
fn history_of(history: &History, timeline: u32) -> Option<History> {
    if history.current == timeline {
        return Some(history.clone());
    }
    let i = history.ancestors.iter().position(|(t, _)| *t == timeline)?;
    Some(History {
        ancestors: history.ancestors[..i].to_vec(),
        current: timeline,
    })
}

/// The history files a node whose newest history file is of timeline
/// `newest` must hold before it is promoted, so that it makes no timeline
/// number another node is known to have used (`known`: every history the
/// others published). PostgreSQL makes the first number after the newest
/// history file it finds in an unbroken run from its own (`findNewestTimeLine`
/// probes `pg_wal` for `T+1.history`, `T+2.history`... and stops at the
/// first missing one), so each known number from `newest` + 1 on, in a
/// row, gets the history a known node gave it; the promotion then makes
/// the next free number, and a node that comes back on the other timeline
/// of that number has one pg_rewind can tell from this node's (it compares
/// where each timeline began). Refusing to promote instead would leave no
/// primary at all.
pub fn histories_to_hold(known: &[History], newest: u32) -> Vec<History> {
    let used: Vec<u32> = known.iter().flat_map(History::timelines).collect();
    let mut hold = Vec::new();
    let mut newest = newest;
    while let NextTimeline::Collides(next) = next_timeline_free(&used, newest) {
        let Some(history) = known.iter().find_map(|h| history_of(h, next)) else {
            break;
        };
        hold.push(history);
        newest = next;
    }
    hold
}

/// The text of the history file of `history`'s current timeline, as
/// PostgreSQL writes one (`parentTLI<TAB>switchpoint<TAB>reason` per
/// ancestor) and reads it back ([`History::from_file`]).
pub fn file_text(history: &History) -> String {
    history
        .ancestors
        .iter()
        .map(|(parent, switchpoint)| {
            format!("{parent}\t{switchpoint}\ttimeline used by another node (pgha)\n")
        })
        .collect()
}

/// The newest timeline whose history file this instance holds in an
/// unbroken run from `timeline` on: the one its promotion goes on from.
pub fn newest_held(inst: &Instance, timeline: u32, deadline: Deadline) -> u32 {
    let mut newest = timeline;
    while read_current(inst, newest + 1, deadline).is_some() {
        newest += 1;
    }
    newest
}

/// Writes `history`'s file into `pg_wal` as the system user (never over
/// a file already there: a history file of that number is all PostgreSQL
/// needs to skip it).
pub fn hold(
    inst: &Instance,
    history: &History,
    deadline: Deadline,
) -> OcfResult<std::io::Result<userfs::Created>> {
    let path = inst
        .datadir
        .join("pg_wal")
        .join(history_file_name(history.current));
    userfs::create_with(&inst.user, deadline, &path, file_text(history).into_bytes())
}

/// The timeline a promotion of this node would create, `newest_known` + 1
/// (`newest_known`: the newest timeline it has a history file for, its own
/// unless `pg_wal` holds later ones), checked against `known_used`, every
/// number in the histories other nodes published ([`History::timelines`]).
/// A collision is avoided by giving the node the other's history files
/// first (PostgreSQL then creates the next free number), not by promoting.
pub fn next_timeline_free(known_used: &[u32], newest_known: u32) -> NextTimeline {
    let next = newest_known.saturating_add(1);
    if known_used.contains(&next) {
        NextTimeline::Collides(next)
    } else {
        NextTimeline::Free(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(s: &str) -> Position {
        s.parse().unwrap()
    }

    fn hist(s: &str) -> History {
        s.parse().unwrap()
    }

    #[test]
    fn history_files_read_as_postgresql_reads_them() {
        // (timeline, file text, the history)
        let table = [
            (2, "1\t0/3000060\tno recovery target specified\n", "1@0/3000060,2"),
            (
                4,
                "1\t0/3000060\tno recovery target specified\n\n\
                 # a comment\n   \n2\t0/5000000\tbefore 2000-01-01 00:00:00+00\n \t3  0/5A00F28\n",
                "1@0/3000060,2@0/5000000,3@0/5A00F28,4",
            ),
            // A history may skip numbers: timeline 2 was another branch.
            (3, "1\t0/3000060\tno recovery target specified\n", "1@0/3000060,3"),
            (1, "", "1"),
            (
                7,
                "1\t0/3000060\n3\t1/a0\textra\tfields\n",
                "1@0/3000060,3@1/A0,7",
            ),
        ];
        for (timeline, text, expected) in table {
            assert_eq!(History::from_file(timeline, text), Ok(hist(expected)), "{text:?}");
        }
        // (timeline, file text)
        let bad = [
            (3, "x\t0/3000060\n"),
            (3, "1\n"),
            (3, "1\tnowhere\n"),
            (3, "2\t0/3000060\n1\t0/4000000\n"), // not increasing
            (3, "1\t0/3000060\n1\t0/4000000\n"),
            (2, "1\t0/3000060\n2\t0/4000000\n"), // not below the file's own
        ];
        for (timeline, text) in bad {
            assert!(History::from_file(timeline, text).is_err(), "{text:?}");
        }
        assert_eq!(history_file_name(2), "00000002.history");
        assert_eq!(history_file_name(0x1A), "0000001A.history");
    }

    #[test]
    fn published_histories_have_one_spelling_and_round_trip() {
        let table = [
            (History::root(1), "1"),
            (
                History {
                    ancestors: vec![(1, Lsn(0x300_0060)), (2, Lsn(0x500_0000))],
                    current: 3,
                },
                "1@0/3000060,2@0/5000000,3",
            ),
            (
                History {
                    ancestors: vec![(5, Lsn(u64::MAX))],
                    current: 9,
                },
                "5@FFFFFFFF/FFFFFFFF,9",
            ),
        ];
        for (history, spelling) in table {
            assert_eq!(history.to_string(), spelling);
            assert_eq!(spelling.parse::<History>(), Ok(history));
        }
        for bad in [
            "",
            "x",
            "1,",
            ",2",
            "1@0/3000060",
            "1@0/3000060,",
            "1,2",
            "1@x,2",
            "2@0/1,1",
            "2@0/1,2",
            "1@0/1;2",
        ] {
            assert!(bad.parse::<History>().is_err(), "{bad:?}");
        }
        assert_eq!(hist("1@0/1,3@0/2,4").timelines().collect::<Vec<_>>(), [1, 3, 4]);
    }

    #[test]
    fn a_node_follows_a_history_only_up_to_where_it_left_the_nodes_timeline() {
        let primary = hist("1@0/3000060,2@0/5000000,3");
        // (position, follows)
        let table = [
            ("3:0/9000000", true), // on the primary's timeline
            ("2:0/4000000", true),
            ("2:0/5000000", true),  // at the fork point exactly
            ("2:0/5000001", false), // past it: WAL the primary never had
            ("1:0/3000060", true),
            ("1:0/3000061", false),
            ("4:0/1000000", false), // a timeline the primary never had
            ("5:0/0", false),
        ];
        for (position, follows_it) in table {
            assert_eq!(follows(&primary, pos(position)), follows_it, "{position}");
        }
        // A node's own timeline 2 forked elsewhere is another timeline 2:
        // following goes by the numbers, so the histories must agree first.
        assert!(!is_prefix(&hist("1@0/2000000,2"), &primary));
    }

    #[test]
    fn a_history_is_a_prefix_of_the_ones_that_went_on_from_it() {
        // (a, b, a is a prefix of b)
        let table = [
            ("1", "1", true),
            ("1", "1@0/3000060,2", true),
            ("1@0/3000060,2", "1@0/3000060,2@0/5000000,3", true),
            ("1@0/3000060,2", "1@0/3000060,2", true),
            ("1@0/3000060,2@0/5000000,3", "1@0/3000060,2", false),
            // The same number, forked elsewhere.
            ("1@0/3000060,2", "1@0/4000000,2", false),
            ("1@0/3000060,2@0/5000000,3", "1@0/3000060,2@0/6000000,3", false),
            // Went on from another timeline.
            ("1@0/3000060,2", "1@0/3000060,3", false),
            ("1@0/3000060,3", "1@0/3000060,2@0/5000000,3", false),
            ("2", "1@0/3000060,2", false),
        ];
        for (a, b, prefix) in table {
            assert_eq!(is_prefix(&hist(a), &hist(b)), prefix, "{a} of {b}");
        }
    }

    #[test]
    fn positions_compare_by_history_never_by_timeline_number_alone() {
        use ByHistory::*;
        // (a position, a history, b position, b history, a compared with b)
        let table = [
            // The same timeline: by LSN.
            ("1:0/5000000", "1", "1:0/4000000", "1", Ahead),
            ("1:0/4000000", "1", "1:0/5000000", "1", Behind),
            ("1:0/5000000", "1", "1:0/5000000", "1", Equal),
            // A standby that never left timeline 1, before the fork.
            ("2:0/4000000", "1@0/3000060,2", "1:0/3000000", "1", Ahead),
            ("1:0/3000060", "1", "2:0/4000000", "1@0/3000060,2", Behind),
            // ... or past the fork point: each has WAL the other lacks.
            ("2:0/4000000", "1@0/3000060,2", "1:0/3500000", "1", Diverged),
            // Issue 22: two primaries both made timeline 3, from different
            // fork points of 2. By number, b would be ahead (3:0/7000000 >
            // 3:0/6000000); by history they diverged.
            (
                "3:0/6000000",
                "1@0/3000060,2@0/5000000,3",
                "3:0/7000000",
                "1@0/3000060,2@0/5800000,3",
                Diverged,
            ),
            // A prefix further on.
            (
                "3:0/6000000",
                "1@0/3000060,2@0/5000000,3",
                "2:0/4000000",
                "1@0/3000060,2",
                Ahead,
            ),
            (
                "2:0/5000000",
                "1@0/3000060,2",
                "3:0/5000000",
                "1@0/3000060,2@0/5000000,3",
                Behind,
            ),
            // A higher number that is not a descendant: diverged, not ahead.
            (
                "3:0/9000000",
                "1@0/3000060,3",
                "2:0/4000000",
                "1@0/3000060,2",
                Diverged,
            ),
            // A position that is not on its own history's timeline.
            (
                "2:0/4000000",
                "1@0/3000060,2",
                "1:0/3000000",
                "1@0/3000060,2",
                Diverged,
            ),
        ];
        for (a_pos, a_hist, b_pos, b_hist, expected) in table {
            assert_eq!(
                compare_by_history(pos(a_pos), &hist(a_hist), pos(b_pos), &hist(b_hist)),
                expected,
                "{a_pos} [{a_hist}] vs {b_pos} [{b_hist}]"
            );
        }
    }

    #[test]
    fn a_promotion_must_not_create_a_timeline_number_another_node_used() {
        // (known used, newest known here, verdict)
        let table: &[(&[u32], u32, NextTimeline)] = &[
            (&[], 1, NextTimeline::Free(2)),
            (&[1, 2], 2, NextTimeline::Free(3)),
            // Issue 22: a second primary made 3 and died before anyone got
            // 00000003.history; this node, on 2, would make 3 again.
            (&[1, 2, 3], 2, NextTimeline::Collides(3)),
            (&[1, 3], 2, NextTimeline::Collides(3)),
            (&[1, 2, 5], 2, NextTimeline::Free(3)),
        ];
        for (known_used, newest, expected) in table {
            assert_eq!(
                next_timeline_free(known_used, *newest),
                *expected,
                "{known_used:?} {newest}"
            );
        }
    }

    /// Issue 22: never promote into a timeline number another node is
    /// known to have used; the node gets that number's history file first,
    /// and PostgreSQL makes the next free one.
    #[test]
    fn a_promotion_holds_the_history_files_of_the_numbers_others_used_first() {
        // (known histories, newest held here, the histories to hold)
        let table: &[(&[&str], u32, &[&str])] = &[
            (&[], 2, &[]),
            (&["1@0/3000060,2"], 2, &[]),
            // A second primary made 3 and died before anyone got its file.
            (&["1@0/3000060,2@0/5000000,3"], 2, &["1@0/3000060,2@0/5000000,3"]),
            // Two numbers in a row, known from one history's ancestry.
            (
                &["1@0/3000060,2@0/5000000,3@0/6000000,4"],
                2,
                &[
                    "1@0/3000060,2@0/5000000,3",
                    "1@0/3000060,2@0/5000000,3@0/6000000,4",
                ],
            ),
            // A gap: PostgreSQL stops at the first missing file, 3 is free.
            (&["1@0/3000060,2@0/5000000,4"], 2, &[]),
            // Another branch's 3, forked from timeline 1.
            (&["1@0/4000000,3"], 2, &["1@0/4000000,3"]),
            (&["1@0/3000060,2@0/5000000,3"], 3, &[]),
        ];
        for (known, newest, expected) in table {
            let known: Vec<History> = known.iter().map(|h| hist(h)).collect();
            let got: Vec<String> = histories_to_hold(&known, *newest)
                .iter()
                .map(|h| h.to_string())
                .collect();
            assert_eq!(got, *expected, "{known:?} {newest}");
        }
        // The file PostgreSQL reads back as that history.
        let h = hist("1@0/3000060,2@0/5000000,3");
        assert_eq!(History::from_file(3, &file_text(&h)), Ok(h));
        assert_eq!(file_text(&hist("1")), "");
    }

    #[test]
    fn a_restarted_standby_is_on_the_newest_timeline_its_position_reached() {
        let pos = |s: &str| -> Position { s.parse().unwrap() };
        let h = |s: &str| -> History { s.parse().unwrap() };
        let histories = [h("1"), h("1@0/60000A0,2"), h("1@0/60000A0,2@0/7000000,3")];
        // (reported, the timeline it is on)
        let table = [
            ("1:0/602FD68", Some(2)), // the lab's stale checkpoint timeline
            ("1:0/5000000", Some(1)), // before the first switch
            ("1:0/60000A0", Some(2)), // at the switch point: either
            ("1:0/8000000", Some(3)),
            ("2:0/6500000", Some(2)),
        ];
        for (reported, on) in table {
            let reached = newest_reached(pos(reported), &histories).map(|h| h.current);
            assert_eq!(reached, on, "{reported}");
        }
        // A newer history that does not continue the reported one: not it.
        let forked = [h("1"), h("1@0/5000000,2"), h("1@0/4000000,3")];
        assert_eq!(
            newest_reached(pos("1:0/6000000"), &forked).map(|h| h.current),
            Some(2)
        );
        // Nothing read for the reported timeline: whatever newer one reached.
        assert_eq!(newest_reached(pos("2:0/8000000"), &[]).map(|h| h.current), None);
    }
}
