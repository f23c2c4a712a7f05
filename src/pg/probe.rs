//! The health probe: one bounded round trip that proves the server works.
//!
//! `select relname from pg_class where relname = 'pg_class'` needs a backend,
//! the catalog and a snapshot: a server that answers it can serve queries. It
//! is sent with `select pg_is_in_recovery()` as one simple-protocol message,
//! so the role costs no extra round trip. The whole exchange, connection
//! included, is bounded by `probe_timeout` (see [`session`]).

use postgres::SimpleQueryMessage;

use crate::deadline::Deadline;
use crate::pg::instance::Instance;
use crate::pg::session::{self, SqlError};

/// The query the probe runs.
pub const PROBE_SQL: &str = "select relname from pg_class where relname = 'pg_class'";

/// What a successful probe learnt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// The server is a standby (in recovery) rather than a primary.
    pub in_recovery: bool,
}

/// Runs the probe against `inst`, within `probe_timeout` and `deadline`.
pub fn probe(inst: &Instance, deadline: Deadline) -> Result<Health, SqlError> {
    let sql = format!("{PROBE_SQL}; select pg_is_in_recovery()");
    let rows = session::with_client(
        &inst.target,
        Some(inst.user.uid),
        inst.probe_timeout,
        deadline,
        move |client| {
            let messages = client.simple_query(&sql)?;
            Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
                    _ => None,
                })
                .collect::<Vec<_>>())
        },
    )?;
    match rows.as_slice() {
        [Some(relname), Some(in_recovery)] if relname == "pg_class" => Ok(Health {
            in_recovery: in_recovery == "t",
        }),
        other => Err(SqlError::Other(format!(
            "unexpected answer to the probe: {other:?}"
        ))),
    }
}
