//! May a former primary follow the primary as it is? A standby must never
//! follow a timeline it forked from: WAL it wrote that the primary never had
//! would be silently mixed with the primary's.
//!
//! `start` asks in two steps, because the second one costs a crash
//! recovery and a `pg_rewind --dry-run` against the primary:
//! - [`before_compare`], from what is on disk and what the attributes say;
//! - [`after_compare`], from pg_rewind's verdict and the `rewind` and
//!   `rebuild` parameters;
//! - [`after_repair`], when pg_rewind itself failed (the WAL since the fork
//!   point is gone), or the crash recovery before it did: a rebuild when
//!   allowed (issue 14).
//!
//! Timelines are compared by history, not by number ([`fork`]): before any
//! standby follows a running primary, its WAL's timeline history must be a
//! prefix of the primary's. Two primaries that never saw each other's
//! history file can both make timeline 3; pg_rewind then says "no rewind
//! required" (it compares the numbers in pg_control) and a standby's WAL
//! receiver streams the other timeline 3 after its own, mixing two
//! histories silently. A node whose history forked is compared and rewound
//! like a diverged former primary, or, when its timeline has the primary's
//! number (which pg_rewind cannot see past), rebuilt or refused.
//!
//! A pg_rewind that did not finish (cut by the start's timeout, or killed
//! with the agent) is not a failure of pg_rewind: it said nothing about the
//! primary, and its data directory may hold files of both histories while
//! pg_control still says what it said before. Such a directory is never
//! started as it is, and never moved aside for that alone: the start fails
//! ([`REWIND_CUT`]), the agent remembers the unfinished rewind across
//! reboots, and the next start runs pg_rewind again ([`before_compare`],
//! [`after_compare`] with `unfinished`).

use crate::ocf::code::OcfError;
use crate::pg::controldata::ClusterState;
use crate::pg::history::{History, follows, is_prefix};
use crate::pg::rewind::Divergence;
use crate::vocab::Position;

/// The first step's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeforeCompare {
    /// Start as a standby without comparing; `former_primary`: it was a
    /// primary (with no primary anywhere, the first bootstrap candidate).
    Follow { former_primary: bool },
    /// Compare with the primary first; `crash_recover`: pg_rewind compares
    /// only cleanly shut down instances, so a crashed one is first recovered
    /// in single-user mode.
    Compare { crash_recover: bool },
    /// An unfinished pg_rewind had in fact written everything: its
    /// `backup_label` is there and pg_control says "in archive recovery",
    /// pg_rewind's last writes (only the sync of the directory was left,
    /// which PostgreSQL does at startup for such a pg_control). It follows.
    RewindFinished,
}

/// The reason of a start whose pg_rewind the start's timeout cut.
pub const REWIND_CUT: &str = "pg_rewind did not finish within the start timeout; raise op start timeout";

/// The first words of every refusal of a data directory whose pg_rewind
/// did not finish.
const UNFINISHED: &str = "pg_rewind did not finish (cut by a timeout or a kill)";

/// Whether the data directory is a former primary's: pg_control left by a
/// primary (in production, crashed, or shut down as one), and no
/// `backup_label` (a fresh base backup: its pg_control is the source's).
pub fn former_primary(backup_label: bool, state: &ClusterState) -> bool {
    !backup_label
        && matches!(
            state,
            ClusterState::InProduction | ClusterState::InCrashRecovery | ClusterState::ShutDown
        )
}

/// Whether start must ask for a comparison at all: a former primary, or a
/// primary that demote turned into a standby where it stood and that shut
/// down cleanly since (`demoted`: the agent's memory of that demote).
/// The second may hold WAL the next primary never had: a primary cut off
/// from the cluster is demoted and stopped alone, and its shutdown
/// checkpoint lies past the point where the new primary's timeline forked
/// (issue 15, the Debian 13 lab's rejoin after a network cut). A demoted
/// one that crashed since cannot be compared (pg_rewind wants a clean
/// shutdown) and follows as before.
pub fn needs_compare(backup_label: bool, state: &ClusterState, demoted: bool) -> bool {
    former_primary(backup_label, state)
        || (demoted && !backup_label && *state == ClusterState::ShutDownInRecovery)
}

