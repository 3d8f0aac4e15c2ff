// Whole writes for the helper's pipes and files: write(2) may write less than asked (a pipe,
// a signal), and the callers' protocols break on a short record.
#ifndef BK_HELPER_IO_H
#define BK_HELPER_IO_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

// Writes all len bytes, retrying after EINTR; 0, or -errno.
static inline int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

#endif
