// `bunker-helper monitor`: the one process that stays with a detached container (podman's conmon).
// It is static C run from a sealed memfd, not Bun, so it costs well under 1 MB of RSS.
//
// It clones the container with the same spawn-program interpreter as a foreground run (bk_spawn,
// native/shared/spawn.c), waits for it, writes its stdout/stderr to the log file (k8s-file format,
// rotated by size), records the exit (code, signal, time, OOM) atomically in the state files, and
// applies the restart policy. It decides nothing about the container itself: TypeScript wrote the
// program, and does the parent's part of a start (id mapping, network, cgroup) itself — through the
// handshake below the first time, and by running the --setup command (bunker again) on a restart,
// because newuidmap and pasta must run again for every new namespace.
//
// Handshake with bunker (first start): fd 0 is the control pipe, fd 1 the status pipe.
//   monitor → "P <pid>\n"   the container is cloned and waits
//   bunker  → "C<path>\n"   the container's cgroup, when it has one (a systemd scope's exists only
//                           now): OOM kills are read from it, restarts are moved into it
//   bunker  → "g"           ids, network and cgroup are set up: let it go (EOF: give up)
//   monitor → "S\n"         execve succeeded; or "E <step> <errno>\n" the program failed at step;
//             "F <errno>\n" clone itself failed
// Then the monitor closes both pipes, so `id=$(bunker run -d ...)` returns at once.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../shared/spawn.h"
#include "io.h"
#include "monitor.h"

enum { H_GO = 20, H_GO_W = 24, H_ERR = 28, H_ERR_R = 32 };
#define TS_LEN 100 // room for any value snprintf could be given

struct opts {
  const char *program, *state, *state2, *log, *cgroup, *stopped, *restart;
  long long max_size;
  int max_file, max_retries;
  char **setup;   // argv; the child's pid is appended
  char **on_exit; // argv run (and waited for) after the final exit: `bunker rm -f ID` for --rm
  int tty_socket;  // -t: our end of the socket the container's pty master comes on (BK_OP_PTY), or -1
  int stdin_open;  // -i without -t: the container's stdin is a pipe we keep open (docker run -di)
};

static struct opts o = {.max_file = 1, .restart = "no", .tty_socket = -1};
static char cgroup_path[4096]; // o.cgroup, as the handshake gave it
static int devnull = -1;

static void die(const char *what, int err) {
  char buf[256];
  int n = snprintf(buf, sizeof buf, "bunker-monitor: %s: %s\n", what, strerror(err));
  if (n > 0) (void)!write(2, buf, (size_t)n);
  _exit(125);
}

// ---- time ----

// RFC 3339 UTC with nanoseconds, docker's form: 2024-01-01T00:00:00.123456789Z
static void timestamp(char out[TS_LEN]) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(out, TS_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

// The start of a small file (/proc, cgroup files: one read() gets it all) as a string in buf;
// its length, or <= 0 when it can't be read.
static ssize_t read_small_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n > 0) buf[n] = 0;
  return n;
}

// Our start time in clock ticks (/proc/self/stat field 22): with the pid, it tells bunker whether
// the process it finds under our pid is still us.
static unsigned long long self_start_time(void) {
  char buf[1024];
  if (read_small_file("/proc/self/stat", buf, sizeof buf) <= 0) return 0;
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p += 2; // field 3
  for (int field = 3; field < 22 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  return p ? strtoull(p, NULL, 10) : 0;
}

// ---- state ----

struct state {
  const char *status;
  int pid, exit_code, oom, restarts;
  char started[TS_LEN], finished[TS_LEN];
  char error[160];
};

static struct state st = {.status = "created", .started = "0001-01-01T00:00:00Z", .finished = "0001-01-01T00:00:00Z"};
static unsigned long long my_start;

static void write_json_atomic(const char *path, const char *json, size_t len) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof tmp) return;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return; // the container's directory was removed under us (rm -f): nothing to record
  int rc = write_all(fd, json, len);
  close(fd);
  if (rc < 0 || rename(tmp, path) < 0) unlink(tmp);
}

