#!/usr/bin/python3
"""A passthrough FUSE file system that can be frozen: a hung mount for the
integration tests (tests/integration/hung_fs.rs).

    freezable_fs.py BACKING MOUNTPOINT FREEZE_FILE

mounts BACKING at MOUNTPOINT (as root: allow_other, default_permissions, so
the kernel checks every caller's rights against the backing files' owners
and modes) and forwards every request to BACKING. While FREEZE_FILE exists,
every request is taken from the kernel and left unanswered until the file is
removed: what a dead disk behind a queueing multipath device does, where a
process waiting on it cannot even be killed (the kernel waits
uninterruptibly for an answer it already asked for). The other hang, one
that SIGKILL ends (an NFS hard mount), is this process stopped with SIGSTOP:
requests then wait in the kernel's queue, and a fatal signal withdraws them.

Killing this process is the last resort that always works: the kernel then
aborts the connection and every waiting request fails (ENOTCONN).

Files are created as root and handed to the caller (fchown to the request's
uid and gid), as the caller would have made them. FLUSH answers ENOSYS, so
that the kernel stops sending it: a process that exits while the mount is
frozen is not held by its close() of a file there. Attributes and names are
never cached (timeouts 0), so that a frozen mount is felt at the next lookup.
"""

import errno
import os
import stat
import sys
import time

import llfuse
from llfuse import FUSEError


def answered(op):
    """An OSError of the backing file system becomes the caller's errno
    (anything else would end llfuse's main loop and unmount)."""

    def wrapper(self, *args):
        self.gate()
        try:
            return op(self, *args)
        except OSError as e:
            raise FUSEError(e.errno or errno.EIO) from None

    wrapper.__name__ = op.__name__
    return wrapper


