//! `demote`: the primary becomes a standby of the next primary, no rebuild.
//!
//! - not a promotable clone: ERR_UNIMPLEMENTED (a primitive has no roles);
//! - a running standby: success (demote is idempotent);
//! - a running primary: stop it (fast, escalating within part of the budget
//!   so a frozen primary cannot hang the demote); if it shut down cleanly,
//!   publish its shutdown checkpoint for the switchover check; then start
//!   it as a standby;
//! - unresponsive: stop (escalates to SIGKILL), then start as a standby;
//! - crashed (no postmaster, pg_control "in production"): nothing to do:
//!   Pacemaker's recovery of a failed primary is demote, stop, start, and
//!   the start replays its WAL as a standby; it keeps its score, the natural
//!   candidate to be promoted again;
//! - stopped: start as a standby.
//!
//! The decision is the rule [`lifecycle::demote_plan`].

use super::start::start_standby;
use crate::context::Context;
use crate::log_info;
use crate::ocf::code::{OcfCode, OcfResult};
use crate::pg::controldata::{self, ClusterState};
use crate::pg::server;
use crate::pg::state;
use crate::policy::lifecycle::{self, DemotePlan};
use crate::replication::election::{self, Position};
use crate::runstate::RunState;
use crate::vocab::Key;

pub fn run(ctx: &Context) -> OcfResult {
    let config = ctx.promotable_config("demote")?;
    let inst = ctx.instance(&config)?;
    let needs_stop = match lifecycle::demote_plan(&state::inspect(&inst, ctx.deadline, false)?) {
        DemotePlan::AlreadyStandby => {
            log_info!("already a standby");
            return Ok(OcfCode::Success);
        }
        DemotePlan::LeaveToStart(state) => {
            log_info!("demote: the primary crashed ({state:?}); start will recover it as a standby");
            return Ok(OcfCode::Success);
        }
        DemotePlan::StopThenStart => true,
        DemotePlan::Start => false,
    };
    if needs_stop {
        let mode = server::stop(&inst.datadir, &inst.canonical_datadir, ctx.deadline.fraction(0.5))?;
        log_info!("demote: primary stopped ({mode:?})");
    }
    let control = controldata::read(&inst.bindir, &inst.datadir, &inst.user, ctx.deadline)?;
    if control.state == ClusterState::ShutDown {
        let checkpoint = Position {
            timeline: control.timeline,
            lsn: control.checkpoint,
        };
        match election::publish_shutdown(ctx.resource(), checkpoint, ctx.deadline) {
            Ok(()) => {
                log_info!("demote: shutdown checkpoint {checkpoint} published for the switchover check")
            }
            Err(e) => log_info!("demote: cannot publish the shutdown checkpoint: {}", e),
        }
    }
    // No longer the primary: the scores it wrote are the next primary's job.
    let mut memory = RunState::load(ctx.resource());
    memory.clear_except(Key::is_membership);
    // The next start compares it with the primary (rejoin::needs_compare).
    memory.set_flag(&Key::DemotedPrimary, true);
    memory.save();
    start_standby(ctx, &inst, &config, ctx.deadline)?;
    log_info!("demoted: running as a standby");
    Ok(OcfCode::Success)
}
