//! Whether a standby may serve reads now: the value its monitor publishes
//! as `pgha-<rsc>-readable` ([`crate::vocab::Attr::Readable`]), for the
//! location rule of a read-only VIP.
//!
//! Readable means: its WAL receiver streams from the primary, and what it
//! has *replayed* (what a query sees) is within the bound of the
//! primary's end of WAL as the primary last reported it
//! (`pg_stat_wal_receiver.latest_end_lsn`). The bound is `maxlag` bytes;
//! with `maxlag=0` (no bound for promotion) one WAL segment, the distance
//! at which the scores already call two standbys equal. Received but not
//! replayed WAL counts as lag: a standby whose replay is paused
//! (`pg_wal_replay_pause()`, a conflict with a long query) serves
//! ever older data while it receives everything. With no WAL written on
//! the primary, a paused standby is still current, and stays readable.
//!
//! A primary and a stopped instance are never readable: promote, the
//! primary's monitor and stop publish [`crate::vocab::NOT_READABLE`].

use crate::pg::replication::StandbyStatus;
use crate::policy::scores::SEGMENT;

/// The replay lag a readable standby may have: `maxlag`, or one WAL
/// segment (the server's own size when known) when `maxlag` is 0.
pub fn lag_bound(maxlag: u64, wal_segment_size: Option<u64>) -> u64 {
    if maxlag > 0 {
        maxlag
    } else {
        wal_segment_size.unwrap_or(SEGMENT)
    }
}

/// Bytes between the primary's end of WAL, as last reported, and what
/// this standby replayed; None when either is unknown.
pub fn replay_lag(status: &StandbyStatus) -> Option<u64> {
    Some(status.primary_end?.0.saturating_sub(status.replay?.0))
}

/// Whether this standby may serve reads ([`lag_bound`]).
pub fn readable(status: &StandbyStatus, maxlag: u64) -> bool {
    status.is_streaming()
        && replay_lag(status).is_some_and(|lag| lag <= lag_bound(maxlag, status.wal_segment_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Lsn, ReceiverStatus};

    fn standby(
        receiver: Option<&str>,
        replay: Option<u64>,
        receive: Option<u64>,
        primary_end: Option<u64>,
    ) -> StandbyStatus {
        StandbyStatus {
            timeline: 1,
            receive: receive.map(Lsn),
            replay: replay.map(Lsn),
            receiver: receiver.map(ReceiverStatus::parse),
            primary_end: primary_end.map(Lsn),
            slots: Vec::new(),
            wal_segment_size: Some(SEGMENT),
            wal_end: None,
        }
    }

    #[test]
    fn a_standby_is_readable_while_it_streams_and_replays_within_the_bound() {
        const MB: u64 = 1 << 20;
        let s = Some("streaming");
        // (receiver, replay, receive, primary's end, maxlag, readable)
        let table = [
            (s, Some(100 * MB), Some(100 * MB), Some(100 * MB), 0, true),
            (s, Some(100 * MB), Some(100 * MB), Some(100 * MB), MB, true),
            // Replay paused: it received everything, but a query sees old data.
            (s, Some(90 * MB), Some(100 * MB), Some(100 * MB), MB, false),
            (s, Some(99 * MB), Some(100 * MB), Some(100 * MB), MB, true), // at the bound
            (s, Some(99 * MB - 1), Some(100 * MB), Some(100 * MB), MB, false),
            // maxlag 0: one WAL segment.
            (
                s,
                Some(100 * MB - SEGMENT),
                Some(100 * MB),
                Some(100 * MB),
                0,
                true,
            ),
            (
                s,
                Some(100 * MB - SEGMENT - 1),
                Some(100 * MB),
                Some(100 * MB),
                0,
                false,
            ),
            // Not streaming: never, however current it was.
            (
                Some("waiting"),
                Some(100 * MB),
                Some(100 * MB),
                Some(100 * MB),
                0,
                false,
            ),
            (None, Some(100 * MB), None, None, 0, false),
            (Some("starting"), Some(100 * MB), None, None, 0, false),
            // Streaming, but no report from the primary yet: not known to be current.
            (s, Some(100 * MB), Some(100 * MB), None, 0, false),
            (s, None, Some(100 * MB), Some(100 * MB), 0, false),
            // Replayed past what the primary last reported: current.
            (s, Some(101 * MB), Some(101 * MB), Some(100 * MB), MB, true),
        ];
        for (receiver, replay, receive, end, maxlag, expected) in table {
            let status = standby(receiver, replay, receive, end);
            assert_eq!(
                readable(&status, maxlag),
                expected,
                "{receiver:?} replay {replay:?} receive {receive:?} end {end:?} maxlag {maxlag}"
            );
        }
    }

    #[test]
    fn the_bound_is_maxlag_or_one_wal_segment() {
        assert_eq!(lag_bound(4096, Some(SEGMENT)), 4096);
        assert_eq!(
            lag_bound(0, Some(64 << 20)),
            64 << 20,
            "the server's own segment size"
        );
        assert_eq!(lag_bound(0, None), SEGMENT);
    }
}
