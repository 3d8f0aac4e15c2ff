// bunker-helper apply / rm: writes image layers and removes trees whose files belong to
// subordinate ids. Both run inside a user namespace of their own (the invoking user is 0 there,
// the subordinate range 1..N), so chown to image ids works and the user can delete what it
// unpacked. `apply` chroot()s into the layer's directory first: whatever a hostile layer holds
// (absolute symlinks, "..", links through symlinks), the kernel resolves every path inside it.
//
// The protocol (bunker's TypeScript side is src/userns/helper-process.ts and src/unpack/records.ts):
//  1. with --userns the helper unshares, writes 'U' on stdout, and waits for one byte on stdin
//     while the parent writes its uid/gid maps; without it (bunker runs as real root) it skips this.
//  2. apply: a stream of records on stdin: a 64-byte header (struct bk_rec), then path, link
//     target, xattrs ([u32 name_len][u32 value_len][name][value]...) and data_len bytes of data.
//  3. answers on stdout: struct bk_reply + path, one per failing entry and one BK_DONE at the end.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "apply.h"
#include "io.h"

enum { OP_DIR = 1, OP_FILE, OP_SYMLINK, OP_HARDLINK, OP_WHITEOUT, OP_OPAQUE, OP_FIFO, OP_TIMES, OP_END };
enum { REPLY_ERROR = 1, REPLY_WARN_XATTR = 2, REPLY_DONE = 3 };
// The step that failed, so the parent can say what went wrong (names in src/unpack/records.ts).
enum { ST_READ = 1, ST_MKDIR, ST_OPEN, ST_WRITE, ST_CHOWN, ST_CHMOD, ST_UTIMES, ST_SYMLINK, ST_LINK,
       ST_MKNOD, ST_XATTR, ST_REMOVE, ST_CHROOT, ST_UNSHARE, ST_PROTOCOL };

struct bk_rec {
  uint32_t op, mode, uid, gid;
  int64_t mtime_sec, atime_sec;
  uint32_t mtime_nsec, atime_nsec;
  uint32_t path_len, link_len, xattr_len, flags;
  uint64_t data_len;
};
_Static_assert(sizeof(struct bk_rec) == 64, "record header is 64 bytes");

struct bk_reply {
  uint32_t kind;
  int32_t err;
  uint32_t step, path_len;
};

#define PATH_MAX_BK 4096
#define XATTR_MAX_BK (256 * 1024)
static char path_buf[PATH_MAX_BK + 1];
static char link_buf[PATH_MAX_BK + 1];
static char xattr_buf[XATTR_MAX_BK];
static char data_buf[256 * 1024];

// Reads exactly len bytes; 0 on success, -EIO on a short stream.
static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

// stdin through a buffer: a layer is mostly small records, and a read() per field would
// cost more than writing the files.
static char in_buf[256 * 1024];
static size_t in_pos, in_len;

static int read_in(void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    if (in_pos == in_len) {
      // Large reads go straight into the caller's buffer.
      if (len >= sizeof in_buf) return read_all(0, p, len);
      ssize_t n = read(0, in_buf, sizeof in_buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        return -errno;
      }
      if (n == 0) return -EIO;
      in_pos = 0;
      in_len = (size_t)n;
    }
    size_t take = in_len - in_pos < len ? in_len - in_pos : len;
    memcpy(p, in_buf + in_pos, take);
    in_pos += take;
    p += take;
    len -= take;
  }
  return 0;
}

static void reply(uint32_t kind, int err, uint32_t step, const char *path) {
  struct bk_reply r = {kind, err, step, path ? (uint32_t)strlen(path) : 0};
  // If the parent went away there is nobody to tell; the next read of stdin ends us.
  if (write_all(1, &r, sizeof r) == 0 && r.path_len) (void)write_all(1, path, r.path_len);
}

// Unshares a user (and mount) namespace and waits until the parent has written our id maps.
int bk_enter_userns(void) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) return -errno;
  char c = 'U';
  int rc = write_all(1, &c, 1);
  if (rc < 0) return rc;
  rc = read_all(0, &c, 1);
  if (rc < 0) return rc;
  return c == 'G' ? 0 : -EPROTO;
}

// Removes name (relative to dirfd) and everything under it, never following a symlink.
int bk_remove_tree(int dirfd, const char *name) {
  if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return 0;
  if (errno != EISDIR && errno != EPERM) return -errno;
  // A directory, possibly with mode 000: we are its owner's root here, but make sure anyway.
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOTDIR) return unlinkat(dirfd, name, 0) == 0 ? 0 : -errno;
    return -errno;
  }
  (void)fchmod(fd, 0700);
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return -e;
  }
  int rc = 0;
  struct dirent *de;
  while (rc == 0 && (de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    rc = bk_remove_tree(fd, de->d_name);
  }
  closedir(d);
  if (rc < 0) return rc;
  return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -errno;
}

