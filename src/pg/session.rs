//! Bounded SQL: connect and query on a worker thread, wait with a timeout.
//!
//! The sync `postgres` crate cannot bound a query on a frozen server by
//! itself: `connect_timeout` covers only the socket connect, and a SIGSTOPped
//! postmaster still accepts connections into the kernel backlog and never
//! answers the startup packet (see shared notes). So the connection and every
//! statement run on a worker thread, and the caller waits on a channel with
//! `recv_timeout`. On timeout the thread is abandoned with its client (dropping
//! a client on a frozen server blocks too); the agent exits soon after.
//! `statement_timeout` is still set so that a live but slow server frees the
//! backend on its own.
//!
//! Peer authentication over a Unix socket identifies the client by the
//! effective uid it had at `connect()`. The agent runs as root and connects as
//! `system_user`, like `psql` run by that user would: the worker thread, and
//! only it, takes the user's uid, gid and supplementary groups before
//! connecting, the credentials of the agent's children. With root's groups
//! it could open a socket only group root may open, one the user could not
//! (issue 23).

use std::sync::mpsc;
use std::time::Duration;

use nix::unistd::Uid;
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls, SimpleQueryMessage};

use std::path::PathBuf;

use crate::deadline::Deadline;
use crate::exec::SystemUser;

/// The agent's sessions resolve names in the catalog only. Its SQL names
/// functions and views unqualified (`pg_is_in_recovery()`,
/// `pg_stat_replication`), and a database superuser's `ALTER ROLE ... SET
/// search_path = evil, pg_catalog` would make them its own; an option of the
/// startup packet outranks a role's setting. pg_temp is named last, or it
/// would be searched first for relations (issue 23).
const SEARCH_PATH: &str = "pg_catalog,pg_temp";

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct ConnTarget {
    pub host: PgHost,
    pub port: u16,
    pub user: String,
    pub dbname: String,
}

impl ConnTarget {
    fn config(&self, timeout: Duration) -> Config {
        let mut config = Config::new();
        match &self.host {
            PgHost::Socket(dir) => config.host_path(dir),
            PgHost::Tcp(host) => config.host(host),
        };
        config
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("pgha")
            .connect_timeout(timeout.max(Duration::from_secs(1)))
            .options(&format!(
                "-c statement_timeout={} -c search_path={SEARCH_PATH}",
                timeout.as_millis().max(1)
            ));
        config
    }
}

/// Why a bounded SQL call failed.
#[derive(Debug)]
pub enum SqlError {
    /// No answer within the time allowed: frozen or overloaded server.
    Timeout(Duration),
    /// Nothing listens there (connection refused, socket file missing).
    NoServer(String),
    /// The server answered with an error.
    Db { code: SqlState, message: String },
    /// The server asks for a password (pg_hba.conf says `scram-sha-256`,
    /// `md5` or `password` for the agent's connection) and the agent has
    /// none: it connects by peer (or trust), never with a password.
    PasswordRequested,
    /// Anything else: I/O error mid-way, protocol error, authentication setup.
    Other(String),
}