// The error text is ours (no quotes or backslashes), so it needs no JSON escaping.
static void save_state(void) {
  char json[1024];
  int running = strcmp(st.status, "running") == 0, restarting = strcmp(st.status, "restarting") == 0;
  int n = snprintf(json, sizeof json,
                   "{\n  \"Status\": \"%s\",\n  \"Running\": %s,\n  \"Restarting\": %s,\n  \"Pid\": %d,\n"
                   "  \"ExitCode\": %d,\n  \"Error\": \"%s\",\n  \"StartedAt\": \"%s\",\n  \"FinishedAt\": \"%s\",\n"
                   "  \"OOMKilled\": %s,\n  \"MonitorPid\": %d,\n  \"MonitorStartTime\": %llu,\n  \"RestartCount\": %d\n}\n",
                   st.status, running ? "true" : "false", restarting ? "true" : "false", st.pid, st.exit_code, st.error,
                   st.started, st.finished, st.oom ? "true" : "false", (int)getpid(), my_start, st.restarts);
  if (n <= 0 || n >= (int)sizeof json) return;
  write_json_atomic(o.state, json, (size_t)n);
  if (o.state2) write_json_atomic(o.state2, json, (size_t)n);
}

// ---- OOM ----

// oom_kill from the cgroup's memory.events (cgroup v2), or 0.
static long oom_kills(void) {
  if (!o.cgroup) return 0;
  char path[4200], buf[1024];
  if (snprintf(path, sizeof path, "%s/memory.events", o.cgroup) >= (int)sizeof path) return 0;
  if (read_small_file(path, buf, sizeof buf) <= 0) return 0;
  char *p = strstr(buf, "oom_kill ");
  return p ? strtol(p + 9, NULL, 10) : 0;
}

// ---- the log (k8s-file: "<time> stdout|stderr F|P <text>\n"; P: the text had no newline yet) ----

static int log_fd = -1;
static long long log_size;

static void log_open(void) {
  log_fd = open(o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) die("opening the log file", errno);
  struct stat sb;
  log_size = fstat(log_fd, &sb) == 0 ? sb.st_size : 0;
}

// max-file counts the current file (docker): ctr.log, ctr.log.1 ... ctr.log.(max_file-1).
static void log_rotate(void) {
  char from[4200], to[4200];
  if (o.max_file <= 1) {
    if (ftruncate(log_fd, 0) == 0) log_size = 0;
    return;
  }
  for (int i = o.max_file - 1; i >= 1; i--) {
    if (i == 1) snprintf(from, sizeof from, "%s", o.log);
    else snprintf(from, sizeof from, "%s.%d", o.log, i - 1);
    snprintf(to, sizeof to, "%s.%d", o.log, i);
    (void)rename(from, to);
  }
  close(log_fd);
  log_open();
}

static void log_record(const char *stream, char tag, const char *text, size_t len) {
  char head[TS_LEN + 16], ts[TS_LEN];
  timestamp(ts);
  int hn = snprintf(head, sizeof head, "%s %s %c ", ts, stream, tag);
  long long rec = hn + (long long)len + 1;
  if (o.max_size > 0 && log_size > 0 && log_size + rec > o.max_size) log_rotate();
  struct iovec iov[3] = {{head, (size_t)hn}, {(void *)text, len}, {"\n", 1}};
  ssize_t n;
  do n = writev(log_fd, iov, 3);
  while (n < 0 && errno == EINTR);
  if (n > 0) log_size += n;
}

struct stream {
  const char *name;
  int fd; // read end, -1 at EOF
  size_t len;
  char buf[8192];
};

static struct stream out = {.name = "stdout", .fd = -1}, err = {.name = "stderr", .fd = -1};

static void stream_flush(struct stream *s) {
  if (s->len) log_record(s->name, 'P', s->buf, s->len);
  s->len = 0;
}