/// This node's WAL history that is not part of the primary's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fork {
    pub mine: History,
    pub primary: History,
    /// Its history is part of the primary's, but its WAL goes to here,
    /// past the point where the primary's history left that timeline.
    pub past: Option<Position>,
}

impl Fork {
    /// The two current timelines have one number: pg_rewind takes them for
    /// one timeline and rewinds nothing.
    pub fn same_number(&self) -> bool {
        self.mine.current == self.primary.current
    }

    /// What the reasons and the log say of it.
    pub fn described(&self) -> String {
        if let Some(end) = self.past {
            let left = self.primary.left_at(end.timeline).flatten();
            return format!(
                "its WAL goes to {} on timeline {}, past {} where the primary's history ({}) left it",
                end.lsn,
                end.timeline,
                left.map_or_else(|| "the point".to_string(), |l| l.to_string()),
                self.primary
            );
        }
        format!(
            "its timeline {} ({}) is not in the primary's history ({})",
            self.mine.current, self.mine, self.primary
        )
    }
}

/// Whether the history of this node's WAL (`mine`) forked from the
/// primary's: it is not a prefix of it, or it is but the WAL goes on past
/// where the primary left that timeline (`end`: how far it goes, as
/// pg_rewind reckons it, [`ControlData::wal_end`]). The second is a node
/// that was a primary cut off from the others, wrote on, and since ran as
/// a standby while no primary ran: pg_control says "shut down in
/// recovery", and its WAL receiver can never follow the new timeline.
/// None when it is part of it, or when a history is unknown (nothing to
/// say: the numbers decide, as before).
///
/// [`ControlData::wal_end`]: crate::pg::controldata::ControlData::wal_end
pub fn fork(mine: Option<&History>, primary: Option<&History>, end: Option<Position>) -> Option<Fork> {
    let (mine, primary) = mine.zip(primary)?;
    let past = if is_prefix(mine, primary) {
        Some(end.filter(|end| !follows(primary, *end))?)
    } else {
        None
    };
    Some(Fork {
        mine: mine.clone(),
        primary: primary.clone(),
        past,
    })
}

/// `backup_label`: a fresh base backup (its pg_control is the source's);
/// `state`: pg_control's cluster state; `demoted`: see [`needs_compare`];
/// `unfinished`: the memory of a pg_rewind that did not finish; `forked`:
/// its history is not part of the running primary's ([`fork`]: compared,
/// whatever it was); `other_primary`: whether another node reports a
/// running primary (None: the cluster cannot be asked).
pub fn before_compare(
    backup_label: bool,
    state: &ClusterState,
    demoted: bool,
    unfinished: bool,
    forked: bool,
    other_primary: Option<bool>,
) -> BeforeCompare {
    if unfinished {
        // pg_rewind writes backup_label and then pg_control: both there,
        // it was done. Otherwise it must run again, whatever the
        // attributes say: only the primary can finish it.
        return if backup_label && *state == ClusterState::InArchiveRecovery {
            BeforeCompare::RewindFinished
        } else {
            BeforeCompare::Compare { crash_recover: false }
        };
    }
    let was_primary = former_primary(backup_label, state);
    if forked {
        return BeforeCompare::Compare {
            crash_recover: was_primary && *state != ClusterState::ShutDown,
        };
    }
    if !needs_compare(backup_label, state, demoted) {
        // "shut down in recovery": it was a standby.
        return BeforeCompare::Follow {
            former_primary: false,
        };
    }
    if other_primary == Some(false) {
        // The usual case after a local crash: Pacemaker restarts it here to
        // promote it again. Asking pg_rewind would only wait on a VIP that
        // is down.
        return BeforeCompare::Follow {
            former_primary: was_primary,
        };
    }
    BeforeCompare::Compare {
        crash_recover: was_primary && *state != ClusterState::ShutDown,
    }
}

