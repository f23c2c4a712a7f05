//! Server settings: those the agent changes while the server runs, and
//! those it reads from the configuration before a start.

use crate::deadline::Deadline;
use crate::exec;
use crate::ocf::code::{OcfError, OcfResult};
use crate::pg::instance::Instance;
use crate::pg::session::SqlError;

/// The value setting `name` has in the configuration the server starts
/// with: `postgres -C` as the system user, on pgdata, with `args` (the
/// `start_opts` start passes, which win over the files as they do at
/// start). It reads postgresql.conf, what it includes and
/// postgresql.auto.conf, works whether the server runs or not, and says
/// nothing of what a running server was given since (a reload of a file
/// that changed, SET). A configuration the server would refuse fails with
/// its message.
pub fn configured(inst: &Instance, name: &str, args: &[String], deadline: Deadline) -> OcfResult<String> {
    let program = inst.program("postgres");
    let mut argv: Vec<String> = vec![
        "-D".into(),
        inst.pgdata.display().to_string(),
        "-C".into(),
        name.into(),
    ];
    argv.extend(args.iter().cloned());
    let out = exec::run(&program, &argv, Some(&inst.user), deadline)?;
    if !out.success() {
        return Err(OcfError::generic(format!(
            "postgres -C {name} failed: {}",
            out.last_message()
        )));
    }
    Ok(out.stdout.trim_end_matches('\n').to_string())
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
