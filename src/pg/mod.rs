//! PostgreSQL: everything the agent knows about the database server, and
//! nothing about Pacemaker or the OCF protocol.

pub mod conninfo;
pub mod controldata;
pub mod instance;
pub mod layout;
pub mod lsn;
pub mod probe;
pub mod process;
pub mod replication;
pub mod server;
pub mod session;
pub mod state;
