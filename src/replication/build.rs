//! Copying the primary into this node (issue 14): a new node or a replaced
//! disk (`bootstrap=basebackup`), a former primary that cannot be rewound
//! or a standby that cannot follow (`rebuild=true`).
//!
//! The copy is made beside the data directory, in `<datadir>.pgha-build`
//! (same parent, so the same file system), and only a finished copy of a
//! primary is renamed into place: nothing that pg_basebackup left half
//! written, cut by the deadline or killed with the agent, ever sits where
//! the server starts from (a leftover `.pgha-build` is removed by the next
//! copy: the agent made it). Old data is renamed aside to
//! `<datadir>.pgha-old-<UTC time>` (`-2`, `-3`... when taken) in the same
//! directory, never deleted; the copy takes its place in one exchange
//! (`RENAME_EXCHANGE`, through `<datadir>.pgha-ready`), so that the data
//! directory is never missing ([`put_in_place`]).
//! Everything in those directories is done as the system user
//! ([`userfs`]); pg_basebackup runs as that user too.
//!
//! The decisions (whether to copy, from which node, onto what, whether it
//! fits, whether the copy is kept) are the rules of [`build`]; this module
//! gathers their inputs and carries them out, and publishes the progress as
//! `pgha-<rsc>-build` (`crm_mon -A`, `pgha status`) and in the log.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::deadline::{self, Deadline};
use crate::exec::{SystemUser, Watch};
use crate::ocf::code::{OcfError, OcfResult};
use crate::params::Config;
use crate::pcmk::attrs;
use crate::pg::basebackup::{self, Progress, SlotUse};
use crate::pg::follow::{self, RefusalKind};
use crate::pg::instance::Instance;
use crate::pg::waldump::{self, WalEnd};
use crate::pg::{controldata, layout, names, process, remote, rewind};
use crate::policy::build::{
    self, BeforeStart, Confirmation, DEFAULT_WAL_MARGIN, DataDirSeen, Placement, PrimaryWal, Source,
    StandbyRebuild,
};
use crate::policy::slots::described_names;
use crate::replication::{apply, upkeep};
use crate::runstate::RunState;
use crate::userfs::{self, DirFacts, FileKind};
use crate::vocab::{Attr, Key, Lsn, NO_VALUE};
use crate::{log_info, log_warn};

/// What a start found in the data directory and may copy into.
pub fn look(ctx: &Context, config: &Config) -> OcfResult<BeforeStart> {
    if !config.bootstrap {
        return Ok(BeforeStart::AsItIs);
    }
    let user = SystemUser::lookup(&config.system_user)?;
    let facts = facts(&user, ctx.deadline, &config.datadir)?;
    let seen = match facts.kind {
        None => DataDirSeen::Missing,
        Some(FileKind::Directory) if facts.has_pg_version => DataDirSeen::Instance,
        Some(FileKind::Directory) => match &facts.first_entry {
            None => DataDirSeen::Empty {
                owner_ok: facts.owner == userfs::expected_owner(&user).as_raw(),
            },
            Some(first) => DataDirSeen::Foreign { first: first.clone() },
        },
        Some(kind) => DataDirSeen::Foreign {
            first: kind.described().to_string(),
        },
    };
    Ok(build::before_start(
        &seen,
        true,
        &config.datadir.display().to_string(),
    ))
}

/// Where the old data went, when there was some.
pub type MovedAside = Option<PathBuf>;

