//! Why a standby cannot follow its primary, from what the server wrote.
//!
//! A standby whose WAL receiver does not stream tells nobody why over SQL:
//! `pg_stat_wal_receiver` is empty between attempts, and the walsender's
//! refusal reaches only the standby's log. Two refusals never heal by
//! themselves, so they are worth a rebuild (issue 14):
//! - the primary removed WAL the standby still needs: "requested WAL
//!   segment ... has already been removed" (no slot, or one invalidated by
//!   `max_slot_wal_keep_size`);
//! - the standby's history forked from the primary's: "requested starting
//!   point ... is not in this server's history", "new timeline ... forked
//!   off current database system timeline ...", "... is not a child of
//!   this server's timeline".
//!
//! There is no SQLSTATE in the log to match (conventions, habit 2), so the
//! messages are matched as PostgreSQL 12-18 spell them in English; a
//! server that logs in another language (`lc_messages`), or through its
//! logging collector instead of `logfile`, is reported as a standby that
//! does not stream, as before. Only a refusal written after the last
//! "started streaming" counts: one the standby has since got past is
//! history.

use std::path::Path;

use crate::deadline::Deadline;
use crate::exec::SystemUser;
use crate::ocf::code::OcfResult;
use crate::userfs;

/// How much of the end of the log is read: many retries' worth (each
/// failed attempt writes two or three lines).
const TAIL_BYTES: u64 = 64 * 1024;

/// What marks a successful connection to the primary.
const STREAMING: &str = "started streaming WAL";

/// The refusals that never heal, each with the words a reason keeps.
const REFUSALS: &[&str] = &[
    "requested WAL segment",
    "is not in this server's history",
    "forked off current database system timeline",
    "is not a child of this server's timeline",
];

/// Why the standby cannot follow, from the text of its log; None when the
/// last thing it said is no such refusal.
pub fn cannot_follow(log: &str) -> Option<String> {
    let refusal = |l: &str| {
        REFUSALS
            .iter()
            .any(|r| l.contains(r) && (!r.starts_with("requested WAL") || l.contains("already been removed")))
    };
    let lines: Vec<&str> = log.lines().collect();
    let last = lines.iter().rposition(|l| refusal(l))?;
    if lines[last + 1..].iter().any(|l| l.contains(STREAMING)) {
        return None;
    }
    let line = lines[last];
    // From the message itself: the walsender's ERROR comes wrapped in the
    // receiver's FATAL ("could not receive data from WAL stream: ERROR:  ...").
    let start = ["requested ", "new timeline "]
        .iter()
        .filter_map(|w| line.find(w))
        .min()
        .unwrap_or(0);
    Some(line[start..].trim().to_string())
}

/// [`cannot_follow`] of the end of `logfile`, read as `user`; None when
/// the log cannot be read (the logging collector may own the messages).
pub fn from_logfile(logfile: &Path, user: &SystemUser, deadline: Deadline) -> OcfResult<Option<String>> {
    Ok(userfs::read_tail(user, deadline, logfile, TAIL_BYTES)?
        .ok()
        .and_then(|bytes| cannot_follow(&String::from_utf8_lossy(&bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REMOVED: &str = "2026-12-02 10:00:01.000 UTC [42] FATAL:  could not receive data from WAL stream: \
        ERROR:  requested WAL segment 000000010000000000000003 has already been removed";
    const STARTED: &str = "2026-12-02 10:00:00.000 UTC [41] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1";

    #[test]
    fn refusals_that_never_heal_are_named() {
        let table: Vec<(String, Option<&str>)> = vec![
            (
                format!("{STARTED}\n{REMOVED}\n"),
                Some("requested WAL segment 000000010000000000000003 has already been removed"),
            ),
            // Got past it since.
            (format!("{REMOVED}\n{STARTED}\n"), None),
            (
                "LOG:  new timeline 3 forked off current database system timeline 2 before current \
                 recovery point 0/5000028\n"
                    .into(),
                Some(
                    "new timeline 3 forked off current database system timeline 2 before current recovery point 0/5000028",
                ),
            ),
            (
                "FATAL:  could not start WAL streaming: ERROR:  requested starting point 0/5000000 on \
                 timeline 2 is not in this server's history\n"
                    .into(),
                Some("requested starting point 0/5000000 on timeline 2 is not in this server's history"),
            ),
            (
                "LOG:  new timeline 4 is not a child of this server's timeline 2\n".into(),
                Some("new timeline 4 is not a child of this server's timeline 2"),
            ),
            // A primary that is down heals by itself.
            (
                "FATAL:  could not connect to the primary server: connection refused\n".into(),
                None,
            ),
            // Another "requested WAL segment" message is no refusal.
            (
                "LOG:  requested WAL segment 0000000100000000000000A1 is being copied\n".into(),
                None,
            ),
            (String::new(), None),
        ];
        for (log, expected) in table {
            assert_eq!(cannot_follow(&log).as_deref(), expected, "{log}");
        }
    }
}
