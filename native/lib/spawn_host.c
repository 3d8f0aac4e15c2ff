// The host side of a container run, for bun:ffi: pipes, non-blocking waitpid, the pty, window
// size, the socket pair a -t child sends its pty master on. Each returns -errno on failure (bun:ffi
// can't read errno).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