// The last directory make_parents saw complete: tars list a directory's entries together, so
// most entries need no mkdir at all. Forgotten whenever something is removed.
static char known_parent[PATH_MAX_BK + 1];
static size_t known_parent_len;

// Makes room for a new entry: an existing directory stays when a directory is wanted,
// anything else in the way is removed. Returns 1 when a directory already exists.
static int make_room(const char *path, int want_dir) {
  struct stat st;
  if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : -errno;
  if (S_ISDIR(st.st_mode) && want_dir) return 1;
  known_parent_len = (size_t)-1; // what goes now may be (or lead to) the cached parent
  if (S_ISDIR(st.st_mode)) return bk_remove_tree(AT_FDCWD, path);
  return unlinkat(AT_FDCWD, path, 0) == 0 ? 0 : -errno;
}

// Creates the missing parents of path (0755, owned by the namespace's root), as docker does for
// layers whose tar lacks directory entries.
static int make_parents(char *path) {
  char *last = strrchr(path, '/');
  if (!last) return 0;
  size_t plen = (size_t)(last - path);
  if (plen == known_parent_len && memcmp(path, known_parent, plen) == 0) return 0;
  for (char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
    if (p == path) continue;
    *p = '\0';
    int rc = mkdir(path, 0755);
    int e = errno;
    *p = '/';
    if (rc < 0 && e != EEXIST) return -e;
  }
  memcpy(known_parent, path, plen);
  known_parent_len = plen;
  return 0;
}

// Sets xattrs from the record on fd (or on path with l*xattr when fd < 0). Refusals the
// filesystem or the namespace impose (EPERM, ENOTSUP) are warnings; anything else is an error.
static int set_xattrs(int fd, const char *path, uint32_t len) {
  uint32_t off = 0;
  while (off + 8 <= len) {
    uint32_t nlen, vlen;
    memcpy(&nlen, xattr_buf + off, 4);
    memcpy(&vlen, xattr_buf + off + 4, 4);
    off += 8;
    if (nlen == 0 || nlen >= 256 || off + nlen + vlen > len) return -EPROTO;
    char name[256];
    memcpy(name, xattr_buf + off, nlen);
    name[nlen] = '\0';
    const char *value = xattr_buf + off + nlen;
    off += nlen + vlen;
    int rc = fd >= 0 ? fsetxattr(fd, name, value, vlen, 0) : lsetxattr(path, name, value, vlen, 0);
    if (rc < 0) {
      if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == EACCES)
        reply(REPLY_WARN_XATTR, errno, ST_XATTR, path);
      else
        return -errno;
    }
  }
  return 0;
}

static int set_times(int fd, const char *path, const struct bk_rec *r) {
  struct timespec ts[2] = {{r->atime_sec, r->atime_nsec}, {r->mtime_sec, r->mtime_nsec}};
  int rc = fd >= 0 ? futimens(fd, ts) : utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
  return rc < 0 ? -errno : 0;
}

// Owner, mode (after the owner: chown clears set-id bits), xattrs (after chown: it clears
// security.capability), then times, on an open fd.
static int finish_fd(int fd, const char *path, const struct bk_rec *r, uint32_t *step) {
  int rc;
  *step = ST_CHOWN;
  if (fchown(fd, r->uid, r->gid) < 0) return -errno;
  *step = ST_CHMOD;
  if (fchmod(fd, r->mode & 07777) < 0) return -errno;
  *step = ST_XATTR;
  if ((rc = set_xattrs(fd, path, r->xattr_len)) < 0) return rc;
  *step = ST_UTIMES;
  return set_times(fd, path, r);
}

// Copies data_len bytes from stdin into fd; with fd < 0 just consumes them to stay in step.
static int copy_data(int fd, uint64_t len, int *write_err) {
  while (len > 0) {
    size_t chunk = len < sizeof data_buf ? (size_t)len : sizeof data_buf;
    int rc = read_in(data_buf, chunk);
    if (rc < 0) return rc;
    if (fd >= 0 && *write_err == 0) *write_err = write_all(fd, data_buf, chunk);
    len -= chunk;
  }
  return 0;
}