/// Copies the primary into the data directory: `old_data`, an instance
/// there is renamed aside once the copy is complete (rebuild); otherwise
/// the directory is missing or empty ([`look`] said so). `why` is logged.
pub fn copy(ctx: &Context, config: &Config, old_data: bool, why: &str) -> OcfResult<MovedAside> {
    let user = SystemUser::lookup(&config.system_user)?;
    let datadir = &config.datadir;
    let shown = datadir.display().to_string();
    let facts = facts(&user, ctx.deadline, datadir)?;
    let expected_mount = match &config.data_mount {
        None => None,
        Some(mount) => {
            let (mounted, device) = userfs::mount_of(&user, ctx.deadline, mount)?
                .map_err(|e| OcfError::args(format!("data_mount {}: {e}", mount.display())))?;
            Some((mounted, device == facts.device))
        }
    };
    let mount_shown = config
        .data_mount
        .as_deref()
        .map(|m| m.display().to_string())
        .unwrap_or_default();
    build::placement(
        &Placement {
            datadir_is_mount_point: facts.mount_point,
            expected_mount,
        },
        &shown,
        &mount_shown,
    )?;
    let me = ctx.node_name();
    let primaries = upkeep::primaries(ctx.resource(), ctx.deadline).ok();
    let source = build::source(primaries.as_deref(), &me)?;
    let from = match &source {
        Source::Primary(node) => node.clone(),
        Source::Unknown => "primary_conninfo".to_string(),
    };
    let bindir = match &config.bindir {
        Some(dir) => dir.clone(),
        None => layout::newest_bindir_with("pg_basebackup").ok_or_else(|| {
            OcfError::installed("pg_basebackup not found: install PostgreSQL's client programs or set bindir")
        })?,
    };
    let (wal_margin, tablespaces) = ask_primary(&bindir, &user, config, ctx.deadline);
    let local = if old_data {
        local_tablespaces(&user, ctx.deadline, datadir)?
    } else {
        Vec::new()
    };
    build::tablespaces(tablespaces.as_deref(), &local, &shown)?;
    let staging = beside(datadir, "pgha-build");
    end_leftover_copies(&user, ctx.deadline, &staging)?;
    let stamp = deadline::utc_stamp(deadline::unix_seconds());
    if let Some(moved) = set_aside_leftover(&user, ctx.deadline, datadir, &stamp)? {
        log_warn!(
            "an interrupted rebuild left {} (a copy or old data): moved aside to {} (nothing deleted)",
            beside(datadir, READY).display(),
            moved.display()
        );
    }
    clear_unfinished(&user, ctx.deadline, &staging)?;
    let slot_name = names::slot_name(&me);
    let slot = slot_use(ctx, config, &source, &slot_name);
    log_info!(
        "{why}: copying the primary from {from} into {} (then {shown})",
        staging.display()
    );
    let mut memory = RunState::load(ctx.resource());
    let copied = run_copy(
        ctx,
        &user,
        &bindir,
        &staging,
        config,
        slot,
        &from,
        wal_margin,
        &mut memory,
    )
    .and_then(|()| basebackup::backup_label(&user, &staging, ctx.deadline))
    .and_then(|label| build::copied_from(&label));
    apply::publish_node_attr(ctx, &mut memory, None, Attr::Build, NO_VALUE, 0);
    memory.save();
    if let Err(e) = copied {
        discard(&user, ctx.deadline, &staging);
        return Err(e);
    }
    let aside = if old_data {
        let moved = put_in_place(&user, ctx.deadline, &staging, datadir, &stamp, || {
            // The copy is the data directory from here on: a kill before
            // the rename aside must not make the next start copy again.
            memory.remove(&Key::RebuildNeeded);
            memory.save();
        })?;
        log_warn!(
            "old data of {shown} moved aside to {} (nothing deleted; remove it once unneeded)",
            moved.display()
        );
        Some(moved)
    } else {
        userfs::rename_into(&user, ctx.deadline, &staging, datadir)?.map_err(|e| {
            OcfError::generic(format!("cannot put the copy in place at {shown}: {e}")).with_source(e)
        })?;
        None
    };
    memory.remove(&Key::RebuildNeeded);
    memory.save();
    log_info!("copy of the primary in place at {shown}");
    Ok(aside)
}

/// Where a verified copy waits for its exchange with the old data, and
/// where the old data is just after it: never removed by the agent (unlike
/// `.pgha-build`), only moved aside ([`set_aside_leftover`]).
const READY: &str = "pgha-ready";

