//! Streaming replication as a running server reports it: what a primary
//! sees of its standbys (`pg_stat_replication`, its slots, the
//! `synchronous_standby_names` in force), what a standby knows of its own
//! progress and of its WAL receiver. One round trip per monitor.

use postgres::Client;

use crate::pg::session::{Rows, simple_query_sets, text_bool};
use crate::vocab::{Lsn, ReceiverStatus, SlotWal, SyncState, WalSenderState, WalStatus};

/// A standby as the primary sees it in `pg_stat_replication`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    /// `application_name`: the standby's Pacemaker node name.
    pub name: String,
    pub state: WalSenderState,
    pub sync_state: SyncState,
    pub flush: Option<Lsn>,
    /// Bytes between the primary's current WAL position and `flush`.
    pub lag: Option<u64>,
    /// The walsender's process (`pid`), which holds the standby's slot.
    pub pid: Option<i32>,
}

/// What a primary knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimaryStatus {
    pub timeline: u32,
    pub current: Lsn,
    pub replicas: Vec<Replica>,
    /// The `synchronous_standby_names` in force.
    pub synchronous_standby_names: String,
    /// The agent's physical slots (`pgha_*`) and whether each is in use.
    pub slots: Vec<(String, bool)>,
    /// The walsender holding each of them (`active_pid`; None: none).
    pub slot_holders: Vec<(String, Option<i32>)>,
    /// Those of them PostgreSQL invalidated (`wal_status` lost: the WAL they
    /// held was removed, by `max_slot_wal_keep_size` or PostgreSQL 18's
    /// `idle_replication_slot_timeout`); a standby cannot stream through one.
    pub lost_slots: Vec<String>,
    /// The WAL each of them retains, and its `wal_status`.
    pub slot_wal: Vec<SlotWal>,
}

/// What a standby knows of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandbyStatus {
    /// The newest timeline it knows of (received, or from its last restartpoint).
    pub timeline: u32,
    pub receive: Option<Lsn>,
    pub replay: Option<Lsn>,
    /// `pg_stat_wal_receiver.status`, None when no WAL receiver runs (the
    /// view has no row).
    pub receiver: Option<ReceiverStatus>,
    /// The primary's WAL position at its last message, when streaming.
    pub primary_end: Option<Lsn>,
    /// Slots left from a time this instance was a primary.
    pub slots: Vec<(String, bool)>,
    /// `wal_segment_size`, in bytes: what names a WAL file's first LSN.
    pub wal_segment_size: Option<u64>,
    /// The end of the valid WAL this standby holds in `pg_wal`, read only
    /// when no receiver has run since it started ([`Self::needs_wal_end`]);
    /// None otherwise, or when it could not be read.
    pub wal_end: Option<Lsn>,
}

impl StandbyStatus {
    /// How far this standby could go if promoted now: the greatest of what
    /// it received, replayed and holds on disk (PAF #225 used the received
    /// LSN only, which after a restart is the start of a segment on every
    /// node; the replay position alone loses the election for a node whose
    /// replay is held back, issue 22).
    pub fn position(&self) -> Lsn {
        self.receive
            .max(self.replay)
            .max(self.wal_end)
            .unwrap_or_default()
    }

    /// True when the server knows no received position (no WAL receiver has
    /// run since it started), so the WAL on disk must be read to know how
    /// far it goes. A standby that streams, or ever did since its start,
    /// never needs it: the steady path costs no extra process.
    pub fn needs_wal_end(&self) -> bool {
        self.receive.is_none() && self.replay.is_some()
    }

    pub fn is_streaming(&self) -> bool {
        self.receiver == Some(ReceiverStatus::Streaming)
    }

    /// The receiver's status as published: PostgreSQL's own word for a
    /// receiver that does not run when none does.
    pub fn receiver_state(&self) -> &ReceiverStatus {
        self.receiver.as_ref().unwrap_or(&ReceiverStatus::Stopped)
    }

