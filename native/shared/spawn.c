// The spawn-program interpreter (see spawn.h). The cloned child runs only this C until execve:
// raw syscalls (sc() below), no malloc, no stdio, because the parent may be multithreaded (Bun) and
// other threads may hold libc's locks. It calls no libc function at all: bk_spawn_vm's child shares
// the parent's memory (CLONE_VM) and its thread pointer, so a libc wrapper would write the parent
// thread's errno (and a lazily bound symbol would run the dynamic linker on the parent's TLS).
// Ids are changed with raw syscalls too: glibc's setresuid() would signal the parent's threads.
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// Kernel ABI bits declared here so that the file builds with musl-gcc, which has no linux/ headers.
#include "sysnr.h"
#define BK_CLONE_INTO_CGROUP 0x200000000ULL
#define BK_RESOLVE_NO_MAGICLINKS 0x02
#define BK_RESOLVE_IN_ROOT 0x10
#define BK_MOUNT_ATTR_RDONLY 0x1
#define BK_AT_RECURSIVE 0x8000
#define BK_CLOSE_RANGE_CLOEXEC 4
#define BK_PR_CAP_AMBIENT 47
#define BK_PR_CAP_AMBIENT_RAISE 2
#define BK_PR_CAP_AMBIENT_CLEAR_ALL 4
#define BK_CAP_V3 0x20080522
#define BK_SECCOMP_MODE_FILTER 2

struct bk_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
struct bk_open_how {
  uint64_t flags, mode, resolve;
};
struct bk_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};
struct bk_cap_header {
  uint32_t version;
  int pid;
};
struct bk_cap_data {
  uint32_t effective, permitted, inheritable;
};
struct bk_sock_fprog {
  unsigned short len;
  const void *filter;
};
struct bk_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

// ---- raw syscalls: the kernel's return value, -errno on failure; errno is never touched ----
#if defined(__x86_64__)
#define BK_HAVE_CLONE_VM 1
static inline long sc6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}
#else
// Elsewhere libc's syscall() (which sets errno) is used, and bk_spawn_vm copies memory as bk_spawn.
static inline long sc6(long n, long a, long b, long c, long d, long e, long f) {
  long r = syscall(n, a, b, c, d, e, f);
  return r < 0 ? -errno : r;
}
#endif
#define SC0(n) sc6((n), 0, 0, 0, 0, 0, 0)
#define SC1(n, a) sc6((n), (long)(a), 0, 0, 0, 0, 0)
#define SC2(n, a, b) sc6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define SC3(n, a, b, c) sc6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SC4(n, a, b, c, d) sc6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SC5(n, a, b, c, d, e) sc6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

static void __attribute__((noreturn)) sc_exit(int code) {
  for (;;) (void)SC1(SYS_exit_group, code);
}

// The string functions the child needs, so that it calls nothing in libc. The loops must stay
// loops: GCC would otherwise turn them back into calls to memcpy/strlen.
#if defined(__GNUC__) && !defined(__clang__)
#define BK_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define BK_NO_LIBCALLS
#endif
static BK_NO_LIBCALLS size_t c_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
static BK_NO_LIBCALLS void c_memcpy(void *dst, const void *src, size_t n) {
  volatile uint8_t *d = dst;
  const uint8_t *p = src;
  for (size_t i = 0; i < n; i++) d[i] = p[i];
}
static BK_NO_LIBCALLS void c_memzero(void *dst, size_t n) {
  volatile uint8_t *d = dst;
  for (size_t i = 0; i < n; i++) d[i] = 0;
}
static const char *c_strchr(const char *s, char c) {
  for (; *s; s++)
    if (*s == c) return s;
  return NULL;
}
static char *c_strrchr(char *s, char c) {
  char *last = NULL;
  for (; *s; s++)
    if (*s == c) last = s;
  return last;
}

struct bk_step {
  uint32_t op, size, nint, nstr;
  const int64_t *ints;
  const uint8_t *strs; // first string record
};

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int32_t rdi32(const uint8_t *p) { return (int32_t)rd32(p); }

// Parses the step at off; returns 0, or -EINVAL when it doesn't fit in len or a string is bad.
static int parse_step(const uint8_t *prog, uint32_t len, uint32_t off, struct bk_step *s) {
  if (off + 16 > len || off % 8 != 0) return -EINVAL;
  s->op = rd32(prog + off);
  s->size = rd32(prog + off + 4);
  s->nint = rd32(prog + off + 8);
  s->nstr = rd32(prog + off + 12);
  if (s->size < 16 || s->size % 8 != 0 || s->size > len - off) return -EINVAL;
  if (s->nint > (s->size - 16) / 8) return -EINVAL;
  s->ints = (const int64_t *)(prog + off + 16);
  s->strs = prog + off + 16 + 8 * s->nint;
  const uint8_t *p = s->strs, *end = prog + off + s->size;
  for (uint32_t i = 0; i < s->nstr; i++) {
    if (p + 4 > end) return -EINVAL;
    uint32_t n = rd32(p);
    if (n > (uint32_t)(end - p) - 5 || p[4 + n] != 0) return -EINVAL;
    p += (4 + n + 1 + 3) & ~3u;
  }
  return 0;
}

// The k-th string of a step (validated by parse_step); NULL for an empty string where optional.
static const char *str_at(const struct bk_step *s, uint32_t k, uint32_t *lenp) {
  const uint8_t *p = s->strs;
  for (uint32_t i = 0; i < k; i++) p += (4 + rd32(p) + 1 + 3) & ~3u;
  if (lenp) *lenp = rd32(p);
  return (const char *)(p + 4);
}

