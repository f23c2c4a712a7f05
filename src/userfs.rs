//! File operations on places the system user controls, done as that user and
//! within the action's deadline.
//!
//! The agent runs as root; the data directory, the log directory and the
//! socket directory belong to `system_user`, and so does any database
//! superuser (`COPY ... TO PROGRAM` runs as it). Root following a symlink
//! planted there creates, truncates, chowns or quotes any file of the host
//! (`standby.signal -> /etc/ld.so.preload`), and a FIFO planted there hangs
//! root's `read()` until Pacemaker kills the agent without a reason. So every
//! such operation runs on a worker thread that switched *its own* credentials
//! to the user (the kernel then checks the user's rights, as if the user ran
//! it), opens with `O_NOFOLLOW` (and `O_NONBLOCK` for reads), checks with
//! `fstat` that it holds a regular file, and answers within the
//! [`Deadline`]; a file system that does not answer is abandoned with its
//! thread, as [`crate::pg::session`] does with a frozen server. Such a
//! thread may wait in the kernel for good (a dead disk, a hung FUSE daemon:
//! not even SIGKILL ends it) and so keep the process from ending: the
//! answer reaches Pacemaker anyway, from the parent of the action's
//! process ([`crate::answer`]).
//!
//! Where it is used, and why:
//! - `<datadir>/PG_VERSION` ([`read_small`]): read by every action; a FIFO
//!   there must not hang validate-all or monitor.
//! - `<datadir>/standby.signal` ([`create_empty`]): created before a standby
//!   start; a dangling symlink there must not make root create its target.
//! - `<datadir>/postmaster.pid` ([`read_small`], [`rename_aside`],
//!   [`remove`]): an empty or garbage one is moved aside, a stale one removed
//!   before a start.
//! - `<socket dir>/.s.PGSQL.<port>.lock` ([`read_small`], [`remove`]): its
//!   path comes from postmaster.pid line 5, which postgres writes.
//! - the `logfile` ([`open_log`], [`as_user`] for its `lstat`): opened by the
//!   user and handed to the server as stdout/stderr; root never holds a
//!   descriptor of a file the user could not open itself.
//! - the logfile's missing parent directory ([`create_owned_dir`]): the one
//!   thing done as root, because the user cannot create it (`/var/log/pgha`
//!   under `/var/log`); only in a root-owned directory nobody else can write
//!   to, through `O_NOFOLLOW` descriptors, then handed over with `fchown`.
//!
//! - the distribution's service files ([`read_small_here`] in one
//!   [`as_user`] call, [`crate::pg::services`]): Debian's `/etc/postgresql`
//!   belongs to the system user, and what a symlink there names is read
//!   with the user's rights only.
//! - the data directory before a copy of the primary ([`look_at_dir`],
//!   [`free_bytes`]), the copy's staging directory beside it
//!   ([`remove_tree`], only that directory: the agent made it) and the
//!   renames that put the copy in place and the old data aside
//!   ([`rename_aside`], [`rename_into`], [`exchange`]); the server's `logfile`, whose end
//!   says why a standby cannot follow ([`read_tail`]).
//!
//! Without root (tests run by a user) nothing is switched: the kernel already
//! checks that user's rights.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;

use nix::fcntl::{OFlag, RenameFlags, openat, renameat2};
use nix::sys::stat::{Mode, fchmod, fstat, mkdirat};
use nix::unistd::{Gid, Uid, fchown};

use crate::deadline::Deadline;
use crate::exec::SystemUser;
use crate::ocf::code::{OcfError, OcfResult};

/// Who a worker thread acts as: the user's uid and primary group.
#[derive(Clone, Copy, Debug)]
struct Identity {
    uid: Uid,
    gid: Gid,
}

/// Runs `op` as `user` (when the agent is root) on a worker thread and waits
/// at most until `deadline`.
///
/// The outer error is the machinery's (no thread, no switch, no answer in
/// time), already an [`OcfError`] naming `path`; the inner one is `op`'s own,
/// for the caller to classify where its meaning is known.
pub fn as_user<T, F>(user: &SystemUser, deadline: Deadline, path: &Path, op: F) -> OcfResult<io::Result<T>>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let who = Uid::effective().is_root().then_some(Identity {
        uid: user.uid,
        gid: user.gid,
    });
    bounded(who, deadline, path, op)
}

