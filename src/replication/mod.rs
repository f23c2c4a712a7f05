//! What the actions do to keep replication consistent with reality, shared
//! between them: each step gathers what a rule of [`crate::policy`] needs
//! (the server's report, the attributes, the agent's memory), calls it, and
//! hands its plan to [`apply`] (attribute writes, ALTER SYSTEM, slots).
//!
//! - [`upkeep`]: the monitors' upkeep: one view gathered (the members
//!   among it, cached in the memory), one plan ([`crate::policy::upkeep`]),
//!   applied by [`apply`];
//! - [`apply`]: the one place a plan's steps are carried out (attribute
//!   and score writes, ALTER SYSTEM, slots, memory);
//! - [`publish`]: the scores and attributes of a new primary, and the role
//!   a stop clears;
//! - [`sync`]: the synchronous standby set of a primary;
//! - [`slots`]: the replication slots a primary keeps for the other nodes;
//! - [`election`]: the positions nodes exchange while a new primary is
//!   chosen;
//! - [`build`]: a copy of the primary into this node (bootstrap, rebuild);
//! - [`isolation`]: what this partition saw of the nodes that left it, for
//!   the wait of a promote without fencing;
//! - [`timelines`]: the timeline numbers a promotion must not reuse.

pub mod apply;
pub mod build;
pub mod election;
pub mod isolation;
pub mod publish;
pub mod slots;
pub mod sync;
pub mod timelines;
pub mod upkeep;