static const char *opt_str(const struct bk_step *s, uint32_t k) {
  const char *v = str_at(s, k, NULL);
  return *v ? v : NULL;
}

static int64_t int_at(const struct bk_step *s, uint32_t k) { return k < s->nint ? s->ints[k] : 0; }

// ---- the child ----

// The child's own state, on its stack: with CLONE_VM a static would be the parent's memory.
struct bk_child {
  int root_fd; // "in root" paths resolve under this directory (set_root / pivot_root)
};

static int open_in_root(struct bk_child *c, const char *path, int flags) {
  struct bk_open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0, .resolve = BK_RESOLVE_IN_ROOT | BK_RESOLVE_NO_MAGICLINKS};
  return (int)SC4(SYS_openat2, c->root_fd, path, &how, sizeof how);
}

static int open_path(struct bk_child *c, const char *path, int in_root, int flags) {
  if (in_root && c->root_fd >= 0) return open_in_root(c, path, flags);
  return (int)SC4(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0);
}

// "/proc/self/fd/N": how a resolved O_PATH fd is named to mount(), which takes only paths.
static const char *fd_path(int fd, char buf[32]) {
  static const char prefix[] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  unsigned v = (unsigned)fd;
  do digits[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  c_memcpy(buf, prefix, sizeof prefix - 1);
  int i = sizeof prefix - 1;
  while (n) buf[i++] = digits[--n];
  buf[i] = 0;
  return buf;
}

// mkdir -p, every prefix resolved inside the root so that a symlink in the image can't send it out.
static int mkdir_p(struct bk_child *c, const char *path, int in_root, mode_t mode) {
  char buf[4096];
  size_t n = c_strlen(path);
  if (n == 0 || n >= sizeof buf) return -ENAMETOOLONG;
  c_memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    if (buf[i - 1] == '/') continue;
    char saved = buf[i];
    buf[i] = 0;
    int fd = open_path(c, buf, in_root, O_PATH | O_DIRECTORY);
    if (fd == -ENOENT) {
      // Create the last component inside its (resolved) parent.
      char *slash = c_strrchr(buf, '/');
      int parent;
      if (slash == buf) parent = open_path(c, "/", in_root, O_PATH | O_DIRECTORY);
      else if (slash) {
        *slash = 0;
        parent = open_path(c, buf, in_root, O_PATH | O_DIRECTORY);
        *slash = '/';
      } else parent = open_path(c, ".", 0, O_PATH | O_DIRECTORY);
      if (parent < 0) return parent;
      int rc = (int)SC3(SYS_mkdirat, parent, slash ? slash + 1 : buf, mode);
      (void)SC1(SYS_close, parent);
      if (rc < 0 && rc != -EEXIST) return rc;
      fd = open_path(c, buf, in_root, O_PATH | O_DIRECTORY);
    }
    if (fd < 0) return fd;
    (void)SC1(SYS_close, fd);
    buf[i] = saved;
  }
  return 0;
}

// Opens the directory that holds path (made first with mkdirs), resolved in root when in_root; its
// last name is left in *name (inside buf). The fd, or -errno.
static int open_parent(struct bk_child *c, const char *path, int in_root, int mkdirs, char buf[4096], const char **name) {
  size_t n = c_strlen(path);
  if (n == 0 || n >= 4096) return -ENAMETOOLONG;
  c_memcpy(buf, path, n + 1);
  char *slash = c_strrchr(buf, '/');
  if (!slash || !slash[1]) return -EINVAL;
  *slash = 0;
  *name = slash + 1;
  const char *dir = slash == buf ? "/" : buf;
  if (mkdirs) {
    int rc = mkdir_p(c, dir, in_root, 0755);
    if (rc < 0) return rc;
  }
  return open_path(c, dir, in_root, O_PATH | O_DIRECTORY);
}

