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
//! - [`placement`], [`unguarded_copy`]: where the copy would land (mount
//!   points);
//! - [`source`]: which node it would come from;
//! - [`fits`], [`still_fits`]: whether it fits beside what stays on the
//!   file system, with the WAL streamed while it runs;
//! - [`tablespaces`], [`reported_tablespaces`]: no copy where tablespaces
//!   are (pg_basebackup writes them outside the staging directory);
//! - [`copied_from`]: whether the copy really came from a primary;
//! - [`rebuild_standby`], [`after_confirmation`], [`fork_confirmed`],
//!   [`removed_wal_confirmed`]: whether a standby the monitor found unable
//!   to follow is rebuilt now: only when the primary confirms what its log
//!   said;
//! - [`report_due`]: when progress is worth a log line and an attribute.

use crate::ocf::code::OcfError;
use crate::pg::rewind::Divergence;
use crate::vocab::Lsn;

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

/// The warning validate-all gives for `bootstrap` (basebackup) with no
/// `data_mount` (`mount_set`): a data disk that failed to mount leaves a
/// missing data directory, which start fills with a copy on the file system
/// below it (often the root one). A warning, not a refusal: a data
/// directory on the root file system is a setup of its own (one disk), and
/// nothing tells the two apart before the disk is missing.
pub fn unguarded_copy(bootstrap: bool, mount_set: bool, datadir: &str) -> Option<String> {
    (bootstrap && !mount_set).then(|| {
        format!(
            "bootstrap=basebackup without data_mount: if the disk of {datadir} fails to mount, start copies \
             the primary onto the file system below it and may fill it; set data_mount to the mount point"
        )
    })
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

/// What is kept free beyond the copy and its WAL: what the server writes
/// at its first start.
const HEADROOM_BYTES: u64 = 64 << 20;

/// The WAL counted for the copy when the primary's `max_wal_size` cannot
/// be asked: PostgreSQL's default.
pub const DEFAULT_WAL_MARGIN: u64 = 1 << 30;

/// Whether a copy of `estimate` bytes (pg_basebackup's own estimate, WAL
/// excluded) fits in `available` bytes with a tenth, `wal_margin` and
/// [`HEADROOM_BYTES`] to spare. `wal_margin` is the WAL the copy streams
/// beside the files (`-X stream`: all the primary writes while the copy
/// runs): counted as the primary's `max_wal_size`, the WAL it writes
/// between two checkpoints. More may come during a long copy under heavy
/// writes, which [`still_fits`] catches while it runs.
pub fn fits(estimate: u64, wal_margin: u64, available: u64) -> bool {
    estimate
        .saturating_add(estimate / 10)
        .saturating_add(wal_margin)
        .saturating_add(HEADROOM_BYTES)
        <= available
}

/// Whether a copy that has written `done` of `total` bytes may go on with
/// `available` bytes free now: what it still has to write, and
/// [`HEADROOM_BYTES`], must fit (the WAL streamed so far is already
/// counted in what is no longer free).
pub fn still_fits(total: u64, done: u64, available: u64) -> bool {
    total.saturating_sub(done).saturating_add(HEADROOM_BYTES) <= available
}

/// Whether a copy may be made with the tablespaces seen: `primary`, the
/// primary's tablespaces other than the default ones (None when it could
/// not be asked: pg_basebackup's first report is then checked, see
/// [`reported_tablespaces`]); `local`, the entries of the data directory's
/// `pg_tblspc` (a rebuild's old data). pg_basebackup writes a tablespace at
/// the absolute path it has on the primary, outside the staging directory:
/// a cut copy would leave half a tablespace where a server reads, the old
/// data's tablespaces cannot be moved aside with it, and the next copy
/// fails on the non-empty directory forever.
pub fn tablespaces(primary: Option<&[String]>, local: &[String], datadir: &str) -> Result<(), OcfError> {
    if let Some(names) = primary.filter(|n| !n.is_empty()) {
        return Err(OcfError::args(format!(
            "the primary has tablespaces ({}): no copy made, it would write outside datadir",
            names.join(", ")
        )));
    }
    if !local.is_empty() {
        return Err(OcfError::args(format!(
            "datadir {datadir} has tablespaces (pg_tblspc/{}): no rebuild, they cannot be moved aside",
            local.join(", pg_tblspc/")
        )));
    }
    Ok(())
}

/// The same for the tablespace count of pg_basebackup's first report (the
/// default one included): the copy stops when it has more than one.
pub fn reported_tablespaces(count: Option<u32>) -> Result<(), String> {
    match count {
        Some(n) if n > 1 => Err(format!(
            "the copy lists {n} tablespaces, pg_default included: copy stopped, it would write outside datadir"
        )),
        _ => Ok(()),
    }
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
/// from the agent's memory) is a candidate for a rebuild at this start when
/// `rebuild` is on; otherwise it starts as it is and the monitor keeps
/// saying why. A candidate is rebuilt only once the primary confirms
/// ([`after_confirmation`]).
pub fn rebuild_standby(remembered: Option<&str>, rebuild: bool) -> Option<String> {
    remembered
        .filter(|why| rebuild && !why.is_empty())
        .map(str::to_string)
}

/// What the primary says of a standby whose log says it cannot follow. The
/// log holds text that clients put there, so it never decides alone to
/// throw the data away (issue 23).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// The primary confirms that the standby cannot follow: how.
    Confirmed(String),
    /// The primary shows that it can: what it showed.
    Denied(String),
    /// The primary could not be asked, or could not tell: why.
    Unknown(String),
}

/// What start does with a candidate for a rebuild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StandbyRebuild {
    /// Copy the primary again, for this reason.
    Rebuild(String),
    /// Start the data as it is, and say why it was not rebuilt.
    Start(String),
}

