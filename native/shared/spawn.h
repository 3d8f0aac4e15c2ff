// The spawn-program interpreter shared by libbunker.so (foreground runs, through bun:ffi) and the
// static bunker-helper (the detached containers' monitor). TypeScript (src/runtime/program.ts)
// decides everything and serializes it; this C only carries the steps out, in order.
#ifndef BK_SPAWN_H
#define BK_SPAWN_H
#include <stdint.h>

// Program layout, little-endian:
//   header: u32 magic (BK_SPAWN_MAGIC), u32 version, u64 clone flags, i32 cgroup dir fd (-1: none),
//           i32 go fd (read end; the child blocks on it; -1: runs at once), i32 go write end (closed in the child),
//           i32 error fd (write end, O_CLOEXEC), i32 error read end (closed in the child), u32 nsteps,
//           i32 mapped fd (read end of a pipe whose writers are the id-mapping tools: the child runs
//           no step before they have all closed it; -1: none), i32 its write end (closed in the child)
//   step:   u32 op, u32 size (whole step, bytes, multiple of 8), u32 nint, u32 nstr,
//           i64 ints[nint], then nstr × (u32 len, bytes[len], NUL), each padded to 4 bytes.
// The child reports a failure as {u32 step index, i32 errno} on the error fd, then _exits.
// A successful execve closes the error fd (O_CLOEXEC): EOF means the command started.
#define BK_SPAWN_MAGIC 0x50534b42u /* "BKSP" */
#define BK_SPAWN_VERSION 2u
#define BK_SPAWN_HEADER 48u

enum bk_op {
  BK_OP_MOUNT = 1,      // ints: flags, src in root, tgt in root, create (0 no, 1 dir, 2 file), optional (1: skip if missing, 2: ignore any error); strs: src tgt fstype data
  BK_OP_SET_ROOT = 2,   // strs: dir that later "in root" paths resolve inside (no symlink can leave it)
  BK_OP_MKDIR = 3,      // ints: mode, in root; strs: path (mkdir -p)
  BK_OP_SYMLINK = 4,    // ints: in root; strs: target, link path (an existing entry is left alone)
  BK_OP_PIVOT_ROOT = 5, // strs: new root; the old root is detached; "/" becomes the root for in-root paths
  BK_OP_SETATTR_RO = 6, // ints: recursive, in root, optional; strs: path (mount_setattr MOUNT_ATTR_RDONLY)
  BK_OP_HOSTNAME = 7,   // strs: name
  BK_OP_CHDIR = 8,      // strs: path
  BK_OP_SETID = 9,      // ints: uid, gid, ngroups (-1: leave setgroups alone), groups...
  BK_OP_CAPBSET = 10,   // ints: mask of capabilities to KEEP in the bounding set (bits 0..63)
  BK_OP_CAPSET = 11,    // ints: effective, permitted, inheritable, ambient masks
  BK_OP_NO_NEW_PRIVS = 12,
  BK_OP_SECCOMP = 13,   // strs: struct sock_filter[] bytes
  BK_OP_RESET_SIGNALS = 14,
  BK_OP_STDIO = 15,     // ints: fd for 0, 1, 2 (-1 keep), setsid, make fd 0 the controlling tty, clear O_NONBLOCK on 0-2
  BK_OP_EXEC = 16,      // ints: argc, envc, exec fd (-1: search PATH); strs: PATH, argv..., envp...
  BK_OP_RLIMIT = 17,    // ints: resource, soft, hard
  BK_OP_IFUP_LO = 18,   // brings the loopback interface of the (new) network namespace up
  BK_OP_UMASK = 19,     // ints: mask
  BK_OP_UNSHARE = 20,   // ints: CLONE_NEW* flags (unshare(2))
  BK_OP_PTY = 21,       // ints: unix socket fd, rows, cols (0: leave); a pty of /dev/ptmx in root becomes 0-2 and the
                        // controlling tty of a new session; its master is sent on the socket (SCM_RIGHTS)
  BK_OP_WRITE_FILE = 22, // ints: mode, in root; strs: path (must not exist), content
  BK_OP_UMOUNT = 23,     // ints: umount2 flags, in root; strs: path
  BK_OP_AWAIT = 24,      // the program goes on with the next one sent on the go fd (bk_release_program),
                         // whose steps are numbered after this one; EOF instead: exit, having run nothing more
  BK_OP_WRITE_EXISTING = 25, // ints: in root; strs: path (must exist: neither created nor truncated; a final
                             // symlink is refused), content (a sysctl under /proc/sys)
};

// What the child reads on its go fd before it runs anything: one byte, BK_GO_RUN (run the program
// it was cloned with; any single byte does), or BK_GO_PROGRAM, u64 address, u32 length (bk_release_program).
// A BK_OP_AWAIT step reads a BK_GO_PROGRAM message again.
#define BK_GO_RUN 1
#define BK_GO_PROGRAM 2
#define BK_GO_MSG 13

// Validates the program, then clones the child that runs it. Returns the child's pid (in the
// caller's pid namespace) or -errno. Never allocates: safe in a multithreaded process.
int bk_spawn(const uint8_t *prog, uint32_t len);

// bk_spawn without copying the caller's memory (CLONE_VM, x86_64; elsewhere it is bk_spawn): the
// child runs on stack (at least BK_SPAWN_VM_STACK bytes) and reads prog in place, so the caller
// must keep both untouched until the child has exec'd (EOF on the error pipe) or been reaped.
// For a large process (Bun) this spares the copy of its page tables and the copy-on-write faults.
#define BK_SPAWN_VM_STACK 65536u
int bk_spawn_vm(const uint8_t *prog, uint32_t len, uint8_t *stack, uint32_t stack_len);

// To call once a bk_spawn_vm child has exec'd or been reaped. The memory the child shared carries
// the kernel's "dumpable" flag, which its change of uid/gid cleared: until this restores it, other
// processes of the user (a helper run from /proc/<our pid>/fd/N) are refused access to our /proc.
int bk_spawn_vm_done(void);

// Starts a "lingerer": a process that shares our memory (CLONE_VM), holds keep_fd (-1: none) and
// waits for us to exit, then exits itself. Our exit then no longer tears down our address space
// (the lingerer still uses it), nor whatever keep_fd holds last (a container's mount namespace, whose
// ~30 mounts are unmounted behind an RCU grace period): the kernel does both when the lingerer
// exits, after our parent has been told that we exited. Call it last, once; the pid or -errno.
int bk_linger(int keep_fd);

// Releases a bk_spawn_vm child that was cloned with a program of no steps (only its header: clone
// flags and fds), before its real program was known: validates prog and sends its address on the
// go fd (go_w). The child then runs prog's steps in place, so, as for bk_spawn_vm, the caller keeps
// prog untouched until the child has exec'd or been reaped. Lets the id mapping of a new user
// namespace (newuidmap) run while the caller still decides what the container is. 0 or -errno;
// -ENOSYS where bk_spawn_vm copies memory.
int bk_release_program(int go_w, const uint8_t *prog, uint32_t len);

// Receives the fd a BK_OP_PTY step sent on sock (close-on-exec), without blocking: the fd, -EAGAIN
// when none was sent yet, -EPIPE when the other end closed without one, or -errno.
int bk_recv_fd(int sock);

#endif