/// The second step's decision.
#[derive(Debug)]
pub enum AfterCompare {
    /// Its history is part of the primary's (or there is no primary to
    /// compare with: it waits for one as a standby).
    Follow,
    /// Run pg_rewind (rewind=true), then start as a standby.
    Rewind,
    /// Move the data aside and copy the primary (rebuild=true), for why.
    Rebuild(String),
    /// Refuse to start, with the reason.
    Refuse(OcfError),
}

/// From pg_rewind's verdict; `fork`: this node's history forked from the
/// primary's ([`fork`]); `unfinished`: a pg_rewind of this data directory
/// did not finish ([`before_compare`]); `rewind`, `rebuild`: the
/// parameters.
pub fn after_compare(
    divergence: &Divergence,
    fork: Option<&Fork>,
    unfinished: bool,
    rewind: bool,
    rebuild: bool,
) -> AfterCompare {
    match fork {
        // pg_rewind sees one timeline and rewinds nothing: only a copy.
        Some(fork) if fork.same_number() && rebuild => {
            return AfterCompare::Rebuild(format!("{}, and pg_rewind cannot tell", fork.described()));
        }
        Some(fork) if fork.same_number() => {
            return AfterCompare::Refuse(OcfError::generic(format!(
                "timeline {0} here forked from the primary's timeline {0}: pg_rewind cannot repair it; needs rebuild=true",
                fork.mine.current
            )));
        }
        // pg_rewind compares where each timeline began: it sees the fork,
        // and says no divergence only if it is wrong.
        Some(fork) if *divergence == Divergence::None => {
            let undecided = Divergence::Undecided(format!("pg_rewind found none, but {}", fork.described()));
            return after_compare(&undecided, None, unfinished, rewind, rebuild);
        }
        _ => {}
    }
    match divergence {
        // Nobody to finish it with: its files may be of both histories.
        Divergence::NoPrimary(why) if unfinished => AfterCompare::Refuse(OcfError::generic(format!(
            "{UNFINISHED}; no primary to run it again against ({why}): start once one runs"
        ))),
        // pg_control still tells the old divergence, so this is another
        // primary's answer: what the cut pg_rewind wrote stays unrepaired.
        Divergence::None if unfinished && rebuild => {
            AfterCompare::Rebuild(format!("{UNFINISHED}, and the primary now has nothing to rewind"))
        }
        Divergence::None if unfinished => AfterCompare::Refuse(OcfError::generic(format!(
            "{UNFINISHED}, and the primary now has nothing to rewind: needs rebuild=true"
        ))),
        Divergence::None | Divergence::NoPrimary(_) => AfterCompare::Follow,
        Divergence::Undecided(_) | Divergence::Diverged(_) if rewind => AfterCompare::Rewind,
        Divergence::Undecided(why) | Divergence::Diverged(why) if rebuild => {
            AfterCompare::Rebuild(format!("diverged from the primary ({why})"))
        }
        // Following blindly could corrupt: a decision is needed.
        Divergence::Undecided(why) => AfterCompare::Refuse(OcfError::generic(format!(
            "cannot check the timeline against the primary ({why}): needs pg_rewind or a rebuild"
        ))),
        Divergence::Diverged(at) => AfterCompare::Refuse(OcfError::generic(format!(
            "diverged from the primary ({at}): needs pg_rewind (rewind=true) or rebuild=true"
        ))),
    }
}

/// What start does when pg_rewind or the crash recovery before it failed.
#[derive(Debug)]
pub enum AfterRewind {
    /// Rebuild instead (rebuild=true), for why.
    Rebuild(String),
    /// Fail the start with pg_rewind's reason.
    Fail(OcfError),
}

