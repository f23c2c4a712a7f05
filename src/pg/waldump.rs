//! The end of the valid WAL a standby holds on disk, read with PostgreSQL's
//! own `pg_waldump`.
//!
//! After a full restart no WAL receiver has run: `pg_last_wal_receive_lsn()`
//! is NULL and the only position the server reports is how far it
//! replayed. A standby whose replay is held back (`recovery_min_apply_delay`,
//! recovery conflicts, a backlog still replaying) holds more WAL than that,
//! and would lose the election to a node that received less (issue 22,
//! "Positions are replay positions"). `pg_waldump --quiet` reads the WAL in
//! `pg_wal` from the replay position on and stops at the first record that is
//! not valid; its final error line says where:
//!
//! - a record-level error names the LSN of the record it could not read,
//!   which is where the last valid record ends (xlogreader's `EndRecPtr`,
//!   reported as the position of the next record):
//!   `invalid record length at X/Y: ...` (what a zero-filled or recycled
//!   tail usually gives), `record with incorrect prev-link A/B at X/Y`,
//!   `invalid resource manager ID N at X/Y`, `record length N at X/Y too
//!   long`, `invalid record offset at X/Y`, `contrecord is requested by X/Y`,
//!   `there is no contrecord flag at X/Y`, `invalid contrecord length ... at
//!   X/Y`, `incorrect resource manager data checksum in record at X/Y`;
//! - no error, and a zero exit: it reached `--end`, the end of the newest
//!   segment file of the timeline in `pg_wal` (a `pg_switch_wal`, or a
//!   receiver that stopped at a segment boundary). That is an upper bound
//!   only: restartpoints recycle old segments under future names, and the
//!   old pages of such a file stop the read first. `--end` is always given:
//!   without it, pg_waldump waits 5 s for a next segment that does not exist
//!   (its follow-mode retry, `WALDumpOpenSegment`) and then says `could not
//!   find file "<segment>"`, which is read as the start of that segment;
//!   a record that crosses that boundary is incomplete, so the end counted
//!   may exceed the last whole record by that partial record, which no node
//!   with the same WAL holds whole either: the order between nodes stands;
//! - any other error after `error in WAL record at X/Y:` (a page header that
//!   does not belong here: `unexpected pageaddr`, `invalid magic number` in a
//!   recycled segment): the page's own position is not the end of a record,
//!   so the end counted is X/Y, the start of the last valid record, which
//!   the node holds whole (an under-statement of one record at most).
//!
//! The parse is anchored to these shapes under `LC_ALL=C` (set by
//! [`crate::exec`]), as PostgreSQL 12 to 18 print them (`pg_waldump: fatal:`
//! before 15, `pg_waldump: error:` since). Anything else is not understood:
//! the caller keeps the replay position and logs why. pg/ knows nothing of
//! actions: the caller decides when this runs (only when no receiver has
//! run, see [`crate::pg::state`]).

use std::fs;
use std::io;
use std::path::Path;

use crate::deadline::Deadline;
use crate::exec::{self, SystemUser};
use crate::ocf::code::{OcfError, OcfResult};
use crate::userfs;
use crate::vocab::Lsn;

/// What `pg_waldump` said about the end of the WAL it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalEnd {
    /// The valid WAL ends at this position.
    At(Lsn),
    /// Its output did not have one of the shapes above; the line quoted.
    NotUnderstood(String),
}

/// The prefixes of pg_waldump's error lines (`fatal` before PostgreSQL 15).
const ERROR_PREFIXES: [&str; 2] = ["pg_waldump: error: ", "pg_waldump: fatal: "];

/// Record-level messages: the text before the LSN of the record that could
/// not be read, and the text that may follow it (up to the end, or a `:`).
const RECORD_AT: [&str; 9] = [
    "invalid record length at ",
    "invalid resource manager ID ",
    "record with incorrect prev-link ",
    "record length ",
    "invalid record offset at ",
    "contrecord is requested by ",
    "there is no contrecord flag at ",
    "invalid contrecord length ",
    "incorrect resource manager data checksum in record at ",
];

