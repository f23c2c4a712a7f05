//! When a node copies the primary instead of starting what it has (issue
//! 14): `bootstrap=basebackup` for a missing or empty data directory,
//! `rebuild=true` for a node that cannot follow the primary.
//!
//! A copy replaces a whole data directory, so every rule here errs on the
//! side of not copying: a mount that failed to appear looks exactly like an
//! empty directory, and a standby reached through a wrong VIP answers a
//! base backup as willingly as the primary does.
//!
//! - [`before_start`]: from what the data directory holds;
//! - [`placement`]: where the copy would land (mount points);
//! - [`source`]: which node it would come from;
//! - [`fits`]: whether it fits beside what stays on the file system;
//! - [`copied_from`]: whether the copy really came from a primary;
//! - [`rebuild_standby`]: whether a standby the monitor found unable to
//!   follow is rebuilt now;
//! - [`report_due`]: when progress is worth a log line and an attribute.

use crate::ocf::code::OcfError;

/// What the data directory is, as the system user sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataDirSeen {
    /// Nothing at that path.
    Missing,
    /// A directory with no entry; `owner_ok`: owned by the system user.
    Empty { owner_ok: bool },
    /// A directory holding `PG_VERSION`: an instance, started as it is.
    Instance,
    /// Anything else: a directory whose entries are not an instance's
    /// (`first` names one of them), or not a directory at all.
    Foreign { first: String },
}

/// What start does before it looks at the instance.
#[derive(Debug)]
pub enum BeforeStart {
    /// Start what is there (an instance, or, without bootstrap, whatever
    /// the host checks then say of it).
    AsItIs,
    /// Copy the primary into the missing or empty directory.
    Build,
    Refuse(OcfError),
}

/// The rule; `bootstrap`: the parameter is basebackup.
pub fn before_start(seen: &DataDirSeen, bootstrap: bool, datadir: &str) -> BeforeStart {
    if !bootstrap {
        return BeforeStart::AsItIs;
    }
    match seen {
        DataDirSeen::Instance => BeforeStart::AsItIs,
        DataDirSeen::Missing | DataDirSeen::Empty { owner_ok: true } => BeforeStart::Build,
        DataDirSeen::Empty { owner_ok: false } => BeforeStart::Refuse(OcfError::perm(format!(
            "datadir {datadir} is not owned by system_user: no base backup into it"
        ))),
        // Someone's files, or a disk of another use mounted there.
        DataDirSeen::Foreign { first } => BeforeStart::Refuse(OcfError::args(format!(
            "datadir {datadir} is not empty ({first}) and not an instance: no base backup over it"
        ))),
    }
}

/// Where a copy would land.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The data directory is itself a mount point: it cannot be renamed
    /// aside or replaced, and PostgreSQL's documentation advises a
    /// directory inside the mount instead ("Use of Secondary File
    /// Systems").
    pub datadir_is_mount_point: bool,
    /// With `data_mount` set: whether a file system is mounted there, and
    /// whether the data directory (or, while missing, its nearest existing
    /// parent) is on it. None: `data_mount` is not set.
    pub expected_mount: Option<(bool, bool)>,
}

/// Whether a copy may be written there.
pub fn placement(place: &Placement, datadir: &str, data_mount: &str) -> Result<(), OcfError> {
    match place.expected_mount {
        Some((false, _)) => {
            return Err(OcfError::args(format!(
                "data_mount {data_mount} is not mounted: no copy onto the file system below it"
            )));
        }
        Some((true, false)) => {
            return Err(OcfError::args(format!(
                "datadir {datadir} is not on data_mount {data_mount}: no copy made"
            )));
        }
        Some((true, true)) | None => {}
    }
    if place.datadir_is_mount_point {
        return Err(OcfError::args(format!(
            "datadir {datadir} is a mount point: use a directory inside it for a copy"
        )));
    }
    Ok(())
}

/// Where the copy comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The one other node whose monitor reports a primary.
    Primary(String),
    /// The cluster cannot be asked: only the copy's own backup_label
    /// ([`copied_from`]) tells that it came from a primary.
    Unknown,
}