class Passthrough(llfuse.Operations):
    def __init__(self, backing, freeze_file):
        super().__init__()
        self.freeze_file = freeze_file
        self.paths = {llfuse.ROOT_INODE: backing}
        self.root_ino = os.lstat(backing).st_ino
        self.listings = {}
        self.next_listing = 1

    def gate(self):
        """Holds the request while the freeze file exists (the global lock
        released, so that every other request comes in and is held too)."""
        if not os.path.exists(self.freeze_file):
            return
        with llfuse.lock_released:
            while os.path.exists(self.freeze_file):
                time.sleep(0.05)

    # ---------------------------------------------------------- inodes

    def inode_of(self, st):
        return llfuse.ROOT_INODE if st.st_ino == self.root_ino else st.st_ino + 1

    def path(self, inode):
        try:
            return self.paths[inode]
        except KeyError:
            raise FUSEError(errno.ESTALE) from None

    def child(self, parent, name):
        return os.path.join(self.path(parent), os.fsdecode(name))

    def attributes(self, path, st=None):
        st = st or os.lstat(path)
        inode = self.inode_of(st)
        self.paths[inode] = path
        attr = llfuse.EntryAttributes()
        attr.st_ino = inode
        for field in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_rdev", "st_size",
                      "st_blksize", "st_blocks", "st_atime_ns", "st_mtime_ns", "st_ctime_ns"):
            setattr(attr, field, getattr(st, field))
        attr.generation = 0
        attr.entry_timeout = 0
        attr.attr_timeout = 0
        return attr

    def handed_over(self, path, ctx):
        os.lchown(path, ctx.uid, ctx.gid)
        return self.attributes(path)

    # ---------------------------------------------------------- metadata

    @answered
    def lookup(self, parent, name, ctx):
        return self.attributes(self.child(parent, name))

    @answered
    def getattr(self, inode, ctx):
        return self.attributes(self.path(inode))

    @answered
    def setattr(self, inode, attr, fields, fh, ctx):
        path = self.path(inode)
        if fields.update_size:
            if fh is not None:
                os.ftruncate(fh, attr.st_size)
            else:
                os.truncate(path, attr.st_size)
        if fields.update_mode:
            os.chmod(path, stat.S_IMODE(attr.st_mode))
        if fields.update_uid or fields.update_gid:
            os.lchown(path, attr.st_uid if fields.update_uid else -1,
                      attr.st_gid if fields.update_gid else -1)
        if fields.update_atime or fields.update_mtime:
            st = os.lstat(path)
            os.utime(path, ns=(attr.st_atime_ns if fields.update_atime else st.st_atime_ns,
                               attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns),
                     follow_symlinks=False)
        return self.attributes(path)

    @answered
    def readlink(self, inode, ctx):
        return os.fsencode(os.readlink(self.path(inode)))

    @answered
    def access(self, inode, mode, ctx):
        return True

    @answered
    def statfs(self, ctx):
        st = os.statvfs(self.paths[llfuse.ROOT_INODE])
        data = llfuse.StatvfsData()
        for field in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files",
                      "f_ffree", "f_favail", "f_namemax"):
            setattr(data, field, getattr(st, field))
        return data

    # ---------------------------------------------------------- names

    @answered
    def mkdir(self, parent, name, mode, ctx):
        path = self.child(parent, name)
        os.mkdir(path, mode)
        return self.handed_over(path, ctx)

    @answered
    def symlink(self, parent, name, target, ctx):
        path = self.child(parent, name)
        os.symlink(os.fsdecode(target), path)
        return self.handed_over(path, ctx)

    @answered
    def link(self, inode, new_parent, new_name, ctx):
        path = self.child(new_parent, new_name)
        os.link(self.path(inode), path, follow_symlinks=False)
        return self.attributes(path)

    @answered
    def unlink(self, parent, name, ctx):
        os.unlink(self.child(parent, name))

    @answered
    def rmdir(self, parent, name, ctx):
        os.rmdir(self.child(parent, name))

    @answered
    def rename(self, old_parent, old_name, new_parent, new_name, ctx):
        old, new = self.child(old_parent, old_name), self.child(new_parent, new_name)
        os.rename(old, new)
        # The inodes below a renamed directory keep their numbers, not
        # their paths.
        prefix = old + os.sep
        for inode, path in list(self.paths.items()):
            if path == old:
                self.paths[inode] = new
            elif path.startswith(prefix):
                self.paths[inode] = new + path[len(old):]

    # ---------------------------------------------------------- files

    @answered
    def open(self, inode, flags, ctx):
        return os.open(self.path(inode), flags & ~(os.O_CREAT | os.O_EXCL) | os.O_NOFOLLOW)

    @answered
    def create(self, parent, name, mode, flags, ctx):
        path = self.child(parent, name)
        fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW, stat.S_IMODE(mode))
        os.fchown(fd, ctx.uid, ctx.gid)
        return fd, self.attributes(path, os.fstat(fd))

    @answered
    def read(self, fh, off, size):
        return os.pread(fh, size, off)

    @answered
    def write(self, fh, off, buf):
        return os.pwrite(fh, buf, off)

    def flush(self, fh):
        raise FUSEError(errno.ENOSYS)

    @answered
    def fsync(self, fh, datasync):
        (os.fdatasync if datasync else os.fsync)(fh)

    def release(self, fh):
        os.close(fh)

    # ---------------------------------------------------------- directories

    @answered
    def opendir(self, inode, ctx):
        path = self.path(inode)
        entries = []
        for name in sorted(os.listdir(path)):
            try:
                entries.append((os.fsencode(name), self.attributes(os.path.join(path, name))))
            except OSError:
                pass  # gone since
        handle = self.next_listing
        self.next_listing += 1
        self.listings[handle] = entries
        return handle

    @answered
    def readdir(self, fh, off):
        entries = self.listings.get(fh, [])
        return [(name, attr, i + 1) for i, (name, attr) in enumerate(entries) if i >= off]

    def releasedir(self, fh):
        self.listings.pop(fh, None)

    @answered
    def fsyncdir(self, fh, datasync):
        pass


def main():
    backing, mountpoint, freeze_file = sys.argv[1:4]
    os.umask(0)
    options = set(llfuse.default_options) | {"allow_other", "fsname=freezable", "subtype=freezable"}
    llfuse.init(Passthrough(os.path.abspath(backing), freeze_file), mountpoint, options)
    try:
        llfuse.main(workers=8)
    finally:
        llfuse.close(unmount=True)


if __name__ == "__main__":
    main()
