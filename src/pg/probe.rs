//! The health probe: one bounded round trip that proves the server works.
//!
//! `select relname from pg_class where relname = 'pg_class'` needs a backend,
//! the catalog and a snapshot: a server that answers it can serve queries. It
//! is sent with `select pg_is_in_recovery()` as one simple-protocol message,
//! so the role costs no extra round trip. In a promotable clone a second round
//! trip on the same connection reads the replication state of that role. The
//! whole exchange, connection included, is bounded by `probe_timeout` (see
//! [`crate::pg::session`]).

use crate::deadline::Deadline;
use crate::pg::instance::Instance;
use crate::pg::replication::{self, Replication};
use crate::pg::session::SqlError;
use crate::pg::session::{simple_query_sets, text_bool};

/// The query the probe runs, as a literal: the metadata and the parameter
/// table quote it with `concat!`, so that the text an operator reads is the
/// query that runs.
#[macro_export]
macro_rules! probe_query {
    () => {
        "select relname from pg_class where relname = 'pg_class'"
    };
}

/// The query the probe runs ([`probe_query!`]).
pub const PROBE_SQL: &str = crate::probe_query!();

/// What a successful probe learnt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// The server is a standby (in recovery) rather than a primary.
    pub in_recovery: bool,
    /// The replication state of that role, when it was asked for.
    pub replication: Option<Replication>,
}

/// Runs the probe against `inst`, within `probe_timeout` and `deadline`;
/// with `replication`, also reads the replication state of the role found.
pub fn probe(inst: &Instance, deadline: Deadline, with_replication: bool) -> Result<Health, SqlError> {
    let sql = format!("{PROBE_SQL}; select pg_is_in_recovery()");
    inst.with_client(inst.probe_timeout, deadline, move |client| {
        let sets = simple_query_sets(client, &sql)?;
        let value = |i: usize| {
            sets.get(i)
                .and_then(|r| r.first())
                .and_then(|r| r.first())
                .cloned()
                .flatten()
        };
        let (relname, in_recovery) = (value(0), value(1));
        if relname.as_deref() != Some("pg_class") || in_recovery.is_none() {
            return Ok(Err(format!("unexpected answer to the probe: {sets:?}")));
        }
        let in_recovery = text_bool(in_recovery.as_deref()) == Some(true);
        let replication = if with_replication {
            Some(replication::query_status(client, in_recovery)?)
        } else {
            None
        };
        Ok(Ok(Health {
            in_recovery,
            replication,
        }))
    })?
    .map_err(SqlError::Other)
}
