//! `stop`: fast shutdown, then immediate, then SIGKILL, within the timeout.
//!
//! - pgdata or datadir missing from the parameters: ERR_CONFIGURED (nothing
//!   can be known about what to stop);
//! - no process of the instance: success (stop is idempotent);
//! - otherwise [`server::stop`] escalates; success only when no process of
//!   the instance remains, an error before the deadline otherwise.
//!
//! Stop needs neither the binaries nor the user database: it works from the
//! data directory alone, so a half-removed installation can still be stopped.
//! In a promotable clone, the node's role attribute then says `stopped`;
//! promotion scores stay (lifetime reboot): the primary's monitor lowers a
//! stopped standby's, and a stopped primary's is what lets it be promoted
//! again in place after a local restart.

use super::{Context, Mode, publish};
use crate::log_info;
use crate::ocf::code::{OcfCode, OcfResult};
use crate::pg::process;
use crate::pg::server::{self, StopMode};
use crate::runstate::RunState;

pub fn run(ctx: &Context) -> OcfResult {
    let config = ctx.config()?;
    let canonical = process::canonical_datadir(&config.datadir);
    let mode = server::stop(&config.datadir, &canonical, ctx.deadline)?;
    match mode {
        StopMode::AlreadyStopped => log_info!("already stopped"),
        StopMode::Fast => log_info!("stopped (fast shutdown)"),
        StopMode::Immediate => log_info!("stopped (immediate shutdown: crash recovery at next start)"),
        StopMode::Killed => log_info!("stopped by SIGKILL: crash recovery at next start"),
    }
    if ctx.mode() == Mode::Promotable {
        let mut memory = RunState::load(ctx.resource());
        publish::clear_role(ctx, &mut memory);
        memory.save();
    }
    Ok(OcfCode::Success)
}
