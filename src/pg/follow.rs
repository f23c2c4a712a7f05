//! Why a standby cannot follow its primary, from what the server wrote.
//!
//! A standby whose WAL receiver does not stream tells nobody why over SQL:
//! `pg_stat_wal_receiver` is empty between attempts, and the walsender's
//! refusal reaches only the standby's log. Two refusals never heal by
//! themselves ([`Refusal`]):
//! - the primary removed WAL the standby still needs (no slot, or one
//!   invalidated by `max_slot_wal_keep_size`);
//! - the standby's history forked from the primary's.
//!
//! The log is a hint, never a verdict: it also holds text that anyone who
//! can reach the server puts there (a failed login's role name, a query
//! that fails, `application_name`). So (1) what the log says only makes the
//! monitor fail and the start ask the primary, which alone decides whether
//! the data is thrown away (`crate::replication::build::confirm_rebuild`);
//! and (2) a refusal counts only in the exact shape PostgreSQL 12-18 write
//! it, as a whole message:
//! - the message starts at the first `<LABEL>:  ` of the line (LOG, FATAL,
//!   ERROR, DETAIL, STATEMENT...: what follows `log_line_prefix`), an
//!   optional SQLSTATE (`log_error_verbosity = verbose`) skipped;
//! - it is, to the end of the line, one of the shapes below, with typed
//!   fields (a segment name of 24 hex digits, an `X/X` position, a number):
//!   no text can follow that a client chose, as it would in a role name
//!   quoted in `role "..." does not exist` or a statement;
//! - lines that start with a tab are continuations of a message with
//!   newlines (PostgreSQL indents them): never the start of one.
//!
//! A client's text in `log_line_prefix` (`%u`, `%d`, `%a`) comes before the
//! real label and message on the same line, so it cannot complete a shape
//! either. What breaks the reading (the standby is then reported as one that
//! does not stream, and never rebuilt): messages in another language
//! (`lc_messages` not C or English), a `log_destination` other than stderr
//! or a logging collector that writes elsewhere than `logfile`, a
//! `log_line_prefix` that itself holds a text like `LOG:  `.
//! Only the current run of the server counts (after its last "entering
//! standby mode"), and only a refusal written after the last "started
//! streaming WAL": one the standby has since got past is history, and a
//! line from before a restart that a start already checked with the primary
//! is not taken up again.

use std::path::Path;

use crate::deadline::Deadline;
use crate::exec::SystemUser;
use crate::ocf::code::OcfResult;
use crate::userfs;

/// How much of the end of the log is read: many retries' worth (each
/// failed attempt writes two or three lines).
const TAIL_BYTES: u64 = 64 * 1024;

/// What kind of refusal a standby's log holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// "requested WAL segment %s has already been removed" (walsender).
    WalRemoved,
    /// "requested starting point %X/%X on timeline %u is not in this
    /// server's history" (walsender), "new timeline %u forked off current
    /// database system timeline %u before current recovery point %X/%X",
    /// "new timeline %u is not a child of database system timeline %u"
    /// (the standby's startup process).
    Forked,
}

/// A refusal that never heals: its kind, and the message (what a reason
/// quotes and the memory keeps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub text: String,
}

/// The messages, with their fields: `{seg}` a segment file name, `{lsn}` a
/// position, `{n}` a number.
const SHAPES: &[(&str, RefusalKind)] = &[
    (
        "requested WAL segment {seg} has already been removed",
        RefusalKind::WalRemoved,
    ),
    (
        "requested starting point {lsn} on timeline {n} is not in this server's history",
        RefusalKind::Forked,
    ),
    (
        "new timeline {n} forked off current database system timeline {n} before current recovery point {lsn}",
        RefusalKind::Forked,
    ),
    (
        "new timeline {n} is not a child of database system timeline {n}",
        RefusalKind::Forked,
    ),
];

/// How the WAL receiver wraps the walsender's error (libpqwalreceiver).
const RECEIVER_WRAPS: &[&str] = &[
    "could not receive data from WAL stream: ERROR:  ",
    "could not start WAL streaming: ERROR:  ",
];

/// A successful connection to the primary.
const STREAMING: &str = "started streaming WAL from primary at {lsn} on timeline {n}";

/// The start of a run of the standby (its startup process).
const STANDBY_START: &str = "entering standby mode";

/// The labels a line of the stderr log gives a message (its severity) or
/// the parts that follow it on lines of their own.
const LABELS: &[&str] = &[
    "DEBUG",
    "LOG",
    "INFO",
    "NOTICE",
    "WARNING",
    "ERROR",
    "FATAL",
    "PANIC",
    "DETAIL",
    "HINT",
    "QUERY",
    "CONTEXT",
    "LOCATION",
    "STATEMENT",
];