// Applies one record. Returns 0, or -errno with *step set; the stream stays in step either way.
static int apply_one(const struct bk_rec *r, uint32_t *step) {
  char *path = path_buf;
  int rc, fd;
  if (r->op == OP_TIMES) {
    *step = ST_UTIMES;
    return set_times(-1, path, r);
  }
  *step = ST_MKDIR;
  if ((rc = make_parents(path)) < 0) return rc;
  *step = ST_REMOVE;
  switch (r->op) {
  case OP_DIR:
  case OP_OPAQUE:
    if ((rc = make_room(path, 1)) < 0) return rc;
    *step = ST_MKDIR;
    if (rc == 0 && mkdir(path, r->op == OP_DIR ? 0700 : 0755) < 0) return -errno;
    *step = ST_OPEN;
    if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) return -errno;
    if (r->op == OP_OPAQUE) {
      // overlayfs mounted with "userxattr" (the unprivileged way) reads user.overlay.*.
      *step = ST_XATTR;
      rc = fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0 ? -errno : 0;
    } else {
      rc = finish_fd(fd, path, r, step);
    }
    close(fd);
    return rc;
  case OP_FILE: {
    int write_err = 0;
    fd = -1;
    rc = make_room(path, 0);
    if (rc == 0) {
      *step = ST_OPEN;
      fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) rc = -errno;
    }
    int rrc = copy_data(fd, r->data_len, &write_err);
    if (rrc < 0) {
      if (fd >= 0) close(fd);
      *step = ST_READ;
      return rrc;
    }
    if (rc == 0 && write_err < 0) {
      *step = ST_WRITE;
      rc = write_err;
    }
    if (rc == 0) rc = finish_fd(fd, path, r, step);
    if (fd >= 0) close(fd);
    return rc;
  }
  case OP_SYMLINK:
  case OP_HARDLINK:
  case OP_WHITEOUT:
  case OP_FIFO:
    if ((rc = make_room(path, 0)) < 0) return rc;
    break;
  default:
    *step = ST_PROTOCOL;
    return -EPROTO;
  }
  switch (r->op) {
  case OP_HARDLINK:
    // linkat without AT_SYMLINK_FOLLOW links the target itself, never what a symlink names.
    *step = ST_LINK;
    return linkat(AT_FDCWD, link_buf, AT_FDCWD, path, 0) < 0 ? -errno : 0;
  case OP_WHITEOUT:
    // overlayfs' whiteout: a 0/0 character device, which an unprivileged user may create (5.8+).
    *step = ST_MKNOD;
    return mknod(path, S_IFCHR, makedev(0, 0)) < 0 ? -errno : 0;
  case OP_SYMLINK:
    *step = ST_SYMLINK;
    if (symlink(link_buf, path) < 0) return -errno;
    break;
  default: // OP_FIFO
    *step = ST_MKNOD;
    if (mknod(path, S_IFIFO | 0600, 0) < 0) return -errno;
    *step = ST_CHMOD;
    if (fchmodat(AT_FDCWD, path, r->mode & 07777, 0) < 0) return -errno;
    break;
  }
  *step = ST_CHOWN;
  if (fchownat(AT_FDCWD, path, r->uid, r->gid, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
  *step = ST_XATTR;
  if ((rc = set_xattrs(-1, path, r->xattr_len)) < 0) return rc;
  *step = ST_UTIMES;
  return set_times(-1, path, r);
}

static int read_record(struct bk_rec *r) {
  int rc = read_in(r, sizeof *r);
  if (rc < 0) return rc;
  if (r->path_len == 0 || r->path_len > PATH_MAX_BK || r->link_len > PATH_MAX_BK || r->xattr_len > XATTR_MAX_BK)
    return -EPROTO;
  if ((rc = read_in(path_buf, r->path_len)) < 0) return rc;
  path_buf[r->path_len] = '\0';
  if ((rc = read_in(link_buf, r->link_len)) < 0) return rc;
  link_buf[r->link_len] = '\0';
  return read_in(xattr_buf, r->xattr_len);
}

// Parses [--userns] TARGET and enters the namespace when asked.
static const char *setup(int argc, char **argv) {
  int userns = argc == 4 && strcmp(argv[2], "--userns") == 0;
  if (argc != 3 + userns) return NULL;
  if (userns) {
    int rc = bk_enter_userns();
    if (rc < 0) {
      reply(REPLY_ERROR, -rc, ST_UNSHARE, argv[3]);
      return NULL;
    }
  }
  return argv[2 + userns];
}

int bk_apply_main(int argc, char **argv) {
  const char *root = setup(argc, argv);
  if (!root) return 125;
  umask(0);
  if (chroot(root) < 0 || chdir("/") < 0) {
    reply(REPLY_ERROR, errno, ST_CHROOT, root);
    return 1;
  }
  for (;;) {
    struct bk_rec r;
    int rc = read_record(&r);
    if (rc < 0) {
      reply(REPLY_ERROR, -rc, rc == -EPROTO ? ST_PROTOCOL : ST_READ, NULL);
      return 1;
    }
    if (r.op == OP_END) break;
    uint32_t step = 0;
    rc = apply_one(&r, &step);
    if (rc < 0) {
      reply(REPLY_ERROR, -rc, step, path_buf);
      if (step == ST_READ || step == ST_PROTOCOL) return 1;
    }
  }
  reply(REPLY_DONE, 0, 0, NULL);
  return 0;
}

int bk_rm_main(int argc, char **argv) {
  const char *target = setup(argc, argv);
  if (!target) return 125;
  int rc = bk_remove_tree(AT_FDCWD, target);
  if (rc < 0) {
    reply(REPLY_ERROR, -rc, ST_REMOVE, target);
    return 1;
  }
  reply(REPLY_DONE, 0, 0, NULL);
  return 0;
}
