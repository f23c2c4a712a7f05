//! `pg_controldata`: the state the instance was left in, read without a server.
//!
//! When no postmaster runs, the cluster state in `global/pg_control` tells a
//! clean shutdown from a crash (PAF `_confirm_stopped` does the same). The
//! program runs with `LC_ALL=C` (set by `exec`) so its labels are English.

use std::collections::BTreeMap;
use std::path::Path;

use crate::deadline::Deadline;
use crate::exec::{self, SystemUser};
use crate::ocf::code::{OcfError, OcfResult};
use crate::vocab::{Lsn, Position};

/// "Database cluster state" from pg_control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterState {
    StartingUp,
    ShutDown,
    ShutDownInRecovery,
    ShuttingDown,
    InCrashRecovery,
    InArchiveRecovery,
    InProduction,
    Unknown(String),
}

impl ClusterState {
    /// Every named state, as `pg_controldata` spells it (LC_ALL=C; the
    /// words of PostgreSQL's `dbState()`).
    const NAMED: [(ClusterState, &'static str); 7] = [
        (ClusterState::StartingUp, "starting up"),
        (ClusterState::ShutDown, "shut down"),
        (ClusterState::ShutDownInRecovery, "shut down in recovery"),
        (ClusterState::ShuttingDown, "shutting down"),
        (ClusterState::InCrashRecovery, "in crash recovery"),
        (ClusterState::InArchiveRecovery, "in archive recovery"),
        (ClusterState::InProduction, "in production"),
    ];

    pub fn parse(s: &str) -> ClusterState {
        let s = s.trim();
        ClusterState::NAMED
            .iter()
            .find(|(_, spelling)| *spelling == s)
            .map_or_else(
                || ClusterState::Unknown(s.to_string()),
                |(state, _)| state.clone(),
            )
    }

    /// The state as pg_control spells it (an unknown one as it was read).
    pub fn as_str(&self) -> &str {
        match self {
            ClusterState::Unknown(s) => s,
            named => ClusterState::NAMED
                .iter()
                .find(|(state, _)| state == named)
                .map(|(_, spelling)| *spelling)
                .expect("every state but Unknown is in NAMED"),
        }
    }

    /// True for the two states a clean shutdown leaves.
    pub fn is_clean_shutdown(&self) -> bool {
        matches!(self, ClusterState::ShutDown | ClusterState::ShutDownInRecovery)
    }
}

/// The fields of pg_controldata the agent uses.
#[derive(Clone, Debug)]
pub struct ControlData {
    pub state: ClusterState,
    /// Timeline of the latest checkpoint.
    pub timeline: u32,
    /// Location of the latest checkpoint record.
    pub checkpoint: Lsn,
    /// Where the replay of the latest checkpoint starts: the oldest WAL a
    /// restart reads.
    pub redo: Lsn,
    /// `wal_segment_size` of the cluster (None when not printed).
    pub segment_size: Option<u64>,
    /// "Minimum recovery ending location" and its timeline: on a standby,
    /// how far its replay went (a standby's shutdown moves it to the last
    /// record replayed); None when 0/0 or not printed.
    pub min_recovery: Option<Position>,
}

impl ControlData {
    /// Parses `pg_controldata` output (LC_ALL=C).
    pub fn parse(text: &str) -> Result<ControlData, String> {
        let fields: BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let get = |k: &str| {
            fields
                .get(k)
                .copied()
                .ok_or_else(|| format!("pg_controldata has no '{k}'"))
        };
        let lsn = |k: &str| get(k).and_then(|v| v.parse::<Lsn>().map_err(|e| format!("{k}: {e}")));
        Ok(ControlData {
            state: ClusterState::parse(get("Database cluster state")?),
            timeline: get("Latest checkpoint's TimeLineID")?
                .parse()
                .map_err(|_| "bad Latest checkpoint's TimeLineID".to_string())?,
            checkpoint: lsn("Latest checkpoint location")?,
            redo: lsn("Latest checkpoint's REDO location")?,
            segment_size: fields.get("Bytes per WAL segment").and_then(|v| v.parse().ok()),
            min_recovery: fields
                .get("Minimum recovery ending location")
                .zip(fields.get("Min recovery ending loc's timeline"))
                .and_then(|(lsn, timeline)| Position::from_halves(timeline, lsn))
                .filter(|p| p.lsn != Lsn(0) && p.timeline != 0),
        })
    }