/// Runs `op` on a worker thread as the agent itself, within `deadline`: for
/// stop, which must work without the user database
/// ([`crate::actions::stop`]), and only for a lookup that changes nothing
/// (`canonicalize`, `lstat`, a lock file's read that refuses symlinks and
/// FIFOs), whose one danger left is a hung file system under the data
/// directory (a stop that hangs gets the node fenced without a reason).
pub fn within<T, F>(deadline: Deadline, path: &Path, op: F) -> OcfResult<io::Result<T>>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    bounded(None, deadline, path, op)
}

/// Runs `op` on a worker thread, as `who` if given, within `deadline`.
fn bounded<T, F>(who: Option<Identity>, deadline: Deadline, path: &Path, op: F) -> OcfResult<io::Result<T>>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("userfs".into())
        .spawn(move || {
            if let Some(Err(e)) = who.map(|who| become_user(who.uid, who.gid)) {
                let _ = tx.send(Err(e));
                return;
            }
            let _ = tx.send(Ok(op()));
        })
        .map_err(|e| {
            OcfError::generic(format!("cannot start a thread to access {}", path.display())).with_source(e)
        })?;
    match rx.recv_timeout(deadline.remaining()) {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(e)) => Err(OcfError::generic(format!(
            "cannot switch to uid {} to access {}: {e}",
            who.map(|w| w.uid.as_raw()).unwrap_or(0),
            path.display()
        ))),
        // The thread stays blocked in the kernel; it is abandoned, and the
        // answer goes out without waiting for it (crate::answer).
        Err(_) => Err(OcfError::generic(format!(
            "the file system did not answer in time for {}",
            path.display()
        ))),
    }
}

/// Makes the calling thread, and only it, act as `uid`:`gid` with no other
/// group (file access as that user; the real and saved ids stay root's).
fn become_user(uid: Uid, gid: Gid) -> io::Result<()> {
    become_thread_user(uid, gid, &[gid])
}

/// Makes the calling thread, and only it, act as `uid`:`gid` with exactly
/// `groups` as its supplementary groups; the real and saved ids stay root's.
/// [`crate::pg::session`] gives its SQL thread the system user's groups
/// this way, the credentials [`SystemUser::apply`] gives a child.
///
/// Linux keeps credentials per thread; glibc's wrappers (`setgroups`,
/// `setresuid`...) broadcast the change to every thread of the process
/// (POSIX semantics), so the raw system calls are used. Groups first: once
/// the effective uid is not 0, the thread may no longer change them.
pub fn become_thread_user(uid: Uid, gid: Gid, groups: &[Gid]) -> io::Result<()> {
    let keep = nix::libc::uid_t::MAX; // -1: leave the real and saved ids
    let groups: Vec<nix::libc::gid_t> = groups.iter().map(|g| g.as_raw()).collect();
    // SAFETY: setgroups reads `groups.len()` elements of `groups`, alive
    // for the call; setresgid and setresuid take integers and touch no memory.
    unsafe {
        check(nix::libc::syscall(
            nix::libc::SYS_setgroups,
            groups.len(),
            groups.as_ptr(),
        ))?;
        check(nix::libc::syscall(
            nix::libc::SYS_setresgid,
            keep,
            gid.as_raw(),
            keep,
        ))?;
        check(nix::libc::syscall(
            nix::libc::SYS_setresuid,
            keep,
            uid.as_raw(),
            keep,
        ))
    }
}

fn check(rc: nix::libc::c_long) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What kind of file an `lstat`/`fstat` saw, for reasons and checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    Other,
}

impl FileKind {
    pub fn of(file_type: fs::FileType) -> FileKind {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_symlink() {
            FileKind::Symlink
        } else if file_type.is_file() {
            FileKind::Regular
        } else if file_type.is_dir() {
            FileKind::Directory
        } else if file_type.is_fifo() {
            FileKind::Fifo
        } else {
            FileKind::Other
        }
    }

