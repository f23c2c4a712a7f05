//! What the actions do to keep replication consistent with reality, shared
//! between them: each step gathers what a rule of [`crate::policy`] needs
//! (the server's report, the attributes, the agent's memory), calls it, and
//! applies its decision (attribute writes, ALTER SYSTEM, slots).
//!
//! - [`publish`]: the node attributes and promotion scores the monitors
//!   write (every other step writes attributes through it);
//! - [`sync`]: the synchronous standby set of a primary;
//! - [`slots`]: the replication slots a primary keeps for the other nodes;
//! - [`election`]: the positions nodes exchange while a new primary is
//!   chosen;
//! - [`build`]: a copy of the primary into this node (bootstrap, rebuild).

pub mod build;
pub mod election;
pub mod publish;
pub mod slots;
pub mod sync;
