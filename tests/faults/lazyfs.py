#!/usr/bin/env python3
"""A FUSE file system that loses unsynced writes at a simulated crash,
for the fault campaign (the idea of Jepsen's LazyFS, written anew).

  lazyfs.py BACKING MOUNTPOINT

Every operation passes through to BACKING. A write or truncate that is not
yet durable is remembered with what it overwrote (an undo record); fsync
or fdatasync of the file makes everything written to it so far durable
(its records are dropped), and so does a write through a descriptor opened
with O_SYNC or O_DSYNC (as fdatasync after each write: the whole file's
data so far). The line "crash" on standard input is the crash: every undo record is applied, newest first,
so each file holds exactly what was synced, and "crashed: N writes undone"
is printed. Creations, renames and deletions count as durable at once
(a journaling file system makes them so; this does not test directory
fsync). The node using the mount must be killed (SIGKILL) before the
crash, as the page cache of a real machine would be gone with it.

Reads pass through (they see unsynced data, as with a page cache), so the
kernel is told not to cache: direct_io.
"""

import errno
import os
import sys
import threading

import mfusepy as fuse

SYNC_FLAGS = os.O_SYNC | os.O_DSYNC


def _rdwr(flags):
    """Backing descriptors are read-write (an undo record reads what a
    write overwrites) and not O_DIRECT (buffers here are not aligned)."""
    if flags & os.O_ACCMODE == os.O_RDONLY:
        return flags & ~os.O_DIRECT
    return (flags & ~(os.O_ACCMODE | os.O_DIRECT)) | os.O_RDWR


class LazyFS(fuse.Operations):
    use_ns = True

    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.mu = threading.Lock()
        self.undo = {}        # path -> [(offset, old bytes, old size)]
        self.sync_fh = set()  # descriptors opened O_SYNC/O_DSYNC
        self.fh_path = {}     # descriptor -> path (renames move records)

    def _p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    # ---- crash
    def crash(self):
        with self.mu:
            n = 0
            for path, recs in self.undo.items():
                print(f"crash: undo {len(recs)} writes to {path}", file=sys.stderr, flush=True)
                try:
                    fd = os.open(self._p(path), os.O_WRONLY)
                except FileNotFoundError:
                    continue
                try:
                    for off, old, size in reversed(recs):
                        if old:
                            os.pwrite(fd, old, off)
                        os.ftruncate(fd, size)
                        n += 1
                finally:
                    os.close(fd)
            self.undo.clear()
        print(f"crashed: {n} writes undone", flush=True)

    def _remember(self, path, fd, off, length):
        size = os.fstat(fd).st_size
        old = os.pread(fd, max(0, min(length, size - off)), off) if off < size else b""
        self.undo.setdefault(path, []).append((off, old, size))

    # ---- files
    def getattr(self, path, fh=None):
        st = os.lstat(self._p(path))
        return {k: getattr(st, k) for k in ("st_atime", "st_ctime", "st_gid", "st_mode",
                                             "st_mtime", "st_nlink", "st_size", "st_uid")}

    def access(self, path, mode):
        if not os.access(self._p(path), mode):
            raise fuse.FuseOSError(errno.EACCES)

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._p(path))

    def open(self, path, flags):
        fd = os.open(self._p(path), _rdwr(flags))
        with self.mu:
            self.fh_path[fd] = path
            if flags & SYNC_FLAGS:
                self.sync_fh.add(fd)
        return fd

    def create(self, path, mode, flags=0):
        fd = os.open(self._p(path), _rdwr(flags) | os.O_CREAT, mode)
        with self.mu:
            self.fh_path[fd] = path
            if flags & SYNC_FLAGS:
                self.sync_fh.add(fd)
        return fd

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        with self.mu:
            p = self.fh_path.get(fh, path)
            if fh not in self.sync_fh:
                self._remember(p, fh, offset, len(data))
                return os.pwrite(fh, data, offset)
            # O_SYNC/O_DSYNC: this write and everything written to the
            # file before it is durable once it returns, as fdatasync.
            n = os.pwrite(fh, data, offset)
            self.undo.pop(p, None)
            return n

    def truncate(self, path, length, fh=None):
        with self.mu:
            fd = fh if fh is not None else os.open(self._p(path), os.O_RDWR)
            try:
                size = os.fstat(fd).st_size
                if length != size:
                    self._remember(path, fd, length, max(0, size - length))
                os.ftruncate(fd, length)
            finally:
                if fh is None:
                    os.close(fd)

    def fallocate(self, path, mode, offset, length, fh):
        if mode:
            raise fuse.FuseOSError(errno.EOPNOTSUPP)
        with self.mu:
            size = os.fstat(fh).st_size
            if offset + length > size:
                self.undo.setdefault(self.fh_path.get(fh, path), []).append((size, b"", size))
            os.posix_fallocate(fh, offset, length)
        return 0

    def fsync(self, path, datasync, fh):
        with self.mu:
            self.undo.pop(self.fh_path.get(fh, path), None)
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        with self.mu:
            self.sync_fh.discard(fh)
            self.fh_path.pop(fh, None)
        os.close(fh)
        return 0

    # ---- names (durable at once)
    def unlink(self, path):
        with self.mu:
            self.undo.pop(path, None)
        os.unlink(self._p(path))

    def rename(self, old, new):
        with self.mu:
            os.rename(self._p(old), self._p(new))
            recs = self.undo.pop(old, None)
            self.undo.pop(new, None)
            if recs:
                self.undo[new] = recs
            for fd, p in list(self.fh_path.items()):
                if p == old:
                    self.fh_path[fd] = new

    def mkdir(self, path, mode):
        os.mkdir(self._p(path), mode)

    def rmdir(self, path):
        os.rmdir(self._p(path))

    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._p(path), uid, gid)

    def utimens(self, path, times=None):
        if times is None:
            os.utime(self._p(path))
        else:
            os.utime(self._p(path), ns=times)

    def link(self, target, source):
        os.link(self._p(source), self._p(target))

    def symlink(self, target, source):
        os.symlink(source, self._p(target))

    def readlink(self, path):
        return os.readlink(self._p(path))

    def statfs(self, path):
        st = os.statvfs(self._p(path))
        return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize",
                                             "f_favail", "f_ffree", "f_files", "f_flag",
                                             "f_frsize", "f_namemax")}


def _log_errors(cls):
    """LAZYFS_DEBUG=1: print every failing operation (errno) on stderr."""
    def wrap(name, fn):
        def op(self, *a):
            try:
                return fn(self, *a)
            except OSError as e:
                if name not in ("getattr", "access"):
                    print(f"{name}{a[:2]}: {e}", file=sys.stderr, flush=True)
                raise
        return op
    for name, fn in list(vars(cls).items()):
        if callable(fn) and not name.startswith("_") and name != "crash":
            setattr(cls, name, wrap(name, fn))
    return cls


if os.environ.get("LAZYFS_DEBUG"):
    _log_errors(LazyFS)


def main():
    backing, mnt = sys.argv[1], sys.argv[2]
    fs = LazyFS(backing)

    def control():  # one command a line on stdin: "crash"
        for line in sys.stdin:
            if line.strip() == "crash":
                fs.crash()

    threading.Thread(target=control, daemon=True).start()
    fuse.FUSE(fs, mnt, foreground=True, nothreads=False, direct_io=True)


if __name__ == "__main__":
    main()