    /// "a directory", "a symlink"...: what a reason says the path is.
    pub fn described(self) -> &'static str {
        match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symlink",
            FileKind::Fifo => "a FIFO",
            FileKind::Other => "a special file",
        }
    }
}

/// The error of a path that is not a regular file (kept in an io::Error so
/// that it travels like the open's own errors).
fn not_regular(path: &Path, kind: FileKind) -> io::Error {
    io::Error::other(format!(
        "{} is {}, not a regular file",
        path.display(),
        kind.described()
    ))
}

/// Reads a small regular file as `user`: never follows a symlink, never
/// blocks on a FIFO or device, never reads more than `cap` bytes (a larger
/// file is an error: the files read this way are a few lines long).
pub fn read_small(
    user: &SystemUser,
    deadline: Deadline,
    path: &Path,
    cap: u64,
) -> OcfResult<io::Result<Vec<u8>>> {
    let p = path.to_path_buf();
    as_user(user, deadline, path, move || read_small_here(&p, cap))
}

/// [`read_small`] on the calling thread, with its identity: for a closure
/// of [`as_user`] that reads several files in one go (the distribution's
/// service files, [`crate::pg::services`]).
pub fn read_small_here(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let (file, _) = open_regular(path)?;
    let mut buf = Vec::new();
    file.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(io::Error::other(format!(
            "{} is larger than {cap} bytes",
            path.display()
        )));
    }
    Ok(buf)
}

/// Opens `path` for reading, never following a symlink nor blocking on a
/// FIFO or device, and only if it is a regular file (checked on the
/// descriptor); the calling thread's identity decides the access.
fn open_regular(path: &Path) -> io::Result<(File, fs::Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| symlink_is_named(path, e))?;
    let meta = file.metadata()?;
    let kind = FileKind::of(meta.file_type());
    if kind != FileKind::Regular {
        return Err(not_regular(path, kind));
    }
    Ok((file, meta))
}

/// `O_NOFOLLOW` on a symlink fails with ELOOP, "Too many levels of symbolic
/// links": say what it is instead.
fn symlink_is_named(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(nix::libc::ELOOP) {
        not_regular(path, FileKind::Symlink)
    } else {
        e
    }
}

/// Whether [`create_empty`] made the file or found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    New,
    AlreadyThere,
}

/// Creates an empty regular file, mode 0600, as `user`: `O_CREAT|O_EXCL`
/// never follows a symlink, even a dangling one. An existing regular file
/// is fine; anything else there (symlink, directory, FIFO) is an error
/// naming the path.
pub fn create_empty(user: &SystemUser, deadline: Deadline, path: &Path) -> OcfResult<io::Result<Created>> {
    create_new(user, deadline, path, None)
}

/// [`create_empty`], the file holding `contents` and synced to disk before
/// it counts as made; a file already there is left as it is.
pub fn create_with(
    user: &SystemUser,
    deadline: Deadline,
    path: &Path,
    contents: Vec<u8>,
) -> OcfResult<io::Result<Created>> {
    create_new(user, deadline, path, Some(contents))
}

fn create_new(
    user: &SystemUser,
    deadline: Deadline,
    path: &Path,
    contents: Option<Vec<u8>>,
) -> OcfResult<io::Result<Created>> {
    let p = path.to_path_buf();
    as_user(user, deadline, path, move || {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&p)
        {
            Ok(mut file) => {
                if let Some(contents) = contents {
                    file.write_all(&contents)?;
                    file.sync_all()?;
                }
                Ok(Created::New)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let kind = FileKind::of(fs::symlink_metadata(&p)?.file_type());
                if kind == FileKind::Regular {
                    Ok(Created::AlreadyThere)
                } else {
                    Err(not_regular(&p, kind))
                }
            }
            Err(e) => Err(e),
        }
    })
}

