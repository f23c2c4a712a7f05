//! Asking the primary over SQL, through `primary_conninfo`, before a copy
//! or a rebuild: what its tablespaces are, how much WAL it keeps between
//! checkpoints, which WAL it still holds.
//!
//! `psql` runs as the system user, as pg_rewind and pg_basebackup do, so
//! that libpq reads the same `.pgpass`, certificates and service file; the
//! connection is the one pg_rewind makes ([`rewind::rewind_source`]:
//! `dbname=postgres`, a connect timeout), so the role needs what pg_rewind
//! needs (`pg_ls_dir` for the WAL list). The statements are constants: no
//! parameter is ever pasted into them; names are qualified with
//! `pg_catalog` (the role's `search_path` is not ours), and rows are
//! filtered here rather than by operators the search path could shadow.
//! Output is unaligned, tuples only, one row a line, fields split at `|`.

use std::path::Path;

use crate::deadline::Deadline;
use crate::exec::{self, SystemUser};
use crate::ocf::code::OcfResult;
use crate::pg::rewind;

/// Runs `sql` on the server `primary_conninfo` leads to, with `psql` from
/// `bindir`, as `user`, within `deadline`: its rows, or what psql said when
/// it failed (the server unreachable, the role not allowed...).
pub fn rows(
    bindir: &Path,
    user: &SystemUser,
    primary_conninfo: &str,
    sql: &str,
    deadline: Deadline,
) -> OcfResult<Result<Vec<Vec<String>>, String>> {
    let target = rewind::rewind_source(primary_conninfo);
    let args = [
        "-X",
        "-A",
        "-t",
        "-q",
        "-w",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        &target,
        "-c",
        sql,
    ];
    let out = exec::run(bindir.join("psql"), &args, Some(user), deadline)?;
    if !out.success() {
        return Ok(Err(out
            .last_message()
            .trim_start_matches("psql: ")
            .trim_start_matches("error: ")
            .to_string()));
    }
    Ok(Ok(parse_rows(&out.stdout)))
}

fn parse_rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// What a copy needs to know of the primary first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyFacts {
    /// Tablespaces other than `pg_default` and `pg_global`.
    pub tablespaces: Vec<String>,
    /// Its `max_wal_size` in bytes.
    pub max_wal_size: Option<u64>,
}

/// Kinds of rows, first field of each.
const SQL_COPY_FACTS: &str = "select 't', spcname::pg_catalog.text from pg_catalog.pg_tablespace \
     union all select 'm', pg_catalog.pg_size_bytes(pg_catalog.current_setting('max_wal_size'))::pg_catalog.text";

/// The primary's [`CopyFacts`].
pub fn copy_facts(
    bindir: &Path,
    user: &SystemUser,
    primary_conninfo: &str,
    deadline: Deadline,
) -> OcfResult<Result<CopyFacts, String>> {
    Ok(rows(bindir, user, primary_conninfo, SQL_COPY_FACTS, deadline)?.map(|rows| read_copy_facts(&rows)))
}

fn read_copy_facts(rows: &[Vec<String>]) -> CopyFacts {
    let field = |kind: &'static str| {
        rows.iter()
            .filter(move |r| r.len() == 2 && r[0] == kind)
            .map(|r| r[1].clone())
    };
    CopyFacts {
        tablespaces: field("t")
            .filter(|name| name != "pg_default" && name != "pg_global")
            .collect(),
        max_wal_size: field("m").next().and_then(|v| v.parse().ok()),
    }
}

/// Whether the server is in recovery, and the entries of its `pg_wal`.
const SQL_WAL: &str = "select 'r', pg_catalog.pg_is_in_recovery()::pg_catalog.text \
     union all select 'w', f from pg_catalog.pg_ls_dir('pg_wal', true, false) as f";

/// What the primary holds of its WAL: whether it is in recovery, and the
/// names in its `pg_wal` (segments, history files, anything).
pub fn wal_files(
    bindir: &Path,
    user: &SystemUser,
    primary_conninfo: &str,
    deadline: Deadline,
) -> OcfResult<Result<(bool, Vec<String>), String>> {
    Ok(rows(bindir, user, primary_conninfo, SQL_WAL, deadline)?.and_then(|rows| read_wal_files(&rows)))
}

fn read_wal_files(rows: &[Vec<String>]) -> Result<(bool, Vec<String>), String> {
    let in_recovery = rows
        .iter()
        .find(|r| r.len() == 2 && r[0] == "r")
        .map(|r| r[1] == "t")
        .ok_or("no answer to pg_is_in_recovery()")?;
    let names = rows
        .iter()
        .filter(|r| r.len() == 2 && r[0] == "w")
        .map(|r| r[1].clone())
        .collect();
    Ok((in_recovery, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_are_read_by_their_kind() {
        let rows = parse_rows("t|pg_default\nt|pg_global\nt|fast\nm|1073741824\n");
        assert_eq!(
            read_copy_facts(&rows),
            CopyFacts {
                tablespaces: vec!["fast".into()],
                max_wal_size: Some(1 << 30)
            }
        );
        let rows = parse_rows("r|f\nw|000000010000000000000003\nw|archive_status\n");
        assert_eq!(
            read_wal_files(&rows),
            Ok((
                false,
                vec!["000000010000000000000003".into(), "archive_status".into()]
            ))
        );
        assert!(read_wal_files(&parse_rows("")).is_err());
    }
}
