// `bunker-helper init -- CMD [ARG...]`: a tiny PID 1 for `run --init` (what docker's tini does).
// A process that is PID 1 of its namespace gets no default signal actions and inherits every
// orphan, so this one forwards signals to the command, reaps all zombies, and exits with the
// command's status (128+N when a signal N killed it).
#define _GNU_SOURCE
#include "init.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *a, const char *b, const char *c) {
  const char *parts[] = {"bunker-init: ", a, b, c, "\n"};
  for (unsigned i = 0; i < sizeof parts / sizeof parts[0]; i++) (void)!write(2, parts[i], strlen(parts[i]));
}

static int status_code(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 125;
}

int bk_init_main(int argc, char **argv) {
  int first = 2;
  if (first < argc && strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    say("usage: bunker-helper init -- CMD [ARG...]", "", "");
    return 125;
  }
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &all, NULL) < 0) return 125;
  pid_t child = fork();
  if (child < 0) {
    say("fork: ", strerror(errno), "");
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvp(argv[first], argv + first);
    int err = errno;
    say(argv[first], ": ", strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      // Signals the command would get from the terminal or from `bunker kill` go to it.
      (void)kill(child, sig);
      continue;
    }
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0)
      if (p == child) {
        // Orphans still running die with the namespace when we exit; reap what has exited.
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        return status_code(st);
      }
  }
}