// Creates an empty file (a bind-mount target) if nothing is there; the parent is resolved in root.
static int touch(struct bk_child *c, const char *path, int in_root) {
  char buf[4096];
  const char *name;
  int parent = open_parent(c, path, in_root, 1, buf, &name);
  if (parent < 0) return parent;
  // Looked up first: an open for writing would copy an image's file up into the container's layer
  // (overlayfs) just to mount over it.
  int fd = (int)SC4(SYS_openat, parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd == -ENOENT) fd = (int)SC4(SYS_openat, parent, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
  (void)SC1(SYS_close, parent);
  if (fd >= 0) (void)SC1(SYS_close, fd);
  else if (fd != -EEXIST && fd != -ELOOP && fd != -EISDIR && fd != -ENXIO && fd != -EACCES) return fd;
  return 0;
}

static int op_mount(struct bk_child *c, const struct bk_step *s) {
  unsigned long flags = (unsigned long)int_at(s, 0);
  int src_in_root = (int)int_at(s, 1), tgt_in_root = (int)int_at(s, 2);
  int create = (int)int_at(s, 3), optional = (int)int_at(s, 4);
  const char *src = opt_str(s, 0), *tgt = str_at(s, 1, NULL), *fstype = opt_str(s, 2), *data = opt_str(s, 3);
  int rc = 0, sfd = -1, tfd = -1;
  char sbuf[32], tbuf[32];
  if (create == 1) rc = mkdir_p(c, tgt, tgt_in_root, 0755);
  else if (create == 2) rc = touch(c, tgt, tgt_in_root);
  if (rc < 0) goto out;
  tfd = open_path(c, tgt, tgt_in_root, O_PATH);
  if (tfd < 0) {
    rc = tfd;
    goto out;
  }
  if (src && src_in_root) {
    sfd = open_path(c, src, 1, O_PATH);
    if (sfd < 0) {
      rc = sfd;
      goto out;
    }
    src = fd_path(sfd, sbuf);
  }
  rc = (int)SC5(SYS_mount, src, fd_path(tfd, tbuf), fstype, flags, data);
  if (rc > 0) rc = 0;
out:
  if (sfd >= 0) (void)SC1(SYS_close, sfd);
  if (tfd >= 0) (void)SC1(SYS_close, tfd);
  if ((rc == -ENOENT && optional) || optional == 2) return 0;
  return rc;
}

static int step_rc(long rc) { return rc < 0 ? (int)rc : 0; }

// Creates a file that must not exist yet with the given content and mode (the container's
// /etc/hosts and the like, in a tmpfs the steps just mounted); the parent is resolved in root.
static int op_write_file(struct bk_child *c, const struct bk_step *s) {
  uint32_t n;
  const char *path = str_at(s, 0, NULL), *content = str_at(s, 1, &n);
  char buf[4096];
  const char *name;
  int parent = open_parent(c, path, (int)int_at(s, 1), 0, buf, &name);
  if (parent < 0) return parent;
  int fd = (int)SC4(SYS_openat, parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  (void)SC1(SYS_close, parent);
  if (fd < 0) return fd;
  long rc = 0;
  for (uint32_t done = 0; done < n && rc >= 0; done += (uint32_t)rc) {
    do rc = SC3(SYS_write, fd, content + done, n - done);
    while (rc == -EINTR);
    if (rc == 0) rc = -EIO;
  }
  // the mode as asked, whatever the umask bunker was started with
  if (rc >= 0) rc = SC2(SYS_fchmod, fd, (mode_t)int_at(s, 0));
  (void)SC1(SYS_close, fd);
  return rc < 0 ? (int)rc : 0;
}

// Writes content into a file that exists already: a sysctl under /proc/sys, which op_write_file's
// O_CREAT|O_EXCL can't open. Nothing is created or truncated, so a mistaken path can neither make
// a file nor clobber one, and a symlink as the last component is refused. Signals are still all
// blocked here (until the reset-signals step): no write or close returns EINTR.
static int op_write_existing(struct bk_child *c, const struct bk_step *s) {
  uint32_t n;
  const char *path = str_at(s, 0, NULL), *content = str_at(s, 1, &n);
  int fd = open_path(c, path, (int)int_at(s, 0), O_WRONLY | O_NOFOLLOW);
  if (fd < 0) return fd;
  long rc = 0;
  uint32_t done = 0;
  // A sysctl takes its value from one write(2); the loop only matters for a short write.
  while (done < n) {
    rc = SC3(SYS_write, fd, content + done, n - done);
    if (rc == 0) rc = -EIO;
    if (rc < 0) break;
    done += (uint32_t)rc;
  }
  long closed = SC1(SYS_close, fd);
  if (rc < 0) return (int)rc;
  return closed < 0 ? (int)closed : 0;
}

static int op_umount(struct bk_child *c, const struct bk_step *s) {
  char buf[32];
  int fd = open_path(c, str_at(s, 0, NULL), (int)int_at(s, 1), O_PATH);
  if (fd < 0) return fd;
  long rc = SC2(SYS_umount2, fd_path(fd, buf), (int)int_at(s, 0));
  (void)SC1(SYS_close, fd);
  return step_rc(rc);
}

static int op_setattr_ro(struct bk_child *c, const struct bk_step *s) {
  int recursive = (int)int_at(s, 0), in_root = (int)int_at(s, 1), optional = (int)int_at(s, 2);
  int fd = open_path(c, str_at(s, 0, NULL), in_root, O_PATH);
  if (fd < 0) return (fd == -ENOENT && optional) || optional == 2 ? 0 : fd;
  struct bk_mount_attr attr = {.attr_set = BK_MOUNT_ATTR_RDONLY};
  long rc = SC5(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? BK_AT_RECURSIVE : 0), &attr, sizeof attr);
  (void)SC1(SYS_close, fd);
  return rc == 0 || optional == 2 ? 0 : (int)rc;
}

static int op_symlink(struct bk_child *c, const struct bk_step *s) {
  char buf[4096];
  const char *name;
  int parent = open_parent(c, str_at(s, 1, NULL), (int)int_at(s, 0), 0, buf, &name);
  if (parent < 0) return parent;
  int rc = (int)SC3(SYS_symlinkat, str_at(s, 0, NULL), parent, name);
  (void)SC1(SYS_close, parent);
  return rc == 0 || rc == -EEXIST ? 0 : rc;
}

static int op_pivot_root(struct bk_child *c, const struct bk_step *s) {
  long rc;
  if ((rc = SC1(SYS_chdir, str_at(s, 0, NULL))) < 0) return (int)rc;
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves no path
  // to the host's tree, and needs no directory inside the container.
  if ((rc = SC2(SYS_pivot_root, ".", ".")) < 0) return (int)rc;
  if ((rc = SC2(SYS_umount2, ".", MNT_DETACH)) < 0) return (int)rc;
  if ((rc = SC1(SYS_chdir, "/")) < 0) return (int)rc;
  if (c->root_fd >= 0) (void)SC1(SYS_close, c->root_fd);
  c->root_fd = (int)SC4(SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  return c->root_fd < 0 ? c->root_fd : 0;
}

static int op_setid(const struct bk_step *s) {
  int64_t ngroups = int_at(s, 2);
  long rc;
  if (ngroups >= 0) {
    gid_t groups[256];
    if (ngroups > 256 || (uint64_t)ngroups > s->nint - 3) return -E2BIG;
    for (int64_t i = 0; i < ngroups; i++) groups[i] = (gid_t)s->ints[3 + i];
    if ((rc = SC2(SYS_setgroups, (size_t)ngroups, groups)) < 0) return (int)rc;
  }
  gid_t gid = (gid_t)int_at(s, 1);
  uid_t uid = (uid_t)int_at(s, 0);
  if ((rc = SC3(SYS_setresgid, gid, gid, gid)) < 0) return (int)rc;
  if ((rc = SC3(SYS_setresuid, uid, uid, uid)) < 0) return (int)rc;
  return 0;
}

static int op_capbset(const struct bk_step *s) {
  uint64_t keep = (uint64_t)int_at(s, 0);
  for (int cap = 0; cap < 64; cap++) {
    if (keep & (1ULL << cap)) continue;
    long rc = SC2(SYS_prctl, PR_CAPBSET_DROP, cap);
    if (rc == -EINVAL) break; // past the kernel's last capability
    if (rc < 0) return (int)rc;
  }
  return 0;
}

static int op_capset(const struct bk_step *s) {
  uint64_t eff = (uint64_t)int_at(s, 0), perm = (uint64_t)int_at(s, 1), inh = (uint64_t)int_at(s, 2), amb = (uint64_t)int_at(s, 3);
  struct bk_cap_header h = {BK_CAP_V3, 0};
  struct bk_cap_data d[2] = {{(uint32_t)eff, (uint32_t)perm, (uint32_t)inh}, {(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)}};
  long rc;
  if ((rc = SC2(SYS_capset, &h, d)) < 0) return (int)rc;
  if ((rc = SC2(SYS_prctl, BK_PR_CAP_AMBIENT, BK_PR_CAP_AMBIENT_CLEAR_ALL)) < 0 && rc != -EINVAL) return (int)rc;
  for (int cap = 0; cap < 64; cap++)
    if ((amb & (1ULL << cap)) && (rc = SC3(SYS_prctl, BK_PR_CAP_AMBIENT, BK_PR_CAP_AMBIENT_RAISE, cap)) < 0) return (int)rc;
  return 0;
}

static int op_reset_signals(void) {
  struct bk_sigaction dfl;
  c_memzero(&dfl, sizeof dfl);
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    (void)SC4(SYS_rt_sigaction, sig, &dfl, NULL, 8); // some numbers can't be changed: fine
  }
  uint64_t none = 0;
  return (int)SC4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
}

static int c_dup2(int from, int to) {
#ifdef SYS_dup2
  return (int)SC2(SYS_dup2, from, to);
#else
  return from == to ? (int)SC2(SYS_fcntl, from, F_GETFD) : (int)SC3(SYS_dup3, from, to, 0);
#endif
}

static int op_stdio(const struct bk_step *s) {
  long rc;
  if (int_at(s, 3) && (rc = SC0(SYS_setsid)) < 0) return (int)rc;
  for (int i = 0; i < 3; i++) {
    int fd = (int)int_at(s, (uint32_t)i);
    if (fd < 0) continue;
    if (fd != i && (rc = c_dup2(fd, i)) < 0) return (int)rc;
    if (fd == i && (rc = SC3(SYS_fcntl, i, F_SETFD, 0)) < 0) return (int)rc;
  }
  if (int_at(s, 4) && (rc = SC3(SYS_ioctl, 0, TIOCSCTTY, 0)) < 0) return (int)rc;
  if (int_at(s, 5))
    for (int i = 0; i < 3; i++) {
      long fl = SC2(SYS_fcntl, i, F_GETFL);
      if (fl >= 0 && (fl & O_NONBLOCK)) (void)SC3(SYS_fcntl, i, F_SETFL, fl & ~O_NONBLOCK);
    }
  return 0;
}

// A pty from the container's own devpts instance (as crun makes it): its slave has a name inside
// (tty, ttyname), which a pty of the host's devpts would not. The slave becomes 0-2 and the
// controlling terminal of a new session; the master goes to the parent over a unix socket.
static int send_fd(int sock, int fd) {
  char byte = 0;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  c_memzero(&ctl, sizeof ctl);
  struct msghdr msg;
  c_memzero(&msg, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof ctl.buf;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  c_memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  long n;
  do n = SC3(SYS_sendmsg, sock, &msg, MSG_NOSIGNAL);
  while (n == -EINTR);
  return n == 1 ? 0 : n < 0 ? (int)n : -EIO;
}

// The parent's side of send_fd (bunker through bun:ffi, or the monitor); see spawn.h.
int bk_recv_fd(int sock) {
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (n == 0 || !c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
    // a truncated message could still carry fds: close any so none leaks
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      close(fd);
    }
    return -EPIPE;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static int op_pty(struct bk_child *c, const struct bk_step *s) {
  int sock = (int)int_at(s, 0);
  struct winsize ws = {.ws_row = (unsigned short)int_at(s, 1), .ws_col = (unsigned short)int_at(s, 2)};
  int master = open_path(c, "/dev/ptmx", 1, O_RDWR | O_NOCTTY), slave = -1, rc = 0;
  if (master < 0) return master;
  if (master < 3) {
    // A closed stdio slot was reused: the dup2s below would close the master.
    int moved = (int)SC3(SYS_fcntl, master, F_DUPFD_CLOEXEC, 3);
    (void)SC1(SYS_close, master);
    if (moved < 0) return moved;
    master = moved;
  }
  int unlock = 0;
  unsigned num;
  char path[32], digits[12];
  if ((rc = (int)SC3(SYS_ioctl, master, TIOCSPTLCK, &unlock)) < 0 || (rc = (int)SC3(SYS_ioctl, master, TIOCGPTN, &num)) < 0) goto out;
  // "/dev/pts/N", without snprintf
  static const char prefix[] = "/dev/pts/";
  int d = 0, i = sizeof prefix - 1;
  do digits[d++] = (char)('0' + num % 10), num /= 10;
  while (num);
  c_memcpy(path, prefix, sizeof prefix - 1);
  while (d) path[i++] = digits[--d];
  path[i] = 0;
  slave = open_path(c, path, 1, O_RDWR | O_NOCTTY);
  if (slave < 0) {
    rc = slave;
    goto out;
  }
  if ((rc = (int)SC0(SYS_setsid)) < 0 || (rc = (int)SC3(SYS_ioctl, slave, TIOCSCTTY, 0)) < 0 ||
      (ws.ws_row && ws.ws_col && (rc = (int)SC3(SYS_ioctl, slave, TIOCSWINSZ, &ws)) < 0))
    goto out;
  for (int fd = 0; fd < 3; fd++)
    if ((rc = c_dup2(slave, fd)) < 0) goto out;
  rc = send_fd(sock, master);
out:
  if (slave > 2) (void)SC1(SYS_close, slave);
  (void)SC1(SYS_close, master);
  (void)SC1(SYS_close, sock);
  return rc < 0 ? rc : 0;
}

// execve with the container's PATH searched here, so that "not found" (127) and "cannot execute"
// (126) can be told apart exactly, as docker does.
static int op_exec(const struct bk_step *s) {
  int64_t argc = int_at(s, 0), envc = int_at(s, 1);
  int exec_fd = (int)int_at(s, 2);
  if (argc < 1 || envc < 0 || (uint64_t)(1 + argc + envc) > s->nstr) return -EINVAL;
  size_t bytes = (size_t)(argc + envc + 2) * sizeof(char *);
  // Under bk_spawn_vm this mapping is the parent's memory too: a page or two it keeps.
  long map = sc6(SYS_mmap, 0, (long)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map < 0 && map > -4096) return (int)map;
  char **argv = (char **)map;
  char **envp = argv + argc + 1;
  // One pass over the string records (str_at per string would be quadratic).
  const uint8_t *p = s->strs;
  const char *path = (const char *)(p + 4);
  p += (4 + rd32(p) + 1 + 3) & ~3u;
  for (int64_t i = 0; i < argc + envc; i++) {
    char *v = (char *)(p + 4);
    if (i < argc) argv[i] = v;
    else envp[i - argc] = v;
    p += (4 + rd32(p) + 1 + 3) & ~3u;
  }
  argv[argc] = NULL;
  envp[envc] = NULL;
  // Everything but stdio closes at execve; the error pipe with it, which tells the parent we made it.
  long rc = SC3(SYS_close_range, 3, ~0U, BK_CLOSE_RANGE_CLOEXEC);
  if (rc < 0) return (int)rc;
  if (exec_fd >= 0) return (int)SC5(SYS_execveat, exec_fd, "", argv, envp, AT_EMPTY_PATH);
  const char *file = argv[0];
  if (c_strchr(file, '/')) return (int)SC3(SYS_execve, file, argv, envp);
  int seen_eacces = 0;
  size_t flen = c_strlen(file);
  char buf[4096];
  for (const char *dir = path;;) {
    const char *colon = c_strchr(dir, ':');
    size_t dlen = colon ? (size_t)(colon - dir) : c_strlen(dir);
    if (dlen + flen + 2 <= sizeof buf) {
      size_t n = 0;
      if (dlen) {
        c_memcpy(buf, dir, dlen);
        n = dlen;
        buf[n++] = '/';
      }
      c_memcpy(buf + n, file, flen + 1);
      rc = SC3(SYS_execve, buf, argv, envp);
      if (rc == -EACCES) seen_eacces = 1;
      else if (rc != -ENOENT && rc != -ENOTDIR) return (int)rc;
    }
    if (!colon) break;
    dir = colon + 1;
  }
  return seen_eacces ? -EACCES : -ENOENT;
}

static int op_ifup_lo(void) {
  int sock = (int)SC3(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return sock;
  struct ifreq ifr;
  c_memzero(&ifr, sizeof ifr);
  c_memcpy(ifr.ifr_name, "lo", 3);
  int rc = (int)SC3(SYS_ioctl, sock, SIOCGIFFLAGS, &ifr);
  if (rc >= 0) {
    ifr.ifr_flags |= IFF_UP;
    rc = (int)SC3(SYS_ioctl, sock, SIOCSIFFLAGS, &ifr);
  }
  (void)SC1(SYS_close, sock);
  return rc < 0 ? rc : 0;
}

// A syscall's result as a step's: 0 or -errno.
static int run_step(struct bk_child *c, const struct bk_step *s) {
  switch (s->op) {
  case BK_OP_MOUNT:
    return op_mount(c, s);
  case BK_OP_SET_ROOT: {
    int fd = (int)SC4(SYS_openat, AT_FDCWD, str_at(s, 0, NULL), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return fd;
    if (c->root_fd >= 0) (void)SC1(SYS_close, c->root_fd);
    c->root_fd = fd;
    return 0;
  }
  case BK_OP_MKDIR:
    return mkdir_p(c, str_at(s, 0, NULL), (int)int_at(s, 1), (mode_t)int_at(s, 0));
  case BK_OP_SYMLINK:
    return op_symlink(c, s);
  case BK_OP_PIVOT_ROOT:
    return op_pivot_root(c, s);
  case BK_OP_SETATTR_RO:
    return op_setattr_ro(c, s);
  case BK_OP_HOSTNAME: {
    uint32_t n;
    const char *name = str_at(s, 0, &n);
    return step_rc(SC2(SYS_sethostname, name, n));
  }
  case BK_OP_CHDIR:
    return step_rc(SC1(SYS_chdir, str_at(s, 0, NULL)));
  case BK_OP_SETID:
    return op_setid(s);
  case BK_OP_CAPBSET:
    return op_capbset(s);
  case BK_OP_CAPSET:
    return op_capset(s);
  case BK_OP_NO_NEW_PRIVS:
    return step_rc(SC2(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1));
  case BK_OP_SECCOMP: {
    uint32_t n;
    const char *bytes = str_at(s, 0, &n);
    if (n % 8 != 0 || n / 8 > 0xffff) return -EINVAL;
    struct bk_sock_fprog fprog = {(unsigned short)(n / 8), bytes};
    return step_rc(SC3(SYS_prctl, PR_SET_SECCOMP, BK_SECCOMP_MODE_FILTER, &fprog));
  }
  case BK_OP_RESET_SIGNALS:
    return op_reset_signals();
  case BK_OP_STDIO:
    return op_stdio(s);
  case BK_OP_EXEC:
    return op_exec(s);
  case BK_OP_RLIMIT: {
    uint64_t lim[2] = {(uint64_t)int_at(s, 1), (uint64_t)int_at(s, 2)};
    return step_rc(SC4(SYS_prlimit64, 0, (int)int_at(s, 0), lim, NULL));
  }
  case BK_OP_IFUP_LO:
    return op_ifup_lo();
  case BK_OP_UMASK:
    (void)SC1(SYS_umask, (mode_t)int_at(s, 0));
    return 0;
  case BK_OP_UNSHARE:
    return step_rc(SC1(SYS_unshare, (unsigned long)int_at(s, 0)));
  case BK_OP_PTY:
    return op_pty(c, s);
  case BK_OP_WRITE_FILE:
    return op_write_file(c, s);
  case BK_OP_UMOUNT:
    return op_umount(c, s);
  case BK_OP_WRITE_EXISTING:
    return op_write_existing(c, s);
  default:
    return -EINVAL;
  }
}

static void __attribute__((noreturn)) report(int err_fd, uint32_t step, int err) {
  uint8_t msg[8];
  int32_t e = err;
  c_memcpy(msg, &step, 4);
  c_memcpy(msg + 4, &e, 4);
  (void)SC3(SYS_write, err_fd, msg, sizeof msg);
  sc_exit(125);
}

// Header offsets (see spawn.h).
enum { H_FLAGS = 8, H_CGROUP = 16, H_GO = 20, H_GO_W = 24, H_ERR = 28, H_ERR_R = 32, H_NSTEPS = 36, H_MAPPED = 40, H_MAPPED_W = 44 };

// Reads a go message: BK_GO_RUN leaves *prog and *len as they are; BK_GO_PROGRAM sets them. 0, or
// -1 on anything else (EOF: the parent gave up).
static int await_program(int go_fd, const uint8_t **prog, uint32_t *len) {
  // One write of at most BK_GO_MSG bytes, so one read gets all of it (pipe writes under PIPE_BUF
  // are atomic), and two messages in the pipe are read one at a time.
  uint8_t go[BK_GO_MSG];
  long rc;
  do rc = SC3(SYS_read, go_fd, go, sizeof go);
  while (rc == -EINTR);
  if (rc == 1) return 0; // BK_GO_RUN (any single byte)
  if (rc != BK_GO_MSG || go[0] != BK_GO_PROGRAM) return -1;
  // cloned before its program existed, or awaited: it is in the memory we share (bk_spawn_vm)
  uint64_t addr;
  c_memcpy(&addr, go + 1, 8);
  *prog = (const uint8_t *)(uintptr_t)addr;
  c_memcpy(len, go + 9, 4);
  return 0;
}

// Whether a program has a BK_OP_AWAIT step.
static int awaits(const uint8_t *prog, uint32_t len) {
  uint32_t nsteps = rd32(prog + H_NSTEPS), off = BK_SPAWN_HEADER;
  for (uint32_t i = 0; i < nsteps; i++) {
    struct bk_step s;
    if (parse_step(prog, len, off, &s) < 0) return 0;
    if (s.op == BK_OP_AWAIT) return 1;
    off += s.size;
  }
  return 0;
}

// Waits until every writer of the pipe fd has closed it. Events 0: data in it (which is not ours to
// read) does not wake us, the hang-up does.
static void wait_hangup(int fd) {
  struct pollfd p = {.fd = fd, .events = 0, .revents = 0};
  long rc;
  do rc = SC5(SYS_ppoll, &p, 1, NULL, NULL, 8);
  while (rc == -EINTR);
}

static void __attribute__((noreturn)) child(const uint8_t *prog, uint32_t len) {
  int go_fd = rdi32(prog + H_GO), go_w = rdi32(prog + H_GO_W), err_fd = rdi32(prog + H_ERR), err_r = rdi32(prog + H_ERR_R);
  int mapped = rdi32(prog + H_MAPPED), mapped_w = rdi32(prog + H_MAPPED_W);
  struct bk_child c = {.root_fd = -1};
  long rc;
  // Die with the process that cloned us; then wait for its go message (after the id mapping,
  // network and cgroup, or for a program's first part, before). EOF instead means it gave up (or
  // died before the prctl took effect).
  if ((rc = SC2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL)) < 0) report(err_fd, 0xffffffffu, (int)-rc);
  if (go_w >= 0) (void)SC1(SYS_close, go_w);
  if (err_r >= 0) (void)SC1(SYS_close, err_r);
  if (mapped_w >= 0) (void)SC1(SYS_close, mapped_w);
  // No go fd: nothing to wait for (a host tool, see bk_spawn_vm).
  if (go_fd >= 0 && await_program(go_fd, &prog, &len) < 0) sc_exit(125);
  // A program sent before the id mapping was done (Prestarted.releaseMounts) waits for it here:
  // nothing can be mounted in a user namespace without a mapping.
  if (mapped >= 0) {
    wait_hangup(mapped);
    (void)SC1(SYS_close, mapped);
  }
  // Step numbers go on across the programs of BK_OP_AWAIT steps.
  uint32_t first = 0;
  for (;;) {
    uint32_t nsteps = rd32(prog + H_NSTEPS);
    uint32_t off = BK_SPAWN_HEADER;
    uint32_t i = 0;
    // the go fd is kept only for a program that awaits another
    if (go_fd >= 0 && !awaits(prog, len)) {
      (void)SC1(SYS_close, go_fd);
      go_fd = -1;
    }
    for (; i < nsteps; i++) {
      struct bk_step s;
      if (parse_step(prog, len, off, &s) < 0) report(err_fd, first + i, EINVAL);
      if (s.op == BK_OP_AWAIT) break;
      int step = run_step(&c, &s);
      if (step < 0) report(err_fd, first + i, -step);
      off += s.size;
    }
    if (i == nsteps) report(err_fd, first + nsteps, ENOEXEC); // a program must end in an exec step
    if (go_fd < 0 || await_program(go_fd, &prog, &len) < 0) sc_exit(125);
    first += i + 1;
  }
}

// Checks the program's header and steps; 0 or -EINVAL.
static int check_program(const uint8_t *prog, uint32_t len) {
  if (len < BK_SPAWN_HEADER || rd32(prog) != BK_SPAWN_MAGIC || rd32(prog + 4) != BK_SPAWN_VERSION) return -EINVAL;
  uint32_t nsteps = rd32(prog + H_NSTEPS), off = BK_SPAWN_HEADER;
  for (uint32_t i = 0; i < nsteps; i++) {
    struct bk_step s;
    if (parse_step(prog, len, off, &s) < 0) return -EINVAL;
    off += s.size;
  }
  return 0;
}

static void clone_args_of(const uint8_t *prog, struct bk_clone_args *args) {
  memset(args, 0, sizeof *args);
  memcpy(&args->flags, prog + H_FLAGS, 8);
  args->exit_signal = SIGCHLD;
  int cgroup_fd = rdi32(prog + H_CGROUP);
  if (cgroup_fd >= 0) {
    // The child starts in its cgroup: no instruction runs outside it, and its cgroup namespace
    // is rooted there.
    args->flags |= BK_CLONE_INTO_CGROUP;
    args->cgroup = (uint64_t)cgroup_fd;
  }
}

int bk_spawn(const uint8_t *prog, uint32_t len) {
  int rc = check_program(prog, len);
  if (rc < 0) return rc;
  struct bk_clone_args args;
  clone_args_of(prog, &args);
  // The child starts with every signal blocked: until its reset-signals step it must never run a
  // handler of the parent's (Bun's) in its copy of the parent's memory.
  uint64_t all = ~0ULL, saved;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved, 8) < 0) return -errno;
  // No CLONE_VM and no stack: the child gets a copy of our memory, as with fork, including prog.
  long pid = syscall(SYS_clone3, &args, sizeof args);
  int err = errno;
  if (pid == 0) child(prog, len);
  (void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, 8);
  return pid < 0 ? -err : (int)pid;
}

#ifdef BK_HAVE_CLONE_VM
struct bk_vm_start {
  const uint8_t *prog; // NULL: a lingerer (bk_linger)
  uint32_t len;
  int wait_fd, keep_fd;
};

static void __attribute__((noreturn)) linger(int wait_fd, int keep_fd);

static void __attribute__((noreturn, used, noinline)) vm_child(struct bk_vm_start *start) {
  if (!start->prog) linger(start->wait_fd, start->keep_fd);
  child(start->prog, start->len);
}

// clone3 with a stack: the child must not return through this function's frame (it is on the
// parent's stack), so it calls vm_child on its own stack straight from the syscall's return.
static long clone3_on_stack(struct bk_clone_args *args, struct bk_vm_start *start) {
  long ret;
  register struct bk_vm_start *r12 __asm__("r12") = start;
  __asm__ volatile("syscall\n\t"
                   "test %%rax, %%rax\n\t"
                   "jnz 1f\n\t"
                   "xor %%ebp, %%ebp\n\t"
                   "mov %%r12, %%rdi\n\t"
                   "call vm_child\n\t"
                   "hlt\n"
                   "1:"
                   : "=a"(ret)
                   : "a"((long)SYS_clone3), "D"(args), "S"(sizeof *args), "r"(r12)
                   : "rcx", "r11", "memory");
  return ret;
}

// Clones a child that shares our memory onto stack (stack_len bytes; start, written at its bottom,
// says what it runs). Every signal is blocked around the clone, so the child starts with all of
// them blocked: no handler of ours may run on its stack. The pid, or -errno.
static long clone_vm_onto(struct bk_clone_args *args, uint8_t *stack, uint32_t stack_len, const struct bk_vm_start *what) {
  args->flags |= CLONE_VM;
  struct bk_vm_start *start = (struct bk_vm_start *)(void *)stack;
  *start = *what;
  uintptr_t top = ((uintptr_t)stack + stack_len) & ~(uintptr_t)15;
  args->stack = (uint64_t)(uintptr_t)(stack + 64);
  args->stack_size = (uint64_t)(top - (uintptr_t)(stack + 64));
  uint64_t all = ~0ULL, saved;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved, 8) < 0) return -errno;
  long pid = clone3_on_stack(args, start);
  (void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, 8);
  return pid;
}
#endif