/// What one line of the log means here.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Refused(Refusal),
    Streaming,
    StandbyStart,
}

/// The message of a line: its label and the text after it, from the first
/// label on; None for a continuation line or a line with no label.
fn message(line: &str) -> Option<(&str, &str)> {
    if line.starts_with(['\t', ' ']) {
        return None;
    }
    let (at, label) = LABELS
        .iter()
        .filter_map(|l| line.find(&format!("{l}:  ")).map(|at| (at, *l)))
        .min_by_key(|(at, _)| *at)?;
    let text = &line[at + label.len() + 3..];
    Some((label, skip_sqlstate(text).trim_end_matches(['\r', '\n'])))
}

/// `text` without a leading `XXXXX: ` SQLSTATE.
fn skip_sqlstate(text: &str) -> &str {
    let b = text.as_bytes();
    let is_state = b.len() > 7
        && b[..5]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        && &b[5..7] == b": ";
    if is_state { &text[7..] } else { text }
}

/// Whether `text` is exactly `shape`, its fields typed (see [`SHAPES`]).
fn matches(shape: &str, text: &str) -> bool {
    let Some(open) = shape.find('{') else {
        return shape == text;
    };
    let Some(rest) = text.strip_prefix(&shape[..open]) else {
        return false;
    };
    let close = open + shape[open..].find('}').expect("fields are closed");
    let field = &shape[open + 1..close];
    let (after, shape_rest) = (&rest, &shape[close + 1..]);
    // The field runs up to the next fixed text (none follows: to the end).
    let len = after
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_hexdigit() || *c == '/')
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    (1..=len).rev().any(|n| {
        let value = &after[..n];
        let typed = match field {
            "seg" => {
                value.len() == 24
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
            }
            "lsn" => value.parse::<crate::vocab::Lsn>().is_ok(),
            _ => value.bytes().all(|b| b.is_ascii_digit()),
        };
        typed && matches(shape_rest, &after[n..])
    })
}

/// The refusal `text` (a message as PostgreSQL writes it, or as the memory
/// keeps it) is, if it is one.
pub fn refusal(text: &str) -> Option<Refusal> {
    SHAPES
        .iter()
        .find(|(shape, _)| matches(shape, text))
        .map(|(_, kind)| Refusal {
            kind: *kind,
            text: text.to_string(),
        })
}

/// What `line` means: a refusal, the start of streaming or of a standby run.
fn event(line: &str) -> Option<Event> {
    let (label, text) = message(line)?;
    match label {
        "LOG" if matches(STREAMING, text) => Some(Event::Streaming),
        "LOG" if text == STANDBY_START => Some(Event::StandbyStart),
        // The startup process's own findings.
        "LOG" => refusal(text)
            .filter(|r| r.text.starts_with("new timeline "))
            .map(Event::Refused),
        // The walsender's, through the receiver (FATAL: a background
        // process's ERROR ends it).
        "FATAL" | "ERROR" => RECEIVER_WRAPS
            .iter()
            .find_map(|w| text.strip_prefix(w))
            .and_then(refusal)
            .filter(|r| !r.text.starts_with("new timeline "))
            .map(Event::Refused),
        _ => None,
    }
}

/// Why the standby cannot follow, from the text of its log; None when the
/// last thing it said of its streaming in this run is no such refusal.
pub fn cannot_follow(log: &str) -> Option<Refusal> {
    match log.lines().rev().find_map(event)? {
        Event::Refused(refusal) => Some(refusal),
        Event::Streaming | Event::StandbyStart => None,
    }
}

