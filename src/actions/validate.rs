//! `validate-all` and `reload-agent`.
//!
//! - OCF_CHECK_LEVEL 0 (default): syntax of every parameter, no I/O at all,
//!   so `pcs ... --agent-validation` and `crm_resource --validate` work on
//!   any node, with no cluster and no PostgreSQL there; in a promotable
//!   clone also its meta attributes (notify=true, promoted-max=1) and
//!   primary_conninfo, read from the environment, never from a live CIB.
//! - Level 10 and above: also the host checks of [`crate::pg::instance::Instance::resolve`]
//!   (user, directories, ownership, version, binaries).
//!
//! `reload-agent` applies a change of reloadable parameters (pghost,
//! pgdatabase, probe_timeout): the agent reads its parameters at every call,
//! so there is nothing to do but check the new values.

use super::Context;
use crate::log_info;
use crate::ocf::code::{OcfCode, OcfResult};

pub fn run(ctx: &Context) -> OcfResult {
    let config = ctx.checked_config()?;
    let level = ctx
        .env
        .check_level
        .as_deref()
        .and_then(|l| l.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if level >= 10 {
        let inst = ctx.instance(&config)?;
        if ctx.mode() == super::Mode::Promotable {
            crate::pg::replication::check_node_name(&ctx.node_name())?;
        }
        log_info!(
            "host checks passed: PostgreSQL {} in {}, binaries in {}",
            inst.major,
            inst.datadir.display(),
            inst.bindir.display()
        );
    }
    Ok(OcfCode::Success)
}

pub fn reload_agent(ctx: &Context) -> OcfResult {
    ctx.config()?;
    log_info!("reloadable parameters applied");
    Ok(OcfCode::Success)
}
