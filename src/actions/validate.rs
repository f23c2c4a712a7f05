//! `validate-all` and `reload-agent`.
//!
//! - OCF_CHECK_LEVEL 0 (default): syntax of every parameter, no I/O at all,
//!   so `pcs ... --agent-validation` and `crm_resource --validate` work on
//!   any node, with no cluster and no PostgreSQL there; in a promotable
//!   clone also its meta attributes (notify=true, promoted-max=1) and
//!   primary_conninfo, read from the environment, never from a live CIB.
//! - Level 10 and above: first what only an operator's mistake explains
//!   ([`crate::policy::mistakes`]; start refuses and warns alike): the
//!   distribution's own service for this data directory (ERR_INSTALLED), and
//!   once the host checks passed, in a clone of several instances whose
//!   standbys connect over the network, `listen_addresses` on the loopback
//!   only (ERR_ARGS); warnings for rebuild=true with log checks made blind
//!   (logging collector, log_destination, lc_messages) and for slots
//!   without max_slot_wal_keep_size. Then
//!   also the host checks of [`crate::pg::instance::Instance::resolve`]
//!   (user, directories, ownership, version, binaries), the logfile as
//!   start would open it ([`crate::pg::instance::Instance::check_logfile`]):
//!   a regular file of the system user, or absent where it may be created
//!   (start refuses the same with the same reason), and what only a start
//!   would find out: the socket directory pghost names exists, and the
//!   binaries in bindir are of the major version PG_VERSION says; and,
//!   when a CIB can be read, warnings (never a failure) about an unsafe
//!   cluster: fencing off, no fence device, two nodes without
//!   priority-fencing-delay ([`safety::warnings`]). At every level, a
//!   warning (never a failure) for bootstrap=basebackup without data_mount
//!   ([`build_rule::unguarded_copy`]). With
//!   bootstrap=basebackup in a clone, a missing or empty data directory
//!   passes (start copies the primary into it) and one start would refuse
//!   to copy into fails with the same reason.
//!
//! `reload-agent` applies a change of the parameters marked reloadable in
//! [`crate::params::PARAMS`] (the table alone says which; the metadata, the
//! man page and the README show its flag): the agent reads its parameters at
//! every call, so there is nothing to do but check the new values.

use std::path::PathBuf;

use crate::context::Context;
use crate::exec::{self, SystemUser};
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::params::{Config, PgHost};
use crate::pcmk::cib;
use crate::pg::instance::Instance;
use crate::pg::{services, settings};
use crate::policy::build::{self as build_rule, BeforeStart};
use crate::policy::{mistakes, safety};
use crate::replication::build;
use crate::{log_info, log_warn};