/// The rule: only a confirmation rebuilds; with none (no primary reachable,
/// no answer) the standby starts as it is and waits, as a standby with no
/// primary does, and the monitor says again what it sees.
pub fn after_confirmation(why: &str, confirmation: Confirmation) -> StandbyRebuild {
    match confirmation {
        Confirmation::Confirmed(how) => StandbyRebuild::Rebuild(format!("{why} ({how})")),
        Confirmation::Denied(what) => StandbyRebuild::Start(format!(
            "the log said '{why}', but {what}: not rebuilt, started as it is"
        )),
        Confirmation::Unknown(reason) => StandbyRebuild::Start(format!(
            "the log said '{why}', but the primary cannot confirm it ({reason}): not rebuilt, started as a standby"
        )),
    }
}

/// A fork is confirmed only when `pg_rewind --dry-run` against the primary
/// finds the histories diverged; "no rewind required" denies it.
pub fn fork_confirmed(divergence: &Divergence) -> Confirmation {
    match divergence {
        Divergence::Diverged(at) => Confirmation::Confirmed(format!("pg_rewind: {at}")),
        Divergence::None => Confirmation::Denied("pg_rewind finds its history in the primary's".into()),
        Divergence::NoPrimary(why) | Divergence::Undecided(why) => {
            Confirmation::Unknown(format!("pg_rewind: {why}"))
        }
    }
}

/// What the primary holds of its WAL: asked over SQL, through
/// `primary_conninfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimaryWal {
    /// The server asked is itself a standby (a VIP that points nowhere
    /// useful): it cannot speak for the primary.
    pub in_recovery: bool,
    /// Its oldest WAL segment in `pg_wal`: name and starting position.
    pub oldest: Option<(String, Lsn)>,
}

