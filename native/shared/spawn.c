// The spawn-program interpreter (see spawn.h). The cloned child runs only this C until execve:
// thin syscall wrappers, no malloc, no stdio, because the parent may be multithreaded (Bun) and
// other threads may hold libc's locks. Ids are changed with raw syscalls: glibc's setresuid()
// would try to signal threads that exist only in the parent.
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
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
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_execveat
#define SYS_execveat 322
#endif
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

struct bk_step {
  uint32_t op, size, nint, nstr;
  const int64_t *ints;
  const uint8_t *strs; // first string record
};

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static int32_t rdi32(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

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

static int root_fd = -1; // "in root" paths resolve under this directory (set_root / pivot_root)

static int open_in_root(const char *path, int flags) {
  struct bk_open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0, .resolve = BK_RESOLVE_IN_ROOT | BK_RESOLVE_NO_MAGICLINKS};
  long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
  return fd < 0 ? -errno : (int)fd;
}

static int open_path(const char *path, int in_root, int flags) {
  if (in_root && root_fd >= 0) return open_in_root(path, flags);
  int fd = open(path, flags | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

// "/proc/self/fd/N": how a resolved O_PATH fd is named to mount(), which takes only paths.
static const char *fd_path(int fd, char buf[32]) {
  static const char prefix[] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  unsigned v = (unsigned)fd;
  do digits[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  memcpy(buf, prefix, sizeof prefix - 1);
  int i = sizeof prefix - 1;
  while (n) buf[i++] = digits[--n];
  buf[i] = 0;
  return buf;
}

// mkdir -p, every prefix resolved inside the root so that a symlink in the image can't send it out.
static int mkdir_p(const char *path, int in_root, mode_t mode) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return -ENAMETOOLONG;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    if (buf[i - 1] == '/') continue;
    char saved = buf[i];
    buf[i] = 0;
    int fd = open_path(buf, in_root, O_PATH | O_DIRECTORY);
    if (fd == -ENOENT) {
      // Create the last component inside its (resolved) parent.
      char *slash = strrchr(buf, '/');
      int parent;
      if (slash == buf) parent = open_path("/", in_root, O_PATH | O_DIRECTORY);
      else if (slash) {
        *slash = 0;
        parent = open_path(buf, in_root, O_PATH | O_DIRECTORY);
        *slash = '/';
      } else parent = open_path(".", 0, O_PATH | O_DIRECTORY);
      if (parent < 0) return parent;
      int rc = mkdirat(parent, slash ? slash + 1 : buf, mode);
      int err = errno;
      close(parent);
      if (rc < 0 && err != EEXIST) return -err;
      fd = open_path(buf, in_root, O_PATH | O_DIRECTORY);
    }
    if (fd < 0) return fd;
    close(fd);
    buf[i] = saved;
  }
  return 0;
}

// Creates an empty file (a bind-mount target) if nothing is there; the parent is resolved in root.
static int touch(const char *path, int in_root) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return -ENAMETOOLONG;
  memcpy(buf, path, n + 1);
  char *slash = strrchr(buf, '/');
  if (!slash || !slash[1]) return -EINVAL;
  *slash = 0;
  int rc = mkdir_p(slash == buf ? "/" : buf, in_root, 0755);
  if (rc < 0) return rc;
  int parent = open_path(slash == buf ? "/" : buf, in_root, O_PATH | O_DIRECTORY);
  if (parent < 0) return parent;
  int fd = openat(parent, slash + 1, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
  int err = errno;
  close(parent);
  if (fd >= 0) close(fd);
  else if (err != EEXIST && err != ELOOP && err != EISDIR && err != ENXIO && err != EACCES) return -err;
  return 0;
}

static int op_mount(const struct bk_step *s) {
  unsigned long flags = (unsigned long)int_at(s, 0);
  int src_in_root = (int)int_at(s, 1), tgt_in_root = (int)int_at(s, 2);
  int create = (int)int_at(s, 3), optional = (int)int_at(s, 4);
  const char *src = opt_str(s, 0), *tgt = str_at(s, 1, NULL), *fstype = opt_str(s, 2), *data = opt_str(s, 3);
  int rc = 0, sfd = -1, tfd = -1;
  char sbuf[32], tbuf[32];
  if (create == 1) rc = mkdir_p(tgt, tgt_in_root, 0755);
  else if (create == 2) rc = touch(tgt, tgt_in_root);
  if (rc < 0) goto out;
  tfd = open_path(tgt, tgt_in_root, O_PATH);
  if (tfd < 0) {
    rc = tfd;
    goto out;
  }
  if (src && src_in_root) {
    sfd = open_path(src, 1, O_PATH);
    if (sfd < 0) {
      rc = sfd;
      goto out;
    }
    src = fd_path(sfd, sbuf);
  }
  rc = mount(src, fd_path(tfd, tbuf), fstype, flags, data) == 0 ? 0 : -errno;
out:
  if (sfd >= 0) close(sfd);
  if (tfd >= 0) close(tfd);
  if ((rc == -ENOENT && optional) || optional == 2) return 0;
  return rc;
}

static int op_setattr_ro(const struct bk_step *s) {
  int recursive = (int)int_at(s, 0), in_root = (int)int_at(s, 1), optional = (int)int_at(s, 2);
  int fd = open_path(str_at(s, 0, NULL), in_root, O_PATH);
  if (fd < 0) return (fd == -ENOENT && optional) || optional == 2 ? 0 : fd;
  struct bk_mount_attr attr = {.attr_set = BK_MOUNT_ATTR_RDONLY};
  long rc = syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? BK_AT_RECURSIVE : 0), &attr, sizeof attr);
  int err = errno;
  close(fd);
  return rc == 0 || optional == 2 ? 0 : -err;
}