impl SqlError {
    fn from_postgres(e: postgres::Error) -> SqlError {
        if let Some(db) = e.as_db_error() {
            return SqlError::Db {
                code: db.code().clone(),
                message: db.message().to_string(),
            };
        }
        // The server sent an authentication request for a password and the
        // client had none to give: tokio-postgres ends the connection
        // itself, with no SQLSTATE and only this text of its own (its
        // `connect_raw`, pinned by Cargo.lock). It is the same pg_hba.conf
        // mistake as a refusal with SQLSTATE 28P01, and must be told apart
        // from a server that is ill (the integration test
        // `a_probe_refused_by_authentication_keeps_the_server_serving`
        // checks it against a real server).
        if std::error::Error::source(&e).is_some_and(|c| c.to_string() == "password missing") {
            return SqlError::PasswordRequested;
        }
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = source {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind::*;
                if matches!(io.kind(), ConnectionRefused | NotFound) {
                    return SqlError::NoServer(io.to_string());
                }
            }
            source = err.source();
        }
        let mut text = e.to_string();
        if let Some(src) = std::error::Error::source(&e) {
            text = format!("{text}: {src}");
        }
        SqlError::Other(text)
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlError::Timeout(d) => write!(f, "no answer within {:.1}s", d.as_secs_f64()),
            SqlError::NoServer(e) => write!(f, "no server listening ({e})"),
            SqlError::Db { code, message } => write!(f, "{message} (SQLSTATE {})", code.code()),
            SqlError::PasswordRequested => {
                write!(f, "the server asks for a password, and the agent has none")
            }
            SqlError::Other(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SqlError {}

/// Connects to `target` and runs `work` on the connection, all within
/// `timeout` (never past `deadline`). Runs as `as_user` (with its groups)
/// for peer authentication.
pub fn with_client<T, F>(
    target: &ConnTarget,
    as_user: Option<&SystemUser>,
    timeout: Duration,
    deadline: Deadline,
    work: F,
) -> Result<T, SqlError>
where
    T: Send + 'static,
    F: FnOnce(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
{
    let bound = deadline.within(timeout);
    let allowed = bound.remaining();
    if allowed.is_zero() {
        return Err(SqlError::Timeout(allowed));
    }
    let config = target.config(allowed);
    let (tx, rx) = mpsc::channel();
    let as_user = as_user
        .filter(|user| Uid::effective().is_root() && !user.uid.is_root())
        .cloned();
    let worker = std::thread::Builder::new().name("sql".into()).spawn(move || {
        if let Some(user) = as_user {
            // The group list is asked for here, within the timeout: NSS
            // (LDAP, sssd) may not answer.
            let switched = crate::userfs::become_thread_user(user.uid, user.gid, &user.groups());
            if let Err(e) = switched {
                let _ = tx.send(Err(SqlError::Other(format!(
                    "cannot switch to uid {}: {e}",
                    user.uid
                ))));
                return;
            }
        }
        match config.connect(NoTls) {
            Ok(mut client) => {
                // The answer goes out first: waiting for the backend to exit
                // would add its shutdown to every monitor. The Terminate
                // message follows if the process is still there; if not, the
                // server sees a plain EOF, which it logs only at DEBUG1.
                let _ = tx.send(work(&mut client).map_err(SqlError::from_postgres));
                let _ = client.close();
            }
            Err(e) => {
                let _ = tx.send(Err(SqlError::from_postgres(e)));
            }
        }
    });
    if let Err(e) = worker {
        // pids limit or memory: an answer with a reason, never a panic.
        return Err(SqlError::Other(format!(
            "cannot start a thread for the query: {e}"
        )));
    }
    match rx.recv_timeout(allowed) {
        Ok(result) => result,
        Err(_) => Err(SqlError::Timeout(allowed)),
    }
}

/// Where the probe connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PgHost {
    /// A Unix socket directory.
    Socket(PathBuf),
    /// A host name or address, over TCP.
    Tcp(String),
}

/// A boolean as PostgreSQL writes it as text: `t` / `f` (a boolean
/// column, simple protocol) or `true` / `false` (a boolean cast to text);
/// None for anything else, NULL included.
pub fn text_bool(text: Option<&str>) -> Option<bool> {
    match text? {
        "t" | "true" => Some(true),
        "f" | "false" => Some(false),
        _ => None,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_read_as_postgresql_writes_them() {
        let table = [
            (Some("t"), Some(true)),
            (Some("true"), Some(true)),
            (Some("f"), Some(false)),
            (Some("false"), Some(false)),
            (Some("yes"), None),
            (Some(""), None),
            (None, None),
        ];
        for (text, expected) in table {
            assert_eq!(text_bool(text), expected, "{text:?}");
        }
    }
}
