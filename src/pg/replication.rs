//! Streaming replication: what a primary sees of its standbys, what a standby
//! knows of its own progress, the recovery settings a standby starts with,
//! promotion and pg_rewind.
//!
//! Recovery settings are never written into the operator's configuration:
//! the agent creates `standby.signal` and passes `primary_conninfo` (with
//! `application_name` = the Pacemaker node name) and
//! `recovery_target_timeline=latest` on the server's command line, where
//! they take precedence over postgresql.conf and postgresql.auto.conf (so a
//! `primary_conninfo` left there by `pg_basebackup -R` cannot point the
//! standby elsewhere).

use std::time::Duration;

use postgres::{Client, SimpleQueryMessage};

use crate::deadline::Deadline;
use crate::exec;
use crate::ocf::code::{OcfError, OcfResult};
use crate::params::ReplicationMode;
use crate::pg::conninfo;
use crate::pg::instance::Instance;
use crate::pg::lsn::Lsn;
use crate::pg::session::SqlError;
use crate::userfs;

/// One result set of a simple-protocol query: rows of nullable text columns.
pub type Rows = Vec<Vec<Option<String>>>;

/// Runs `sql` (one or more statements) in one round trip; one `Rows` per
/// statement.
pub fn simple_query_sets(client: &mut Client, sql: &str) -> Result<Vec<Rows>, postgres::Error> {
    let mut sets = vec![Rows::new()];
    for message in client.simple_query(sql)? {
        match message {
            SimpleQueryMessage::Row(row) => {
                let values = (0..row.len()).map(|i| row.get(i).map(str::to_string)).collect();
                sets.last_mut().expect("never empty").push(values);
            }
            SimpleQueryMessage::CommandComplete(_) => sets.push(Rows::new()),
            _ => {}
        }
    }
    sets.pop();
    Ok(sets)
}

/// A standby as the primary sees it in `pg_stat_replication`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    /// `application_name`: the standby's Pacemaker node name.
    pub name: String,
    /// `state`: streaming, catchup, startup, backup, stopping.
    pub state: String,
    /// `sync_state`: async, potential, sync, quorum.
    pub sync_state: String,
    pub flush: Option<Lsn>,
    /// Bytes between the primary's current WAL position and `flush`.
    pub lag: Option<u64>,
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
}

/// What a standby knows of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandbyStatus {
    /// The newest timeline it knows of (received, or from its last restartpoint).
    pub timeline: u32,
    pub receive: Option<Lsn>,
    pub replay: Option<Lsn>,
    /// `pg_stat_wal_receiver.status` (streaming, starting, waiting, ...), None
    /// when no WAL receiver runs.
    pub receiver: Option<String>,
    /// The primary's WAL position at its last message, when streaming.
    pub primary_end: Option<Lsn>,
    /// Slots left from a time this instance was a primary.
    pub slots: Vec<(String, bool)>,
}

impl StandbyStatus {
    /// The greater of received and replayed: how far this standby could go
    /// if promoted now (PAF #225 used the received LSN only, which after a
    /// restart is the start of a segment on every node).
    pub fn position(&self) -> Lsn {
        self.receive.max(self.replay).unwrap_or_default()
    }

    pub fn is_streaming(&self) -> bool {
        self.receiver.as_deref() == Some("streaming")
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
    pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint::text from pg_stat_replication \
    where application_name <> ''; \
    select current_setting('synchronous_standby_names'); \
    select slot_name, active::text from pg_replication_slots \
    where slot_type = 'physical' and slot_name like 'pgha\\_%'";

const STANDBY_SQL: &str = "select greatest((select timeline_id from pg_control_checkpoint()), \
    coalesce((select received_tli from pg_stat_wal_receiver), 0)), \
    pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text; \
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

/// Rows of (slot name, active).
fn slots(sets: &[Rows], i: usize) -> Vec<(String, bool)> {
    sets.get(i)
        .map(|rows| {
            rows.iter()
                .filter_map(|r| Some((col(r, 0)?, col::<String>(r, 1)? == "true")))
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
            receiver: col(&receiver, 0),
            primary_end: col(&receiver, 1),
            slots: slots(&sets, 2),
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
                        state: col(r, 1).unwrap_or_default(),
                        sync_state: col(r, 2).unwrap_or_default(),
                        flush: col(r, 3),
                        lag: col(r, 4),
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
        }))
    }
}