    /// Bytes behind the primary, as last reported by it.
    pub fn lag(&self) -> Option<u64> {
        Some(self.primary_end?.0.saturating_sub(self.position().0))
    }
}

/// The role-specific half of a monitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replication {
    Primary(PrimaryStatus),
    Standby(StandbyStatus),
}

const PRIMARY_SQL: &str = "select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int, \
    pg_current_wal_lsn()::text; \
    select application_name, state, coalesce(sync_state, ''), flush_lsn::text, \
    pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint::text, pid::text from pg_stat_replication \
    where application_name <> ''; \
    select current_setting('synchronous_standby_names'); \
    select slot_name, active::text, coalesce(to_jsonb(s) ->> 'wal_status' = 'lost', false)::text, \
    active_pid::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text, \
    to_jsonb(s) ->> 'wal_status' \
    from pg_replication_slots s where slot_type = 'physical' and slot_name like 'pgha\\_%'";

const STANDBY_SQL: &str = "select greatest((select timeline_id from pg_control_checkpoint()), \
    coalesce((select received_tli from pg_stat_wal_receiver), 0)), \
    pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, \
    (select setting from pg_settings where name = 'wal_segment_size'); \
    select status, latest_end_lsn::text from pg_stat_wal_receiver; \
    select slot_name, active::text from pg_replication_slots \
    where slot_type = 'physical' and slot_name like 'pgha\\_%'";

/// Column `i` of a row, parsed; None when NULL, missing or unparsable.
fn col<T: std::str::FromStr>(row: &[Option<String>], i: usize) -> Option<T> {
    row.get(i)?.as_deref()?.parse().ok()
}

/// The first row of result set `i` (empty if there is none).
fn first_row(sets: &[Rows], i: usize) -> Vec<Option<String>> {
    sets.get(i)
        .and_then(|rows| rows.first())
        .cloned()
        .unwrap_or_default()
}