// Reads what is there; complete lines become F records, the rest (no newline yet) a P record.
static void stream_read(struct stream *s) {
  for (;;) {
    ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // What came without a newline (a prompt) is logged now as a partial record, not held back.
      stream_flush(s);
      return;
    }
    if (n <= 0) {
      stream_flush(s);
      close(s->fd);
      s->fd = -1;
      return;
    }
    s->len += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++)
      if (s->buf[i] == '\n') {
        log_record(s->name, 'F', s->buf + start, i - start);
        start = i + 1;
      }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    if (s->len == sizeof s->buf) stream_flush(s);
  }
}

// ---- starting the container ----

static uint8_t *prog;
static uint32_t prog_len;

static void load_program(void) {
  int fd = open(o.program, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("opening the spawn program", errno);
  struct stat sb;
  if (fstat(fd, &sb) < 0) die("reading the spawn program", errno);
  if (sb.st_size < BK_SPAWN_HEADER || sb.st_size > 16 << 20) die("reading the spawn program", EINVAL);
  prog_len = (uint32_t)sb.st_size;
  prog = mmap(NULL, prog_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (prog == MAP_FAILED) die("mapping the spawn program", errno);
  close(fd);
}

static void put32(uint32_t off, int v) {
  int32_t x = v;
  memcpy(prog + off, &x, 4);
}

static int status_fd = -1, ctl_fd = -1;

static void status(const char *fmt, int a, int b) {
  if (status_fd < 0) return;
  char buf[64];
  int n = snprintf(buf, sizeof buf, fmt, a, b);
  if (n > 0) (void)write_all(status_fd, buf, (size_t)n);
}

// Reads bunker's answer to "P <pid>": an optional "C<cgroup path>\n", then "g". 1 for go.
static int read_go(void) {
  size_t len = 0;
  int in_path = 0;
  for (;;) {
    char c = 0;
    ssize_t n = read(ctl_fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1) return 0;
    if (!in_path && c == 'C') {
      in_path = 1;
      len = 0;
    } else if (!in_path) return c == 'g';
    else if (c != '\n') {
      if (len + 1 >= sizeof cgroup_path) return 0;
      cgroup_path[len++] = c;
    } else {
      cgroup_path[len] = 0;
      o.cgroup = len ? cgroup_path : NULL;
      in_path = 0;
    }
  }
}

// A restarted container's process goes back into the container's cgroup before it is released:
// in a systemd scope it was cloned into ours (the scope's monitor leaf), without the limits.
// (Cloned with CLONE_INTO_CGROUP into a delegated cgroup, it is there already: the write is a no-op.)
static int join_cgroup(int pid) {
  if (!o.cgroup) return 0;
  char path[4200], buf[16];
  if (snprintf(path, sizeof path, "%s/cgroup.procs", o.cgroup) >= (int)sizeof path) return -ENAMETOOLONG;
  int n = snprintf(buf, sizeof buf, "%d", pid);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = write_all(fd, buf, (size_t)n);
  close(fd);
  return rc;
}

// Runs argv (a full path first) with our signals unblocked and waits for it: its wait status, or -errno.
static int run_and_wait(char **argv) {
  sigset_t none;
  sigemptyset(&none);
  pid_t p = fork();
  if (p < 0) return -errno;
  if (p == 0) {
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv);
    _exit(127);
  }
  int ws;
  while (waitpid(p, &ws, 0) < 0)
    if (errno != EINTR) return -errno;
  return ws;
}

// Runs the --setup command with the child's pid and waits for it; 0 when it succeeded.
static int run_setup(int pid) {
  if (!o.setup) return 0;
  int n = 0;
  while (o.setup[n]) n++;
  char pidbuf[16];
  snprintf(pidbuf, sizeof pidbuf, "%d", pid);
  char *argv[64];
  if (n > 62) return -E2BIG;
  for (int i = 0; i < n; i++) argv[i] = o.setup[i];
  argv[n] = pidbuf;
  argv[n + 1] = NULL;
  int ws = run_and_wait(argv);
  if (ws < 0) return ws;
  return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -ECANCELED;
}

// Clones the container and lets it go after the parent's setup. Returns its pid, or -1 with
// st.error set.
static int start_container(int first) {
  int go[2], ep[2], op[2] = {-1, -1}, errp[2] = {-1, -1}, in[2] = {-1, -1};
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) die("pipe", errno);
  put32(H_GO, go[0]);
  put32(H_GO_W, go[1]);
  put32(H_ERR, ep[1]);
  put32(H_ERR_R, ep[0]);
  if (o.tty_socket < 0) {
    // The container's stdout and stderr are our 1 and 2 while it is cloned (a STDIO step keeps them).
    if (pipe2(op, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) die("pipe", errno);
    if (dup2(op[1], 1) < 0 || dup2(errp[1], 2) < 0) die("dup2", errno);
    close(op[1]);
    close(errp[1]);
  }
  if (o.stdin_open) {
    // Its stdin: a pipe nobody writes to but that stays open, so a shell waits instead of ending.
    static int keep_w = -1;
    if (pipe2(in, O_CLOEXEC) < 0 || dup2(in[0], 0) < 0) die("stdin pipe", errno);
    close(in[0]);
    if (keep_w >= 0) close(keep_w);
    keep_w = in[1];
  }
  int pid = bk_spawn(prog, prog_len);
  dup2(devnull, 0);
  dup2(devnull, 1);
  dup2(devnull, 2);
  close(go[0]);
  close(ep[1]);
  if (o.tty_socket >= 0) {
    out.fd = err.fd = -1; // the pty's master, once the container runs
  } else {
    out.fd = op[0];
    err.fd = errp[0];
    fcntl(err.fd, F_SETFL, O_NONBLOCK);
  }
  out.len = err.len = 0;
  fcntl(out.fd, F_SETFL, O_NONBLOCK);
  if (pid < 0) {
    status("F %d\n", -pid, 0);
    snprintf(st.error, sizeof st.error, "cannot create the container's process: %s", strerror(-pid));
    close(go[1]);
    close(ep[0]);
    return -1;
  }
  int ok;
  if (first) {
    status("P %d\n", pid, 0);
    ok = read_go();
    if (!ok) snprintf(st.error, sizeof st.error, "bunker gave up starting the container");
  } else {
    int joined = join_cgroup(pid), set_up = joined < 0 ? -1 : run_setup(pid);
    if (joined < 0) snprintf(st.error, sizeof st.error, "moving the restarted container into its cgroup failed: %s", strerror(-joined));
    else if (set_up < 0) snprintf(st.error, sizeof st.error, "setting the restarted container up failed");
    ok = joined == 0 && set_up == 0;
  }
  if (ok) ok = write_all(go[1], "g", 1) == 0;
  close(go[1]); // without the go byte, the child sees EOF and exits
  int32_t report[2];
  ssize_t n = 0;
  if (ok) do n = read(ep[0], report, sizeof report);
    while (n < 0 && errno == EINTR);
  close(ep[0]);
  if (ok && n == (ssize_t)sizeof report) {
    status("E %d %d\n", report[0], report[1]);
    snprintf(st.error, sizeof st.error, "the container failed to start at step %d: %s", report[0], strerror(report[1]));
    ok = 0;
  } else if (ok && o.tty_socket >= 0 && (out.fd = bk_recv_fd(o.tty_socket)) < 0) {
    // -t: the pty made in the container (before its execve) is ours to log from; it reads EIO, our
    // EOF, once the container's last process has gone.
    status("E %d %d\n", -1, -out.fd);
    snprintf(st.error, sizeof st.error, "the container's pty did not arrive: %s", strerror(-out.fd));
    out.fd = -1;
    ok = 0;
  } else if (ok) {
    if (out.fd >= 0) fcntl(out.fd, F_SETFL, O_NONBLOCK);
    // Recorded before bunker hears of it: once `run -d` returns, every command sees it running.
    st.status = "running";
    st.pid = pid;
    st.oom = 0;
    st.error[0] = 0;
    timestamp(st.started);
    save_state();
    status("S\n", 0, 0);
  }
  if (!ok) {
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return -1;
  }
  return pid;
}

static int exit_code(int ws) {
  if (WIFEXITED(ws)) return WEXITSTATUS(ws);
  if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
  return 125;
}

// SIGTERM to the monitor (systemd stopping a unit, a plain `kill`) means what `bunker stop` means:
// the container gets SIGTERM, SIGKILL after TERM_GRACE_MS, and no restart follows; its exit is
// recorded as usual instead of the monitor dying with an unknown exit code.
#define TERM_GRACE_MS 10000
static int term_requested;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Reads the pending signals: notes a SIGTERM; returns whether one came.
static int read_signals(int sigfd) {
  struct signalfd_siginfo si;
  int term = 0;
  while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
    if (si.ssi_signo == SIGTERM) term = term_requested = 1;
  return term;
}

// Waits for the container while logging its output; returns its wait status.
static int supervise(int pid, int sigfd) {
  int ws = 0, exited = 0;
  long long kill_at = -1; // when SIGKILL follows a forwarded SIGTERM
  if (term_requested) {
    kill(pid, SIGTERM); // it came while the container started
    kill_at = now_ms() + TERM_GRACE_MS;
  }
  for (;;) {
    struct pollfd pf[3] = {{out.fd, POLLIN, 0}, {err.fd, POLLIN, 0}, {sigfd, POLLIN, 0}};
    // After the exit, the pipes close as the pid namespace dies; don't wait for them forever.
    int timeout = exited ? 2000 : -1;
    if (!exited && kill_at >= 0) timeout = kill_at > now_ms() ? (int)(kill_at - now_ms()) : 0;
    if (exited && out.fd < 0 && err.fd < 0) return ws;
    int n = poll(pf, 3, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("poll", errno);
    if (n == 0 && exited) break;
    if (n == 0) {
      kill(pid, SIGKILL); // the grace after SIGTERM is over
      kill_at = -1;
      continue;
    }
    if (pf[0].revents && out.fd >= 0) stream_read(&out);
    if (pf[1].revents && err.fd >= 0) stream_read(&err);
    if (pf[2].revents) {
      if (read_signals(sigfd) && !exited && kill_at < 0) {
        kill(pid, SIGTERM);
        kill_at = now_ms() + TERM_GRACE_MS;
      }
      int s;
      pid_t r;
      while ((r = waitpid(-1, &s, WNOHANG)) > 0)
        if (r == pid) {
          ws = s;
          exited = 1;
        }
    }
  }
  for (struct stream *s = &out; s; s = s == &out ? &err : NULL)
    if (s->fd >= 0) {
      stream_flush(s);
      close(s->fd);
      s->fd = -1;
    }
  return ws;
}

static int should_restart(int code) {
  if (term_requested || access(o.stopped, F_OK) == 0) return 0; // `bunker stop` / `kill` / SIGTERM said so
  if (strcmp(o.restart, "always") == 0 || strcmp(o.restart, "unless-stopped") == 0) return 1;
  if (strcmp(o.restart, "on-failure") == 0) return code != 0 && (o.max_retries <= 0 || st.restarts < o.max_retries);
  return 0;
}

static void remove_cgroup(void) {
  if (!o.cgroup) return;
  // The pid namespace's last processes may take a moment to leave the cgroup.
  for (int i = 0; i < 50; i++) {
    if (rmdir(o.cgroup) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return;
    struct timespec d = {0, 20 * 1000 * 1000};
    nanosleep(&d, NULL);
  }
}

// argv lists are given as "--setup N arg1 ... argN".
static char **take_list(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) die("usage", EINVAL);
  int n = atoi(argv[++*i]);
  if (n <= 0 || *i + n >= argc) die("usage", EINVAL);
  char **list = argv + *i + 1;
  *i += n;
  // argv is NULL-terminated only at its end: copy into a terminated array.
  char **copy = mmap(NULL, (size_t)(n + 1) * sizeof(char *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) die("mmap", errno);
  for (int k = 0; k < n; k++) copy[k] = list[k];
  copy[n] = NULL;
  return copy;
}

int bk_monitor_main(int argc, char **argv) {
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--setup") == 0) o.setup = take_list(argc, argv, &i);
    else if (strcmp(a, "--on-exit") == 0) o.on_exit = take_list(argc, argv, &i);
    else if (!v) die("usage", EINVAL);
    else {
      i++;
      if (strcmp(a, "--program") == 0) o.program = v;
      else if (strcmp(a, "--state") == 0) o.state = v;
      else if (strcmp(a, "--state2") == 0) o.state2 = v;
      else if (strcmp(a, "--log") == 0) o.log = v;
      else if (strcmp(a, "--stopped") == 0) o.stopped = v;
      else if (strcmp(a, "--restart") == 0) o.restart = v;
      else if (strcmp(a, "--max-retries") == 0) o.max_retries = atoi(v);
      else if (strcmp(a, "--log-max-size") == 0) o.max_size = atoll(v);
      else if (strcmp(a, "--log-max-file") == 0) o.max_file = atoi(v);
      else if (strcmp(a, "--tty-socket") == 0) o.tty_socket = atoi(v);
      else if (strcmp(a, "--stdin-open") == 0) o.stdin_open = atoi(v);
      else die("unknown option", EINVAL);
    }
  }
  if (!o.program || !o.state || !o.log || !o.stopped) die("usage: --program --state --log --stopped are required", EINVAL);

  // The handshake pipes move out of the way of stdio; 0-2 become /dev/null so that nothing of the
  // user's terminal or of `$(bunker run -d ...)` stays open in a process that lives on.
  ctl_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
  status_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (ctl_fd < 0 || status_fd < 0 || devnull < 0) die("setting up stdio", errno);
  dup2(devnull, 0);
  dup2(devnull, 1);
  dup2(devnull, 2);
  (void)setsid(); // a session of our own: the terminal's SIGHUP never reaches us
  // Run from a memfd, our name would be its fd number: say what we are in ps and top.
  (void)prctl(PR_SET_NAME, "bunker-monitor", 0, 0, 0);
  if (chdir("/") < 0) die("chdir /", errno);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigaddset(&chld, SIGTERM);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) die("signalfd", errno);
  my_start = self_start_time();
  load_program();
  log_open();

  for (int first = 1;; first = 0) {
    long oom_before = oom_kills();
    int pid = start_container(first);
    if (first) {
      close(status_fd);
      close(ctl_fd);
      status_fd = ctl_fd = -1;
    }
    if (pid < 0) {
      st.status = "exited";
      st.pid = 0;
      st.exit_code = 125;
      timestamp(st.finished);
      save_state();
      break;
    }
    int ws = supervise(pid, sigfd);
    st.exit_code = exit_code(ws);
    st.oom = oom_kills() > oom_before;
    st.pid = 0;
    timestamp(st.finished);
    if (!should_restart(st.exit_code)) {
      st.status = "exited";
      save_state();
      break;
    }
    st.status = "restarting";
    save_state();
    // docker's back-off: 100 ms doubling, here capped at 3.2 s, so a crash loop costs nothing.
    int shift = st.restarts < 5 ? st.restarts : 5;
    struct timespec d = {(100 << shift) / 1000, (long)((100 << shift) % 1000) * 1000 * 1000};
    nanosleep(&d, NULL);
    st.restarts++;
    if (read_signals(sigfd) || term_requested || access(o.stopped, F_OK) == 0) {
      st.status = "exited";
      save_state();
      break;
    }
  }
  close(log_fd);
  remove_cgroup();
  // As our child, not in our place: our own exit must stay the container's code.
  if (o.on_exit) (void)run_and_wait(o.on_exit);
  // The container's exit code is ours: whoever waits for the monitor (systemd following a
  // `bunker generate systemd` unit, with Restart=on-failure) sees whether the container failed.
  return st.exit_code;
}
