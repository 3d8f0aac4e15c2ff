// bunker-helper: one small static executable for the processes that must not be Bun
// (the layer applier, the container init, the monitor). It is embedded in dist/bunker and run
// from a sealed memfd, never from a file on disk. Each mode lives in its own file.
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "init.h"
#include "monitor.h"

static int usage(void) {
  static const char msg[] = "bunker-helper: internal helper of bunker, not meant to be run by hand\n";
  (void)!write(2, msg, sizeof msg - 1);
  return 125;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  if (strcmp(argv[1], "version") == 0) {
    static const char v[] = "bunker-helper 1\n";
    return write(1, v, sizeof v - 1) == (ssize_t)(sizeof v - 1) ? 0 : 1;
  }
  if (strcmp(argv[1], "apply") == 0) return bk_apply_main(argc, argv);
  if (strcmp(argv[1], "rm") == 0) return bk_rm_main(argc, argv);
  if (strcmp(argv[1], "init") == 0) return bk_init_main(argc, argv);
  if (strcmp(argv[1], "monitor") == 0) return bk_monitor_main(argc, argv);
  return usage();
}