/// `primaries`: the nodes whose role attribute says primary (None: the
/// attributes cannot be read); `me`: this node, whose own attribute may be
/// left from its past as a primary.
pub fn source(primaries: Option<&[String]>, me: &str) -> Result<Source, OcfError> {
    let Some(primaries) = primaries else {
        return Ok(Source::Unknown);
    };
    let others: Vec<&str> = primaries
        .iter()
        .map(String::as_str)
        .filter(|n| *n != me)
        .collect();
    match others.as_slice() {
        [one] => Ok(Source::Primary(one.to_string())),
        // A copy of a standby would be a standby of nothing: wait for the
        // cluster to promote someone (Pacemaker retries the start).
        [] => Err(OcfError::generic(
            "no node runs a primary: nothing to copy from yet",
        )),
        many => Err(OcfError::generic(format!(
            "several nodes report a primary ({}): copying from neither",
            many.join(", ")
        ))),
    }
}

/// What is kept free beyond the copy: the WAL streamed while it runs and
/// what the server writes at its first start.
const HEADROOM_BYTES: u64 = 64 << 20;

/// Whether a copy of `estimate` bytes (pg_basebackup's own estimate, WAL
/// excluded) fits in `available` bytes with a tenth and [`HEADROOM_BYTES`]
/// to spare.
pub fn fits(estimate: u64, available: u64) -> bool {
    estimate
        .saturating_add(estimate / 10)
        .saturating_add(HEADROOM_BYTES)
        <= available
}

/// Whether the copy's `backup_label` (its text) says it was taken from a
/// primary: a standby would also answer pg_basebackup, and its copy would
/// follow that standby, not the cluster (no cascading is set up here).
pub fn copied_from(backup_label: &str) -> Result<(), OcfError> {
    let from = backup_label
        .lines()
        .find_map(|l| l.strip_prefix("BACKUP FROM:"))
        .map(str::trim);
    match from {
        Some("primary") => Ok(()),
        Some(other) => Err(OcfError::generic(format!(
            "the copy came from a {other}, not the primary: check primary_conninfo; copy discarded"
        ))),
        None => Err(OcfError::generic(
            "the copy's backup_label does not say where it came from; copy discarded",
        )),
    }
}

/// A standby that the monitor found unable to follow (`remembered`: why,
/// from the agent's memory) is rebuilt at this start when `rebuild` is on;
/// otherwise it starts as it is and the monitor keeps saying why.
pub fn rebuild_standby(remembered: Option<&str>, rebuild: bool) -> Option<String> {
    remembered
        .filter(|why| rebuild && !why.is_empty())
        .map(str::to_string)
}

/// How often a copy's progress is logged and published at most, and at
/// least: every tenth of the copy, or every [`REPORT_EVERY_S`] seconds.
pub const REPORT_EVERY_S: u64 = 30;

