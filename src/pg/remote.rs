//! Asking the primary over SQL, through `primary_conninfo`, before a copy
//! or a rebuild: what its tablespaces are, how much WAL it keeps between
//! checkpoints, which WAL it still holds, and before a standby follows it,
//! the history of its timeline.
//!
//! `psql` runs as the system user, as pg_rewind and pg_basebackup do, so
//! that libpq reads the same `.pgpass`, certificates and service file; the
//! connection is the one pg_rewind makes ([`rewind::rewind_source`]:
//! `dbname=postgres`, a connect timeout), so the role needs what pg_rewind
//! needs (`pg_ls_dir` for the WAL list, the four-argument
//! `pg_read_binary_file` for a history file). The statements are constants: no
//! parameter is ever pasted into them; names are qualified with
//! `pg_catalog` (the role's `search_path` is not ours), and rows are
//! filtered here rather than by operators the search path could shadow.
//! Output is unaligned, tuples only, one row a line, fields split at `|`.

use std::path::Path;

use crate::deadline::Deadline;
use crate::exec::{self, SystemUser};
use crate::ocf::code::OcfResult;
use crate::pg::history::History;
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

/// The primary's timeline (the first 8 hex digits of the name of the WAL
/// segment it writes) and its history file, hex-encoded (one row: the file
/// holds tabs and newlines). `concat`, not `||`: an operator is found
/// through the role's search path like any name. Reads nothing on a
/// server in recovery: `pg_current_wal_lsn` fails there.
const SQL_HISTORY: &str = "with t as (select pg_catalog.substr(pg_catalog.pg_walfile_name(\
     pg_catalog.pg_current_wal_lsn()), 1, 8) as tli) \
     select 't', tli from t union all select 'h', pg_catalog.encode(pg_catalog.pg_read_binary_file(\
     pg_catalog.concat('pg_wal/', tli, '.history'), 0, 262144, true), 'hex') from t";

/// The history of the timeline the primary writes on, as it holds it: the
/// one thing that tells two timelines of one number apart, which
/// pg_rewind and a standby's WAL receiver never compare.
pub fn primary_history(
    bindir: &Path,
    user: &SystemUser,
    primary_conninfo: &str,
    deadline: Deadline,
) -> OcfResult<Result<History, String>> {
    Ok(rows(bindir, user, primary_conninfo, SQL_HISTORY, deadline)?.and_then(|rows| read_history(&rows)))
}

fn read_history(rows: &[Vec<String>]) -> Result<History, String> {
    let field = |kind: &str| {
        rows.iter()
            .find(|r| r.len() == 2 && r[0] == kind)
            .map(|r| r[1].as_str())
    };
    let tli = field("t").ok_or("no timeline in the answer")?;
    let timeline = u32::from_str_radix(tli, 16).map_err(|_| format!("'{tli}' is not a timeline"))?;
    let hex = field("h").unwrap_or("");
    if hex.is_empty() {
        // Timeline 1 has no history file; any other one must.
        return if timeline == 1 {
            Ok(History::root(1))
        } else {
            Err(format!(
                "the primary has no history file for its timeline {timeline}"
            ))
        };
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or("the history file's answer is not hex")?;
    let text = String::from_utf8(bytes).map_err(|_| "the history file is not text".to_string())?;
    History::from_file(timeline, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primarys_history_is_read_from_its_answer() {
        // "1\t0/3000060\tno recovery target specified\n", hex-encoded.
        let file = "1\t0/3000060\tno recovery target specified\n";
        let hex: String = file.bytes().map(|b| format!("{b:02x}")).collect();
        let rows = parse_rows(&format!("t|00000002\nh|{hex}\n"));
        assert_eq!(
            read_history(&rows).map(|h| h.to_string()),
            Ok("1@0/3000060,2".into())
        );
        assert_eq!(
            read_history(&parse_rows("t|00000001\nh|\n")).map(|h| h.to_string()),
            Ok("1".into())
        );
        assert!(
            read_history(&parse_rows("t|00000003\nh|\n")).is_err(),
            "no file for 3"
        );
        assert!(read_history(&parse_rows("t|0000000G\nh|\n")).is_err());
        assert!(read_history(&parse_rows("t|00000002\nh|zz\n")).is_err());
        assert!(read_history(&parse_rows("")).is_err());
    }

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