/// Why node `name` cannot be a standby PostgreSQL knows by name, or Ok.
///
/// A standby is matched by its `application_name`, which PostgreSQL cuts at
/// 63 bytes (NAMEDATALEN - 1) and in which it replaces every byte that is
/// not printable ASCII with `?` (`pg_clean_ascii`): such a node would never
/// be found in `pg_stat_replication` nor in `synchronous_standby_names`. A
/// node named `*` would be the wildcard there, quoted or not.
pub fn check_node_name(name: &str) -> OcfResult<()> {
    // Escaped, then cut: the exit reason, with the resource name before
    // it, must stay under 128 bytes.
    let shown: String = name.escape_debug().take(24).collect();
    let why = if name.is_empty() {
        "is empty"
    } else if name.len() > 63 {
        "is over 63 bytes (application_name is cut there)"
    } else if !name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        "is not printable ASCII (application_name rewrites it)"
    } else if name == "*" {
        "is the wildcard of synchronous_standby_names"
    } else {
        return Ok(());
    };
    Err(OcfError::configured(format!(
        "node name \"{shown}\" {why}: rename the node"
    )))
}

/// `name` as a double-quoted identifier of `synchronous_standby_names`
/// (`"` doubled, as its scanner reads it).
pub fn quote_standby_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The `synchronous_standby_names` a primary should have, or None when the
/// agent does not manage it (async). `streaming` and `known` hold cluster
/// members only; `members` are the other nodes of the cluster (empty when
/// no membership is known).
///
/// - sync: `ANY n (streaming standbys)`, n capped by how many stream; empty
///   (asynchronous) only when none streams;
/// - strict-sync: `ANY n (streaming and formerly seen standbys)`; before any
///   was seen, `ANY n (the other members)`, and `ANY n (*)` only when no
///   membership is known at all: never empty, so a commit no standby
///   confirmed is never acknowledged.
pub fn synchronous_names(
    mode: ReplicationMode,
    n: u32,
    streaming: &[String],
    known: &[String],
    members: &[String],
) -> Option<String> {
    fn list<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
        let mut names: Vec<&str> = names.map(String::as_str).filter(|n| !n.is_empty()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|n| quote_standby_name(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match mode {
        ReplicationMode::Async => None,
        ReplicationMode::Sync => {
            let names = list(streaming.iter());
            if names.is_empty() {
                return Some(String::new());
            }
            let k = (n as usize).min(names.len());
            Some(format!("ANY {k} ({})", quoted(&names)))
        }
        ReplicationMode::StrictSync => {
            let mut names = list(streaming.iter().chain(known));
            if names.is_empty() {
                names = list(members.iter());
            }
            if names.is_empty() {
                return Some(format!("ANY {n} (*)"));
            }
            Some(format!("ANY {n} ({})", quoted(&names)))
        }
    }
}

/// `value` as an SQL string literal, for a session with
/// `standard_conforming_strings = on` (a backslash is then an ordinary
/// character and only `'` needs doubling).
fn sql_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Sets `synchronous_standby_names` with ALTER SYSTEM (it survives restarts
/// and the operator sees it in postgresql.auto.conf) and reloads. ALTER
/// SYSTEM takes no bind parameter, hence the literal.
pub fn set_synchronous_names(inst: &Instance, value: &str, deadline: Deadline) -> Result<(), SqlError> {
    let alter = format!(
        "alter system set synchronous_standby_names = {}",
        sql_literal(value)
    );
    inst.with_client(inst.probe_timeout, deadline, move |c| {
        // ALTER SYSTEM cannot run in the implicit transaction of a
        // multi-statement query: one round trip each.
        c.simple_query("set standard_conforming_strings = on")?;
        c.simple_query(&alter)?;
        c.simple_query("select pg_reload_conf()").map(|_| ())
    })
}

/// FNV-1a, 32 bits (the reference constants): a stable hash of a node
/// name that needs no dependency and never changes between releases.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The replication slot of `node`. Slot names allow lower-case letters,
/// digits and underscores, 63 bytes at most:
/// - a node name already made of those, and short enough, keeps
///   `pgha_<name>`;
/// - any other is folded (lower case, anything else `_`, cut to fit) and
///   gets `_` and the FNV-1a hash of the exact name in 8 hex digits, so that
///   `db-1`, `db_1` and `DB.1`, or two long names with a common prefix, get
///   different slots.
///
/// A collision is still possible in theory; the primary checks the cluster's
/// nodes for one (`actions::slots`).
pub fn slot_name(node: &str) -> String {
    const PREFIX: &str = "pgha_";
    const MAX: usize = 63;
    let plain = !node.is_empty()
        && PREFIX.len() + node.len() <= MAX
        && node
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        return format!("{PREFIX}{node}");
    }
    let mut folded: String = node
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    folded.truncate(MAX - PREFIX.len() - 9); // only ASCII: bytes are chars
    format!("{PREFIX}{folded}_{:08x}", fnv1a32(node.as_bytes()))
}

/// Creates physical slot `name`, reserving WAL at once (an existing one is fine).
pub fn create_slot(inst: &Instance, name: &str, deadline: Deadline) -> Result<(), SqlError> {
    let name = name.to_string();
    let result = inst.with_client(inst.probe_timeout, deadline, move |c| {
        c.query("select pg_create_physical_replication_slot($1, true)", &[&name])
            .map(|_| ())
    });
    match result {
        Err(SqlError::Db { code, .. }) if code == postgres::error::SqlState::DUPLICATE_OBJECT => Ok(()),
        other => other,
    }
}

/// Drops slot `name`.
pub fn drop_slot(inst: &Instance, name: &str, deadline: Deadline) -> Result<(), SqlError> {
    let name = name.to_string();
    inst.with_client(inst.probe_timeout, deadline, move |c| {
        c.query("select pg_drop_replication_slot($1)", &[&name])
            .map(|_| ())
    })
}

/// The server arguments that make a standby follow the primary, through
/// slot `slot` when given.
pub fn standby_args(primary_conninfo: &str, node_name: &str, slot: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "-c".into(),
        format!(
            "primary_conninfo={} application_name={}",
            primary_conninfo.trim(),
            conninfo::quote_value(node_name)
        ),
        "-c".into(),
        "recovery_target_timeline=latest".into(),
    ];
    if let Some(slot) = slot {
        args.extend(["-c".to_string(), format!("primary_slot_name={slot}")]);
    }
    args
}

/// Creates `standby.signal` (empty, mode 0600) if missing.
///
/// The data directory is the system user's: the file is created by that
/// user, exclusively and without following symlinks ([`userfs::create_empty`]),
/// so a symlink planted there (`standby.signal -> /etc/ld.so.preload`) makes
/// the start fail with a reason instead of making root create its target.
pub fn write_standby_signal(inst: &Instance, deadline: Deadline) -> OcfResult<()> {
    let path = inst.datadir.join("standby.signal");
    userfs::create_empty(&inst.user, deadline, &path)?
        .map(|_| ())
        .map_err(|e| OcfError::generic(format!("cannot create standby.signal: {e}")).with_source(e))
}

/// Promotes the standby and waits until it accepts writes, within `deadline`.
pub fn promote(inst: &Instance, deadline: Deadline) -> Result<(), SqlError> {
    let wait_s = deadline.remaining().as_secs().clamp(1, 3600);
    let sql = format!("select pg_promote(true, {wait_s})");
    let promoted = inst.with_client(deadline.remaining(), deadline, move |c| {
        let sets = simple_query_sets(c, &sql)?;
        Ok(sets
            .first()
            .and_then(|r| r.first())
            .and_then(|r| r.first().cloned().flatten()))
    })?;
    match promoted.as_deref() {
        Some("t") => Ok(()),
        other => Err(SqlError::Other(format!(
            "pg_promote() answered {other:?}: not promoted in {wait_s}s"
        ))),
    }
}

/// Runs a CHECKPOINT on a primary just promoted, so that its pg_control
/// shows the new timeline: until then pg_rewind, which reads the source's
/// pg_control, finds both on the same timeline and rewinds nothing.
pub fn checkpoint(inst: &Instance, timeout: Duration, deadline: Deadline) -> Result<(), SqlError> {
    inst.with_client(timeout, deadline, |c| c.simple_query("checkpoint").map(|_| ()))
}

/// What `pg_rewind --dry-run` found about a former primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// Its history is a prefix of the primary's: it can follow as it is.
    None,
    /// It has WAL the primary never had: it must be rewound or rebuilt.
    Diverged(String),
    /// No primary could be reached (bootstrap, primary down): nothing to
    /// compare with, the standby can only wait for one.
    NoPrimary(String),
    /// pg_rewind could not tell (e.g. the WAL since the last common
    /// checkpoint is gone): following blindly could corrupt, so it counts as
    /// a divergence that needs a decision.
    Undecided(String),
}

