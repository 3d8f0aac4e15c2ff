// libbunker: the C that bun:ffi calls in-process. Small wrappers that return -errno on failure,
// because bun:ffi has no way to read errno after a libc call.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

// Non-blocking only: a blocking call through FFI would freeze Bun's event loop; callers poll.
int bk_flock(int fd, int op) { return flock(fd, op) == 0 ? 0 : -errno; }

// A sealed in-memory copy of an embedded executable, so a container can never write to it
// (the CVE-2019-5736 class of attack on /proc/self/exe).
int bk_memfd_seal(int fd) {
  int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  return fcntl(fd, F_ADD_SEALS, seals) == 0 ? 0 : -errno;
}
