// The system calls behind src/fs.ts, bunker's synchronous file layer (it says why node:fs is not
// on the run path). One entry point costs one bun:ffi binding, in a library run loads anyway. No
// policy: each op is one call relative to dirfd (listing and emptying a directory are loops of
// them), returning its result or -errno. Every fd is opened close-on-exec, as node's are.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h> // renameat
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// src/fs.ts's Op, in the same order
enum {
  FS_OPEN = 1,  // openat(dirfd, path, flags, n = mode)
  FS_CLOSE,     // close(dirfd)
  FS_READ,      // read(dirfd, buf, n)
  FS_WRITE,     // write(dirfd, buf, n)
  FS_STAT,      // fstatat(dirfd, path, flags) into buf: 13 doubles (see below)
  FS_MKDIR,     // mkdirat(dirfd, path, n = mode)
  FS_UNLINK,    // unlinkat(dirfd, path, flags)
  FS_RENAME,    // renameat(dirfd, path, dirfd, buf = new path)
  FS_LIST,      // the next entries of the directory open as dirfd into buf (see list_entries)
  FS_READLINK,  // readlinkat(dirfd, path, buf, n)
  FS_SYMLINK,   // symlinkat(buf = target, dirfd, path)
  FS_CHMOD,     // fchmodat(dirfd, path, n = mode)
  FS_UTIMES,    // utimensat(dirfd, path, buf = 2 doubles: atime, mtime in seconds, flags)
  FS_ACCESS,    // faccessat(dirfd, path, n = mode, flags)
  FS_CONSTANTS, // this architecture's values of the flags src/fs.ts uses, into buf (int32s)
  FS_EMPTY,     // removes everything in the directory open as dirfd (see empty_dir)
};

// struct linux_dirent64, as getdents64 fills it
struct kernel_dirent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

static int is_dot(const char *name) { return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)); }

// The next entries of the directory open as fd, "." and ".." left out, packed into buf as records
// of d_type (one byte), the name, NUL; returns the bytes used, 0 at the end. A packed record is
// never longer than the dirent64 it comes from, so they are packed in place.
static long list_entries(int fd, char *buf, int n) {
  for (;;) {
    long got = syscall(SYS_getdents64, fd, buf, (size_t)n);
    if (got <= 0) return got < 0 ? -errno : 0;
    long out = 0;
    for (long off = 0; off < got;) {
      struct kernel_dirent64 *d = (struct kernel_dirent64 *)(buf + off);
      unsigned short reclen = d->reclen;
      unsigned char type = d->type;
      if (!is_dot(d->name)) {
        size_t len = strlen(d->name);
        buf[out] = (char)type;
        memmove(buf + out + 1, d->name, len + 1);
        out += (long)len + 2;
      }
      off += reclen;
    }
    if (out > 0) return out;
  }
}