/// Puts the verified copy at `staging` in place of the old data in
/// `datadir`, and the old data aside as `<datadir>.pgha-old-<stamp>` (a
/// free variant of it); `swapped` runs once the copy is in place. Where the
/// old data went is returned.
///
/// Two renames (old data aside, then the copy in) left no data directory
/// when the second failed, and the next start failed or copied again over
/// a finished copy (issue 23). Now every step is one rename: the copy to
/// `.pgha-ready`; one exchange of it with the data directory; the old data,
/// then at `.pgha-ready`, aside. Stopped anywhere, the data directory holds
/// a complete instance and nothing is at a name the agent deletes.
fn put_in_place(
    user: &SystemUser,
    deadline: Deadline,
    staging: &Path,
    datadir: &Path,
    stamp: &str,
    swapped: impl FnOnce(),
) -> OcfResult<PathBuf> {
    let shown = datadir.display();
    let ready = beside(datadir, READY);
    userfs::rename_aside(user, deadline, staging, &file_name(&ready))?.map_err(|e| {
        OcfError::generic(format!("cannot move the copy to {}: {e}", ready.display())).with_source(e)
    })?;
    userfs::exchange(user, deadline, &ready, datadir)?.map_err(|e| {
        OcfError::generic(format!("cannot put the copy in place at {shown}: {e}")).with_source(e)
    })?;
    swapped();
    let old_name = format!("{}.pgha-old-{stamp}", file_name(datadir));
    match move_aside(user, deadline, &ready, &old_name) {
        Ok(moved) => Ok(moved),
        // The copy is in place and the old data kept: no reason to fail
        // the start; the next copy moves it aside.
        Err(e) => {
            log_warn!("the old data of {shown} stays at {}: {e}", ready.display());
            Ok(ready)
        }
    }
}

/// Renames `path` aside to `name`, or `name-2`, `name-3`... when taken
/// (two rebuilds within one second share a stamp), never replacing one.
fn move_aside(user: &SystemUser, deadline: Deadline, path: &Path, name: &str) -> OcfResult<PathBuf> {
    for n in 1..=100 {
        let candidate = if n == 1 {
            name.to_string()
        } else {
            format!("{name}-{n}")
        };
        match userfs::rename_aside(user, deadline, path, &candidate)? {
            Ok(moved) => return Ok(moved),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(OcfError::generic(format!(
                    "cannot move {} aside to {candidate}: {e}",
                    path.display()
                ))
                .with_source(e));
            }
        }
    }
    Err(OcfError::generic(format!(
        "cannot move {} aside: {name} and 99 variants are taken",
        path.display()
    )))
}

/// Moves aside what an interrupted put-in-place left at `.pgha-ready`
/// ([`put_in_place`]): a verified copy or the old data, either way data
/// that is kept. Where it went, if there was something.
fn set_aside_leftover(
    user: &SystemUser,
    deadline: Deadline,
    datadir: &Path,
    stamp: &str,
) -> OcfResult<Option<PathBuf>> {
    let ready = beside(datadir, READY);
    let left = userfs::look_at_dir(user, deadline, &ready)?
        .map(|f| f.kind.is_some())
        .unwrap_or(false);
    if !left {
        return Ok(None);
    }
    let name = format!("{}.pgha-old-{stamp}", file_name(datadir));
    move_aside(user, deadline, &ready, &name).map(Some)
}

/// The data directory as the system user sees it.
fn facts(user: &SystemUser, deadline: Deadline, datadir: &Path) -> OcfResult<DirFacts> {
    userfs::look_at_dir(user, deadline, datadir)?.map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            OcfError::perm(format!(
                "datadir {} is not open to system_user: no base backup into it",
                datadir.display()
            ))
        } else {
            OcfError::args(format!("cannot look at datadir {}: {e}", datadir.display()))
        }
        .with_source(e)
    })
}