static int op_symlink(const struct bk_step *s) {
  const char *target = str_at(s, 0, NULL), *link = str_at(s, 1, NULL);
  char buf[4096];
  size_t n = strlen(link);
  if (n == 0 || n >= sizeof buf) return -ENAMETOOLONG;
  memcpy(buf, link, n + 1);
  char *slash = strrchr(buf, '/');
  if (!slash || !slash[1]) return -EINVAL;
  *slash = 0;
  int parent = open_path(slash == buf ? "/" : buf, (int)int_at(s, 0), O_PATH | O_DIRECTORY);
  if (parent < 0) return parent;
  int rc = symlinkat(target, parent, slash + 1) == 0 || errno == EEXIST ? 0 : -errno;
  close(parent);
  return rc;
}

static int op_pivot_root(const struct bk_step *s) {
  if (chdir(str_at(s, 0, NULL)) < 0) return -errno;
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves no path
  // to the host's tree, and needs no directory inside the container.
  if (syscall(SYS_pivot_root, ".", ".") < 0) return -errno;
  if (umount2(".", MNT_DETACH) < 0) return -errno;
  if (chdir("/") < 0) return -errno;
  if (root_fd >= 0) close(root_fd);
  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  return root_fd < 0 ? -errno : 0;
}

static int op_setid(const struct bk_step *s) {
  int64_t ngroups = int_at(s, 2);
  if (ngroups >= 0) {
    gid_t groups[256];
    if (ngroups > 256 || (uint64_t)ngroups > s->nint - 3) return -E2BIG;
    for (int64_t i = 0; i < ngroups; i++) groups[i] = (gid_t)s->ints[3 + i];
    if (syscall(SYS_setgroups, (size_t)ngroups, groups) < 0) return -errno;
  }
  gid_t gid = (gid_t)int_at(s, 1);
  uid_t uid = (uid_t)int_at(s, 0);
  if (syscall(SYS_setresgid, gid, gid, gid) < 0) return -errno;
  if (syscall(SYS_setresuid, uid, uid, uid) < 0) return -errno;
  return 0;
}

static int op_capbset(const struct bk_step *s) {
  uint64_t keep = (uint64_t)int_at(s, 0);
  for (int cap = 0; cap < 64; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      if (errno == EINVAL) break; // past the kernel's last capability
      return -errno;
    }
  }
  return 0;
}

static int op_capset(const struct bk_step *s) {
  uint64_t eff = (uint64_t)int_at(s, 0), perm = (uint64_t)int_at(s, 1), inh = (uint64_t)int_at(s, 2), amb = (uint64_t)int_at(s, 3);
  struct bk_cap_header h = {BK_CAP_V3, 0};
  struct bk_cap_data d[2] = {{(uint32_t)eff, (uint32_t)perm, (uint32_t)inh}, {(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)}};
  if (syscall(SYS_capset, &h, d) < 0) return -errno;
  if (prctl(BK_PR_CAP_AMBIENT, BK_PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  for (int cap = 0; cap < 64; cap++)
    if ((amb & (1ULL << cap)) && prctl(BK_PR_CAP_AMBIENT, BK_PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) return -errno;
  return 0;
}

static int op_reset_signals(void) {
  struct bk_sigaction dfl = {0};
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    (void)syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8); // some numbers can't be changed: fine
  }
  uint64_t none = 0;
  return syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8) == 0 ? 0 : -errno;
}

