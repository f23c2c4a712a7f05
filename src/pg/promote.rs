//! Promotion of a standby, and the checkpoint that makes its new timeline
//! visible to pg_rewind.

use std::time::Duration;

use crate::deadline::Deadline;
use crate::pg::instance::Instance;
use crate::pg::session::{SqlError, simple_query_sets};

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
