//! `stop`: fast shutdown, then immediate, then SIGKILL, within the timeout.
//!
//! - pgdata or datadir missing or relative: ERR_CONFIGURED (nothing can be
//!   known about what to stop); every other parameter is ignored, so a
//!   mistake elsewhere (`probe_timeout=0`, `replication_mode=bogus`) cannot
//!   turn a stop into a failure, which Pacemaker answers by fencing;
//! - no process of the instance: success (stop is idempotent);
//! - otherwise [`server::stop`] escalates; success only when no process of
//!   the instance remains, an error before the deadline otherwise;
//! - a stop that needed SIGQUIT or SIGKILL leaves pg_control saying "in
//!   production": the agent remembers that it did this ([`remember`]), so
//!   that the next monitor reports the stopped instance as stopped, not as
//!   crashed (a probe saying "failed" after a successful stop makes
//!   Pacemaker run multiple-active recovery). The next start still replays
//!   the WAL, as after any crash.
//!
//! Stop needs neither the binaries nor the user database: it works from the
//! data directory alone, so a half-removed installation can still be stopped.
//! In a promotable clone, the node's role attribute then says `stopped`;
//! promotion scores stay (lifetime reboot): the primary's monitor lowers a
//! stopped standby's, and a stopped primary's is what lets it be promoted
//! again in place after a local restart.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::context::{Context, Mode};
use crate::deadline::Deadline;
use crate::ocf::code::{OcfCode, OcfResult};
use crate::pg::process;
use crate::pg::server::{self, StopMode};
use crate::replication::publish;
use crate::runstate::RunState;
use crate::userfs;
use crate::vocab::Key;
use crate::{log_info, log_warn};

/// Memory key: pg_control's modification time when a stop of ours killed
/// the server. pg_control is rewritten at every checkpoint and start, so a
/// server started and crashed since (by anyone) no longer matches.
const FORCED: &Key = &Key::StopForced;

pub fn run(ctx: &Context) -> OcfResult {
    let location = ctx.location()?;
    // Bounded: a data directory on a hung mount must not hang the stop.
    let canonical = process::canonical_datadir_within(&location.datadir, ctx.deadline.fraction(0.2));
    let mode = server::stop(&location.datadir, &canonical, ctx.deadline)?;
    match mode {
        StopMode::AlreadyStopped => log_info!("already stopped"),
        StopMode::Fast => log_info!("stopped (fast shutdown)"),
        StopMode::Immediate => log_info!("stopped (immediate shutdown: crash recovery at next start)"),
        StopMode::Killed => log_info!("stopped by SIGKILL: crash recovery at next start"),
    }
    let Some(rsc) = ctx.env.resource_name() else {
        log_warn!("no valid OCF_RESOURCE_INSTANCE: the stop is not remembered");
        return Ok(OcfCode::Success);
    };
    let mut memory = RunState::load(rsc);
    remember(
        &mut memory,
        mode,
        control_stamp_within(&location.datadir, ctx.deadline.fraction(0.5)),
    );
    if ctx.mode() == Mode::Promotable {
        publish::clear_role(ctx, &mut memory);
    }
    memory.save();
    Ok(OcfCode::Success)
}

/// pg_control's modification time, as a memory value.
fn control_stamp(datadir: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(datadir.join("global/pg_control")).ok()?;
    Some(format!("{}.{:09}", meta.mtime(), meta.mtime_nsec()))
}

/// [`control_stamp`] within `deadline`, on a worker thread (see
/// [`userfs::within`]): None when the file system does not answer.
fn control_stamp_within(datadir: &Path, deadline: Deadline) -> Option<String> {
    let path = datadir.to_path_buf();
    userfs::within(deadline, datadir, move || Ok(control_stamp(&path)))
        .ok()?
        .ok()?
}

/// Records how the instance was stopped, with pg_control's `stamp`: a
/// forced stop is remembered, a clean one forgets an older forced one.
///
/// Whatever the mode, the receiver's memory goes: a stopped standby does
/// not wait for its primary, and the bootstrap wait, counted from that
/// memory, must not count the downtime as waited (the start forgets it
/// too: [`crate::policy::upkeep::standby_start_steps`]).
fn remember(memory: &mut RunState, mode: StopMode, stamp: Option<String>) {
    memory.remove(&Key::ReceiverDown);
    match mode {
        StopMode::Immediate | StopMode::Killed => match stamp {
            Some(stamp) => memory.set(FORCED, &stamp),
            None => log_warn!("cannot stat pg_control: the forced stop is not remembered"),
        },
        StopMode::Fast => memory.remove(FORCED),
        StopMode::AlreadyStopped => {}
    }
}

/// True when the instance is down because a stop of ours killed it, and
/// nothing ran it since: what the monitor reports as stopped.
pub fn was_forced_by_us(memory: &RunState, datadir: &Path) -> bool {
    memory
        .get(FORCED)
        .is_some_and(|stamp| control_stamp(datadir).as_deref() == Some(stamp))
}

/// Forgets a forced stop (a start brought the instance back).
pub fn forget(memory: &mut RunState) {
    memory.remove(FORCED);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way a stop ends forgets how long the receiver has been down,
    /// and only a forced stop is remembered as forced.
    #[test]
    fn a_stop_forgets_the_receiver_and_remembers_only_a_forced_stop() {
        use StopMode::*;
        // (mode, pg_control stamp, forced stop remembered after)
        let table = [
            (AlreadyStopped, None, Some("old")),
            (Fast, Some("new"), None),
            (Immediate, Some("new"), Some("new")),
            (Killed, Some("new"), Some("new")),
            (Killed, None, Some("old")),
        ];
        for (mode, stamp, forced) in table {
            let mut memory = RunState::load("../not-saved");
            memory.set_flag(&Key::ReceiverDown, true);
            memory.backdate(&Key::ReceiverDown, 600);
            memory.set(FORCED, "old");
            remember(&mut memory, mode, stamp.map(str::to_string));
            assert_eq!(memory.get(&Key::ReceiverDown), None, "{mode:?}");
            assert_eq!(memory.get(FORCED), forced, "{mode:?}");
        }
    }
}