static int op_stdio(const struct bk_step *s) {
  if (int_at(s, 3) && setsid() < 0) return -errno;
  for (int i = 0; i < 3; i++) {
    int fd = (int)int_at(s, (uint32_t)i);
    if (fd < 0) continue;
    if (fd != i && dup2(fd, i) < 0) return -errno;
    if (fd == i && fcntl(i, F_SETFD, 0) < 0) return -errno;
  }
  if (int_at(s, 4) && ioctl(0, TIOCSCTTY, 0) < 0) return -errno;
  if (int_at(s, 5))
    for (int i = 0; i < 3; i++) {
      int fl = fcntl(i, F_GETFL);
      if (fl >= 0 && (fl & O_NONBLOCK)) (void)fcntl(i, F_SETFL, fl & ~O_NONBLOCK);
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
  memset(&ctl, 0, sizeof ctl);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == 1 ? 0 : n < 0 ? -errno : -EIO;
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

static int op_pty(const struct bk_step *s) {
  int sock = (int)int_at(s, 0);
  struct winsize ws = {.ws_row = (unsigned short)int_at(s, 1), .ws_col = (unsigned short)int_at(s, 2)};
  int master = open_path("/dev/ptmx", 1, O_RDWR | O_NOCTTY), slave = -1, rc = 0;
  if (master < 0) return master;
  if (master < 3) {
    // A closed stdio slot was reused: the dup2s below would close the master.
    int moved = fcntl(master, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    close(master);
    if (moved < 0) return -err;
    master = moved;
  }
  int unlock = 0;
  unsigned num;
  char path[32], digits[12];
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &num) < 0) {
    rc = -errno;
    goto out;
  }
  // "/dev/pts/N", without snprintf
  static const char prefix[] = "/dev/pts/";
  int d = 0, i = sizeof prefix - 1;
  do digits[d++] = (char)('0' + num % 10), num /= 10;
  while (num);
  memcpy(path, prefix, sizeof prefix - 1);
  while (d) path[i++] = digits[--d];
  path[i] = 0;
  slave = open_path(path, 1, O_RDWR | O_NOCTTY);
  if (slave < 0) {
    rc = slave;
    goto out;
  }
  if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || (ws.ws_row && ws.ws_col && ioctl(slave, TIOCSWINSZ, &ws) < 0)) {
    rc = -errno;
    goto out;
  }
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) {
      rc = -errno;
      goto out;
    }
  rc = send_fd(sock, master);
out:
  if (slave > 2) close(slave);
  close(master);
  close(sock);
  return rc;
}

// execve with the container's PATH searched here, so that "not found" (127) and "cannot execute"
// (126) can be told apart exactly, as docker does.
static int op_exec(const struct bk_step *s) {
  int64_t argc = int_at(s, 0), envc = int_at(s, 1);
  int exec_fd = (int)int_at(s, 2);
  if (argc < 1 || envc < 0 || (uint64_t)(1 + argc + envc) > s->nstr) return -EINVAL;
  size_t bytes = (size_t)(argc + envc + 2) * sizeof(char *);
  char **argv = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (argv == MAP_FAILED) return -errno;
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
  if (syscall(SYS_close_range, 3, ~0U, BK_CLOSE_RANGE_CLOEXEC) < 0) return -errno;
  if (exec_fd >= 0) {
    syscall(SYS_execveat, exec_fd, "", argv, envp, AT_EMPTY_PATH);
    return -errno;
  }
  const char *file = argv[0];
  if (strchr(file, '/')) {
    execve(file, argv, envp);
    return -errno;
  }
  int seen_eacces = 0;
  size_t flen = strlen(file);
  char buf[4096];
  for (const char *dir = path;;) {
    const char *colon = strchr(dir, ':');
    size_t dlen = colon ? (size_t)(colon - dir) : strlen(dir);
    if (dlen + flen + 2 <= sizeof buf) {
      size_t n = 0;
      if (dlen) {
        memcpy(buf, dir, dlen);
        n = dlen;
        buf[n++] = '/';
      }
      memcpy(buf + n, file, flen + 1);
      execve(buf, argv, envp);
      if (errno == EACCES) seen_eacces = 1;
      else if (errno != ENOENT && errno != ENOTDIR) return -errno;
    }
    if (!colon) break;
    dir = colon + 1;
  }
  return seen_eacces ? -EACCES : -ENOENT;
}

static int op_ifup_lo(void) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  int rc = 0;
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) rc = -errno;
  else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) rc = -errno;
  }
  close(sock);
  return rc;
}