    /// How far the WAL of this stopped data directory goes, as pg_rewind
    /// reckons it for its target: the latest checkpoint, or the minimum
    /// recovery point when that is later (a standby's). A node whose WAL
    /// goes past the point where the primary's history left its timeline
    /// holds WAL the primary never had ([`crate::pg::history::follows`]).
    pub fn wal_end(&self) -> Position {
        let checkpoint = Position {
            timeline: self.timeline,
            lsn: self.checkpoint,
        };
        match self.min_recovery {
            Some(min) if min.lsn > checkpoint.lsn => min,
            _ => checkpoint,
        }
    }
}

/// Runs `pg_controldata <datadir>` as the system user.
pub fn read(bindir: &Path, datadir: &Path, user: &SystemUser, deadline: Deadline) -> OcfResult<ControlData> {
    let program = bindir.join("pg_controldata");
    let out = exec::run(&program, &[datadir], Some(user), deadline)?;
    if !out.success() {
        return Err(OcfError::generic(format!(
            "pg_controldata failed: {}",
            out.last_message()
        )));
    }
    if is_corrupt(&out.stdout) || is_corrupt(&out.stderr) {
        // pg_controldata still prints the fields, "untrustworthy": reading a
        // state from them would call a damaged data directory a crash.
        return Err(OcfError::generic(format!(
            "pg_control in {} is corrupt (CRC mismatch): restore or rebuild this data directory",
            datadir.display()
        )));
    }
    ControlData::parse(&out.stdout).map_err(OcfError::generic)
}

/// pg_controldata's warning for a pg_control whose checksum is wrong.
fn is_corrupt(text: &str) -> bool {
    text.contains("CRC checksum does not match")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7310000000000000000
Database cluster state:               in production
pg_control last modified:             Sun 22 Nov 2026 01:00:00 AM UTC
Latest checkpoint location:           0/1A2B3C8
Latest checkpoint's REDO location:    0/1A2B390
Latest checkpoint's REDO WAL file:    000000010000000000000001
Latest checkpoint's TimeLineID:       3
Latest checkpoint's PrevTimeLineID:   2
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
Bytes per WAL segment:                16777216
";

    #[test]
    fn parses_the_fields_we_use() {
        let c = ControlData::parse(SAMPLE).unwrap();
        assert_eq!(c.state, ClusterState::InProduction);
        assert_eq!(c.timeline, 3);
        assert_eq!(c.checkpoint, "0/1A2B3C8".parse().unwrap());
        assert_eq!(c.redo, "0/1A2B390".parse().unwrap());
        assert_eq!(c.segment_size, Some(16 << 20));
        assert_eq!(c.min_recovery, None, "0/0 is none");
        assert_eq!(
            c.wal_end().to_string(),
            "3:0/1A2B3C8",
            "a primary's: its checkpoint"
        );
    }

    #[test]
    fn a_standbys_wal_ends_where_its_replay_went() {
        let standby = SAMPLE
            .replace("in production", "shut down in recovery")
            .replace("location:     0/0", "location:     0/1B00028")
            .replace("loc's timeline:   0", "loc's timeline:   3");
        let c = ControlData::parse(&standby).unwrap();
        assert_eq!(
            c.min_recovery.map(|p| p.to_string()).as_deref(),
            Some("3:0/1B00028")
        );
        assert_eq!(c.wal_end().to_string(), "3:0/1B00028");
        // A minimum recovery point behind the checkpoint says nothing more.
        let behind = standby.replace("0/1B00028", "0/1000000");
        assert_eq!(
            ControlData::parse(&behind).unwrap().wal_end().to_string(),
            "3:0/1A2B3C8"
        );
    }

    #[test]
    fn states_are_spelled_as_pg_controldata_does_and_round_trip() {
        let spelled: Vec<&str> = ClusterState::NAMED.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            spelled.join(", "),
            "starting up, shut down, shut down in recovery, shutting down, in crash recovery, \
             in archive recovery, in production"
        );
        for (state, spelling) in &ClusterState::NAMED {
            assert_eq!(&ClusterState::parse(spelling), state);
            assert_eq!(ClusterState::parse(&format!(" {spelling}\n")), *state, "trimmed");
        }
        let odd = ClusterState::parse("weird ");
        assert_eq!(odd.as_str(), "weird");
        assert_eq!(ClusterState::parse(odd.as_str()), odd);
    }

    #[test]
    fn states_are_named() {
        assert!(ClusterState::parse("shut down in recovery").is_clean_shutdown());
        assert!(!ClusterState::parse("in archive recovery").is_clean_shutdown());
        assert_eq!(
            ClusterState::parse("weird"),
            ClusterState::Unknown("weird".into())
        );
    }

    #[test]
    fn a_crc_mismatch_is_corruption() {
        assert!(is_corrupt(
            "WARNING: Calculated CRC checksum does not match value stored in file.\n"
        ));
        assert!(!is_corrupt(SAMPLE));
    }

    #[test]
    fn missing_fields_are_an_error() {
        assert!(ControlData::parse("Database cluster state: shut down\n").is_err());
    }
}