/// Reads the end of the valid WAL in `<datadir>/pg_wal` from `start` (the
/// replay position) on, as `user` within `deadline`. `segment_size` is the
/// cluster's `wal_segment_size`. None when `pg_wal` holds no segment past
/// `start` (its WAL came from the archive): nothing there goes further than
/// the replay.
///
/// `timeline` is the one the server reports (its checkpoint's, or its
/// receiver's), which lags the WAL it holds: a standby that followed a
/// promotion since its last restartpoint and restarted has no receiver and
/// reports the old one, whose file of the segment ends at the switch. The
/// WAL at `start` is in the newest timeline's file of that segment
/// ([`timeline_at`]), and a switch further on is followed the same way
/// ([`SWITCHES_MAX`]): from the end found, on a newer timeline's file of
/// that segment.
pub fn end_of_wal(
    bindir: &Path,
    datadir: &Path,
    user: &SystemUser,
    timeline: u32,
    start: Lsn,
    segment_size: u64,
    deadline: Deadline,
) -> OcfResult<Option<WalEnd>> {
    let names = wal_files(datadir, user, deadline)?;
    let mut timeline = timeline_at(&names, start, segment_size).map_or(timeline, |t| t.max(timeline));
    let mut from = start;
    let mut found = None;
    for _ in 0..=SWITCHES_MAX {
        let Some(end) = end_on_timeline(
            bindir,
            datadir,
            user,
            &names,
            timeline,
            from,
            segment_size,
            deadline,
        )?
        else {
            break;
        };
        // Nothing after the switch point yet: the WAL ends there.
        if found.is_some() && matches!(&end, WalEnd::NotUnderstood(line) if line.contains(NO_RECORD_AFTER)) {
            break;
        }
        let next = match &end {
            WalEnd::At(at) if *at > from => timeline_at(&names, *at, segment_size)
                .filter(|newer| *newer > timeline)
                .map(|newer| (newer, *at)),
            _ => None,
        };
        found = Some(end);
        match next {
            Some((newer, at)) => (timeline, from) = (newer, at),
            None => break,
        }
    }
    Ok(found)
}

/// How many timeline switches past the replay position [`end_of_wal`]
/// follows: a standby's replay is rarely more than one promotion behind.
const SWITCHES_MAX: usize = 3;

/// pg_waldump's words when no valid record begins at or after its start.
const NO_RECORD_AFTER: &str = "could not find a valid record after ";

/// The newest timeline whose file of the segment that holds `lsn` is in
/// `names`: the file a server in recovery reads that segment from.
pub fn timeline_at(names: &[String], lsn: Lsn, segment_size: u64) -> Option<u32> {
    if segment_size == 0 {
        return None;
    }
    let first = Lsn(lsn.0 - lsn.0 % segment_size);
    names
        .iter()
        .filter(|n| segment_start(n, segment_size) == Some(first))
        .filter_map(|n| segment_timeline(n))
        .max()
}

/// One pg_waldump read of `timeline` from `start` to the end of that
/// timeline's newest segment file; None when it has none past `start`.
#[allow(clippy::too_many_arguments)]
fn end_on_timeline(
    bindir: &Path,
    datadir: &Path,
    user: &SystemUser,
    names: &[String],
    timeline: u32,
    start: Lsn,
    segment_size: u64,
    deadline: Deadline,
) -> OcfResult<Option<WalEnd>> {
    let path = datadir.join("pg_wal");
    let limit = newest_segment(names, timeline)
        .and_then(|name| segment_start(name, segment_size))
        .map(|first| Lsn(first.0 + segment_size));
    let Some(limit) = limit.filter(|l| *l > start) else {
        return Ok(None);
    };
    let args = [
        "--quiet".to_string(),
        format!("--path={}", path.display()),
        format!("--timeline={timeline}"),
        format!("--start={start}"),
        format!("--end={limit}"),
    ];
    let out = exec::run(bindir.join("pg_waldump"), &args, Some(user), deadline)?;
    Ok(Some(parse(&out.stderr, out.success(), segment_size, limit)))
}

