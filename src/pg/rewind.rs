//! pg_rewind: whether a former primary diverged from the primary
//! (`--dry-run`), and rewinding it.

use std::time::Duration;

use crate::deadline::Deadline;
use crate::exec;
use crate::ocf::code::{OcfError, OcfResult};
use crate::pg::conninfo;
use crate::pg::instance::Instance;

/// What `pg_rewind --dry-run` found about a former primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// Its history is a prefix of the primary's: it can follow as it is.
    None,
    /// It has WAL the primary never had: it must be rewound or rebuilt.
    Diverged(String),
    /// No primary could be reached (bootstrap, primary down): nothing to
    /// compare with, the standby can only wait for one.
    NoPrimary(String),
    /// pg_rewind could not tell (e.g. the WAL since the last common
    /// checkpoint is gone): following blindly could corrupt, so it counts as
    /// a divergence that needs a decision.
    Undecided(String),
}

/// The libpq string pg_rewind connects to the primary with: a VIP that is
/// nowhere (no primary yet) must not hang the start, so a connect timeout is
/// added unless the operator gave one.
///
pub fn rewind_source(primary_conninfo: &str) -> String {
    let timeout = conninfo::missing_defaults(primary_conninfo, &[("connect_timeout", "5")]);
    format!("{} dbname=postgres{timeout}", primary_conninfo.trim())
}

/// Asks the primary, through `pg_rewind --dry-run`, whether this stopped
/// instance diverged from it. Nothing is written in dry-run mode.
pub fn check_divergence(
    inst: &Instance,
    primary_conninfo: &str,
    deadline: Deadline,
) -> OcfResult<Divergence> {
    let source = format!("--source-server={}", rewind_source(primary_conninfo));
    let target = format!("--target-pgdata={}", inst.datadir.display());
    let out = exec::run(
        inst.program("pg_rewind"),
        &["--dry-run", "--progress", target.as_str(), source.as_str()],
        Some(&inst.user),
        deadline.within(Duration::from_secs(30)),
    )?;
    let text = format!("{}\n{}", out.stdout, out.stderr);
    Ok(classify_rewind_output(out.success(), &text))
}

/// Reads pg_rewind's verdict from its output (LC_ALL=C).
pub fn classify_rewind_output(success: bool, text: &str) -> Divergence {
    if text.contains("no rewind required") {
        return Divergence::None;
    }
    if success
        && (text.contains("servers diverged at") || text.contains("rewinding from last common checkpoint"))
    {
        let line = text
            .lines()
            .find(|l| l.contains("servers diverged at"))
            .unwrap_or("servers diverged");
        return Divergence::Diverged(line.trim().trim_start_matches("pg_rewind: ").to_string());
    }
    let last = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output");
    let last = last
        .trim_start_matches("pg_rewind: ")
        .trim_start_matches("error: ")
        .to_string();
    // libpq's connection failures (socket missing, refused, timeout); not
    // pg_rewind's own "No such file" about a WAL segment.
    let unreachable = ["could not connect", "connection to server", "timeout expired"];
    if unreachable.iter().any(|u| text.contains(u)) {
        Divergence::NoPrimary(last)
    } else {
        Divergence::Undecided(last)
    }
}

/// Why [`rewind`] did not rewind.
#[derive(Debug)]
pub enum RewindFailed {
    /// Killed at its deadline: the data directory may hold files of both
    /// histories (PostgreSQL's documentation: a target whose pg_rewind
    /// failed while processing is likely not recoverable as it is), and
    /// pg_control still says what it said before. Another pg_rewind that
    /// finishes repairs it; nothing about the primary was learnt.
    TimedOut(OcfError),
    /// pg_rewind said no (the WAL since the fork point is gone, ...), or
    /// could not run.
    Failed(OcfError),
}

/// Rewinds this stopped instance onto the primary's timeline.
pub fn rewind(inst: &Instance, primary_conninfo: &str, deadline: Deadline) -> Result<(), RewindFailed> {
    let source = format!("--source-server={}", rewind_source(primary_conninfo));
    let target = format!("--target-pgdata={}", inst.datadir.display());
    let out = match exec::run(
        inst.program("pg_rewind"),
        &[target.as_str(), source.as_str()],
        Some(&inst.user),
        deadline,
    ) {
        Ok(out) => out,
        Err(e @ exec::ExecError::TimedOut { .. }) => return Err(RewindFailed::TimedOut(e.into())),
        Err(e) => return Err(RewindFailed::Failed(e.into())),
    };
    if !out.success() {
        return Err(RewindFailed::Failed(OcfError::generic(format!(
            "pg_rewind failed: {}",
            out.last_message()
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewind_source_finds_connect_timeout_by_keyword() {
        assert_eq!(
            rewind_source("host=x user=r"),
            "host=x user=r dbname=postgres connect_timeout=5"
        );
        assert_eq!(
            rewind_source("host=x connect_timeout = 2"),
            "host=x connect_timeout = 2 dbname=postgres"
        );
        // A substring is not a keyword.
        assert_eq!(
            rewind_source("host=x application_name=connect_timeout"),
            "host=x application_name=connect_timeout dbname=postgres connect_timeout=5"
        );
    }

    #[test]
    fn rewind_verdicts() {
        assert_eq!(
            classify_rewind_output(
                true,
                "pg_rewind: source and target cluster are on the same timeline\npg_rewind: no rewind required\n"
            ),
            Divergence::None
        );
        assert!(matches!(
            classify_rewind_output(true, "pg_rewind: servers diverged at WAL location 0/3000060 on timeline 1\npg_rewind: rewinding from last common checkpoint at 0/2000060 on timeline 1\n"),
            Divergence::Diverged(d) if d.contains("0/3000060")
        ));
        assert!(matches!(
            classify_rewind_output(
                false,
                "pg_rewind: error: could not connect to server: Connection refused\n"
            ),
            Divergence::NoPrimary(_)
        ));
        assert!(matches!(
            classify_rewind_output(false, "pg_rewind: error: could not find previous WAL record at 0/2000100\n"),
            Divergence::Undecided(e) if e.starts_with("could not find previous WAL record")
        ));
    }
}
