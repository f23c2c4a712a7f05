//! The agent's policy as pure rules over plain data (conventions, habit 13).
//!
//! Each rule takes what the probe saw, what the attributes say and what the
//! memory holds, as values and ages, and returns a decision; the action in
//! `crate::actions` gathers the data, calls the rule and applies the
//! decision (logs, attribute writes, the OCF answer). Nothing here runs a
//! tool, reads a file or the clock: every case the lab found is a row of a
//! unit test table beside the rule.
//!
//! - [`promotion`]: the election hand-over, the switchover checkpoint check
//!   and the synchronous-standby vetoes of `promote`;
//! - [`scores`]: the promotion scores the monitors publish (the primary's
//!   view of its standbys, the disconnect grace, the sync-mode cap, the
//!   bootstrap score of a standby with no primary);
//! - [`sync`]: the `synchronous_standby_names` a primary should have, and
//!   the sync state published for each standby;
//! - [`slots`]: which slots a primary keeps, creates and drops;
//! - [`quorum`]: whether enough of the listed synchronous standbys take
//!   part in the election for the candidate to have every acknowledged
//!   commit;
//! - [`members`]: who counts as a standby of this cluster;
//! - [`roles`]: the operator's per-node roles (never promoted, never
//!   synchronous, a priority among equals) applied to scores, the
//!   election and the synchronous standbys;
//! - [`readable`]: whether a standby may serve reads (the read VIP);
//! - [`walsenders`]: which walsender is which node (its slot's holder);
//! - [`monitor_answer`]: what the monitor answers for what it found;
//! - [`lifecycle`]: what start and demote do with the state they find;
//! - [`rejoin`]: whether a former primary may follow as it is, must be
//!   rewound or rebuilt, or must not start;
//! - [`upkeep`]: the monitors' upkeep as a view and a plan (attributes,
//!   scores, sync names, slots, memory);
//! - [`build`]: when a node copies the primary (bootstrap, rebuild), from
//!   where, onto what, and whether the copy is kept;
//! - [`mistakes`]: what only an operator's mistake explains, which
//!   validate-all and start refuse (the distribution's own service,
//!   `listen_addresses` standbys cannot reach) or warn of (log checks made
//!   blind, slots without a bound).

pub mod build;
pub mod lifecycle;
pub mod members;
pub mod mistakes;
pub mod monitor_answer;
pub mod promotion;
pub mod quorum;
pub mod readable;
pub mod rejoin;
pub mod roles;
pub mod safety;
pub mod scores;
pub mod slots;
pub mod sync;
pub mod upkeep;
pub mod walsenders;
