//! One PostgreSQL instance on this host, with every path and program resolved.
//!
//! [`Instance::resolve`] performs the host checks of `validate-all` at
//! OCF_CHECK_LEVEL 10 (and before every start): the system user exists and is
//! not root, the data directory exists, belongs to that user with mode 0700
//! or 0750, holds a supported `PG_VERSION`, and the server binaries are
//! there. Each failure carries the code that says where the fault is:
//! ERR_ARGS (a path wrong on this host), ERR_PERM (ownership or mode),
//! ERR_INSTALLED (software or user missing here).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::deadline::Deadline;
use crate::exec::SystemUser;
use crate::ocf::code::{OcfError, OcfResult};
use crate::params::Config;
use crate::pg::layout;
use crate::pg::process;
use crate::pg::session::{self, ConnTarget, SqlError};

#[derive(Clone, Debug)]
pub struct Instance {
    /// Directory given to the server as -D (holds postgresql.conf).
    pub pgdata: PathBuf,
    /// The data directory itself (PG_VERSION, pg_control, postmaster.pid).
    pub datadir: PathBuf,
    /// `datadir` as the kernel reports working directories (symlinks resolved).
    pub canonical_datadir: PathBuf,
    pub bindir: PathBuf,
    pub major: u32,
    pub user: SystemUser,
    pub target: ConnTarget,
    pub port: u16,
    pub probe_timeout: Duration,
    pub start_opts: Vec<String>,
    pub logfile: PathBuf,
}

impl Instance {
    /// Checks the host and resolves the instance, within `deadline`. `path_var` is `PATH`.
    pub fn resolve(config: &Config, path_var: Option<&str>, deadline: Deadline) -> OcfResult<Instance> {
        let user = SystemUser::lookup(&config.system_user)?;
        check_directory("pgdata", &config.pgdata)?;
        if config.datadir != config.pgdata {
            check_directory("datadir", &config.datadir)?;
        }
        check_data_directory_owner(&config.datadir, &user)?;
        let major = layout::read_major_version(&config.datadir, &user, deadline)?;
        let bindir = match &config.bindir {
            Some(dir) => {
                if !dir.is_dir() {
                    return Err(OcfError::installed(format!(
                        "bindir {} does not exist on this host",
                        dir.display()
                    )));
                }
                layout::check_bindir(dir)?;
                dir.clone()
            }
            None => layout::find_bindir(major, path_var)?,
        };
        Ok(Instance {
            pgdata: config.pgdata.clone(),
            datadir: config.datadir.clone(),
            canonical_datadir: process::canonical_datadir(&config.datadir),
            bindir,
            major,
            target: ConnTarget {
                host: config.pghost.clone(),
                port: config.pgport,
                user: config.system_user.clone(),
                dbname: config.pgdatabase.clone(),
            },
            user,
            port: config.pgport,
            probe_timeout: config.probe_timeout,
            start_opts: config.start_opts.clone(),
            logfile: config.logfile.clone(),
        })
    }

    pub fn program(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }

    /// Connects to this instance as its system user and runs `work`, all
    /// within `timeout` and `deadline` (see [`session::with_client`]).
    pub fn with_client<T, F>(&self, timeout: Duration, deadline: Deadline, work: F) -> Result<T, SqlError>
    where
        T: Send + 'static,
        F: FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
    {
        session::with_client(&self.target, Some(self.user.uid), timeout, deadline, work)
    }
}

fn check_directory(name: &str, dir: &Path) -> OcfResult<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(OcfError::args(format!(
            "{name} {} is not a directory",
            dir.display()
        ))),
        Err(e) => Err(
            OcfError::args(format!("{name} {} does not exist on this host", dir.display())).with_source(e),
        ),
    }
}

/// PostgreSQL itself refuses a data directory that is not owned by its user
/// or is group-writable or world-accessible; say so before trying to start.
fn check_data_directory_owner(datadir: &Path, user: &SystemUser) -> OcfResult<()> {
    let meta = fs::metadata(datadir)
        .map_err(|e| OcfError::args(format!("cannot stat {}", datadir.display())).with_source(e))?;
    if meta.uid() != user.uid.as_raw() {
        return Err(OcfError::perm(format!(
            "{} is owned by uid {}, not by system_user {}",
            datadir.display(),
            meta.uid(),
            user.name
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode != 0o700 && mode != 0o750 {
        return Err(OcfError::perm(format!(
            "{} has mode {mode:04o}; PostgreSQL needs 0700 or 0750",
            datadir.display()
        )));
    }
    Ok(())
}
