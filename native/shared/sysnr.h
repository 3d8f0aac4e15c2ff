// x86_64 numbers of the syscalls newer than musl-gcc's headers (it has no linux/ headers), for
// every file that makes them raw.
#pragma once
#include <sys/syscall.h>

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