/// The entries of `<datadir>/pg_wal`, listed as `user` (the directory is
/// the system user's).
pub fn wal_files(datadir: &Path, user: &SystemUser, deadline: Deadline) -> OcfResult<Vec<String>> {
    let path = datadir.join("pg_wal");
    let dir = path.clone();
    userfs::as_user(user, deadline, &path, move || {
        fs::read_dir(&dir)?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<String>>>()
    })?
    .map_err(|e| OcfError::generic(format!("cannot list {}: {e}", path.display())).with_source(e))
}

/// The timeline of a WAL segment file name (24 upper-case hex digits, the
/// first 8 the timeline); None for any other name.
pub fn segment_timeline(name: &str) -> Option<u32> {
    let hex = name.len() == 24
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    hex.then(|| u32::from_str_radix(&name[..8], 16).ok()).flatten()
}

/// The newest WAL segment file name of `timeline` among `names` (the
/// entries of `pg_wal`): 24 upper-case hex digits, the first 8 the timeline.
/// Segment numbers are fixed-width hex, so the greatest name is the newest.
fn newest_segment(names: &[String], timeline: u32) -> Option<&str> {
    let prefix = format!("{timeline:08X}");
    names
        .iter()
        .map(String::as_str)
        .filter(|n| n.len() == 24 && n.starts_with(&prefix))
        .filter(|n| {
            n.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        })
        .max()
}

/// Where the WAL in `<datadir>/pg_wal` ends at most, read as `user` within
/// `deadline`: the end of the segment file written last (by modification
/// time, not by name: recycled segments carry future names but keep the
/// time they were last written as older segments). A bound for a reason
/// (how far a replay had to go), cheap enough to read at the deadline;
/// None when pg_wal holds no segment or cannot be listed.
pub fn last_written_segment_end(datadir: &Path, user: &SystemUser, deadline: Deadline) -> Option<Lsn> {
    let path = datadir.join("pg_wal");
    let dir = path.clone();
    let entries = userfs::as_user(user, deadline, &path, move || {
        let mut found = Vec::new();
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                found.push((name, meta.modified()?, meta.len()));
            }
        }
        Ok(found)
    })
    .ok()?
    .ok()?;
    last_written_end(&entries)
}

/// [`last_written_segment_end`] over `(name, modified, size)` entries: a
/// segment file's size is the cluster's segment size.
fn last_written_end(entries: &[(String, std::time::SystemTime, u64)]) -> Option<Lsn> {
    entries
        .iter()
        .filter_map(|(name, modified, size)| Some((modified, segment_start(name, *size)?, *size)))
        .max_by_key(|(modified, start, _)| (**modified, *start))
        .map(|(_, start, size)| Lsn(start.0 + size))
}

/// The end of the valid WAL from pg_waldump's stderr (see the module doc):
/// its last error line decides; none with a zero exit means it read up to
/// `limit`, the `--end` it was given.
pub fn parse(stderr: &str, exited_ok: bool, segment_size: u64, limit: Lsn) -> WalEnd {
    let last = stderr.lines().rev().find_map(|line| {
        ERROR_PREFIXES
            .iter()
            .find_map(|p| line.strip_prefix(p))
            .map(|message| (line, message))
    });
    let Some((line, message)) = last else {
        if exited_ok {
            return WalEnd::At(limit);
        }
        return WalEnd::NotUnderstood(stderr.trim().lines().last().unwrap_or("").to_string());
    };
    let not_understood = || WalEnd::NotUnderstood(line.to_string());
    if let Some(rest) = message.strip_prefix("could not find file \"") {
        let Some((name, _)) = rest.split_once('"') else {
            return not_understood();
        };
        return segment_start(name, segment_size).map_or_else(not_understood, WalEnd::At);
    }
    let Some(rest) = message.strip_prefix("error in WAL record at ") else {
        return not_understood();
    };
    let Some((last_valid, reason)) = rest.split_once(": ") else {
        return not_understood();
    };
    let Ok(last_valid) = last_valid.parse::<Lsn>() else {
        return not_understood();
    };
    if !RECORD_AT.iter().any(|p| reason.starts_with(p)) {
        return WalEnd::At(last_valid);
    }
    // The record-level messages put the record's LSN after the last " at "
    // (or "by ") before any ": detail".
    let head = reason.split(": ").next().unwrap_or(reason);
    let lsn = head
        .rsplit_once(" at ")
        .or_else(|| head.rsplit_once(" by "))
        .and_then(|(_, tail)| tail.split_whitespace().next())
        .and_then(|s| s.parse::<Lsn>().ok());
    match lsn {
        Some(end) if end >= last_valid => WalEnd::At(end),
        _ => not_understood(),
    }
}

