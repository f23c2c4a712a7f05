//! Physical replication slots: created and dropped by name, nothing else.

use crate::deadline::Deadline;
use crate::pg::instance::Instance;
use crate::pg::session::SqlError;

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