/// `<dir>.<suffix>` in the same parent directory.
fn beside(dir: &Path, suffix: &str) -> PathBuf {
    dir.with_file_name(format!("{}.{suffix}", file_name(dir)))
}

fn file_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes what an earlier copy left unfinished at `staging` (cut by its
/// deadline, or the agent killed): the agent's own directory.
fn clear_unfinished(user: &SystemUser, deadline: Deadline, staging: &Path) -> OcfResult<()> {
    let left = userfs::look_at_dir(user, deadline, staging)?
        .map(|f| f.kind.is_some())
        .unwrap_or(false);
    if left {
        log_warn!("removing the unfinished copy left at {}", staging.display());
        userfs::remove_tree(user, deadline, staging)?.map_err(|e| {
            OcfError::generic(format!(
                "cannot remove the unfinished copy {}: {e}",
                staging.display()
            ))
        })?;
    }
    Ok(())
}

/// Removes a copy that will not be used; what the deadline leaves of it
/// the next copy removes ([`clear_unfinished`]), and it never sits where
/// the server starts from.
fn discard(user: &SystemUser, deadline: Deadline, staging: &Path) {
    match userfs::remove_tree(user, deadline, staging) {
        Ok(Ok(())) => log_info!("unfinished copy {} removed", staging.display()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        Ok(Err(e)) => log_warn!("cannot remove the unfinished copy {}: {e}", staging.display()),
        Err(e) => log_warn!(
            "the unfinished copy {} is removed by the next copy: {}",
            staging.display(),
            e
        ),
    }
}

/// Through the node's slot when slots are on: the one the primary keeps
/// (its `pgha-<rsc>-slots` lists it), else a new one. With no cluster to
/// ask, the slot is created.
fn slot_use<'a>(ctx: &Context, config: &Config, source: &Source, slot: &'a str) -> SlotUse<'a> {
    if !config.replication_slots {
        return SlotUse::None;
    }
    let kept = match source {
        Source::Primary(node) => attrs::query_all(ctx.resource(), Attr::Slots, ctx.deadline)
            .ok()
            .and_then(|all| all.get(node).map(|v| described_names(v)))
            .is_some_and(|names| names.iter().any(|n| n == slot)),
        Source::Unknown => false,
    };
    if kept {
        SlotUse::Existing(slot)
    } else {
        SlotUse::Create(slot)
    }
}

/// Part of the time left that the copy never takes: putting it in place
/// and starting the server must fit after it, or the start fails at the
/// deadline with a finished copy unused.
fn reserve(left: Duration) -> Duration {
    (left / 7).max(Duration::from_secs(3))
}

/// Runs pg_basebackup, checking the tablespaces and the space at its first
/// report and the space at every report, and logging and publishing its
/// progress.
#[allow(clippy::too_many_arguments)]
fn run_copy(
    ctx: &Context,
    user: &SystemUser,
    bindir: &Path,
    staging: &Path,
    config: &Config,
    slot: SlotUse,
    from: &str,
    wal_margin: u64,
    memory: &mut RunState,
) -> OcfResult<()> {
    let left = ctx.deadline.remaining();
    let budget = ctx.deadline.within(left.saturating_sub(reserve(left)));
    let args = basebackup::args(staging, &config.primary_conninfo, slot);
    let parent = staging.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut checked = false;
    let mut last: Option<(u32, Instant)> = None;
    let started = Instant::now();
    basebackup::run(bindir, user, &args, budget, |p: Progress| {
        let free = match userfs::free_bytes(user, ctx.deadline, &nearest_existing(&parent)) {
            Ok(Ok(free)) => Ok(free),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.reason),
        };
        let room = if checked {
            room_to_go_on(&p, free, &parent)
        } else {
            build::reported_tablespaces(p.tablespaces)
                .and_then(|()| room_for_the_copy(p.total_bytes(), wal_margin, free, &parent))
        };
        if let Err(why) = room {
            return Watch::Stop(why);
        }
        checked = true;
        let since = last.map(|(_, at)| at.elapsed().as_secs()).unwrap_or(0);
        if build::report_due(p.percent(), last.map(|(pct, _)| pct), since) {
            let text = format!(
                "copying {}% ({}/{} MB) from {from}",
                p.percent(),
                p.done_kb >> 10,
                p.total_kb >> 10
            );
            log_info!("base backup: {text}, {}s", started.elapsed().as_secs());
            apply::publish_node_attr(ctx, memory, None, Attr::Build, &text, 0);
            last = Some((p.percent(), Instant::now()));
        }
        Watch::Continue
    })?;
    log_info!("base backup done in {}s", started.elapsed().as_secs());
    Ok(())
}