/// The LSN a segment file begins at: its name is the timeline, then the
/// segment number as two 8-digit hex halves (`XLogFileName`: the high half
/// counts 4 GiB units, the low half segments within one).
pub fn segment_start(name: &str, segment_size: u64) -> Option<Lsn> {
    if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) || segment_size == 0 {
        return None;
    }
    let high = u64::from_str_radix(&name[8..16], 16).ok()?;
    let low = u64::from_str_radix(&name[16..24], 16).ok()?;
    let per_4g = 0x1_0000_0000u64 / segment_size;
    if low >= per_4g {
        return None;
    }
    Some(Lsn((high << 32) + low * segment_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEG: u64 = 16 * 1024 * 1024;

    fn at(s: &str) -> WalEnd {
        WalEnd::At(s.parse().unwrap())
    }

    #[test]
    fn the_segment_written_last_bounds_the_wal_not_the_highest_name() {
        use std::time::{Duration, SystemTime};
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let e = |name: &str, at, size| (name.to_string(), t(at), size);
        let entries = [
            e("000000010000000000000003", 100, SEG),
            e("00000001000000000000000F", 300, SEG), // written last
            // Recycled under future names: written long before.
            e("000000010000000000000010", 90, SEG),
            e("000000010000000000000011", 80, SEG),
            e("00000002.history", 400, 42),
            e("000000010000000000000004.partial", 500, SEG),
        ];
        assert_eq!(last_written_end(&entries), Some(Lsn(0x1000_0000)));
        // 1 GiB segments name their start differently.
        let big = [e("000000010000000000000002", 1, 1 << 30)];
        assert_eq!(last_written_end(&big), Some(Lsn(3 << 30)));
        assert_eq!(last_written_end(&entries[4..]), None);
    }

    #[test]
    fn the_end_of_wal_is_read_from_pg_waldumps_last_error() {
        // Real stderr of pg_waldump --quiet (PostgreSQL 15, LC_ALL=C) unless
        // noted; the messages of 17/18 are from xlogreader.c.
        let table: [(&str, WalEnd); 13] = [
            // It reached --end (0/9000000 here): the newest segment is whole.
            ("", at("0/9000000")),
            // Zero-filled tail of the segment being written.
            (
                "pg_waldump: error: error in WAL record at 0/1526048: invalid record length at 0/15261E0: wanted 24, got 0\n",
                at("0/15261E0"),
            ),
            // Started in the middle of a record: it skips to the next one.
            (
                "first record is after 0/1526050, at 0/15261E0, skipping over 400 bytes\n\
                 pg_waldump: error: error in WAL record at 0/1562A88: invalid record length at 0/1562AC0: wanted 24, got 0\n",
                at("0/1562AC0"),
            ),
            // PostgreSQL 17/18 wording.
            (
                "pg_waldump: error: error in WAL record at 0/3000060: invalid record length at 0/3000098: expected at least 24, got 0",
                at("0/3000098"),
            ),
            // A recycled segment: an old record where the next one should be.
            (
                "pg_waldump: error: error in WAL record at 0/5FFFF50: record with incorrect prev-link 0/2000028 at 0/5FFFF88",
                at("0/5FFFF88"),
            ),
            (
                "pg_waldump: error: error in WAL record at 0/5000028: invalid resource manager ID 200 at 0/5000060",
                at("0/5000060"),
            ),
            (
                "pg_waldump: error: error in WAL record at 0/5000028: incorrect resource manager data checksum in record at 0/5000060",
                at("0/5000060"),
            ),
            // A recycled next segment after a pg_switch_wal: its first page
            // is an old one, so the last valid record's start counts.
            (
                "pg_waldump: error: error in WAL record at 0/8EB72F8: unexpected pageaddr 0/6000000 in log segment 000000010000000000000009, offset 0",
                at("0/8EB72F8"),
            ),
            // The WAL ends at a segment boundary (after pg_switch_wal).
            (
                "pg_waldump: error: could not find file \"000000010000000000000002\": No such file or directory\n",
                at("0/2000000"),
            ),
            (
                "pg_waldump: fatal: could not find file \"0000000300000001000000A0\": No such file or directory\n",
                at("1/A0000000"),
            ),
            // Not understood: the caller keeps the replay position.
            (
                "pg_waldump: error: could not open directory \"/x/pg_wal\": No such file or directory\n\
                 pg_waldump: hint: Try \"pg_waldump --help\" for more information.\n",
                WalEnd::NotUnderstood(
                    "pg_waldump: error: could not open directory \"/x/pg_wal\": No such file or directory"
                        .into(),
                ),
            ),
            ("\n", WalEnd::NotUnderstood(String::new())),
            (
                "pg_waldump: error: error in WAL record at 0/5000028: invalid record length at garbage",
                WalEnd::NotUnderstood(
                    "pg_waldump: error: error in WAL record at 0/5000028: invalid record length at garbage"
                        .into(),
                ),
            ),
        ];
        for (stderr, expected) in table {
            // pg_waldump exits 0 only when it printed no error.
            let got = parse(stderr, stderr.is_empty(), SEG, Lsn(0x900_0000));
            assert_eq!(got, expected, "{stderr}");
        }
        // A failure that printed nothing is not understood.
        assert_eq!(
            parse("", false, SEG, Lsn(0x900_0000)),
            WalEnd::NotUnderstood(String::new())
        );
    }

    #[test]
    fn the_wal_at_a_position_is_in_the_newest_timelines_file_of_its_segment() {
        let names: Vec<String> = [
            "00000002.history",
            "000000020000000000000002",
            "000000020000000000000003",
            "00000003.history",
            "000000030000000000000003",
            "000000030000000000000004",
            "archive_status",
        ]
        .iter()
        .map(|n| n.to_string())
        .collect();
        let lsn = |s: &str| s.parse::<Lsn>().unwrap();
        // The lab's case: the server says timeline 2, the WAL at the replay
        // position is in timeline 3's file of segment 3.
        assert_eq!(timeline_at(&names, lsn("0/301A330"), SEG), Some(3));
        assert_eq!(timeline_at(&names, lsn("0/2FFFFFF"), SEG), Some(2));
        assert_eq!(timeline_at(&names, lsn("0/4000000"), SEG), Some(3));
        assert_eq!(timeline_at(&names, lsn("0/5000000"), SEG), None);
        assert_eq!(timeline_at(&names, lsn("0/3000000"), 0), None);
    }

    #[test]
    fn the_newest_segment_of_the_timeline_bounds_the_read() {
        let names: Vec<String> = [
            "archive_status",
            "000000020000000000000003",
            "000000020000000000000004",
            "000000030000000000000002",
            "00000002.history",
            "000000020000000000000005.partial",
            "xlogtemp.123",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(newest_segment(&names, 2), Some("000000020000000000000004"));
        assert_eq!(newest_segment(&names, 3), Some("000000030000000000000002"));
        assert_eq!(newest_segment(&names, 1), None);
    }

    #[test]
    fn segment_names_map_to_their_first_lsn_for_any_segment_size() {
        assert_eq!(
            segment_start("000000010000000000000002", SEG),
            Some(Lsn(0x200_0000))
        );
        assert_eq!(
            segment_start("000000010000000100000003", 1 << 30),
            Some(Lsn(0x1_C000_0000))
        );
        // Segment 4 does not exist in a 4 GiB unit of 1 GiB segments.
        assert_eq!(segment_start("000000010000000100000004", 1 << 30), None);
        assert_eq!(segment_start("00000001000000000000002", SEG), None);
        assert_eq!(segment_start("00000001000000000000000G", SEG), None);
    }
}
