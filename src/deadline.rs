//! The time budget of one action.
//!
//! Pacemaker kills an agent that outlives `CRM_meta_timeout` and records a
//! timeout with no reason. pgha instead answers before that, with a reason:
//! every wait, child process and query takes its share of a [`Deadline`]
//! that ends a safety margin before Pacemaker's.

use std::time::{Duration, Instant};

/// Budget when the agent runs without `CRM_meta_timeout` (by hand, ocft).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The instant by which the action must have answered.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    end: Instant,
}

impl Deadline {
    /// Deadline for an action Pacemaker gave `timeout` to (None: run by hand).
    ///
    /// The margin (a tenth, between 0.5 s and 5 s) leaves room to log, print
    /// the exit reason and exit before Pacemaker's own timer fires.
    pub fn for_action(timeout: Option<Duration>) -> Self {
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        Self::after(
            timeout
                .saturating_sub(margin(timeout))
                .max(Duration::from_millis(100)),
        )
    }

    /// The deadline by which the process Pacemaker waits for answers even
    /// when the action itself did not ([`crate::answer`]): halfway through
    /// [`Deadline::for_action`]'s margin, after the action's deadline and
    /// still before Pacemaker's timer.
    pub fn for_answer(timeout: Option<Duration>) -> Self {
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        Self::after(
            timeout
                .saturating_sub(margin(timeout) / 2)
                .max(Duration::from_millis(200)),
        )
    }

    /// A deadline `d` from now.
    pub fn after(d: Duration) -> Self {
        Deadline {
            end: Instant::now() + d,
        }
    }

    /// Time left; zero once passed.
    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// The earlier of this deadline and `d` from now: a step's own bound that
    /// never outlives the action.
    pub fn within(&self, d: Duration) -> Deadline {
        let other = Instant::now() + d;
        Deadline {
            end: self.end.min(other),
        }
    }

    /// A deadline at `fraction` (0..=1) of the time left: e.g. the part of a
    /// stop given to a fast shutdown before escalating.
    pub fn fraction(&self, fraction: f64) -> Deadline {
        self.within(self.remaining().mul_f64(fraction.clamp(0.0, 1.0)))
    }

    /// Sleeps `step`, or less if the deadline comes first; false if expired.
    pub fn sleep(&self, step: Duration) -> bool {
        let left = self.remaining();
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(step.min(left));
        true
    }
}

/// What an action leaves of Pacemaker's `timeout` to answer in: a tenth,
/// between 0.5 s and 5 s.
fn margin(timeout: Duration) -> Duration {
    (timeout / 10).clamp(Duration::from_millis(500), Duration::from_secs(5))
}

/// Milliseconds since the machine booted (`CLOCK_BOOTTIME`: it never steps
/// back or forth with the wall clock, and counts a suspend), for the
/// memory's timings that must not grow when an operator or NTP sets the
/// clock: they live in /run, which a reboot empties with this clock. None
/// when the kernel does not answer (each caller then errs on its safe side).
pub fn boot_millis() -> Option<u64> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).ok()?;
    let secs = u64::try_from(t.tv_sec()).ok()?;
    let nanos = u64::try_from(t.tv_nsec()).ok()?;
    Some(secs.saturating_mul(1000) + nanos / 1_000_000)
}

/// Seconds since the epoch: the wall clock, for what outlives one action
/// (the agent's memory, the name of a file moved aside).
pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `secs` since the epoch as a UTC time for a file name,
/// `20261202T103000Z`: sortable, with no character a shell or a path
/// treats specially.
pub fn utc_stamp(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The action's deadline comes first, then the answer's, then
    /// Pacemaker's timer.
    #[test]
    fn the_answer_comes_after_the_action_and_before_pacemakers_timeout() {
        for ms in [1_000, 8_000, 20_000, 60_000, 300_000] {
            let timeout = Duration::from_millis(ms);
            let action = Deadline::for_action(Some(timeout)).remaining();
            let answer = Deadline::for_answer(Some(timeout)).remaining();
            assert!(action < answer && answer < timeout, "{ms}: {action:?} {answer:?}");
        }
    }

    #[test]
    fn utc_stamps_are_calendar_times() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_795_170_645), "20261120T103045Z");
    }

    #[test]
    fn keeps_a_margin_before_pacemakers_timeout() {
        let d = Deadline::for_action(Some(Duration::from_secs(20)));
        let left = d.remaining();
        assert!(left <= Duration::from_secs(18), "{left:?}");
        assert!(left > Duration::from_secs(17), "{left:?}");
    }

    #[test]
    fn margin_is_bounded_for_long_and_short_timeouts() {
        let long = Deadline::for_action(Some(Duration::from_secs(600))).remaining();
        assert!(long > Duration::from_secs(594), "{long:?}");
        let short = Deadline::for_action(Some(Duration::from_secs(2))).remaining();
        assert!(short <= Duration::from_millis(1500), "{short:?}");
    }

    #[test]
    fn within_never_outlives_the_action() {
        let d = Deadline::after(Duration::from_secs(1));
        assert!(d.within(Duration::from_secs(10)).remaining() <= Duration::from_secs(1));
        assert!(d.within(Duration::from_millis(10)).remaining() <= Duration::from_millis(10));
    }
}