/// Opens (creating, mode 0640) the server's log file for append and read, as
/// `user`. It must be a regular file owned by the user: the descriptor
/// becomes the server's stdout and stderr, which any superuser can write to.
/// Returns the file and its size at opening (where this start's output
/// begins).
pub fn open_log(user: &SystemUser, deadline: Deadline, path: &Path) -> OcfResult<io::Result<(File, u64)>> {
    let p = path.to_path_buf();
    let owner = expected_owner(user);
    as_user(user, deadline, path, move || {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o640)
            // O_NONBLOCK: a FIFO opens without waiting for a writer (and is
            // refused below); it is cleared for the server's sake.
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&p)
            .map_err(|e| symlink_is_named(&p, e))?;
        let meta = file.metadata()?;
        let kind = FileKind::of(meta.file_type());
        if kind != FileKind::Regular {
            return Err(not_regular(&p, kind));
        }
        if meta.uid() != owner.as_raw() {
            return Err(io::Error::other(format!(
                "{} is owned by uid {}, not by the system user",
                p.display(),
                meta.uid()
            )));
        }
        let flags = nix::fcntl::fcntl(file.as_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
        let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(file.as_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))?;
        Ok((file, meta.len()))
    })
}

/// The owner files made for `user` get: the user, or whoever runs the agent
/// when it is not root (tests).
pub fn expected_owner(user: &SystemUser) -> Uid {
    if Uid::effective().is_root() {
        user.uid
    } else {
        Uid::effective()
    }
}

/// Renames `path` to `new_name` in the same directory, as `user`, never
/// replacing an existing file (`RENAME_NOREPLACE`).
pub fn rename_aside(
    user: &SystemUser,
    deadline: Deadline,
    path: &Path,
    new_name: &str,
) -> OcfResult<io::Result<PathBuf>> {
    let p = path.to_path_buf();
    let target = path.with_file_name(new_name);
    as_user(user, deadline, path, move || {
        renameat2(
            nix::fcntl::AT_FDCWD,
            &p,
            nix::fcntl::AT_FDCWD,
            &target,
            RenameFlags::RENAME_NOREPLACE,
        )?;
        Ok(target)
    })
}

/// Swaps `a` and `b` in one step, as `user` (`RENAME_EXCHANGE`): both must
/// exist, and at no moment is either name empty. What puts a rebuilt copy
/// where the old data was, so that a failure or a kill at any point leaves
/// a complete data directory.
pub fn exchange(user: &SystemUser, deadline: Deadline, a: &Path, b: &Path) -> OcfResult<io::Result<()>> {
    let (a, b) = (a.to_path_buf(), b.to_path_buf());
    as_user(user, deadline, &a.clone(), move || {
        renameat2(
            nix::fcntl::AT_FDCWD,
            &a,
            nix::fcntl::AT_FDCWD,
            &b,
            RenameFlags::RENAME_EXCHANGE,
        )?;
        Ok(())
    })
}

/// Removes `path` (the entry itself, never a symlink's target) as `user`.
pub fn remove(user: &SystemUser, deadline: Deadline, path: &Path) -> OcfResult<io::Result<()>> {
    let p = path.to_path_buf();
    as_user(user, deadline, path, move || fs::remove_file(&p))
}

/// What a directory path holds, as the user sees it without following
/// its last component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirFacts {
    /// None: nothing there.
    pub kind: Option<FileKind>,
    pub owner: u32,
    /// An entry of the directory (the first one read), None when empty.
    pub first_entry: Option<String>,
    pub has_pg_version: bool,
    /// Its file system is not its parent's: it is a mount point.
    pub mount_point: bool,
    /// The device of the path, or of its nearest existing ancestor.
    pub device: u64,
}