static int run_step(const struct bk_step *s) {
  switch (s->op) {
  case BK_OP_MOUNT:
    return op_mount(s);
  case BK_OP_SET_ROOT: {
    int fd = open(str_at(s, 0, NULL), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (root_fd >= 0) close(root_fd);
    root_fd = fd;
    return 0;
  }
  case BK_OP_MKDIR:
    return mkdir_p(str_at(s, 0, NULL), (int)int_at(s, 1), (mode_t)int_at(s, 0));
  case BK_OP_SYMLINK:
    return op_symlink(s);
  case BK_OP_PIVOT_ROOT:
    return op_pivot_root(s);
  case BK_OP_SETATTR_RO:
    return op_setattr_ro(s);
  case BK_OP_HOSTNAME: {
    uint32_t n;
    const char *name = str_at(s, 0, &n);
    return sethostname(name, n) == 0 ? 0 : -errno;
  }
  case BK_OP_CHDIR:
    return chdir(str_at(s, 0, NULL)) == 0 ? 0 : -errno;
  case BK_OP_SETID:
    return op_setid(s);
  case BK_OP_CAPBSET:
    return op_capbset(s);
  case BK_OP_CAPSET:
    return op_capset(s);
  case BK_OP_NO_NEW_PRIVS:
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno;
  case BK_OP_SECCOMP: {
    uint32_t n;
    const char *bytes = str_at(s, 0, &n);
    if (n % 8 != 0 || n / 8 > 0xffff) return -EINVAL;
    struct bk_sock_fprog fprog = {(unsigned short)(n / 8), bytes};
    return prctl(PR_SET_SECCOMP, BK_SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0 ? 0 : -errno;
  }
  case BK_OP_RESET_SIGNALS:
    return op_reset_signals();
  case BK_OP_STDIO:
    return op_stdio(s);
  case BK_OP_EXEC:
    return op_exec(s);
  case BK_OP_RLIMIT: {
    uint64_t lim[2] = {(uint64_t)int_at(s, 1), (uint64_t)int_at(s, 2)};
    return syscall(SYS_prlimit64, 0, (int)int_at(s, 0), lim, NULL) == 0 ? 0 : -errno;
  }
  case BK_OP_IFUP_LO:
    return op_ifup_lo();
  case BK_OP_UMASK:
    umask((mode_t)int_at(s, 0));
    return 0;
  case BK_OP_UNSHARE:
    return syscall(SYS_unshare, (unsigned long)int_at(s, 0)) == 0 ? 0 : -errno;
  case BK_OP_PTY:
    return op_pty(s);
  default:
    return -EINVAL;
  }
}

static void report(int err_fd, uint32_t step, int err) {
  uint8_t msg[8];
  int32_t e = err;
  memcpy(msg, &step, 4);
  memcpy(msg + 4, &e, 4);
  (void)!write(err_fd, msg, sizeof msg);
  _exit(125);
}

// Header offsets (see spawn.h).
enum { H_FLAGS = 8, H_CGROUP = 16, H_GO = 20, H_GO_W = 24, H_ERR = 28, H_ERR_R = 32, H_NSTEPS = 36 };

static void __attribute__((noreturn)) child(const uint8_t *prog, uint32_t len) {
  int go_fd = rdi32(prog + H_GO), go_w = rdi32(prog + H_GO_W), err_fd = rdi32(prog + H_ERR), err_r = rdi32(prog + H_ERR_R);
  uint32_t nsteps = rd32(prog + H_NSTEPS);
  // Die with the process that cloned us; then wait for it to finish the id mapping, network and
  // cgroup. EOF instead of the go byte means it gave up (or died before the prctl took effect).
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) report(err_fd, 0xffffffffu, errno);
  if (go_w >= 0) close(go_w);
  if (err_r >= 0) close(err_r);
  char go;
  ssize_t n;
  do n = read(go_fd, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(125);
  close(go_fd);
  uint32_t off = BK_SPAWN_HEADER;
  for (uint32_t i = 0; i < nsteps; i++) {
    struct bk_step s;
    if (parse_step(prog, len, off, &s) < 0) report(err_fd, i, EINVAL);
    int rc = run_step(&s);
    if (rc < 0) report(err_fd, i, -rc);
    off += s.size;
  }
  report(err_fd, nsteps, ENOEXEC); // a program must end in an exec step
  _exit(125);
}

int bk_spawn(const uint8_t *prog, uint32_t len) {
  if (len < BK_SPAWN_HEADER || rd32(prog) != BK_SPAWN_MAGIC || rd32(prog + 4) != BK_SPAWN_VERSION) return -EINVAL;
  uint32_t nsteps = rd32(prog + H_NSTEPS), off = BK_SPAWN_HEADER;
  for (uint32_t i = 0; i < nsteps; i++) {
    struct bk_step s;
    if (parse_step(prog, len, off, &s) < 0) return -EINVAL;
    off += s.size;
  }
  struct bk_clone_args args;
  memset(&args, 0, sizeof args);
  memcpy(&args.flags, prog + H_FLAGS, 8);
  args.exit_signal = SIGCHLD;
  int cgroup_fd = rdi32(prog + H_CGROUP);
  if (cgroup_fd >= 0) {
    // The child starts in its cgroup: no instruction runs outside it, and its cgroup namespace
    // is rooted there.
    args.flags |= BK_CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
  }
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