/// Whether progress `percent` is worth reporting, `last` being the percent
/// last reported (None: nothing yet) `since_s` seconds ago.
pub fn report_due(percent: u32, last: Option<u32>, since_s: u64) -> bool {
    match last {
        None => true,
        Some(last) => percent / 10 > last / 10 || (since_s >= REPORT_EVERY_S && percent != last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocf::code::OcfCode;

    fn outcome(plan: BeforeStart) -> String {
        match plan {
            BeforeStart::AsItIs => "as it is".into(),
            BeforeStart::Build => "build".into(),
            BeforeStart::Refuse(e) => format!("{:?}: {}", e.code, e.reason),
        }
    }

    #[test]
    fn only_a_missing_or_empty_directory_of_the_user_is_copied_into() {
        let foreign = || DataDirSeen::Foreign {
            first: "lost+found".into(),
        };
        // (seen, bootstrap, outcome)
        let table: Vec<(DataDirSeen, bool, &str)> = vec![
            (DataDirSeen::Missing, false, "as it is"),
            (DataDirSeen::Empty { owner_ok: true }, false, "as it is"),
            (foreign(), false, "as it is"),
            (DataDirSeen::Instance, true, "as it is"),
            (DataDirSeen::Missing, true, "build"),
            (DataDirSeen::Empty { owner_ok: true }, true, "build"),
            (
                DataDirSeen::Empty { owner_ok: false },
                true,
                "ErrPerm: datadir /d is not owned by system_user: no base backup into it",
            ),
            (
                foreign(),
                true,
                "ErrArgs: datadir /d is not empty (lost+found) and not an instance: no base backup over it",
            ),
        ];
        for (seen, bootstrap, expected) in table {
            let what = format!("{seen:?} bootstrap={bootstrap}");
            assert_eq!(outcome(before_start(&seen, bootstrap, "/d")), expected, "{what}");
        }
    }

    #[test]
    fn a_copy_lands_only_on_the_expected_mount_and_never_on_a_mount_point() {
        let place = |is_mount, expected| Placement {
            datadir_is_mount_point: is_mount,
            expected_mount: expected,
        };
        // (placement, refusal; "" = allowed)
        let table: Vec<(Placement, &str)> = vec![
            (place(false, None), ""),
            (place(false, Some((true, true))), ""),
            (
                place(false, Some((false, false))),
                "data_mount /srv is not mounted: no copy onto the file system below it",
            ),
            (
                place(false, Some((true, false))),
                "datadir /srv/pg is not on data_mount /srv: no copy made",
            ),
            (
                place(true, None),
                "datadir /srv/pg is a mount point: use a directory inside it for a copy",
            ),
            // The missing mount is the first thing to fix.
            (
                place(true, Some((false, false))),
                "data_mount /srv is not mounted: no copy onto the file system below it",
            ),
        ];
        for (p, expected) in table {
            let got = placement(&p, "/srv/pg", "/srv");
            match got {
                Ok(()) => assert_eq!(expected, "", "{p:?}"),
                Err(e) => {
                    assert_eq!(e.code, OcfCode::ErrArgs, "{p:?}");
                    assert_eq!(e.reason, expected, "{p:?}");
                }
            }
        }
    }

    #[test]
    fn the_copy_comes_from_the_one_other_primary() {
        let v = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // (primaries, outcome)
        type Row<'a> = (Option<Vec<String>>, Result<Source, &'a str>);
        let table: Vec<Row> = vec![
            (Some(v(&["n1"])), Ok(Source::Primary("n1".into()))),
            // Our own attribute, left from our life as a primary.
            (Some(v(&["n1", "me"])), Ok(Source::Primary("n1".into()))),
            (Some(v(&["me"])), Err("no node runs a primary")),
            (Some(v(&[])), Err("no node runs a primary")),
            (
                Some(v(&["n1", "n2"])),
                Err("several nodes report a primary (n1, n2)"),
            ),
            (None, Ok(Source::Unknown)),
        ];
        for (primaries, expected) in table {
            let got = source(primaries.as_deref(), "me");
            match (&got, &expected) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{primaries:?}"),
                (Err(e), Err(needle)) => {
                    assert_eq!(e.code, OcfCode::ErrGeneric);
                    assert!(e.reason.contains(needle), "{primaries:?}: {}", e.reason);
                }
                _ => panic!("{primaries:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn a_copy_must_fit_with_room_to_spare() {
        let mib = 1u64 << 20;
        // (estimate, available, fits)
        let table = [
            (0, 64 * mib, true),
            (0, 64 * mib - 1, false),
            (1000 * mib, 1164 * mib, true),
            (1000 * mib, 1163 * mib, false),
            (u64::MAX, u64::MAX - 1, false),
        ];
        for (estimate, available, expected) in table {
            assert_eq!(fits(estimate, available), expected, "{estimate} in {available}");
        }
    }

    #[test]
    fn only_a_copy_of_a_primary_is_kept() {
        let label = |from: &str| {
            format!(
                "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n\
                 CHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\n\
                 BACKUP FROM: {from}\nSTART TIME: 2026-12-02 10:00:00 UTC\n"
            )
        };
        assert!(copied_from(&label("primary")).is_ok());
        let e = copied_from(&label("standby")).unwrap_err();
        assert!(
            e.reason.starts_with("the copy came from a standby"),
            "{}",
            e.reason
        );
        assert!(copied_from("START WAL LOCATION: 0/2000028\n").is_err());
        assert!(copied_from("").is_err());
    }

    #[test]
    fn a_standby_that_cannot_follow_is_rebuilt_only_when_allowed() {
        let why = "requested WAL segment 000000010000000000000003 has already been removed";
        assert_eq!(rebuild_standby(Some(why), true).as_deref(), Some(why));
        assert_eq!(rebuild_standby(Some(why), false), None);
        // Streaming again: the memory holds "".
        assert_eq!(rebuild_standby(Some(""), true), None);
        assert_eq!(rebuild_standby(None, true), None);
    }

    #[test]
    fn progress_is_reported_every_tenth_or_every_half_minute() {
        // (percent, last, since_s, due)
        let table = [
            (0, None, 0, true),
            (5, Some(0), 5, false),
            (10, Some(9), 1, true),
            (19, Some(10), 29, false),
            (19, Some(10), REPORT_EVERY_S, true),
            (10, Some(10), 600, false),
            (100, Some(95), 1, true),
        ];
        for (percent, last, since, due) in table {
            assert_eq!(
                report_due(percent, last, since),
                due,
                "{percent} {last:?} {since}"
            );
        }
    }
}