/// Rows of (slot name, active). `wal_status` (PostgreSQL 13+) is read
/// through `to_jsonb(s)` in [`PRIMARY_SQL`] so that the same query works on
/// PostgreSQL 12, where the column does not exist (then it is never lost).
fn slots(sets: &[Rows], i: usize) -> Vec<(String, bool)> {
    sets.get(i)
        .map(|rows| {
            rows.iter()
                .filter_map(|r| {
                    let active = col::<String>(r, 1)?;
                    Some((col(r, 0)?, text_bool(Some(&active)) == Some(true)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The slot names of result set `i` whose third column says lost.
fn lost_slots(sets: &[Rows], i: usize) -> Vec<String> {
    sets.get(i)
        .map(|rows| {
            rows.iter()
                .filter(|r| text_bool(col::<String>(r, 2).as_deref()) == Some(true))
                .filter_map(|r| col(r, 0))
                .collect()
        })
        .unwrap_or_default()
}

/// The WAL each slot of result set `i` retains (fifth column; NULL when it
/// has no restart_lsn) and its `wal_status` (sixth; NULL before
/// PostgreSQL 13, read through `to_jsonb(s)` like the lost flag).
fn slot_wal(sets: &[Rows], i: usize) -> Vec<SlotWal> {
    sets.get(i)
        .map(|rows| {
            rows.iter()
                .filter_map(|r| {
                    Some(SlotWal {
                        slot: col(r, 0)?,
                        retained: col(r, 4),
                        status: col::<String>(r, 5).map(|s| WalStatus::parse(&s)),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Queries the role-specific status on an open connection.
pub fn query_status(client: &mut Client, in_recovery: bool) -> Result<Replication, postgres::Error> {
    if in_recovery {
        let sets = simple_query_sets(client, STANDBY_SQL)?;
        let (me, receiver) = (first_row(&sets, 0), first_row(&sets, 1));
        Ok(Replication::Standby(StandbyStatus {
            timeline: col(&me, 0).unwrap_or(0),
            receive: col(&me, 1),
            replay: col(&me, 2),
            receiver: col::<String>(&receiver, 0).map(|s| ReceiverStatus::parse(&s)),
            primary_end: col(&receiver, 1),
            slots: slots(&sets, 2),
            wal_segment_size: col(&me, 3),
            wal_end: None,
        }))
    } else {
        let sets = simple_query_sets(client, PRIMARY_SQL)?;
        let me = first_row(&sets, 0);
        let replicas = sets
            .get(1)
            .map(|rows| {
                rows.iter()
                    .map(|r| Replica {
                        name: col(r, 0).unwrap_or_default(),
                        state: WalSenderState::parse(&col::<String>(r, 1).unwrap_or_default()),
                        sync_state: SyncState::parse(&col::<String>(r, 2).unwrap_or_default()),
                        flush: col(r, 3),
                        lag: col(r, 4),
                        pid: col(r, 5),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Replication::Primary(PrimaryStatus {
            timeline: col(&me, 0).unwrap_or(0),
            current: col(&me, 1).unwrap_or_default(),
            replicas,
            synchronous_standby_names: col(&first_row(&sets, 2), 0).unwrap_or_default(),
            slots: slots(&sets, 3),
            slot_holders: sets
                .get(3)
                .map(|rows| {
                    rows.iter()
                        .filter_map(|r| Some((col(r, 0)?, col(r, 3))))
                        .collect()
                })
                .unwrap_or_default(),
            lost_slots: lost_slots(&sets, 3),
            slot_wal: slot_wal(&sets, 3),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_is_the_greater_of_receive_and_replay() {
        let s = StandbyStatus {
            timeline: 2,
            receive: Some(Lsn(100)),
            replay: Some(Lsn(150)),
            receiver: None,
            primary_end: Some(Lsn(400)),
            slots: Vec::new(),
            wal_segment_size: None,
            wal_end: None,
        };
        assert_eq!(s.position(), Lsn(150));
        assert_eq!(s.lag(), Some(250));
        assert!(!s.is_streaming());
        assert!(!s.needs_wal_end(), "a receiver ran: its position is known");
    }

    #[test]
    fn after_a_restart_the_position_is_the_end_of_the_wal_on_disk() {
        // (receive, replay, wal end on disk, needs the disk read, position)
        let table = [
            (None, Some(150), Some(900), true, 900),
            // Replay caught up with the disk: the same.
            (None, Some(900), Some(900), true, 900),
            // The disk could not be read: the replay position stands.
            (None, Some(150), None, true, 150),
            (Some(100), Some(150), None, false, 150),
            (None, None, None, false, 0),
        ];
        for (receive, replay, wal_end, needs, position) in table {
            let s = StandbyStatus {
                timeline: 1,
                receive: receive.map(Lsn),
                replay: replay.map(Lsn),
                receiver: None,
                primary_end: None,
                slots: Vec::new(),
                wal_segment_size: Some(16 << 20),
                wal_end: wal_end.map(Lsn),
            };
            assert_eq!(s.needs_wal_end(), needs, "{receive:?} {replay:?}");
            assert_eq!(s.position(), Lsn(position), "{receive:?} {replay:?} {wal_end:?}");
        }
    }

    #[test]
    fn a_standby_streams_only_when_its_receiver_says_so() {
        // (pg_stat_wal_receiver.status, streaming, as published)
        let table = [
            (None, false, "stopped"),
            (Some("streaming"), true, "streaming"),
            (Some("waiting"), false, "waiting"),
            (Some("starting"), false, "starting"),
            (Some("Streaming"), false, "Streaming"),
        ];
        for (status, streaming, published) in table {
            let s = StandbyStatus {
                timeline: 1,
                receive: None,
                replay: None,
                receiver: status.map(ReceiverStatus::parse),
                primary_end: None,
                slots: Vec::new(),
                wal_segment_size: None,
                wal_end: None,
            };
            assert_eq!(s.is_streaming(), streaming, "{status:?}");
            assert_eq!(s.receiver_state().as_str(), published, "{status:?}");
        }
    }
}