/// The libpq string pg_rewind connects to the primary with: a VIP that is
/// nowhere (no primary yet) must not hang the start, so a connect timeout is
/// added unless the operator gave one.
///
/// `primary_conninfo` was parsed by `Config::parse`; if it somehow does not
/// parse here, the timeout is added (libpq keeps the last value given).
pub fn rewind_source(primary_conninfo: &str) -> String {
    let has_timeout = conninfo::parse(primary_conninfo).is_ok_and(|c| c.has("connect_timeout"));
    let timeout = if has_timeout { "" } else { " connect_timeout=5" };
    format!("{} dbname=postgres{timeout}", primary_conninfo.trim())
}

/// Asks the primary, through `pg_rewind --dry-run`, whether this stopped
/// instance diverged from it. Nothing is written in dry-run mode.
pub fn check_divergence(
    inst: &Instance,
    primary_conninfo: &str,
    deadline: Deadline,
) -> OcfResult<Divergence> {
    let source = format!("--source-server={}", rewind_source(primary_conninfo));
    let target = format!("--target-pgdata={}", inst.datadir.display());
    let out = exec::run(
        inst.program("pg_rewind"),
        &["--dry-run", "--progress", target.as_str(), source.as_str()],
        Some(&inst.user),
        deadline.within(Duration::from_secs(30)),
    )?;
    let text = format!("{}\n{}", out.stdout, out.stderr);
    Ok(classify_rewind_output(out.success(), &text))
}