/// Removed WAL is confirmed when the primary's oldest segment starts after
/// the segment the standby needs next: the one holding `needed`, the end of
/// the WAL it holds (it streams from there). `primary`: what the primary
/// said, or why it could not be asked; `needed`: the end of the standby's
/// WAL, or why it is not known.
pub fn removed_wal_confirmed(
    primary: Result<&PrimaryWal, &str>,
    needed: Result<Lsn, &str>,
    segment_size: u64,
) -> Confirmation {
    let primary = match primary {
        Ok(p) => p,
        Err(why) => return Confirmation::Unknown(format!("cannot ask it: {why}")),
    };
    if primary.in_recovery {
        return Confirmation::Unknown("primary_conninfo leads to a standby".into());
    }
    let needed = match needed {
        Ok(lsn) => lsn,
        Err(why) => {
            return Confirmation::Unknown(format!("the end of the standby's WAL is not known: {why}"));
        }
    };
    let Some((name, oldest)) = &primary.oldest else {
        return Confirmation::Unknown("the primary lists no WAL segment".into());
    };
    let segment = Lsn(needed.0 - needed.0 % segment_size.max(1));
    if *oldest > segment {
        Confirmation::Confirmed(format!(
            "the primary's oldest WAL segment is {name}, the standby needs {segment} on"
        ))
    } else {
        Confirmation::Denied(format!(
            "the primary still has the WAL from {segment} on (oldest segment {name})"
        ))
    }
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
    fn a_copy_with_no_expected_mount_is_warned_about() {
        assert!(
            unguarded_copy(true, false, "/d")
                .unwrap()
                .contains("set data_mount")
        );
        assert_eq!(unguarded_copy(true, true, "/d"), None);
        assert_eq!(unguarded_copy(false, false, "/d"), None);
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
        // (estimate, WAL margin, available, fits)
        let table = [
            (0, 0, 64 * mib, true),
            (0, 0, 64 * mib - 1, false),
            (1000 * mib, 0, 1164 * mib, true),
            (1000 * mib, 0, 1163 * mib, false),
            // The WAL streamed while the copy runs counts too.
            (1000 * mib, 1024 * mib, 1164 * mib, false),
            (1000 * mib, 1024 * mib, 2188 * mib, true),
            (u64::MAX, 0, u64::MAX - 1, false),
            (0, u64::MAX, u64::MAX - 1, false),
        ];
        for (estimate, wal, available, expected) in table {
            assert_eq!(
                fits(estimate, wal, available),
                expected,
                "{estimate} + {wal} in {available}"
            );
        }
        // (total, done, available now, goes on)
        let running = [
            (1000 * mib, 0, 1064 * mib, true),
            (1000 * mib, 500 * mib, 564 * mib, true),
            (1000 * mib, 500 * mib, 563 * mib, false),
            (1000 * mib, 1000 * mib, 64 * mib, true),
            (1000 * mib, 2000 * mib, 63 * mib, false),
        ];
        for (total, done, available, expected) in running {
            assert_eq!(
                still_fits(total, done, available),
                expected,
                "{done}/{total} with {available}"
            );
        }
    }

    #[test]
    fn no_copy_is_made_where_tablespaces_are() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // (primary's, local, refusal; "" = allowed)
        type Row<'a> = (Option<Vec<String>>, Vec<String>, &'a str);
        let table: Vec<Row> = vec![
            (Some(names(&[])), names(&[]), ""),
            (None, names(&[]), ""),
            (
                Some(names(&["fast", "cold"])),
                names(&[]),
                "the primary has tablespaces (fast, cold): no copy made, it would write outside datadir",
            ),
            (
                None,
                names(&["16384"]),
                "datadir /d has tablespaces (pg_tblspc/16384): no rebuild, they cannot be moved aside",
            ),
        ];
        for (primary, local, expected) in table {
            match tablespaces(primary.as_deref(), &local, "/d") {
                Ok(()) => assert_eq!(expected, "", "{primary:?} {local:?}"),
                Err(e) => {
                    assert_eq!(e.code, OcfCode::ErrArgs);
                    assert_eq!(e.reason, expected);
                    assert!(e.reason.len() < 128);
                }
            }
        }
        assert_eq!(reported_tablespaces(Some(1)), Ok(()));
        assert_eq!(reported_tablespaces(None), Ok(()));
        assert!(
            reported_tablespaces(Some(2))
                .unwrap_err()
                .starts_with("the copy lists 2 tablespaces")
        );
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

    /// A log line is text anyone can write (issue 23): only the primary's
    /// answer rebuilds.
    #[test]
    fn a_standby_is_rebuilt_only_when_the_primary_confirms() {
        let why = "requested WAL segment 000000010000000000000003 has already been removed";
        let seg = |n: u64| Some((format!("00000001000000000000000{n}"), Lsn(n << 24)));
        let wal = |in_recovery, oldest| PrimaryWal { in_recovery, oldest };
        let mib16 = 16u64 << 20;
        // (primary, standby's WAL end, outcome: "rebuild" or the start's note)
        type Row<'a> = (Result<PrimaryWal, &'a str>, Result<Lsn, &'a str>, &'a str);
        let table: Vec<Row> = vec![
            (Ok(wal(false, seg(5))), Ok(Lsn(0x3000100)), "rebuild"),
            // Needs segment 4 from its start: 4 is gone, 5 is the oldest.
            (Ok(wal(false, seg(5))), Ok(Lsn(0x4000000)), "rebuild"),
            (
                Ok(wal(false, seg(5))),
                Ok(Lsn(0x5000000)),
                "still has the WAL from 0/5000000 on",
            ),
            (
                Ok(wal(false, seg(3))),
                Ok(Lsn(0x3000100)),
                "still has the WAL from 0/3000000 on",
            ),
            (
                Err("could not connect"),
                Ok(Lsn(0x3000100)),
                "cannot confirm it (cannot ask it: could not connect)",
            ),
            (
                Ok(wal(true, seg(5))),
                Ok(Lsn(0x3000100)),
                "primary_conninfo leads to a standby",
            ),
            (
                Ok(wal(false, seg(5))),
                Err("pg_waldump failed"),
                "is not known: pg_waldump failed",
            ),
            (Ok(wal(false, None)), Ok(Lsn(0x3000100)), "lists no WAL segment"),
        ];
        for (primary, needed, expected) in table {
            let what = format!("{primary:?} {needed:?}");
            let confirmation = removed_wal_confirmed(primary.as_ref().map_err(|e| *e), needed, mib16);
            match after_confirmation(why, confirmation) {
                StandbyRebuild::Rebuild(reason) => {
                    assert_eq!(expected, "rebuild", "{what}: {reason}");
                    assert!(reason.starts_with(why), "{reason}");
                }
                StandbyRebuild::Start(note) => {
                    assert!(note.contains(expected), "{what}: {note}");
                    assert!(note.contains("not rebuilt"), "{note}");
                }
            }
        }
        // A fork: pg_rewind's dry run decides.
        let fork = |d: Divergence| after_confirmation("new timeline 3 forked off", fork_confirmed(&d));
        assert!(matches!(
            fork(Divergence::Diverged("servers diverged at 0/3000060".into())),
            StandbyRebuild::Rebuild(_)
        ));
        for d in [
            Divergence::None,
            Divergence::NoPrimary("no".into()),
            Divergence::Undecided("?".into()),
        ] {
            assert!(matches!(fork(d.clone()), StandbyRebuild::Start(_)), "{d:?}");
        }
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
