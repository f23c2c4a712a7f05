//! One PostgreSQL instance on this node, with every path and program resolved.
//!
//! [`Instance::resolve`] performs the host checks of `validate-all` at
//! OCF_CHECK_LEVEL 10 (and before every start): the system user exists and is
//! not root, the data directory exists, belongs to that user with mode 0700
//! or 0750, holds a supported `PG_VERSION`, and the server binaries are
//! there. [`check_logfile`] adds, for validate-all and start only, that the
//! logfile is a regular file of that user or may be created by it, looked
//! at as that user. Each failure carries the code that says where the fault is:
//! ERR_ARGS (a path wrong on this node), ERR_PERM (ownership or mode),
//! ERR_INSTALLED (software or user missing here).

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::{Gid, Pid, Uid};

use crate::deadline::Deadline;
use crate::exec::SystemUser;
use crate::ocf::code::{OcfError, OcfResult};
use crate::pg::layout;
use crate::pg::process;
use crate::pg::session::{self, ConnTarget, PgHost, SqlError};
use crate::userfs::{self, FileKind};

/// What the agent's configuration says of the instance, before the host
/// is checked: the paths, the user, where to connect, how to start it.
#[derive(Clone, Debug)]
pub struct Settings {
    pub pgdata: PathBuf,
    pub datadir: PathBuf,
    /// None: found from PG_VERSION and `PATH`.
    pub bindir: Option<PathBuf>,
    pub system_user: String,
    pub host: PgHost,
    pub port: u16,
    pub dbname: String,
    pub probe_timeout: Duration,
    pub start_opts: Vec<String>,
    pub logfile: PathBuf,
}

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
    pub fn resolve(config: &Settings, path_var: Option<&str>, deadline: Deadline) -> OcfResult<Instance> {
        let user = SystemUser::lookup(&config.system_user)?;
        check_directory("pgdata", &config.pgdata, deadline)?;
        if config.datadir != config.pgdata {
            check_directory("datadir", &config.datadir, deadline)?;
        }
        check_data_directory_owner(&config.datadir, &user, deadline)?;
        let major = layout::read_major_version(&config.datadir, &user, deadline)?;
        let bindir = match &config.bindir {
            Some(dir) => {
                if !dir.is_dir() {
                    return Err(OcfError::installed(format!(
                        "bindir {} does not exist on this node",
                        dir.display()
                    )));
                }
                layout::check_bindir(dir)?;
                dir.clone()
            }
            None => layout::find_bindir(major, path_var)?,
        };
        let canonical = process::canonical_datadir_within(&config.datadir, deadline.fraction(0.2));
        Ok(Self::assemble(config, user, bindir, major, canonical))
    }

    /// The instance as its running postmaster `pid` shows it, for a monitor
    /// whose host checks failed (a user removed from passwd, pg_controldata
    /// gone, a data directory with the wrong mode): the owner of the process
    /// stands in for the user, the directory of its executable for bindir.
    /// Enough to probe the server, which is all a running one needs.
    ///
    /// The data directory is where the postmaster runs (its
    /// `/proc/<pid>/cwd`, which the kernel answers by itself), and
    /// PG_VERSION gets a share of the time only: the host check may have
    /// failed because the file system there does not answer, and the
    /// health probe must still get its time (it waited none, issue 23).
    pub fn of_running_postmaster(
        config: &Settings,
        pid: Pid,
        path_var: Option<&str>,
        deadline: Deadline,
    ) -> OcfResult<Instance> {
        let user = match SystemUser::lookup(&config.system_user) {
            Ok(user) => user,
            Err(_) => {
                let owner = fs::metadata(format!("/proc/{pid}")).map_err(|e| {
                    OcfError::generic(format!("postmaster {pid} vanished while it was inspected"))
                        .with_source(e)
                })?;
                SystemUser {
                    name: config.system_user.clone(),
                    uid: Uid::from_raw(owner.uid()),
                    gid: Gid::from_raw(owner.gid()),
                    home: PathBuf::from("/"),
                }
            }
        };
        let major = layout::read_major_version(&config.datadir, &user, deadline.fraction(0.2)).unwrap_or(0);
        let bindir = config
            .bindir
            .clone()
            .filter(|dir| layout::check_bindir(dir).is_ok())
            .or_else(|| layout::find_bindir(major, path_var).ok())
            .or_else(|| {
                fs::read_link(format!("/proc/{pid}/exe"))
                    .ok()
                    .and_then(|exe| exe.parent().map(Path::to_path_buf))
            })
            .unwrap_or_default();
        let canonical = fs::read_link(format!("/proc/{pid}/cwd"))
            .unwrap_or_else(|_| process::canonical_datadir_within(&config.datadir, deadline.fraction(0.2)));
        Ok(Self::assemble(config, user, bindir, major, canonical))
    }

    /// The instance from the configuration and what the host told, its
    /// data directory as the kernel reports working directories
    /// (`canonical`, resolved by the caller within its deadline).
    fn assemble(
        config: &Settings,
        user: SystemUser,
        bindir: PathBuf,
        major: u32,
        canonical: PathBuf,
    ) -> Instance {
        Instance {
            pgdata: config.pgdata.clone(),
            datadir: config.datadir.clone(),
            canonical_datadir: canonical,
            bindir,
            major,
            target: ConnTarget {
                host: config.host.clone(),
                port: config.port,
                user: config.system_user.clone(),
                dbname: config.dbname.clone(),
            },
            user,
            port: config.port,
            probe_timeout: config.probe_timeout,
            start_opts: config.start_opts.clone(),
            logfile: config.logfile.clone(),
        }
    }

    /// Checks the `logfile` as the system user would open it, within
    /// `deadline`: validate-all at level 10 reports what start would refuse,
    /// with the same reason (see [`check_logfile`]).
    pub fn check_logfile(&self, deadline: Deadline) -> OcfResult<LogfilePlan> {
        check_logfile(&self.logfile, &self.user, deadline)
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
        session::with_client(&self.target, Some(&self.user), timeout, deadline, work)
    }
}