/// Reads pg_rewind's verdict from its output (LC_ALL=C).
pub fn classify_rewind_output(success: bool, text: &str) -> Divergence {
    if text.contains("no rewind required") {
        return Divergence::None;
    }
    if success
        && (text.contains("servers diverged at") || text.contains("rewinding from last common checkpoint"))
    {
        let line = text
            .lines()
            .find(|l| l.contains("servers diverged at"))
            .unwrap_or("servers diverged");
        return Divergence::Diverged(line.trim().trim_start_matches("pg_rewind: ").to_string());
    }
    let last = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output");
    let last = last
        .trim_start_matches("pg_rewind: ")
        .trim_start_matches("error: ")
        .to_string();
    // libpq's connection failures (socket missing, refused, timeout); not
    // pg_rewind's own "No such file" about a WAL segment.
    let unreachable = ["could not connect", "connection to server", "timeout expired"];
    if unreachable.iter().any(|u| text.contains(u)) {
        Divergence::NoPrimary(last)
    } else {
        Divergence::Undecided(last)
    }
}

/// Rewinds this stopped instance onto the primary's timeline.
pub fn rewind(inst: &Instance, primary_conninfo: &str, deadline: Deadline) -> OcfResult<()> {
    let source = format!("--source-server={}", rewind_source(primary_conninfo));
    let target = format!("--target-pgdata={}", inst.datadir.display());
    let out = exec::run(
        inst.program("pg_rewind"),
        &[target.as_str(), source.as_str()],
        Some(&inst.user),
        deadline,
    )?;
    if !out.success() {
        return Err(OcfError::generic(format!(
            "pg_rewind failed: {}",
            out.last_message()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standby_args_name_the_node() {
        assert_eq!(
            standby_args("host=10.0.0.9 user=replicator", "node-1", None),
            vec![
                "-c",
                "primary_conninfo=host=10.0.0.9 user=replicator application_name=node-1",
                "-c",
                "recovery_target_timeline=latest"
            ]
        );
        assert!(
            standby_args("host=x", "odd name", None)
                .get(1)
                .unwrap()
                .ends_with("application_name='odd name'")
        );
        assert_eq!(
            standby_args("host=x", "n", Some("pgha_n"))[5],
            "primary_slot_name=pgha_n"
        );
    }

    #[test]
    fn slot_names_keep_plain_names_and_tell_folded_ones_apart() {
        // FNV-1a reference values ("" and "a", from the specification).
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        let long_a = format!("{}.a", "n".repeat(70));
        let long_b = format!("{}.b", "n".repeat(70));
        let table: &[(&str, &str)] = &[
            ("node1", "pgha_node1"),
            ("db_1", "pgha_db_1"),
            ("db-1", "pgha_db_1_4476ec01"),
            ("DB.1", "pgha_db_1_871ccd92"),
            ("node-b", "pgha_node_b_05c3b726"),
            ("node\"1", "pgha_node_1_6ce92a24"),
        ];
        for (node, slot) in table {
            assert_eq!(slot_name(node), *slot, "{node}");
        }
        for node in [long_a.as_str(), long_b.as_str(), "db-1", "x"] {
            let slot = slot_name(node);
            assert!(slot.len() <= 63, "{slot}");
            assert!(
                slot.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
        }
        assert_ne!(slot_name(&long_a), slot_name(&long_b));
        assert_eq!(slot_name(&"a".repeat(58)), format!("pgha_{}", "a".repeat(58)));
        assert_ne!(slot_name(&"a".repeat(59)), format!("pgha_{}", "a".repeat(59)));
    }

    #[test]
    fn node_names_postgresql_would_rewrite_are_refused() {
        let table: &[(&str, bool)] = &[
            ("node-1", true),
            ("node\"1", true),
            ("it's a node", true),
            (r"back\slash", true),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
            ("nœud", false),
            ("tab\there", false),
            ("", false),
            ("*", false),
        ];
        for (name, ok) in table {
            let result = check_node_name(name);
            assert_eq!(result.is_ok(), *ok, "{name:?}: {result:?}");
            if let Err(e) = result {
                assert_eq!(e.code, crate::ocf::code::OcfCode::ErrConfigured);
                assert!(
                    e.reason.len() < 128 && e.reason.contains("rename"),
                    "{}",
                    e.reason
                );
            }
        }
    }

    #[test]
    fn names_are_quoted_for_synchronous_standby_names_and_sql() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            synchronous_names(
                ReplicationMode::Sync,
                1,
                &s(&["node\"1", "it's", "Upper"]),
                &[],
                &[]
            )
            .unwrap(),
            r#"ANY 1 ("Upper", "it's", "node""1")"#
        );
        assert_eq!(
            sql_literal(r#"ANY 1 ("it's", "a\b")"#),
            r#"'ANY 1 ("it''s", "a\b")'"#
        );
    }

    #[test]
    fn rewind_source_finds_connect_timeout_by_keyword() {
        assert_eq!(
            rewind_source("host=x user=r"),
            "host=x user=r dbname=postgres connect_timeout=5"
        );
        assert_eq!(
            rewind_source("host=x connect_timeout = 2"),
            "host=x connect_timeout = 2 dbname=postgres"
        );
        // A substring is not a keyword.
        assert_eq!(
            rewind_source("host=x application_name=connect_timeout"),
            "host=x application_name=connect_timeout dbname=postgres connect_timeout=5"
        );
    }

    #[test]
    fn synchronous_names_follow_the_mode() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let none: &[String] = &[];
        assert_eq!(
            synchronous_names(ReplicationMode::Async, 1, &s(&["b"]), none, none),
            None
        );
        assert_eq!(
            synchronous_names(ReplicationMode::Sync, 2, &s(&["c", "b", "b"]), none, none).unwrap(),
            "ANY 2 (\"b\", \"c\")"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::Sync, 2, &s(&["b"]), none, none).unwrap(),
            "ANY 1 (\"b\")"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::Sync, 1, none, &s(&["b"]), &s(&["b"])).unwrap(),
            "",
            "sync degrades"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::StrictSync, 1, none, &s(&["b"]), &s(&["b", "c"])).unwrap(),
            "ANY 1 (\"b\")",
            "strict keeps waiting for the standbys it knew"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::StrictSync, 1, none, none, &s(&["c", "b"])).unwrap(),
            "ANY 1 (\"b\", \"c\")",
            "before any standby was seen, the other members"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::StrictSync, 1, none, none, none).unwrap(),
            "ANY 1 (*)",
            "no membership known at all"
        );
    }

    #[test]
    fn position_is_the_greater_of_receive_and_replay() {
        let s = StandbyStatus {
            timeline: 2,
            receive: Some(Lsn(100)),
            replay: Some(Lsn(150)),
            receiver: None,
            primary_end: Some(Lsn(400)),
            slots: Vec::new(),
        };
        assert_eq!(s.position(), Lsn(150));
        assert_eq!(s.lag(), Some(250));
        assert!(!s.is_streaming());
    }

    #[test]
    fn rewind_verdicts() {
        assert_eq!(
            classify_rewind_output(
                true,
                "pg_rewind: source and target cluster are on the same timeline\npg_rewind: no rewind required\n"
            ),
            Divergence::None
        );
        assert!(matches!(
            classify_rewind_output(true, "pg_rewind: servers diverged at WAL location 0/3000060 on timeline 1\npg_rewind: rewinding from last common checkpoint at 0/2000060 on timeline 1\n"),
            Divergence::Diverged(d) if d.contains("0/3000060")
        ));
        assert!(matches!(
            classify_rewind_output(
                false,
                "pg_rewind: error: could not connect to server: Connection refused\n"
            ),
            Divergence::NoPrimary(_)
        ));
        assert!(matches!(
            classify_rewind_output(false, "pg_rewind: error: could not find previous WAL record at 0/2000100\n"),
            Divergence::Undecided(e) if e.starts_with("could not find previous WAL record")
        ));
    }
}
