//! Where an instance's files and programs are, and which version it is.
//!
//! `PG_VERSION` in the data directory names the major version; from it the
//! server binaries are found the way each distribution installs them
//! (Debian: `/usr/lib/postgresql/<major>/bin`, PGDG RPMs on RHEL:
//! `/usr/pgsql-<major>/bin`), then on `PATH`, unless `bindir` is given.

use std::fs;
use std::path::{Path, PathBuf};

use crate::deadline::Deadline;
use crate::exec::SystemUser;
use crate::ocf::code::{OcfError, OcfResult};
use crate::userfs;

/// The oldest major version pgha supports (standby.signal, pg_promote()).
pub const MIN_MAJOR: u32 = 12;

/// The major versions the test suite runs the agent against: the host's 15
/// (tests/setup), 17 and 18 (fetched by tests/pg/fetch-pg<major>, run by
/// tests/run). The others from [`MIN_MAJOR`] on are accepted but untested,
/// and the manual page says so.
pub const TESTED_MAJORS: &[u32] = &[15, 17, 18];

/// PG_VERSION holds "15\n": anything much longer is not one.
const PG_VERSION_MAX: u64 = 256;

/// Programs the agent runs; every one must be in `bindir`.
pub const REQUIRED_PROGRAMS: &[&str] = &["postgres", "pg_controldata"];

/// Whether `<datadir>/backup_label` is there as `user` sees it (a base
/// backup never started, or a pg_rewind's last writes), looked at as that
/// user within `deadline`: root never follows a link the user planted in
/// its data directory, and a file system that does not answer fails the
/// action with a reason instead of hanging it. What the user cannot see
/// there, PostgreSQL cannot read either: not there.
pub fn has_backup_label(datadir: &Path, user: &SystemUser, deadline: Deadline) -> OcfResult<bool> {
    let path = datadir.join("backup_label");
    let p = path.clone();
    Ok(userfs::as_user(user, deadline, &path, move || fs::metadata(&p))?.is_ok())
}

/// Reads the major version from `<datadir>/PG_VERSION`, as `user`.
///
/// The data directory is the user's: the file is read through
/// [`userfs::read_small`], so a symlink planted there cannot make root read
/// another file, and a FIFO answers with an error within `deadline` instead
/// of hanging validate-all and every monitor.
///
/// A missing file is ERR_ARGS (the directory is not a data directory on this
/// host), as is anything there but a small regular file; a version pgha
/// cannot manage is ERR_INSTALLED.
pub fn read_major_version(datadir: &Path, user: &SystemUser, deadline: Deadline) -> OcfResult<u32> {
    let path = datadir.join("PG_VERSION");
    let text = match userfs::read_small(user, deadline, &path, PG_VERSION_MAX)? {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OcfError::args(format!(
                "cannot read {}: is datadir a PostgreSQL data directory?",
                path.display()
            ))
            .with_source(e));
        }
        Err(e) => return Err(OcfError::args(format!("cannot read PG_VERSION: {e}")).with_source(e)),
    };
    let major = parse_major_version(&text).ok_or_else(|| {
        OcfError::installed(format!(
            "{} holds '{}', not a version",
            path.display(),
            text.trim()
        ))
    })?;
    if major < MIN_MAJOR {
        return Err(OcfError::installed(format!(
            "PostgreSQL {major} in {} is not supported: pgha needs {MIN_MAJOR} or later",
            datadir.display()
        )));
    }
    Ok(major)
}

/// "15\n" -> 15; "9.6" -> 9 (old style, refused later as too old).
pub fn parse_major_version(text: &str) -> Option<u32> {
    let t = text.trim();
    t.split('.').next()?.parse().ok()
}

/// The directories searched for binaries of `major`, in order.
pub fn candidate_bindirs(major: u32, path_var: Option<&str>) -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
        PathBuf::from(format!("/usr/pgsql-{major}/bin")),
    ];
    dirs.extend(
        path_var
            .unwrap_or("")
            .split(':')
            .filter(|d| d.starts_with('/'))
            .map(PathBuf::from),
    );
    dirs
}

/// The first candidate that holds every required program.
pub fn find_bindir(major: u32, path_var: Option<&str>) -> OcfResult<PathBuf> {
    candidate_bindirs(major, path_var)
        .into_iter()
        .find(|dir| REQUIRED_PROGRAMS.iter().all(|p| is_executable(&dir.join(p))))
        .ok_or_else(|| {
            OcfError::installed(format!(
                "PostgreSQL {major} server binaries not found: install them or set bindir"
            ))
        })
}

/// The bin directory of the newest PostgreSQL installed the way Debian
/// (`/usr/lib/postgresql/<major>/bin`) or PGDG's RPMs (`/usr/pgsql-<major>/bin`)
/// do that holds `program`: what copies a primary into an empty data
/// directory, where no PG_VERSION tells the major version yet (a newer
/// pg_basebackup copies an older server; the copy's PG_VERSION then picks
/// the server binaries).
pub fn newest_bindir_with(program: &str) -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for (root, prefix, suffix) in [("/usr/lib/postgresql", "", "bin"), ("/usr", "pgsql-", "bin")] {
        let Ok(entries) = fs::read_dir(root) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(major) = name.strip_prefix(prefix).and_then(|v| v.parse::<u32>().ok()) else {
                continue;
            };
            let dir = entry.path().join(suffix);
            if major >= MIN_MAJOR && is_executable(&dir.join(program)) {
                found.push((major, dir));
            }
        }
    }
    found.into_iter().max().map(|(_, dir)| dir)
}

/// Checks that `bindir` holds every required program.
pub fn check_bindir(bindir: &Path) -> OcfResult<()> {
    for program in REQUIRED_PROGRAMS {
        let path = bindir.join(program);
        if !is_executable(&path) {
            return Err(OcfError::installed(format!(
                "{} is missing or not executable: check bindir",
                path.display()
            )));
        }
    }
    Ok(())
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Tested" on the manual page is a claim about the test suite: each
    /// version is the host's (tests/setup installs it) or one tests/run
    /// fetches and runs the integration tests on.
    #[test]
    fn every_tested_major_is_one_the_suite_runs() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |name: &str| fs::read_to_string(repo.join(name)).unwrap();
        let setup = read("tests/setup");
        let run = read("tests/run");
        for major in TESTED_MAJORS {
            assert!(*major >= MIN_MAJOR, "{major} is refused");
            let installed = setup.contains(&format!("postgresql-{major} "));
            let fetched = repo.join(format!("tests/pg/fetch-pg{major}")).is_file()
                && run.lines().any(|l| {
                    l.starts_with("for major in ")
                        && l.split_whitespace()
                            .any(|w| w.trim_end_matches(';') == major.to_string())
                });
            assert!(
                installed || fetched,
                "PostgreSQL {major} is called tested, but no test runs it"
            );
        }
    }

    #[test]
    fn parses_major_versions() {
        assert_eq!(parse_major_version("15\n"), Some(15));
        assert_eq!(parse_major_version("9.6\n"), Some(9));
        assert_eq!(parse_major_version("x"), None);
    }

    #[test]
    fn debian_then_rhel_then_path() {
        let dirs = candidate_bindirs(15, Some("/usr/bin:relative:/bin"));
        assert_eq!(
            dirs,
            [
                "/usr/lib/postgresql/15/bin",
                "/usr/pgsql-15/bin",
                "/usr/bin",
                "/bin"
            ]
            .map(PathBuf::from)
            .to_vec()
        );
    }
}
