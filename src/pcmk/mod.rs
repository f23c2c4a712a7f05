//! Pacemaker tools: promotion scores, node attributes, the local node name.
//!
//! Everything here runs a Pacemaker command-line tool as root, bounded by a
//! deadline, and knows nothing of PostgreSQL. Promotion scores go through
//! `crm_attribute --promotion` (`crm_master` is deprecated) with Pacemaker's
//! default lifetime for them, `reboot`: a score that survived a reboot would
//! steer the next election with stale knowledge (PAF #220).

pub mod attrs;
pub mod cib;
pub mod node;