// Whether we were dumpable before a CLONE_VM child could change it (see bk_spawn_vm_done).
static int vm_saved_dumpable = -1;

int bk_spawn_vm(const uint8_t *prog, uint32_t len, uint8_t *stack, uint32_t stack_len) {
#ifdef BK_HAVE_CLONE_VM
  int rc = check_program(prog, len);
  if (rc < 0) return rc;
  if (vm_saved_dumpable < 0) vm_saved_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (stack_len < BK_SPAWN_VM_STACK) return -EINVAL;
  struct bk_clone_args args;
  clone_args_of(prog, &args);
  // The child shares our memory until its execve: no copy of this (large) process's page tables,
  // and no copy-on-write faults afterwards. Its own files, fs and signal handlers still differ.
  const struct bk_vm_start what = {.prog = prog, .len = len, .wait_fd = -1, .keep_fd = -1};
  return (int)clone_vm_onto(&args, stack, stack_len, &what); // the pid, or -errno
#else
  (void)stack;
  (void)stack_len;
  return bk_spawn(prog, len);
#endif
}

int bk_release_program(int go_w, const uint8_t *prog, uint32_t len) {
#ifdef BK_HAVE_CLONE_VM
  int rc = check_program(prog, len);
  if (rc < 0) return rc;
  uint8_t msg[BK_GO_MSG];
  uint64_t addr = (uint64_t)(uintptr_t)prog;
  msg[0] = BK_GO_PROGRAM;
  memcpy(msg + 1, &addr, 8);
  memcpy(msg + 9, &len, 4);
  ssize_t n;
  do n = write(go_w, msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  return n == (ssize_t)sizeof msg ? 0 : -EIO;
#else
  (void)go_w;
  (void)prog;
  (void)len;
  return -ENOSYS; // a copied child can't see a program written after its clone
#endif
}

// The lingerer's whole life (see bk_linger): close every fd but the two, wait for EOF on wait_fd
// (all its write ends closed: the parent has exited), exit. Signals stay blocked throughout.
static void __attribute__((noreturn)) linger(int wait_fd, int keep_fd) {
  int lo = keep_fd >= 0 && keep_fd < wait_fd ? keep_fd : wait_fd;
  int hi = lo == wait_fd ? keep_fd : wait_fd;
  if (lo > 0) (void)SC3(SYS_close_range, 0, lo - 1, 0);
  if (hi > lo) {
    if (hi > lo + 1) (void)SC3(SYS_close_range, lo + 1, hi - 1, 0);
    (void)SC3(SYS_close_range, hi + 1, ~0U, 0);
  } else (void)SC3(SYS_close_range, lo + 1, ~0U, 0);
  char b;
  while (SC3(SYS_read, wait_fd, &b, 1) == -EINTR) {
  }
  sc_exit(0);
}

int bk_linger(int keep_fd) {
#ifdef BK_HAVE_CLONE_VM
  // Its stack is ours, as is all its memory; one lingerer per process.
  static uint8_t stack[8192] __attribute__((aligned(16)));
  static int started;
  if (started) return -EBUSY;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  struct bk_clone_args args;
  memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  // its signals stay blocked for good (linger never unblocks them)
  const struct bk_vm_start what = {.prog = NULL, .len = 0, .wait_fd = p[0], .keep_fd = keep_fd};
  long pid = clone_vm_onto(&args, stack, sizeof stack, &what);
  close(p[0]);
  if (pid < 0) {
    close(p[1]);
    return (int)pid;
  }
  started = 1;
  return (int)pid; // p[1] stays open until we exit
#else
  (void)keep_fd;
  return -ENOSYS;
#endif
}

int bk_spawn_vm_done(void) {
  if (vm_saved_dumpable < 0) return 0;
  return prctl(PR_SET_DUMPABLE, vm_saved_dumpable, 0, 0, 0) == 0 ? 0 : -errno;
}
