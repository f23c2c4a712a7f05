//! The OCF resource-agent protocol, and nothing else: exit codes, the
//! environment Pacemaker passes, metadata XML and logging.

pub mod code;
pub mod env;
pub mod log;
pub mod metadata;
