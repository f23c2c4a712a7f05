//! Server settings the agent changes while the server runs.

use crate::deadline::Deadline;
use crate::pg::instance::Instance;
use crate::pg::session::SqlError;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_sql_literals() {
        assert_eq!(
            sql_literal(r#"ANY 1 ("it's", "a\b")"#),
            r#"'ANY 1 ("it''s", "a\b")'"#
        );
    }
}
