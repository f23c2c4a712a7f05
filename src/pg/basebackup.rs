//! `pg_basebackup`: a copy of the primary, taken as the system user into a
//! directory of its own, with its progress read while it runs.
//!
//! The copy streams the WAL it needs (`-X stream`), starts at once
//! (`-c fast`: a spread checkpoint would wait up to checkpoint_timeout
//! before the first byte), never asks for a password (`-w`: `.pgpass` or
//! nothing, as for the standbys), and reports progress (`-P`): with stderr
//! not a terminal, pg_basebackup ends each report with a newline, and the
//! first one, before any file is sent, carries the primary's own estimate
//! of the size, which is what the space check uses. No `-R`: the agent
//! passes the recovery settings on the command line at start.

use std::path::Path;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::exec::{self, SystemUser, Watch, Watched};
use crate::ocf::code::{OcfError, OcfResult};
use crate::pg::conninfo;
use crate::userfs;

/// One progress report: `12345/67890 kB (18%), 0/1 tablespace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub done_kb: u64,
    /// The primary's estimate, raised by pg_basebackup when the copy
    /// outgrows it.
    pub total_kb: u64,
    /// How many tablespaces the copy has, the default one included (None
    /// when the report does not say).
    pub tablespaces: Option<u32>,
}

impl Progress {
    /// Parses a report line; None for any other line.
    pub fn parse(line: &str) -> Option<Progress> {
        let (counts, rest) = line.trim().split_once(" kB")?;
        let (done, total) = counts.trim().split_once('/')?;
        // "..., 0/2 tablespaces" (or "tablespace" for one).
        let tablespaces = rest
            .split_once("), ")
            .and_then(|(_, t)| t.split_once(" tablespace"))
            .and_then(|(n, _)| n.split_once('/'))
            .and_then(|(_, of)| of.trim().parse().ok());
        Some(Progress {
            done_kb: done.trim().parse().ok()?,
            total_kb: total.trim().parse().ok()?,
            tablespaces,
        })
    }

    /// Percent done, 0-100.
    pub fn percent(&self) -> u32 {
        if self.total_kb == 0 {
            return 100;
        }
        (self.done_kb.saturating_mul(100) / self.total_kb).min(100) as u32
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_kb.saturating_mul(1024)
    }

    pub fn done_bytes(&self) -> u64 {
        self.done_kb.saturating_mul(1024)
    }
}

