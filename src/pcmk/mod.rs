//! Pacemaker tools: promotion scores and node attributes (`attrs`), the
//! local node name and the members (`node`), the CIB's resources and
//! cluster facts (`cib`).
//!
//! Everything here runs a Pacemaker command-line tool as root, bounded by a
//! deadline, and knows nothing of PostgreSQL. Promotion scores go through
//! `crm_attribute --promotion` (`crm_master` is deprecated) with Pacemaker's
//! default lifetime for them, `reboot`: a score that survived a reboot would
//! steer the next election with stale knowledge (PAF #220).

pub mod attrs;
pub mod cib;
pub mod node;