/// Whether a copy of `total` bytes fits in `parent`, `wal_margin` bytes of
/// WAL counted beside it ([`build::fits`]), given what its `statvfs` said
/// (`free`): nothing, or why the copy stops. A free space that cannot be
/// read stops it too: counting it as unlimited let a copy fill the file
/// system it was meant to be checked against (issue 23).
fn room_for_the_copy(
    total: u64,
    wal_margin: u64,
    free: Result<u64, String>,
    parent: &Path,
) -> Result<(), String> {
    let free = free_space(free, parent)?;
    if !build::fits(total, wal_margin, free) {
        return Err(format!(
            "the copy needs {} MB and {} MB of WAL, {} has {} MB free: make room",
            total >> 20,
            wal_margin >> 20,
            parent.display(),
            free >> 20
        ));
    }
    Ok(())
}

/// Whether a copy under way may go on ([`build::still_fits`]): the WAL it
/// streams beside the files may outgrow what was counted at the start.
fn room_to_go_on(p: &Progress, free: Result<u64, String>, parent: &Path) -> Result<(), String> {
    let free = free_space(free, parent)?;
    if !build::still_fits(p.total_bytes(), p.done_bytes(), free) {
        return Err(format!(
            "copy stopped at {}%: {} has {} MB free, {} MB still to copy: make room",
            p.percent(),
            parent.display(),
            free >> 20,
            p.total_bytes().saturating_sub(p.done_bytes()) >> 20
        ));
    }
    Ok(())
}

fn free_space(free: Result<u64, String>, parent: &Path) -> Result<u64, String> {
    free.map_err(|e| {
        format!(
            "cannot read the free space of {} ({e}): no copy",
            parent.display()
        )
    })
}

/// What the copy asks the primary first ([`remote::copy_facts`]): the WAL
/// to count beside the copy (its `max_wal_size`, else
/// [`DEFAULT_WAL_MARGIN`]) and its tablespaces (None when it cannot be
/// asked: the role may be one for replication only; then pg_basebackup's
/// first report is what shows them).
fn ask_primary(
    bindir: &Path,
    user: &SystemUser,
    config: &Config,
    deadline: Deadline,
) -> (u64, Option<Vec<String>>) {
    let asked = remote::copy_facts(
        bindir,
        user,
        &config.primary_conninfo,
        deadline.within(Duration::from_secs(15)),
    )
    .map_err(|e| e.reason)
    .and_then(|answer| answer);
    match asked {
        Ok(facts) => (
            facts.max_wal_size.unwrap_or(DEFAULT_WAL_MARGIN),
            Some(facts.tablespaces),
        ),
        Err(why) => {
            log_warn!(
                "cannot ask the primary for its tablespaces and max_wal_size ({why}): counting {} MB of WAL",
                DEFAULT_WAL_MARGIN >> 20
            );
            (DEFAULT_WAL_MARGIN, None)
        }
    }
}