/// Looks at `path` as `user`: its kind and owner (`lstat`), whether it is
/// empty or holds `PG_VERSION`, and which file system it (or, when it is
/// missing, its nearest existing ancestor) is on.
pub fn look_at_dir(user: &SystemUser, deadline: Deadline, path: &Path) -> OcfResult<io::Result<DirFacts>> {
    let p = path.to_path_buf();
    as_user(user, deadline, path, move || {
        let meta = match fs::symlink_metadata(&p) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let parent_device = |from: &Path| -> io::Result<u64> {
            let mut here = from.parent();
            while let Some(dir) = here {
                match fs::metadata(dir) {
                    Ok(m) => return Ok(m.dev()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => here = dir.parent(),
                    Err(e) => return Err(e),
                }
            }
            Ok(0)
        };
        let Some(meta) = meta else {
            return Ok(DirFacts {
                kind: None,
                owner: 0,
                first_entry: None,
                has_pg_version: false,
                mount_point: false,
                device: parent_device(&p)?,
            });
        };
        let kind = FileKind::of(meta.file_type());
        let (first_entry, has_pg_version) = if kind == FileKind::Directory {
            let first = fs::read_dir(&p)?
                .next()
                .transpose()?
                .map(|e| e.file_name().to_string_lossy().into_owned());
            (first, fs::symlink_metadata(p.join("PG_VERSION")).is_ok())
        } else {
            (None, false)
        };
        Ok(DirFacts {
            kind: Some(kind),
            owner: meta.uid(),
            first_entry,
            has_pg_version,
            mount_point: kind == FileKind::Directory && parent_device(&p)? != meta.dev(),
            device: meta.dev(),
        })
    })
}

/// Whether a file system is mounted at `dir` (its device is not its
/// parent's; `/` always is), and its device.
pub fn mount_of(user: &SystemUser, deadline: Deadline, dir: &Path) -> OcfResult<io::Result<(bool, u64)>> {
    let d = dir.to_path_buf();
    as_user(user, deadline, dir, move || {
        let meta = fs::metadata(&d)?;
        let mounted = match d.parent() {
            None => true,
            Some(parent) => fs::metadata(parent)?.dev() != meta.dev(),
        };
        Ok((mounted, meta.dev()))
    })
}

/// Bytes the user may still write on the file system of `dir`.
pub fn free_bytes(user: &SystemUser, deadline: Deadline, dir: &Path) -> OcfResult<io::Result<u64>> {
    let d = dir.to_path_buf();
    as_user(user, deadline, dir, move || {
        let st = nix::sys::statvfs::statvfs(&d)?;
        Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
    })
}

/// Renames `from` to `to` as `user`, replacing `to` only when it is an
/// empty directory (rename(2) refuses a non-empty one) or missing: what
/// puts a finished copy where the data directory was empty or missing.
pub fn rename_into(
    user: &SystemUser,
    deadline: Deadline,
    from: &Path,
    to: &Path,
) -> OcfResult<io::Result<()>> {
    let (f, t) = (from.to_path_buf(), to.to_path_buf());
    as_user(user, deadline, from, move || {
        if let Some(meta) = fs::symlink_metadata(&t).ok().filter(|m| !m.is_dir()) {
            return Err(io::Error::other(format!(
                "{} is {}, not an empty directory",
                t.display(),
                FileKind::of(meta.file_type()).described()
            )));
        }
        fs::rename(&f, &t)
    })
}

/// Removes the directory tree `dir` as `user`, never following a symlink
/// in it (std's `remove_dir_all` opens each level with `O_NOFOLLOW`).
/// Only for what the agent made itself: an unfinished copy.
pub fn remove_tree(user: &SystemUser, deadline: Deadline, dir: &Path) -> OcfResult<io::Result<()>> {
    let d = dir.to_path_buf();
    as_user(user, deadline, dir, move || fs::remove_dir_all(&d))
}

/// The last `max` bytes (at most) of the regular file `path`, read as
/// `user` without following a symlink or blocking on a FIFO.
pub fn read_tail(
    user: &SystemUser,
    deadline: Deadline,
    path: &Path,
    max: u64,
) -> OcfResult<io::Result<Vec<u8>>> {
    use std::io::{Seek, SeekFrom};
    let p = path.to_path_buf();
    as_user(user, deadline, path, move || {
        let (mut file, meta) = open_regular(&p)?;
        file.seek(SeekFrom::Start(meta.len().saturating_sub(max)))?;
        let mut buf = Vec::new();
        file.take(max).read_to_end(&mut buf)?;
        Ok(buf)
    })
}

/// Whether root may create a missing directory `dir` for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirPlan {
    /// It is there (what it is, the user's open will tell).
    Exists,
    /// Missing, and its parent is root's alone: [`create_owned_dir`] may.
    Creatable,
    /// Missing, and root must not create it: why, for the reason.
    Refused(String),
}