/// What start has to do before the system user opens the logfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogfilePlan {
    /// The file is the user's regular file, or the user may create it.
    Ready,
    /// Its parent directory is missing and root may create it for the user
    /// (under [`userfs::plan_dir`]'s policy, e.g. `/var/log/pgha`).
    CreateParent(PathBuf),
}

/// The logfile becomes the server's stdout and stderr, which any database
/// superuser can write to (`COPY ... TO PROGRAM 'cmd >&2'`): it must be a
/// regular file owned by the system user, or absent in a directory where
/// that user may create it. Everything is looked at as that user
/// ([`userfs::as_user`]) and nothing is followed.
///
/// A symlink or a file of another owner is ERR_PERM (someone else's file
/// would be handed over); a directory, FIFO or missing directory that root
/// must not create is ERR_ARGS (a path wrong on this node).
pub fn check_logfile(path: &Path, user: &SystemUser, deadline: Deadline) -> OcfResult<LogfilePlan> {
    let p = path.to_path_buf();
    let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let seen = {
        let (p, parent) = (p.clone(), parent.clone());
        userfs::as_user(user, deadline, path, move || {
            Ok(match fs::symlink_metadata(&p) {
                Ok(meta) => Seen::File(FileKind::of(meta.file_type()), meta.uid()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::metadata(&parent) {
                    Ok(meta) if meta.is_dir() => Seen::ParentOnly(writable(&parent)),
                    Ok(_) => Seen::ParentNotDir,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Seen::NoParent,
                    Err(e) => Seen::Unreachable(e),
                },
                Err(e) => Seen::Unreachable(e),
            })
        })?
        .map_err(|e| OcfError::generic(format!("cannot inspect logfile {}: {e}", path.display())))?
    };
    let owner = userfs::expected_owner(user);
    match seen {
        Seen::File(FileKind::Regular, uid) if uid == owner.as_raw() => Ok(LogfilePlan::Ready),
        Seen::File(FileKind::Regular, uid) => Err(OcfError::perm(format!(
            "logfile {} is owned by uid {uid}: chown it to {}",
            p.display(),
            user.name
        ))),
        Seen::File(FileKind::Symlink, _) => Err(OcfError::perm(format!(
            "logfile {} is a symlink: make it a regular file owned by {}",
            p.display(),
            user.name
        ))),
        Seen::File(kind, _) => Err(OcfError::args(format!(
            "logfile {} is {}: set logfile to a regular file's path",
            p.display(),
            kind.described()
        ))),
        Seen::ParentOnly(Ok(())) => Ok(LogfilePlan::Ready),
        Seen::ParentOnly(Err(e)) | Seen::Unreachable(e) => Err(OcfError::perm(format!(
            "{} cannot create logfile {}: {e}",
            user.name,
            p.display()
        ))),
        Seen::ParentNotDir => Err(OcfError::args(format!(
            "{} (directory of logfile) is not a directory",
            parent.display()
        ))),
        Seen::NoParent => match userfs::plan_dir(user, &parent, deadline)? {
            userfs::DirPlan::Creatable => Ok(LogfilePlan::CreateParent(parent)),
            userfs::DirPlan::Exists => Ok(LogfilePlan::Ready),
            userfs::DirPlan::Refused(why) => Err(OcfError::args(format!(
                "logfile directory {} is missing: create it owned by {}",
                parent.display(),
                user.name
            ))
            .with_source(anyhow::anyhow!("root does not create it: {why}"))),
        },
    }
}

/// What the system user sees at the logfile's path.
enum Seen {
    File(FileKind, u32),
    /// Absent; the parent is a directory (may the user create in it?).
    ParentOnly(io::Result<()>),
    ParentNotDir,
    NoParent,
    Unreachable(io::Error),
}

/// Whether the calling thread's effective user may create files in `dir`.
fn writable(dir: &Path) -> io::Result<()> {
    use nix::unistd::{AccessFlags, faccessat};
    faccessat(
        nix::fcntl::AT_FDCWD,
        dir,
        AccessFlags::W_OK | AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    )
    .map_err(io::Error::from)
}

/// `fs::metadata` of a configured directory within a share of `deadline`,
/// on a worker thread: a hung mount fails the check with a reason instead
/// of hanging the action.
fn metadata_within(dir: &Path, deadline: Deadline) -> OcfResult<io::Result<fs::Metadata>> {
    let d = dir.to_path_buf();
    userfs::within(deadline.fraction(0.2), dir, move || fs::metadata(d))
}

fn check_directory(name: &str, dir: &Path, deadline: Deadline) -> OcfResult<()> {
    match metadata_within(dir, deadline)? {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(OcfError::args(format!(
            "{name} {} is not a directory",
            dir.display()
        ))),
        Err(e) => Err(
            OcfError::args(format!("{name} {} does not exist on this node", dir.display())).with_source(e),
        ),
    }
}

/// PostgreSQL itself refuses a data directory that is not owned by its user
/// or is group-writable or world-accessible; say so before trying to start.
fn check_data_directory_owner(datadir: &Path, user: &SystemUser, deadline: Deadline) -> OcfResult<()> {
    let meta = metadata_within(datadir, deadline)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocf::code::OcfCode;

    fn me() -> SystemUser {
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::effective())
            .unwrap()
            .unwrap();
        SystemUser {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            home: user.dir,
        }
    }

    #[test]
    fn a_logfile_must_be_a_regular_file_of_the_user_or_creatable() {
        let dir = std::env::temp_dir().join(format!("pgha-logcheck-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("is-a-dir")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link.log")).unwrap();
        fs::write(dir.join("ok.log"), "").unwrap();
        let check =
            |name: &str| check_logfile(&dir.join(name), &me(), Deadline::after(Duration::from_secs(5)));
        assert_eq!(check("ok.log").unwrap(), LogfilePlan::Ready);
        assert_eq!(check("new.log").unwrap(), LogfilePlan::Ready);
        assert_eq!(check("link.log").unwrap_err().code, OcfCode::ErrPerm);
        let e = check("is-a-dir").unwrap_err();
        assert_eq!(
            (e.code, e.reason.contains("is a directory")),
            (OcfCode::ErrArgs, true)
        );
        // Two missing levels: never created by the agent.
        let e = check("a/b/c.log").unwrap_err();
        assert_eq!(
            (e.code, e.reason.contains("is missing")),
            (OcfCode::ErrArgs, true)
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