/// [`cannot_follow`] of the end of `logfile`, read as `user`; None when
/// the log cannot be read (the logging collector may own the messages).
pub fn from_logfile(logfile: &Path, user: &SystemUser, deadline: Deadline) -> OcfResult<Option<Refusal>> {
    Ok(userfs::read_tail(user, deadline, logfile, TAIL_BYTES)?
        .ok()
        .and_then(|bytes| cannot_follow(&String::from_utf8_lossy(&bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "2026-12-02 10:00:01.000 UTC [42] ";
    const REMOVED: &str = "requested WAL segment 000000010000000000000003 has already been removed";
    const HISTORY: &str = "requested starting point 0/5000000 on timeline 2 is not in this server's history";
    const STARTED: &str = "2026-12-02 10:00:00.000 UTC [41] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1";

    fn removed_line() -> String {
        format!("{P}FATAL:  could not receive data from WAL stream: ERROR:  {REMOVED}")
    }

    #[test]
    fn refusals_that_never_heal_are_named() {
        let forked = "new timeline 3 forked off current database system timeline 2 before current recovery point 0/5000028";
        let table: Vec<(String, Option<(RefusalKind, &str)>)> = vec![
            (
                format!("{STARTED}\n{}\n", removed_line()),
                Some((RefusalKind::WalRemoved, REMOVED)),
            ),
            // Got past it since.
            (format!("{}\n{STARTED}\n", removed_line()), None),
            // A restart since: the start checked it with the primary.
            (
                format!("{}\n{P}LOG:  entering standby mode\n", removed_line()),
                None,
            ),
            (
                format!("{P}LOG:  {forked}\n"),
                Some((RefusalKind::Forked, forked)),
            ),
            (
                format!(
                    "{P}FATAL:  could not start WAL streaming: ERROR:  {HISTORY}\n\tDETAIL:  This server's history forked from timeline 1 at 0/3000060.\n"
                ),
                Some((RefusalKind::Forked, HISTORY)),
            ),
            (
                format!("{P}LOG:  new timeline 4 is not a child of database system timeline 2\n"),
                Some((
                    RefusalKind::Forked,
                    "new timeline 4 is not a child of database system timeline 2",
                )),
            ),
            // log_error_verbosity = verbose; PostgreSQL 18's padded positions.
            (
                format!(
                    "{P}FATAL:  XX000: could not receive data from WAL stream: ERROR:  {REMOVED}\n{P}LOCATION:  libpqrcv_receive, libpqwalreceiver.c:817\n"
                ),
                Some((RefusalKind::WalRemoved, REMOVED)),
            ),
            (
                format!(
                    "{P}LOG:  new timeline 3 forked off current database system timeline 2 before current recovery point 0/05000028\n"
                ),
                Some((
                    RefusalKind::Forked,
                    "new timeline 3 forked off current database system timeline 2 before current recovery point 0/05000028",
                )),
            ),
            // No prefix at all.
            (format!("LOG:  {forked}\n"), Some((RefusalKind::Forked, forked))),
            // A primary that is down heals by itself.
            (
                format!("{P}FATAL:  could not connect to the primary server: connection refused\n"),
                None,
            ),
            // Another "requested WAL segment" message is no refusal.
            (
                format!("{P}LOG:  requested WAL segment 0000000100000000000000A1 is being copied\n"),
                None,
            ),
            (String::new(), None),
        ];
        for (log, expected) in table {
            let got = cannot_follow(&log);
            let got = got.as_ref().map(|r| (r.kind, r.text.as_str()));
            assert_eq!(got, expected, "{log}");
        }
    }

    /// Text a client put in the log: a role name, a failing statement, an
    /// application_name in the prefix, a value with newlines (issue 23).
    #[test]
    fn what_a_client_writes_in_the_log_is_never_a_refusal() {
        let forged = [
            format!("{P}FATAL:  role \"requested WAL segment x has already been removed\" does not exist"),
            format!(
                "{P}FATAL:  role \"could not receive data from WAL stream: ERROR:  {REMOVED}\" does not exist"
            ),
            format!(
                "{P}FATAL:  password authentication failed for user \"LOG:  new timeline 4 is not a child of database system timeline 2\""
            ),
            format!(
                "{P}ERROR:  invalid input syntax for type integer: \"x\n\t{}\"",
                removed_line()
            ),
            format!("{P}STATEMENT:  select 1 -- FATAL:  could not start WAL streaming: ERROR:  {HISTORY}"),
            format!(
                "{P}LOG:  connection authorized: user=postgres application_name=LOG:  new timeline 4 is not a child of database system timeline 2"
            ),
            // %a in log_line_prefix: the client's text comes first.
            format!(
                "{P}LOG:  new timeline 4 is not a child of database system timeline 2 FATAL:  role \"x\" does not exist"
            ),
            format!("{P}FATAL:  could not receive data from WAL stream: ERROR:  {REMOVED} (forged)"),
            format!(
                "{P}FATAL:  could not receive data from WAL stream: ERROR:  requested WAL segment 0000000100000000000000 has already been removed"
            ),
        ];
        for line in forged {
            assert_eq!(cannot_follow(&format!("{line}\n")), None, "{line}");
        }
    }

    #[test]
    fn the_remembered_message_is_read_back_as_its_kind() {
        assert_eq!(refusal(REMOVED).map(|r| r.kind), Some(RefusalKind::WalRemoved));
        assert_eq!(refusal(HISTORY).map(|r| r.kind), Some(RefusalKind::Forked));
        assert_eq!(refusal("requested WAL segment x has already been removed"), None);
        assert_eq!(refusal(""), None);
    }
}
