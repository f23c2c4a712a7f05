//! `start`: bring the server up and return once the health probe answers.
//!
//! - parameters or host checks fail: their code (nothing is started);
//! - `Running`: success, already running (start is idempotent);
//! - `Unresponsive`: ERR_GENERIC: a postmaster runs but does not answer;
//!   starting a second one is impossible and killing it is stop's job;
//! - `Stopped` or `Crashed`: clear what a crash left (orphaned backends, a
//!   `postmaster.pid` naming a recycled pid), spawn the postmaster, then poll
//!   the probe until it answers. PostgreSQL itself replays WAL after a
//!   crash. If the server exits, the reason quotes the cause from its
//!   output ("could not bind...", "invalid value for parameter...").
//!   If it is still not answering at the deadline, ERR_GENERIC with the last
//!   thing it said; Pacemaker then stops it.

use std::time::Duration;

use super::Context;
use crate::log_info;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::pg::instance::Instance;
use crate::pg::probe;
use crate::pg::server::{self, Spawned};
use crate::pg::session::SqlError;
use crate::pg::state::{self, InstanceState};

/// Pause between two probes while the server starts.
const POLL: Duration = Duration::from_millis(100);

pub fn run(ctx: &Context) -> OcfResult {
    let config = ctx.config()?;
    let inst = ctx.instance(&config)?;
    match state::inspect(&inst, ctx.deadline)? {
        InstanceState::Running { pid, .. } => {
            log_info!("already running (postmaster {pid})");
            return Ok(OcfCode::Success);
        }
        InstanceState::Unresponsive { pid, error, .. } => {
            return Err(OcfError::generic(format!(
                "postmaster {pid} already runs but does not answer ({error}); stop it first"
            )));
        }
        InstanceState::Crashed { state } => log_info!("starting after a crash (pg_control: {state:?})"),
        InstanceState::Stopped => {}
    }
    server::clear_leftovers(&inst, ctx.deadline)?;
    let spawned = server::spawn(&inst, &[])?;
    wait_until_ready(&inst, spawned, ctx)?;
    log_info!("started");
    Ok(OcfCode::Success)
}

/// Polls the probe until the server answers, exits, or the deadline comes.
fn wait_until_ready(inst: &Instance, mut spawned: Spawned, ctx: &Context) -> OcfResult<()> {
    loop {
        if let Some(cause) = spawned.exit_cause(inst) {
            return Err(OcfError::generic(format!("PostgreSQL failed to start: {cause}")));
        }
        let answer: SqlError = match probe::probe(inst, ctx.deadline) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if !ctx.deadline.sleep(POLL) {
            let said = spawned.last_log_line(inst);
            return Err(OcfError::generic(format!(
                "PostgreSQL not ready before the start timeout: {answer}; last log line: {said}"
            )));
        }
    }
}
