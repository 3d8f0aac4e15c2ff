// The host side of a container run, for bun:ffi: pipes, non-blocking waitpid, the pty, window
// size, the socket pair a -t child sends its pty master on. Each returns -errno on failure (bun:ffi
// can't read errno).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

// Both ends close-on-exec: a helper we spawn must never hold the container's sync pipes.
int bk_pipe2(int32_t *fds) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  fds[0] = p[0];
  fds[1] = p[1];
  return 0;
}

// Never blocks (a blocking wait would freeze Bun's event loop): returns the pid with *status set,
// 0 when the child is still running, or -errno.
int bk_waitpid(int pid, int32_t *status) {
  int st = 0;
  int rc = waitpid(pid, &st, WNOHANG);
  if (rc < 0) return -errno;
  *status = st;
  return rc;
}

int bk_set_winsize(int fd, int rows, int cols) {
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  return ioctl(fd, TIOCSWINSZ, &ws) == 0 ? 0 : -errno;
}

// rows << 16 | cols, or -errno (ENOTTY when fd is not a terminal).
int bk_get_winsize(int fd) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) < 0) return -errno;
  return (int)((unsigned)ws.ws_row << 16 | ws.ws_col);
}

// A connected pair of unix stream sockets, both close-on-exec: how the child of a -t run sends
// back the master of the pty it makes inside the container (see BK_OP_PTY).
int bk_socketpair(int32_t *fds) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
  fds[0] = sv[0];
  fds[1] = sv[1];
  return 0;
}

// Starts a program (newuidmap, newgidmap) with stdin and stdout on /dev/null and stderr on
// stderr_fd; args holds argc NUL-terminated strings, argv[0] first. Returns its pid or -errno; the
// caller reaps it (bk_waitpid). posix_spawn is safe in a multithreaded process, and its vfork-style
// clone copies nothing: Bun.spawn took 2-4 ms of the caller's thread for each of these.
#define BK_SPAWN_TOOL_MAX_ARGS 32
int bk_spawn_tool(const char *path, const char *args, int argc, int stderr_fd) {
  if (argc < 1 || argc > BK_SPAWN_TOOL_MAX_ARGS) return -E2BIG;
  char *argv[BK_SPAWN_TOOL_MAX_ARGS + 1];
  for (int i = 0; i < argc; i++) {
    argv[i] = (char *)args;
    args += strlen(args) + 1;
  }
  argv[argc] = NULL;
  static char *const no_env[] = {NULL};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc != 0) return -rc;
  rc = posix_spawnattr_init(&attr);
  if (rc != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
  }
  // Bun's signal handlers and mask are not the tool's: every signal back to its default, none blocked.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  pid_t pid = -1;
  if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
      (rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) == 0 &&
      (rc = posix_spawn_file_actions_adddup2(&fa, stderr_fd, 2)) == 0 &&
      (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 && (rc = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
      (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0)
    rc = posix_spawn(&pid, path, &fa, &attr, argv, no_env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? (int)pid : -rc;
}
