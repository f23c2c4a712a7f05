//! PostgreSQL: everything the agent knows about the database server, and
//! nothing about Pacemaker or the OCF protocol.

pub mod basebackup;
pub mod conninfo;
pub mod controldata;
pub mod follow;
pub mod history;
pub mod instance;
pub mod layout;
pub mod names;
pub mod probe;
pub mod process;
pub mod promote;
pub mod recovery;
pub mod remote;
pub mod replication;
pub mod rewind;
pub mod server;
pub mod services;
pub mod session;
pub mod settings;
pub mod slots;
pub mod state;
pub mod waldump;
