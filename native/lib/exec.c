// `bunker exec` and `bunker cp`: joining a running container, and root-confined file access.
// Returns -errno on failure (bun:ffi can't read errno).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shared/spawn.h"

#include "../shared/sysnr.h"

// The namespaces of a container, in the order they are joined: the user namespace first, because
// it is what gives us the capabilities over the others (they belong to it).
static const char *const NS_NAMES[] = {"user", "mnt", "pid", "uts", "ipc", "net", "cgroup"};
#define NS_COUNT (sizeof NS_NAMES / sizeof NS_NAMES[0])

static volatile int exec_child = -1;

// The joining process forwards what bunker sends it to the exec'd command.
static void forward(int sig) {
  if (exec_child > 0) kill(exec_child, sig);
}

static void append(char *buf, size_t *n, const char *s) {
  while (*s) buf[(*n)++] = *s++;
}

// Runs in the cloned child of Bun: raw syscalls only (no malloc, no stdio) until it waits.
static void __attribute__((noreturn)) join_and_spawn(int target, const uint8_t *prog, uint32_t len, int err_fd, int detach, int hold_fd) {
  int fds[NS_COUNT];
  char path[64], digits[12];
  // Not dumpable until the command's execve (which makes it dumpable again, as usual): inside the
  // container's pid namespace, the command's process is a copy of bunker until then, and a
  // dumpable one would let the container open its /proc/PID/exe, bunker's own binary, which a
  // rootless user owns and could then overwrite (CVE-2019-5736). bk_spawn's child inherits it.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) _exit(125);
  // Attached, it dies with bunker (and the command with it, through the command's own PDEATHSIG);
  // detached (exec -d), it outlives bunker in a session of its own to wait for the command, but
  // only once released: held, it dies with bunker too (it holds a copy of the hold pipe's write
  // end, so no EOF would ever come).
  if ((!detach || hold_fd >= 0) && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(125);
  // Held: bunker puts this process in the container's cgroup from outside (a systemd manager
  // moves it), then sends one byte; when that fails, bunker kills it and reports why itself.
  if (hold_fd >= 0) {
    char go;
    ssize_t n;
    while ((n = read(hold_fd, &go, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) _exit(125);
    close(hold_fd);
  }
  if (detach) {
    if (setsid() < 0) _exit(125);
    if (hold_fd >= 0 && prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0) _exit(125);
  }
  // exec'd processes join the container's cgroup (the program's cgroup fd). The joining process
  // moves itself while still outside the container's cgroup namespace: with nsdelegate, no
  // migration may cross it from inside. The command then starts in the cgroup (CLONE_INTO_CGROUP).
  int32_t cgroup_fd;
  memcpy(&cgroup_fd, prog + 16, sizeof cgroup_fd);
  if (cgroup_fd >= 0) {
    int procs = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (procs < 0 || write(procs, "0", 1) != 1) {
      int32_t msg[2] = {-101, errno};
      (void)!write(err_fd, msg, sizeof msg);
      _exit(125);
    }
    close(procs);
  }
  // Every namespace fd is opened before the first setns: once in the container's mount namespace,
  // its /proc would no longer show the target by our pid numbers.
  for (unsigned i = 0; i < NS_COUNT; i++) {
    size_t n = 0;
    int d = 0;
    unsigned v = (unsigned)target;
    do digits[d++] = (char)('0' + v % 10), v /= 10;
    while (v);
    append(path, &n, "/proc/");
    while (d) path[n++] = digits[--d];
    append(path, &n, "/ns/");
    append(path, &n, NS_NAMES[i]);
    path[n] = 0;
    fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) {
      int32_t msg[2] = {-(int32_t)(i + 1), errno};
      (void)!write(err_fd, msg, sizeof msg);
      _exit(125);
    }
  }
  for (unsigned i = 0; i < NS_COUNT; i++) {
    // Joining the namespace we are already in fails with EINVAL for a user namespace (bunker as
    // real root, no userns) and is a no-op otherwise: skip it.
    char self[32];
    size_t n = 0;
    append(self, &n, "/proc/self/ns/");
    append(self, &n, NS_NAMES[i]);
    self[n] = 0;
    struct stat a, b;
    if (fstat(fds[i], &a) == 0 && stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) continue;
    if (setns(fds[i], 0) < 0) {
      int32_t msg[2] = {-(int32_t)(i + 1), errno};
      (void)!write(err_fd, msg, sizeof msg);
      _exit(125);
    }
  }
  for (unsigned i = 0; i < NS_COUNT; i++) close(fds[i]);
  // setns(pid) applies to children only: the command is cloned again, inside the container's pid
  // namespace, by the same interpreter as the container itself (identity, caps, stdio, exec).
  int pid = bk_spawn(prog, len);
  if (pid < 0) {
    int32_t msg[2] = {-100, -pid};
    (void)!write(err_fd, msg, sizeof msg);
    _exit(125);
  }
  exec_child = pid;
  if (detach) {
    // Nothing of bunker's stdio may stay open in a process that outlives it ($(bunker exec -d ...)).
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3 && null_fd >= 0; fd++) dup2(null_fd, fd);
  }
  // Our copies of the sync pipes must go, so the exec'd child's execve shows as EOF to bunker.
  if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
    for (int fd = 3; fd < 4096; fd++) close(fd);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) _exit(125);
  if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
  _exit(128 + WTERMSIG(st));
}

// Clones a process that joins every namespace of target, then runs prog (clone flags 0) there.
// Returns the joining process's pid: it exits with the command's status (128+N for signal N).
// A failure to join is written as {-(namespace index + 1), errno} on err_fd (the program's own
// error pipe), a failure to join its cgroup as {-101, errno}; bk_spawn's child reports program
// steps there as usual. hold_fd >= 0: the joining process first waits for one byte there.
int bk_exec_join(int target, const uint8_t *prog, uint32_t len, int err_fd, int detach, int hold_fd) {
  long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) return -errno;
  if (pid == 0) join_and_spawn(target, prog, len, err_fd, detach, hold_fd);
  return (int)pid;
}

// ---- root-confined file access for `bunker cp` ----

struct bk_open_how {
  uint64_t flags, mode, resolve;
};
#define BK_RESOLVE_NO_MAGICLINKS 0x02
#define BK_RESOLVE_IN_ROOT 0x10

// Opens path as if root_fd were "/": symlinks and ".." can't leave it (openat2 RESOLVE_IN_ROOT).
int bk_open_in_root(int root_fd, const char *path, int flags, int mode) {
  struct bk_open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .mode = (uint64_t)mode, .resolve = BK_RESOLVE_IN_ROOT | BK_RESOLVE_NO_MAGICLINKS};
  long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
  return fd < 0 ? -errno : (int)fd;
}

