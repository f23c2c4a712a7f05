//! pgha: the `ocf:pgha:postgresql` resource agent, as a library.
//!
//! The binary (`src/main.rs`) parses the command line and turns the outcome
//! of an action into the process's one exit; everything else lives here, so
//! that the integration tests and the lab's tools use the agent's own types
//! (exit codes, attribute names, memory paths) instead of spelling them again.
//!
//! Layers, from the top: [`actions`] (one file per OCF action) and
//! [`status`] compose [`replication`] (upkeep shared between actions), the
//! pure rules of [`policy`], PostgreSQL ([`pg`]), Pacemaker's tools
//! ([`pcmk`]), the OCF protocol ([`ocf`]) and the ground floor: [`vocab`]
//! (what crosses a process or node boundary), [`exec`], [`deadline`];
//! [`answer`] runs each action in a child whose answer reaches Pacemaker
//! even when the child cannot end.

pub mod actions;
pub mod alert;
pub mod answer;
pub mod context;
pub mod deadline;
pub mod doc;
pub mod exec;
pub mod metrics;
pub mod ocf;
pub mod params;
pub mod pcmk;
pub mod pg;
pub mod policy;
pub mod replication;
pub mod runstate;
pub mod status;
pub mod userfs;
pub mod vocab;