/// Decides whether root may create `dir` for the user.
///
/// Root never creates a directory where someone else could swap a path
/// component for a symlink: the parent, and every directory above it, must
/// be owned by root and writable by nobody else (a sticky directory such as
/// /tmp is fine above the parent: others cannot rename what root owns
/// there). Only one missing level is created: a deeper missing chain is the
/// operator's to create.
pub fn plan_dir(user: &SystemUser, dir: &Path, deadline: Deadline) -> OcfResult<DirPlan> {
    let d = dir.to_path_buf();
    let groups = raw_groups(user);
    let answer = bounded(None, deadline, dir, move || {
        match fs::symlink_metadata(&d) {
            Ok(_) => return Ok(DirPlan::Exists),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let Some(parent) = d.parent() else {
            return Ok(DirPlan::Exists);
        };
        match walk_root_owned(parent, &groups) {
            Ok(_) => Ok(DirPlan::Creatable),
            Err(why) => Ok(DirPlan::Refused(why)),
        }
    })?;
    answer.map_err(|e| OcfError::args(format!("cannot inspect {}: {e}", dir.display())).with_source(e))
}

/// Opens `dir` component by component with `O_DIRECTORY|O_NOFOLLOW` from
/// its canonical form, each level checked by [`safe_ancestor`]; the last one
/// must also not be sticky-writable. Returns its descriptor, or why not.
fn walk_root_owned(dir: &Path, user_groups: &[u32]) -> Result<std::os::fd::OwnedFd, String> {
    // Root's own symlinks (/var/run -> /run) are resolved first; the walk
    // then refuses any symlink, so a swap after this point fails closed.
    let canonical = fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let mut fd = nix::fcntl::open("/", flags, Mode::empty()).map_err(|e| format!("/: {e}"))?;
    let mut here = PathBuf::from("/");
    let components: Vec<_> = canonical
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_owned()),
            _ => None,
        })
        .collect();
    let last = components.len();
    for (i, name) in std::iter::once(None)
        .chain(components.iter().map(Some))
        .enumerate()
    {
        if let Some(name) = name {
            here.push(name);
            fd = openat(&fd, name.as_os_str(), flags, Mode::empty())
                .map_err(|e| format!("{}: {e}", here.display()))?;
        }
        let st = fstat(&fd).map_err(|e| format!("{}: {e}", here.display()))?;
        if let Err(why) = safe_ancestor(st.st_uid, st.st_gid, st.st_mode, i == last, user_groups) {
            return Err(format!("{} {why}", here.display()));
        }
    }
    Ok(fd)
}

/// The system user's groups, as plain ids: a directory their members can
/// write is the user's to change.
fn raw_groups(user: &SystemUser) -> Vec<u32> {
    user.groups().iter().map(|g| g.as_raw()).collect()
}

/// Whether a directory with this owner, group and mode can be trusted not
/// to change under root: owned by root (or by the agent's own user when it
/// is not root), writable neither by a group of the system user nor by
/// others (Ubuntu's `/var/log` is group-writable by `syslog`, which is
/// fine); a sticky directory above the last level is tolerated. Pure, for
/// the unit tests.
pub fn safe_ancestor(
    uid: u32,
    gid: u32,
    mode: u32,
    is_last: bool,
    user_groups: &[u32],
) -> Result<(), &'static str> {
    if uid != Uid::effective().as_raw() {
        return Err("is not owned by root");
    }
    let sticky = mode & 0o1000 != 0;
    let tolerated = sticky && !is_last;
    if mode & 0o020 != 0 && user_groups.contains(&gid) && !tolerated {
        return Err("is writable by a group of the system user");
    }
    if mode & 0o002 != 0 && !tolerated {
        return Err("is writable by others");
    }
    Ok(())
}