pub fn run(ctx: &Context) -> OcfResult {
    let config = ctx.checked_config()?;
    if ctx.mode() == crate::context::Mode::Promotable {
        let datadir = config.datadir.display().to_string();
        if let Some(warning) =
            build_rule::unguarded_copy(config.bootstrap, config.data_mount.is_some(), &datadir)
        {
            log_warn!("{warning}");
        }
    }
    let level = ctx
        .env
        .check_level
        .as_deref()
        .and_then(|l| l.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if level >= 10 {
        check_distribution_service(ctx, &config)?;
        // A new node: start copies the primary there, and what the copy
        // refuses (not empty, not the user's) is refused here alike.
        if ctx.mode() == crate::context::Mode::Promotable {
            match build::look(ctx, &config)? {
                BeforeStart::AsItIs => {}
                BeforeStart::Build => {
                    check_socket_directory(&config.pghost)?;
                    crate::pg::names::check_node_name(&ctx.node_name())?;
                    log_info!(
                        "{} is missing or empty: start copies the primary there (bootstrap=basebackup)",
                        config.datadir.display()
                    );
                    return Ok(OcfCode::Success);
                }
                BeforeStart::Refuse(e) => return Err(e),
            }
        }
        let inst = ctx.instance(&config)?;
        check_socket_directory(&config.pghost)?;
        check_binaries_version(&inst, ctx)?;
        inst.check_logfile(ctx.deadline)?;
        if ctx.mode() == crate::context::Mode::Promotable {
            crate::pg::names::check_node_name(&ctx.node_name())?;
        }
        check_server_settings(ctx, &config, &inst)?;
        log_info!(
            "host checks passed: PostgreSQL {} in {}, binaries in {}",
            inst.major,
            inst.datadir.display(),
            inst.bindir.display()
        );
        // Never a failure: the cluster is the operator's to configure, and
        // with no cluster here there is nothing to read.
        if let Some(c) = cib::configuration(ctx.deadline) {
            let facts = safety::ClusterFacts::new(c.options, c.nodes, c.fence_devices);
            for warning in safety::warnings(&facts) {
                log_warn!("{warning}");
            }
        }
    }
    Ok(OcfCode::Success)
}

/// The distribution's own service for this instance's directories
/// ([`mistakes::distribution_service`]): refused by validate-all and start
/// alike, before anything is copied or started. Service files that cannot
/// be read refuse nothing (the log says so).
pub(super) fn check_distribution_service(ctx: &Context, config: &Config) -> OcfResult<()> {
    let user = SystemUser::lookup(&config.system_user)?;
    let root = PathBuf::from(ctx.env.test_root.as_deref().unwrap_or("/"));
    let ours = [config.pgdata.clone(), config.datadir.clone()];
    match services::gather(&root, &ours, &user, ctx.deadline) {
        Ok(found) => mistakes::distribution_service(&found).map_or(Ok(()), Err),
        Err(e) => {
            log_warn!("{e}");
            Ok(())
        }
    }
}

/// What the configuration the server starts with shows of an operator's
/// mistake, in a promotable clone ([`mistakes`]): `listen_addresses` no
/// standby can reach is refused; log checks made blind with rebuild=true,
/// and slots with no bound on their WAL, are warnings. Each setting is read
/// only when a rule needs it (`postgres -C`, with start_opts as start gives
/// them); one that cannot be read (a configuration the server would refuse
/// anyway, with its own message at start) refuses nothing.
pub(super) fn check_server_settings(ctx: &Context, config: &Config, inst: &Instance) -> OcfResult<()> {
    if ctx.mode() != crate::context::Mode::Promotable {
        return Ok(());
    }
    let setting = |name: &str| match settings::configured(inst, name, &config.start_opts, ctx.deadline) {
        Ok(value) => Some(value),
        Err(e) => {
            log_warn!("cannot read {name} as the server would start: {e}");
            None
        }
    };
    let clone_max = ctx.clone_max();
    if clone_max.is_some_and(|n| n > 1) {
        if let Some(e) = setting("listen_addresses").and_then(|listen| {
            mistakes::unreachable_listen_addresses(&listen, &config.primary_conninfo, clone_max)
        }) {
            return Err(e);
        }
    }
    if config.rebuild {
        let log = (|| {
            Some(mistakes::LogSettings {
                logging_collector: setting("logging_collector")?,
                log_destination: setting("log_destination")?,
                lc_messages: setting("lc_messages")?,
            })
        })();
        for warning in log
            .map(|log| mistakes::blind_log_checks(true, &log))
            .unwrap_or_default()
        {
            log_warn!("{warning}");
        }
    }
    if config.replication_slots {
        // max_slot_wal_keep_size came with PostgreSQL 13.
        let keep = if inst.major >= 13 {
            setting("max_slot_wal_keep_size").map(Some)
        } else {
            Some(None)
        };
        if let Some(warning) = keep.and_then(|keep| mistakes::unbounded_slots(true, keep.as_deref())) {
            log_warn!("{warning}");
        }
    }
    Ok(())
}

/// The probe connects through the socket directory: one that does not exist
/// here means every monitor would fail to connect.
fn check_socket_directory(host: &PgHost) -> OcfResult<()> {
    match host {
        PgHost::Socket(dir) if !dir.is_dir() => Err(OcfError::args(format!(
            "pghost {} is not a directory on this node: set the socket directory",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// `postgres -V` must be of PG_VERSION's major version: a data directory of
/// a newer (or older) release refuses to start with these binaries.
fn check_binaries_version(inst: &Instance, ctx: &Context) -> OcfResult<()> {
    let program = inst.program("postgres");
    let out = exec::run(&program, &["-V"], Some(&inst.user), ctx.deadline)?;
    let major = parse_server_version(&out.stdout).ok_or_else(|| {
        OcfError::installed(format!(
            "{} -V answered {:?}: not a PostgreSQL server",
            program.display(),
            out.last_message()
        ))
    })?;
    if major != inst.major {
        return Err(OcfError::installed(format!(
            "PG_VERSION says {} but {} is PostgreSQL {major}: set bindir",
            inst.major,
            inst.bindir.display()
        )));
    }
    Ok(())
}

/// `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` -> 15.
fn parse_server_version(text: &str) -> Option<u32> {
    let version = text.split("(PostgreSQL)").nth(1)?.split_whitespace().next()?;
    version.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

pub fn reload_agent(ctx: &Context) -> OcfResult {
    ctx.config()?;
    let reloadable: Vec<&str> = crate::params::PARAMS
        .iter()
        .filter(|p| p.reloadable)
        .map(|p| p.name)
        .collect();
    log_info!(
        "the parameters marked reloadable are applied ({})",
        reloadable.join(", ")
    );
    Ok(OcfCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_major_version_of_the_server_binary() {
        assert_eq!(
            parse_server_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(parse_server_version("postgres (PostgreSQL) 18beta1\n"), Some(18));
        assert_eq!(parse_server_version("hello\n"), None);
    }
}