// Removes everything in the directory open as dirfd, depth first. A subdirectory is opened from
// its parent with O_NOFOLLOW, so a symlink (or one swapped in meanwhile) is removed, never
// followed. On failure, failed holds the path (relative to dirfd) that could not be removed.
// failed's size (cap) bounds the depth: each level adds at least two bytes to the path, so a tree
// deeper than cap/2 (a container's, say) ends in ENAMETOOLONG, at ~1 KB of stack per level, well
// inside the main thread's stack, and the caller's fallback (removeTree's helper) takes over.
static long empty_dir(int dirfd, char *failed, size_t used, size_t cap) {
  char buf[1024];
  int removed = 0; // since the last read from the start
  for (;;) {
    long got = syscall(SYS_getdents64, dirfd, buf, sizeof buf);
    if (got < 0) return -errno;
    if (got == 0) {
      if (!removed) break;
      // entries removed while the directory was read may have hidden others: read it again
      if (lseek(dirfd, 0, SEEK_SET) < 0) return -errno;
      removed = 0;
      continue;
    }
    for (long off = 0; off < got;) {
      struct kernel_dirent64 *d = (struct kernel_dirent64 *)(buf + off);
      off += d->reclen;
      if (is_dot(d->name)) continue;
      size_t len = strlen(d->name);
      if (used + len + 2 > cap) return -ENAMETOOLONG;
      if (used > 0) failed[used - 1] = '/';
      memcpy(failed + used, d->name, len + 1);
      int dir = d->type == DT_DIR;
      if (d->type == DT_UNKNOWN) {
        struct stat st;
        if (fstatat(dirfd, d->name, &st, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
        dir = S_ISDIR(st.st_mode);
      }
      if (dir) {
        int sub = openat(dirfd, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) return -errno;
        long rc = empty_dir(sub, failed, used + len + 1, cap);
        close(sub);
        if (rc < 0) return rc;
        failed[used + len] = 0;
      }
      if (unlinkat(dirfd, d->name, dir ? AT_REMOVEDIR : 0) < 0) return -errno;
      removed = 1;
    }
  }
  if (used > 0) failed[used - 1] = 0;
  return 0;
}

static long done(long rc) { return rc < 0 ? -errno : rc; }

static struct timespec timespec_of(double seconds) {
  struct timespec ts;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  if (ts.tv_nsec < 0) { // a time before 1970
    ts.tv_sec -= 1;
    ts.tv_nsec += 1000000000L;
  }
  return ts;
}

static double ms_of(struct timespec ts) { return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6; }

int bk_fs(int op, int dirfd, const char *path, void *buf, int n, int flags) {
  switch (op) {
  case FS_OPEN:
    return done(openat(dirfd, path, flags | O_CLOEXEC, (mode_t)n));
  case FS_CLOSE:
    return done(close(dirfd));
  case FS_READ:
    return done(read(dirfd, buf, (size_t)n));
  case FS_WRITE:
    return done(write(dirfd, buf, (size_t)n));
  case FS_STAT: {
    struct stat st;
    if (fstatat(dirfd, path, &st, flags) < 0) return -errno;
    double *out = buf;
    out[0] = (double)st.st_dev;
    out[1] = (double)st.st_ino;
    out[2] = (double)st.st_mode;
    out[3] = (double)st.st_nlink;
    out[4] = (double)st.st_uid;
    out[5] = (double)st.st_gid;
    out[6] = (double)st.st_rdev;
    out[7] = (double)st.st_size;
    out[8] = (double)st.st_blksize;
    out[9] = (double)st.st_blocks;
    out[10] = ms_of(st.st_atim);
    out[11] = ms_of(st.st_mtim);
    out[12] = ms_of(st.st_ctim);
    return 0;
  }
  case FS_MKDIR:
    return done(mkdirat(dirfd, path, (mode_t)n));
  case FS_UNLINK:
    return done(unlinkat(dirfd, path, flags));
  case FS_RENAME:
    return done(renameat(dirfd, path, dirfd, (const char *)buf));
  case FS_LIST:
    return list_entries(dirfd, buf, n);
  case FS_READLINK:
    return done(readlinkat(dirfd, path, buf, (size_t)n));
  case FS_SYMLINK:
    return done(symlinkat((const char *)buf, dirfd, path));
  case FS_CHMOD:
    return done(fchmodat(dirfd, path, (mode_t)n, 0));
  case FS_UTIMES: {
    const double *s = buf;
    struct timespec ts[2] = {timespec_of(s[0]), timespec_of(s[1])};
    return done(utimensat(dirfd, path, ts, flags));
  }
  case FS_ACCESS:
    return done(faccessat(dirfd, path, n, flags));
  case FS_CONSTANTS: {
    // src/fs.ts's CONSTANT_NAMES, in the same order
    const int32_t values[] = {O_RDONLY, O_WRONLY,   O_RDWR, O_CREAT, O_EXCL, O_TRUNC,  O_APPEND,     O_DIRECTORY, O_NOFOLLOW,
                              O_NONBLOCK, AT_FDCWD, AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, F_OK, R_OK, W_OK, X_OK};
    int32_t *out = buf;
    int count = (int)(sizeof values / sizeof values[0]);
    if (n < count) return -EINVAL;
    for (int i = 0; i < count; i++) out[i] = values[i];
    return count;
  }
  case FS_EMPTY:
    ((char *)buf)[0] = 0;
    return empty_dir(dirfd, buf, 0, (size_t)n);
  default:
    return -ENOSYS;
  }
}