/// Creates `dir` (one level, mode 0750) as root and hands it to `user`.
///
/// Only under [`plan_dir`]'s policy, checked again on the descriptors used:
/// `mkdirat` on an `O_DIRECTORY|O_NOFOLLOW` descriptor of the parent, then
/// `fchown`/`fchmod` through an `O_DIRECTORY|O_NOFOLLOW` descriptor of the
/// new directory, so no path is followed in between. A directory that
/// appeared meanwhile is left as it is (the user's open judges it).
pub fn create_owned_dir(user: &SystemUser, deadline: Deadline, dir: &Path) -> OcfResult<io::Result<()>> {
    let d = dir.to_path_buf();
    let (uid, gid) = (user.uid, user.gid);
    let groups = raw_groups(user);
    bounded(None, deadline, dir, move || {
        let (Some(parent), Some(name)) = (d.parent(), d.file_name()) else {
            return Err(io::Error::other(format!("{} has no parent", d.display())));
        };
        let parent_fd = walk_root_owned(parent, &groups).map_err(io::Error::other)?;
        match mkdirat(&parent_fd, name, Mode::from_bits_truncate(0o750)) {
            Ok(()) => {}
            Err(nix::errno::Errno::EEXIST) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
        let fd = openat(&parent_fd, name, flags, Mode::empty())?;
        if Uid::effective().is_root() {
            fchown(&fd, Some(uid), Some(gid))?;
        }
        // mkdirat's mode went through the umask.
        fchmod(&fd, Mode::from_bits_truncate(0o750))?;
        Ok(())
    })
}

/// A new empty directory for a unit test, `pgha-<name>-<pid>` under the
/// temporary directory.
#[cfg(test)]
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pgha-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn me() -> SystemUser {
        SystemUser::of_this_process()
    }

    fn scratch(name: &str) -> PathBuf {
        scratch_dir(&format!("userfs-{name}"))
    }

    fn soon() -> Deadline {
        Deadline::after(Duration::from_secs(5))
    }

    /// The file operation was refused by the worker, saying `why`.
    #[track_caller]
    fn assert_refused<T: std::fmt::Debug>(result: OcfResult<io::Result<T>>, why: &str) {
        let err = result.unwrap().unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }

    #[test]
    fn ancestors_must_be_ours_and_not_writable_by_the_user_or_others() {
        let me = Uid::effective().as_raw();
        let (users, syslog) = ([70, 71], 4);
        let safe = |uid, gid, mode, last| safe_ancestor(uid, gid, mode, last, &users);
        assert!(safe(me, 0, 0o40755, true).is_ok());
        assert!(safe(me, 70, 0o40775, true).is_err(), "the user's group writes");
        assert!(safe(me, syslog, 0o40775, true).is_ok(), "Ubuntu's /var/log");
        assert!(safe(me, 0, 0o41777, false).is_ok(), "/tmp above the parent");
        assert!(safe(me, 0, 0o41777, true).is_err(), "never create in /tmp itself");
        assert!(safe(me, 0, 0o40777, false).is_err());
        assert!(safe(me.wrapping_add(1), 0, 0o40755, false).is_err());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = scratch("fifo");
        let fifo = dir.join("PG_VERSION");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        assert_refused(read_small(&me(), soon(), &fifo, 64), "a FIFO");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_is_never_followed() {
        let dir = scratch("symlink");
        let target = dir.join("target");
        let link = dir.join("standby.signal");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_refused(create_empty(&me(), soon(), &link), "is a symlink");
        assert!(!target.exists());
        fs::write(&target, "x").unwrap();
        assert_refused(read_small(&me(), soon(), &link, 64), "is a symlink");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_regular_file_is_fine_and_a_large_one_refused() {
        let dir = scratch("regular");
        let file = dir.join("f");
        assert_eq!(create_empty(&me(), soon(), &file).unwrap().unwrap(), Created::New);
        assert_eq!(
            create_empty(&me(), soon(), &file).unwrap().unwrap(),
            Created::AlreadyThere
        );
        fs::write(&file, "15\n").unwrap();
        assert_eq!(read_small(&me(), soon(), &file, 64).unwrap().unwrap(), b"15\n");
        assert!(read_small(&me(), soon(), &file, 2).unwrap().is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rename_aside_never_replaces() {
        let dir = scratch("rename");
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::write(&a, "a").unwrap();
        fs::write(&b, "b").unwrap();
        assert!(rename_aside(&me(), soon(), &a, "b").unwrap().is_err());
        assert_eq!(fs::read_to_string(&b).unwrap(), "b");
        let moved = rename_aside(&me(), soon(), &a, "c").unwrap().unwrap();
        assert_eq!(fs::read_to_string(moved).unwrap(), "a");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_exchange_swaps_two_names_and_needs_both() {
        let dir = scratch("exchange");
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::write(&a, "a").unwrap();
        fs::write(&b, "b").unwrap();
        exchange(&me(), soon(), &a, &b).unwrap().unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "b");
        assert_eq!(fs::read_to_string(&b).unwrap(), "a");
        assert!(exchange(&me(), soon(), &a, &dir.join("c")).unwrap().is_err());
        assert_eq!(fs::read_to_string(&a).unwrap(), "b");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_is_seen_as_missing_empty_or_an_instance() {
        let dir = scratch("lookat");
        let look = |p: &Path| look_at_dir(&me(), soon(), p).unwrap().unwrap();
        let missing = look(&dir.join("a/b"));
        assert_eq!(missing.kind, None);
        assert_eq!(missing.device, fs::metadata(&dir).unwrap().dev());
        fs::create_dir(dir.join("data")).unwrap();
        let empty = look(&dir.join("data"));
        assert_eq!(
            (empty.kind, empty.first_entry.clone(), empty.mount_point),
            (Some(FileKind::Directory), None, false)
        );
        assert_eq!(empty.owner, Uid::effective().as_raw());
        fs::write(dir.join("data/PG_VERSION"), "15\n").unwrap();
        let instance = look(&dir.join("data"));
        assert!(instance.has_pg_version);
        assert_eq!(instance.first_entry.as_deref(), Some("PG_VERSION"));
        std::os::unix::fs::symlink(dir.join("data"), dir.join("link")).unwrap();
        assert_eq!(look(&dir.join("link")).kind, Some(FileKind::Symlink));
        assert!(mount_of(&me(), soon(), Path::new("/")).unwrap().unwrap().0);
        // A directory made inside another is on its file system.
        let (mounted, device) = mount_of(&me(), soon(), &dir.join("data")).unwrap().unwrap();
        assert!(!mounted);
        assert_eq!(device, fs::metadata(&dir).unwrap().dev());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_copy_replaces_only_an_empty_directory() {
        let dir = scratch("renameinto");
        let (copy, target) = (dir.join("copy"), dir.join("target"));
        fs::create_dir(&copy).unwrap();
        fs::write(copy.join("PG_VERSION"), "15\n").unwrap();
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), "x").unwrap();
        assert!(rename_into(&me(), soon(), &copy, &target).unwrap().is_err());
        assert!(target.join("keep").exists());
        fs::remove_file(target.join("keep")).unwrap();
        rename_into(&me(), soon(), &copy, &target).unwrap().unwrap();
        assert!(target.join("PG_VERSION").exists() && !copy.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_tail_of_a_file_is_its_last_bytes() {
        let dir = scratch("tail");
        let file = dir.join("log");
        fs::write(&file, "first\nsecond\n").unwrap();
        assert_eq!(read_tail(&me(), soon(), &file, 7).unwrap().unwrap(), b"second\n");
        assert_eq!(read_tail(&me(), soon(), &file, 100).unwrap().unwrap().len(), 13);
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_refused(read_tail(&me(), soon(), &link, 7), "is a symlink");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_timeout_says_the_file_system_did_not_answer() {
        let err = as_user(
            &me(),
            Deadline::after(Duration::from_millis(50)),
            Path::new("/x"),
            || {
                std::thread::sleep(Duration::from_secs(2));
                Ok(())
            },
        )
        .unwrap_err();
        assert!(err.reason.contains("did not answer"), "{}", err.reason);
    }
}