/// The entries of `<datadir>/pg_tblspc` (links to tablespaces), listed as
/// the system user: the old data's tablespaces, which a rebuild cannot move
/// aside with it.
fn local_tablespaces(user: &SystemUser, deadline: Deadline, datadir: &Path) -> OcfResult<Vec<String>> {
    let path = datadir.join("pg_tblspc");
    let dir = path.clone();
    let listed = userfs::as_user(user, deadline, &path, move || {
        std::fs::read_dir(&dir)?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<Vec<String>>>()
    })?;
    match listed {
        Ok(mut names) => {
            names.sort();
            Ok(names)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => {
            Err(OcfError::generic(format!("cannot list {}: {e}: no copy", path.display())).with_source(e))
        }
    }
}

/// Ends what an earlier copy left working on `staging` before it is
/// cleared: the pg_basebackup of an agent that was killed lives on in its
/// own process group (older agents did not tie their children's life to
/// theirs), and would go on writing into the directory being removed, or
/// into the next copy. Processes of the system user only, whose working
/// directory or arguments name the directory ([`process::works_on`]).
fn end_leftover_copies(user: &SystemUser, deadline: Deadline, staging: &Path) -> OcfResult<()> {
    let parent = staging.parent().unwrap_or(Path::new("/"));
    let canonical =
        process::canonical_datadir_within(parent, deadline.fraction(0.1)).join(file_name(staging));
    let spellings = [staging.to_path_buf(), canonical];
    let found = process::processes_working_on(&spellings, userfs::expected_owner(user).as_raw());
    if found.is_empty() {
        return Ok(());
    }
    for pid in &found {
        log_warn!(
            "ending process {pid} left working on {}: {}",
            staging.display(),
            process::command_line(*pid).join(" ")
        );
    }
    let left = process::end_processes(&found, deadline);
    if !left.is_empty() {
        let pids: Vec<String> = left.iter().map(|p| p.to_string()).collect();
        return Err(OcfError::generic(format!(
            "process {} still works on {}: copy not started",
            pids.join(", "),
            staging.display()
        )));
    }
    Ok(())
}

/// Whether a standby that the monitor found unable to follow (the memory
/// says why) is rebuilt at this start, and why: only when rebuild=true and
/// the primary confirms what the log said ([`follow`]: the log holds text
/// that clients put there). Otherwise it starts as it is, the reason is
/// logged and forgotten: the monitor says again what this run of the
/// server writes.
pub fn confirm_rebuild(
    ctx: &Context,
    inst: &Instance,
    config: &Config,
    memory: &mut RunState,
) -> Option<String> {
    let why = build::rebuild_standby(memory.get(&Key::RebuildNeeded), config.rebuild)?;
    let budget = ctx.deadline.fraction(0.2);
    let confirmation = match follow::refusal(&why).map(|r| r.kind) {
        Some(RefusalKind::Forked) => match rewind::check_divergence(inst, &config.primary_conninfo, budget) {
            Ok(divergence) => build::fork_confirmed(&divergence),
            Err(e) => Confirmation::Unknown(format!("pg_rewind: {}", e.reason)),
        },
        Some(RefusalKind::WalRemoved) => removed_wal_confirmed(inst, config, budget),
        None => Confirmation::Unknown("the reason remembered is no message the server writes".into()),
    };
    match build::after_confirmation(&why, confirmation) {
        StandbyRebuild::Rebuild(why) => Some(why),
        StandbyRebuild::Start(note) => {
            log_warn!("{note}");
            memory.remove(&Key::RebuildNeeded);
            None
        }
    }
}

/// Asks the primary which WAL it still holds, against the end of the WAL
/// the stopped standby holds ([`build::removed_wal_confirmed`]).
fn removed_wal_confirmed(inst: &Instance, config: &Config, deadline: Deadline) -> Confirmation {
    let control = match controldata::read(&inst.bindir, &inst.datadir, &inst.user, deadline) {
        Ok(control) => control,
        Err(e) => return Confirmation::Unknown(e.reason),
    };
    let Some(segment_size) = control.segment_size else {
        return Confirmation::Unknown("pg_controldata gives no WAL segment size".into());
    };
    let needed = standby_wal_end(inst, &control, segment_size, deadline);
    let primary = remote::wal_files(&inst.bindir, &inst.user, &config.primary_conninfo, deadline)
        .map_err(|e| e.reason)
        .and_then(|answer| answer)
        .map(|(in_recovery, names)| PrimaryWal {
            in_recovery,
            oldest: oldest_segment(&names, segment_size),
        });
    build::removed_wal_confirmed(
        primary.as_ref().map_err(String::as_str),
        needed.as_ref().copied().map_err(String::as_str),
        segment_size,
    )
}

/// Where the WAL a stopped standby holds ends (what it streams from when it
/// starts): read with pg_waldump from its checkpoint's redo position. WAL of
/// a later timeline than its checkpoint's is not read that way (pg_waldump
/// follows one timeline): then the end is not known, rather than too early.
fn standby_wal_end(
    inst: &Instance,
    control: &controldata::ControlData,
    segment_size: u64,
    deadline: Deadline,
) -> Result<Lsn, String> {
    let names = waldump::wal_files(&inst.datadir, &inst.user, deadline).map_err(|e| e.reason)?;
    if let Some(newer) = names
        .iter()
        .filter_map(|n| waldump::segment_timeline(n))
        .filter(|t| *t > control.timeline)
        .max()
    {
        return Err(format!(
            "it holds WAL of timeline {newer}, past its checkpoint's {}",
            control.timeline
        ));
    }
    let found = waldump::end_of_wal(
        &inst.bindir,
        &inst.datadir,
        &inst.user,
        control.timeline,
        control.redo,
        segment_size,
        deadline,
    );
    match found {
        Ok(Some(WalEnd::At(end))) => Ok(end.max(control.redo)),
        Ok(None) => Ok(control.redo),
        Ok(Some(WalEnd::NotUnderstood(line))) => Err(format!("pg_waldump said '{line}'")),
        Err(e) => Err(e.reason),
    }
}

/// The oldest WAL segment among the names of a `pg_wal`: name and start.
fn oldest_segment(names: &[String], segment_size: u64) -> Option<(String, Lsn)> {
    names
        .iter()
        .filter(|n| waldump::segment_timeline(n).is_some())
        .filter_map(|n| waldump::segment_start(n, segment_size).map(|at| (n.clone(), at)))
        .min_by_key(|(_, at)| *at)
}

/// `dir`, or its nearest ancestor that exists (pg_basebackup creates the
/// missing ones): where free space is counted.
fn nearest_existing(dir: &Path) -> PathBuf {
    let mut here = dir;
    while !here.exists() {
        match here.parent() {
            Some(p) => here = p,
            None => break,
        }
    }
    here.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_and_the_old_data_stay_beside_the_data_directory() {
        let d = Path::new("/var/lib/postgresql/15/main");
        assert_eq!(
            beside(d, "pgha-build"),
            PathBuf::from("/var/lib/postgresql/15/main.pgha-build")
        );
    }

    #[test]
    fn a_copy_goes_on_only_where_the_free_space_was_read_and_suffices() {
        let parent = Path::new("/var/lib/postgresql/15");
        let gb = 1u64 << 30;
        assert_eq!(room_for_the_copy(gb, gb, Ok(100 * gb), parent), Ok(()));
        let full = room_for_the_copy(100 * gb, 0, Ok(gb), parent).unwrap_err();
        assert!(full.contains("make room"), "{full}");
        // The WAL streamed beside the copy is counted.
        let wal = room_for_the_copy(gb, gb, Ok(2 * gb), parent).unwrap_err();
        assert!(wal.contains("1024 MB of WAL"), "{wal}");
        let unread = room_for_the_copy(gb, 0, Err("Input/output error".into()), parent).unwrap_err();
        assert_eq!(
            unread,
            "cannot read the free space of /var/lib/postgresql/15 (Input/output error): no copy"
        );
        let p = Progress::parse("524288/1048576 kB (50%), 0/1 tablespace").unwrap();
        assert_eq!(room_to_go_on(&p, Ok(gb), parent), Ok(()));
        let stopped = room_to_go_on(&p, Ok(gb / 4), parent).unwrap_err();
        assert!(stopped.starts_with("copy stopped at 50%"), "{stopped}");
        assert!(room_to_go_on(&p, Err("gone".into()), parent).is_err());
    }

    #[test]
    fn the_oldest_segment_is_the_one_that_starts_first() {
        let names: Vec<String> = [
            "00000002.history",
            "000000020000000000000006",
            "000000010000000000000005",
            "000000010000000000000005.partial",
            "archive_status",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            oldest_segment(&names, 16 << 20),
            Some(("000000010000000000000005".to_string(), Lsn(0x5000000)))
        );
        assert_eq!(oldest_segment(&[], 16 << 20), None);
    }

    fn me() -> SystemUser {
        SystemUser::of_this_process()
    }

    fn scratch(name: &str) -> PathBuf {
        userfs::scratch_dir(&format!("build-{name}"))
    }

    /// A directory holding one file `which` that says `text`.
    fn dir_with(path: &Path, text: &str) {
        std::fs::create_dir(path).unwrap();
        std::fs::write(path.join("which"), text).unwrap();
    }

    fn which(path: &Path) -> String {
        std::fs::read_to_string(path.join("which")).unwrap_or_default()
    }

    /// Two rebuilds in one second had the same `.pgha-old-` name, and the
    /// second failed between its two renames, with no data directory left.
    #[test]
    fn a_rebuild_puts_the_copy_in_place_in_one_exchange_and_never_reuses_an_old_name() {
        let dir = scratch("exchange");
        let (datadir, staging) = (dir.join("main"), dir.join("main.pgha-build"));
        let soon = Deadline::after(Duration::from_secs(5));
        let stamp = "20261203T120000Z";
        dir_with(
            &dir.join(format!("main.pgha-old-{stamp}")),
            "an earlier rebuild's",
        );
        dir_with(&datadir, "old");
        dir_with(&staging, "copy");
        let aside = put_in_place(&me(), soon, &staging, &datadir, stamp, || {}).unwrap();
        assert_eq!(which(&datadir), "copy");
        assert_eq!(which(&aside), "old");
        assert_eq!(aside, dir.join(format!("main.pgha-old-{stamp}-2")));
        assert_eq!(
            which(&dir.join(format!("main.pgha-old-{stamp}"))),
            "an earlier rebuild's"
        );
        assert!(!staging.exists() && !beside(&datadir, "pgha-ready").exists());
        // When the exchange is done the copy is in place: the caller is told
        // then, before the old data is renamed aside.
        dir_with(&staging, "copy 2");
        let mut in_place = String::new();
        put_in_place(&me(), soon, &staging, &datadir, stamp, || {
            in_place = which(&datadir)
        })
        .unwrap();
        assert_eq!(in_place, "copy 2");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// What an interrupted put-in-place left at `.pgha-ready` (the verified
    /// copy, or the old data after the exchange) is moved aside before the
    /// next copy, never deleted.
    #[test]
    fn a_leftover_ready_directory_is_moved_aside_not_removed() {
        let dir = scratch("leftover");
        let datadir = dir.join("main");
        let soon = Deadline::after(Duration::from_secs(5));
        dir_with(&beside(&datadir, "pgha-ready"), "old");
        let moved = set_aside_leftover(&me(), soon, &datadir, "20261203T120000Z")
            .unwrap()
            .unwrap();
        assert_eq!(which(&moved), "old");
        assert_eq!(set_aside_leftover(&me(), soon, &datadir, "x").unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_copy_leaves_time_to_start_the_server() {
        assert_eq!(reserve(Duration::from_secs(18)), Duration::from_secs(3));
        assert_eq!(reserve(Duration::from_secs(700)), Duration::from_secs(100));
    }
}