/// Repairing the former primary in place failed with `error` (pg_rewind,
/// typically because the WAL since the fork point is gone; or the crash
/// recovery it needs first, because its own WAL is gone); `rebuild`: the
/// parameter.
pub fn after_repair(error: OcfError, rebuild: bool) -> AfterRewind {
    if rebuild {
        AfterRewind::Rebuild(format!("cannot be repaired ({})", error.reason))
    } else {
        AfterRewind::Fail(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_former_primary_beside_another_primary_is_compared() {
        use ClusterState::*;
        let follow = |former_primary| BeforeCompare::Follow { former_primary };
        let compare = |crash_recover| BeforeCompare::Compare { crash_recover };
        // (backup_label, pg_control state, demoted, another primary runs, decision)
        let table: Vec<(bool, ClusterState, bool, Option<bool>, BeforeCompare)> = vec![
            (true, InProduction, false, Some(true), follow(false)),
            (false, ShutDownInRecovery, false, Some(true), follow(false)),
            (false, InArchiveRecovery, false, None, follow(false)),
            (false, ShutDown, false, Some(false), follow(true)),
            (false, InProduction, false, Some(false), follow(true)),
            (false, ShutDown, false, Some(true), compare(false)),
            (false, ShutDown, false, None, compare(false)),
            (false, InProduction, false, Some(true), compare(true)),
            (false, InCrashRecovery, false, None, compare(true)),
            // A primary demoted where it stood (cut off, then stopped as a
            // standby): compared, no crash recovery (it shut down cleanly).
            (false, ShutDownInRecovery, true, Some(true), compare(false)),
            (false, ShutDownInRecovery, true, None, compare(false)),
            // ...but not without a primary to compare with, and not when
            // it crashed since (pg_rewind cannot compare that) or when a
            // base backup replaced it.
            (false, ShutDownInRecovery, true, Some(false), follow(false)),
            (false, InArchiveRecovery, true, Some(true), follow(false)),
            (true, ShutDownInRecovery, true, Some(true), follow(false)),
        ];
        for (label, state, demoted, other, expected) in table {
            let what = format!("{label} {state:?} {demoted} {other:?}");
            assert_eq!(
                before_compare(label, &state, demoted, false, false, other),
                expected,
                "{what}"
            );
        }
    }

    /// A pg_rewind cut by the start's timeout was taken for one that had
    /// failed (a rebuild followed), and a start that found no primary then
    /// followed the half-rewritten data as it was.
    #[test]
    fn an_unfinished_rewind_is_run_again_and_never_followed_as_it_is() {
        use ClusterState::*;
        let compare = BeforeCompare::Compare { crash_recover: false };
        // (backup_label, pg_control state, another primary runs, decision)
        let table: Vec<(bool, ClusterState, Option<bool>, BeforeCompare)> = vec![
            // Cut before its last writes: pg_control as it was.
            (false, ShutDown, Some(false), compare.clone()),
            (false, ShutDown, None, compare.clone()),
            (false, ShutDownInRecovery, Some(true), compare.clone()),
            // Cut between backup_label and pg_control.
            (true, ShutDown, Some(false), compare.clone()),
            // Both written: only the sync was left.
            (true, InArchiveRecovery, Some(true), BeforeCompare::RewindFinished),
            (false, InArchiveRecovery, None, compare),
        ];
        for (label, state, other, expected) in table {
            assert_eq!(
                before_compare(label, &state, false, true, false, other),
                expected,
                "{label} {state:?} {other:?}"
            );
        }
        let d = |s: &str| s.to_string();
        // (verdict, rewind, rebuild, decision)
        let table: Vec<(Divergence, bool, bool, &str)> = vec![
            (Divergence::Diverged(d("at 0/3000060")), true, true, "Rewind"),
            (Divergence::Undecided(d("no WAL")), true, false, "Rewind"),
            (
                Divergence::NoPrimary(d("refused")),
                true,
                true,
                "pg_rewind did not finish (cut by a timeout or a kill); no primary to run it again against",
            ),
            (
                Divergence::None,
                true,
                true,
                "Rebuild(\"pg_rewind did not finish (cut by a timeout or a kill), and the primary now has nothing",
            ),
            (Divergence::None, true, false, "needs rebuild=true"),
            (
                Divergence::Diverged(d("at 0/3000060")),
                false,
                false,
                "needs pg_rewind (rewind=true)",
            ),
        ];
        for (divergence, rewind, rebuild, expected) in table {
            let got = format!("{:?}", after_compare(&divergence, None, true, rewind, rebuild));
            assert!(
                got.contains(expected),
                "{divergence:?} rewind={rewind} rebuild={rebuild}: {got}"
            );
        }
    }

    #[test]
    fn a_divergence_is_rewound_or_refused_never_followed() {
        let d = |s: &str| s.to_string();
        // (verdict, rewind, rebuild, decision)
        let table: Vec<(Divergence, bool, bool, &str)> = vec![
            (Divergence::None, false, false, "Follow"),
            (Divergence::None, false, true, "Follow"),
            (Divergence::NoPrimary(d("refused")), false, true, "Follow"),
            (Divergence::Diverged(d("at 0/3000060")), true, false, "Rewind"),
            (Divergence::Undecided(d("no WAL")), true, false, "Rewind"),
            // pg_rewind first when both are allowed: it copies far less.
            (Divergence::Diverged(d("at 0/3000060")), true, true, "Rewind"),
            (
                Divergence::Diverged(d("at 0/3000060")),
                false,
                true,
                "Rebuild(\"diverged from the primary (at 0/3000060)\")",
            ),
            (
                Divergence::Undecided(d("no WAL")),
                false,
                true,
                "Rebuild(\"diverged from the primary (no WAL)\")",
            ),
            (
                Divergence::Diverged(d("at 0/3000060")),
                false,
                false,
                "needs pg_rewind (rewind=true)",
            ),
            (
                Divergence::Undecided(d("no WAL")),
                false,
                false,
                "cannot check the timeline",
            ),
        ];
        for (divergence, rewind, rebuild, expected) in table {
            let got = format!("{:?}", after_compare(&divergence, None, false, rewind, rebuild));
            assert!(
                got.contains(expected),
                "{divergence:?} rewind={rewind} rebuild={rebuild}: {got}"
            );
        }
    }

    /// Issue 22: a node whose history is not a prefix of the primary's
    /// must be rewound, or rebuilt where pg_rewind cannot see the fork,
    /// even when the numbers say "the same timeline" or "older".
    #[test]
    fn a_history_that_is_not_the_primarys_is_compared_and_never_followed() {
        let h = |s: &str| s.parse::<History>().unwrap();
        // (mine, the primary's, forked)
        let table = [
            ("1@0/3000060,2", "1@0/3000060,2@0/5000000,3", false),
            ("1@0/3000060,2", "1@0/3000060,2", false),
            ("1", "1@0/3000060,2", false),
            // The same number, forked elsewhere.
            ("1@0/3000060,2@0/5000000,3", "1@0/3000060,2@0/5800000,3", true),
            // An older number that is not the primary's ancestor.
            ("1@0/3000060,3", "1@0/3000060,2@0/5000000,4", true),
            // Ahead of the primary by history: not part of it either.
            ("1@0/3000060,2@0/5000000,3", "1@0/3000060,2", true),
        ];
        for (mine, primary, forked) in table {
            assert_eq!(
                fork(Some(&h(mine)), Some(&h(primary)), None).is_some(),
                forked,
                "{mine} vs {primary}"
            );
        }
        assert_eq!(fork(None, Some(&h("1")), None), None, "unknown: nothing to say");
        assert_eq!(fork(Some(&h("1")), None, None), None);

        // Part of the primary's history, but how far its WAL goes decides.
        let p = |s: &str| s.parse::<Position>().unwrap();
        let table = [
            // Stopped at the very point the primary left timeline 2.
            ("1@0/3000060,2", "1@0/3000060,2@0/5000000,3", "2:0/5000000", false),
            ("1@0/3000060,2", "1@0/3000060,2@0/5000000,3", "2:0/4FFFF00", false),
            // Wrote on after the primary left it (a cut-off primary).
            ("1@0/3000060,2", "1@0/3000060,2@0/5000000,3", "2:0/5000820", true),
            // On the primary's own timeline: any position follows.
            ("1@0/3000060,2", "1@0/3000060,2", "2:0/9000000", false),
            // A restartpoint on an ancestor, within it.
            ("1@0/3000060,2", "1@0/3000060,2@0/5000000,3", "1:0/3000000", false),
        ];
        for (mine, primary, end, forked) in table {
            let found = fork(Some(&h(mine)), Some(&h(primary)), Some(p(end)));
            assert_eq!(found.is_some(), forked, "{mine} at {end} vs {primary}");
            if let Some(found) = found {
                assert!(!found.same_number(), "pg_rewind sees it");
                assert_eq!(
                    found.described(),
                    "its WAL goes to 0/5000820 on timeline 2, past 0/5000000 where the primary's history \
                     (1@0/3000060,2@0/5000000,3) left it"
                );
            }
        }

        // A plain standby ("shut down in recovery") is compared once forked.
        use ClusterState::*;
        for (state, crash_recover) in [
            (ShutDownInRecovery, false),
            (InProduction, true),
            (ShutDown, false),
        ] {
            assert_eq!(
                before_compare(false, &state, false, false, true, Some(true)),
                BeforeCompare::Compare { crash_recover },
                "{state:?}"
            );
        }
        let same = fork(
            Some(&h("1@0/3000060,2@0/5000000,3")),
            Some(&h("1@0/3000060,2@0/5800000,3")),
            None,
        )
        .unwrap();
        let older = fork(
            Some(&h("1@0/3000060,3")),
            Some(&h("1@0/3000060,2@0/5000000,4")),
            None,
        )
        .unwrap();
        let d = |s: &str| s.to_string();
        // (verdict, fork, rewind, rebuild, decision)
        let table: Vec<(Divergence, &Fork, bool, bool, &str)> = vec![
            // pg_rewind sees one timeline 3: no rewind can help.
            (
                Divergence::None,
                &same,
                true,
                true,
                "Rebuild(\"its timeline 3 (1@0/3000060,2@0/5000000,3) is not in",
            ),
            (
                Divergence::None,
                &same,
                true,
                false,
                "timeline 3 here forked from the primary's timeline 3: pg_rewind cannot repair it",
            ),
            (
                Divergence::NoPrimary(d("x")),
                &same,
                true,
                false,
                "pg_rewind cannot repair it",
            ),
            // Another number: pg_rewind sees the fork where it began.
            (
                Divergence::Diverged(d("at 0/3000060")),
                &older,
                true,
                false,
                "Rewind",
            ),
            (Divergence::None, &older, true, false, "Rewind"),
            (
                Divergence::None,
                &older,
                false,
                false,
                "cannot check the timeline against the primary (pg_rewind found none, but its timeline 3",
            ),
        ];
        for (divergence, fork, rewind, rebuild, expected) in table {
            let got = format!(
                "{:?}",
                after_compare(&divergence, Some(fork), false, rewind, rebuild)
            );
            assert!(got.contains(expected), "{divergence:?} {fork:?}: {got}");
        }
    }

    #[test]
    fn a_failed_rewind_is_rebuilt_only_when_allowed() {
        let failed = || OcfError::generic("pg_rewind failed: could not find previous WAL record");
        match after_repair(failed(), true) {
            AfterRewind::Rebuild(why) => assert_eq!(
                why,
                "cannot be repaired (pg_rewind failed: could not find previous WAL record)"
            ),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(after_repair(failed(), false), AfterRewind::Fail(e) if e.reason.starts_with("pg_rewind failed"))
        );
    }
}