/// How the copy uses the node's replication slot on the primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotUse<'a> {
    /// No slot (replication_slots=false).
    None,
    /// Stream through this slot, which the primary keeps.
    Existing(&'a str),
    /// Create it first (`-C`): the primary's monitor makes the slot of a
    /// new member only once it has seen it in the membership, up to a
    /// minute after the node joined; a slot named `pgha_<node>` of a member
    /// is then the primary's like any other.
    Create(&'a str),
}

/// The connection pg_basebackup makes: `primary_conninfo` with a connect
/// timeout unless it has one (a VIP that is nowhere must not eat the
/// start's budget).
pub fn source(primary_conninfo: &str) -> String {
    let timeout = conninfo::missing_defaults(primary_conninfo, &[("connect_timeout", "5")]);
    format!("{}{timeout}", primary_conninfo.trim())
}

/// The argument vector of a copy into `target`.
pub fn args(target: &Path, primary_conninfo: &str, slot: SlotUse) -> Vec<String> {
    let mut args = vec![
        "-D".to_string(),
        target.display().to_string(),
        "-X".into(),
        "stream".into(),
        "-c".into(),
        "fast".into(),
        "-P".into(),
        "-w".into(),
        "-d".into(),
        source(primary_conninfo),
    ];
    match slot {
        SlotUse::None => {}
        SlotUse::Existing(name) => args.extend(["-S".to_string(), name.to_string()]),
        SlotUse::Create(name) => args.extend(["-C".to_string(), "-S".into(), name.to_string()]),
    }
    args
}

/// Runs pg_basebackup from `bindir` as `user` into `target` within
/// `deadline`, handing each progress report to `progress`, which may stop
/// the copy (a copy that will not fit) with a reason.
///
/// Errors are ERR_GENERIC with pg_basebackup's last message, or with the
/// reason `progress` gave; a copy cut by the deadline says so and how long
/// it ran. What the copy left in `target` is the caller's to remove.
pub fn run(
    bindir: &Path,
    user: &SystemUser,
    args: &[String],
    deadline: Deadline,
    mut progress: impl FnMut(Progress) -> Watch,
) -> OcfResult<()> {
    let program = bindir.join("pg_basebackup");
    let watched = exec::run_watched(&program, args, Some(user), deadline, |line| {
        Progress::parse(line).map_or(Watch::Continue, &mut progress)
    });
    match watched {
        Ok(Watched::Exited(out)) if out.success() => Ok(()),
        Ok(Watched::Exited(out)) => Err(OcfError::generic(format!(
            "pg_basebackup failed: {}",
            last_error(&out.stderr)
        ))),
        Ok(Watched::Stopped(why)) => Err(OcfError::generic(why)),
        Err(exec::ExecError::TimedOut { after, .. }) if after > Duration::ZERO => {
            Err(OcfError::generic(format!(
                "base backup cut after {}s by the start timeout: raise op start timeout",
                after.as_secs()
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// What a reason quotes of pg_basebackup's stderr: its last `error:`
/// line (it goes on to say that it removes what it wrote), else its last
/// line that is not a progress report.
fn last_error(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && Progress::parse(l).is_none())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.contains("error: "))
        .or(lines.last())
        .map(|l| {
            l.trim_start_matches("pg_basebackup: ")
                .trim_start_matches("error: ")
        })
        .unwrap_or("no message")
}

/// The copy's `backup_label`, read as `user` (the copy is the user's).
pub fn backup_label(user: &SystemUser, target: &Path, deadline: Deadline) -> OcfResult<String> {
    let path = target.join("backup_label");
    let bytes = userfs::read_small(user, deadline, &path, 64 * 1024)?
        .map_err(|e| OcfError::generic(format!("the copy has no readable backup_label: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reports_parse_and_other_lines_do_not() {
        // (line, (done, total, percent) when it is a report)
        type Row<'a> = (&'a str, Option<(u64, u64, u32)>);
        let table: &[Row] = &[
            ("     0/30587 kB (0%), 0/1 tablespace", Some((0, 30587, 0))),
            ("15300/30587 kB (50%), 0/1 tablespace", Some((15300, 30587, 50))),
            (
                "30600/30600 kB (100%), 1/1 tablespace (...data/base/1/1259)",
                Some((30600, 30600, 100)),
            ),
            // A copy that outgrew the estimate is capped at 100%.
            ("40000/30000 kB (133%), 0/1 tablespace", Some((40000, 30000, 100))),
            ("pg_basebackup: error: connection to server failed", None),
            ("waiting for checkpoint", None),
            ("", None),
        ];
        for (line, expected) in table {
            let got = Progress::parse(line).map(|p| (p.done_kb, p.total_kb, p.percent()));
            assert_eq!(got, *expected, "{line:?}");
        }
        assert_eq!(Progress::parse("1/2 kB (50%)").unwrap().total_bytes(), 2048);
        let tablespaces = |line: &str| Progress::parse(line).unwrap().tablespaces;
        assert_eq!(tablespaces("0/30587 kB (0%), 0/1 tablespace"), Some(1));
        assert_eq!(tablespaces("0/30587 kB (0%), 0/2 tablespaces"), Some(2));
        assert_eq!(
            tablespaces("0/30587 kB (0%), 1/3 tablespaces (...data/base/1/1259)"),
            Some(3)
        );
        assert_eq!(tablespaces("1/2 kB (50%)"), None);
    }

    #[test]
    fn the_copy_streams_its_wal_through_the_nodes_slot() {
        let target = Path::new("/var/lib/postgresql/15/main.pgha-build");
        let plain = args(target, "host=10.0.0.100 user=replicator", SlotUse::None);
        assert_eq!(
            plain.join(" "),
            "-D /var/lib/postgresql/15/main.pgha-build -X stream -c fast -P -w \
             -d host=10.0.0.100 user=replicator connect_timeout=5"
        );
        let existing = args(target, "host=x connect_timeout=2", SlotUse::Existing("pgha_n4"));
        assert_eq!(
            existing[9], "host=x connect_timeout=2",
            "the operator's timeout wins"
        );
        assert_eq!(existing[10..], ["-S", "pgha_n4"]);
        let create = args(target, "host=x", SlotUse::Create("pgha_n4"));
        assert_eq!(create[10..], ["-C", "-S", "pgha_n4"]);
    }

    #[test]
    fn the_reason_quotes_the_error_not_the_progress() {
        let stderr = "    0/1 kB (0%), 0/1 tablespace\n\
                      pg_basebackup: error: could not connect: FATAL:  no pg_hba.conf entry\n\
                      pg_basebackup: removing contents of data directory \"/x\"\n";
        assert_eq!(
            last_error(stderr),
            "could not connect: FATAL:  no pg_hba.conf entry"
        );
        assert_eq!(last_error("pg_basebackup: something odd\n"), "something odd");
        assert_eq!(last_error("  5/10 kB (50%), 0/1 tablespace\n"), "no message");
    }
}
