// The default seccomp filter, after docker's profile, as a deny list: syscalls that reach kernel
// state no container should touch (modules, kexec, keyrings, bpf, perf, io_uring, swap, clocks,
// reboot...) fail with EPERM; namespace and mount syscalls too unless the container has
// CAP_SYS_ADMIN (as in docker). clone3 gives ENOSYS so that libcs fall back to clone, whose flags
// can be checked. Only x86_64 syscalls are allowed: a 32-bit or x32 entry could dodge the list.
// --privileged and --security-opt seccomp=unconfined run without it.

// <linux/filter.h>, <linux/seccomp.h>, <linux/audit.h>
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARG0_LOW = 16;
const CLONE_NAMESPACE_FLAGS = 0x7e020080; // NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME

/** x86_64 numbers of the syscalls denied to every container. */
const DENIED: Record<string, number> = {
  _sysctl: 156, acct: 163, add_key: 248, adjtimex: 159, bpf: 321, clock_adjtime: 305, clock_settime: 227,
  create_module: 174, delete_module: 176, finit_module: 313, get_kernel_syms: 177, init_module: 175,
  io_uring_enter: 426, io_uring_register: 427, io_uring_setup: 425, ioperm: 173, iopl: 172, kcmp: 312,
  kexec_file_load: 320, kexec_load: 246, keyctl: 250, lookup_dcookie: 212, nfsservctl: 180,
  open_by_handle_at: 304, perf_event_open: 298, query_module: 178, quotactl: 179, reboot: 169,
  request_key: 249, settimeofday: 164, swapoff: 168, swapon: 167, sysfs: 139, syslog: 103,
  userfaultfd: 323, uselib: 134, ustat: 136, vhangup: 153,
};

/** Denied unless the container has CAP_SYS_ADMIN. */
const SYS_ADMIN_ONLY: Record<string, number> = {
  mount: 165, umount2: 166, pivot_root: 155, unshare: 272, setns: 308, open_tree: 428, move_mount: 429,
  fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
};
const SYS_CLONE = 56;
const SYS_CLONE3 = 435;

type Insn = [code: number, jt: number, jf: number, k: number];

/** The filter as struct sock_filter[] bytes, for the spawn program's seccomp step. */
export function defaultSeccompFilter(caps: string[]): Uint8Array {
  const sysAdmin = caps.includes("SYS_ADMIN");
  const p: Insn[] = [
    [LD_W_ABS, 0, 0, OFFSET_ARCH],
    [JEQ_K, 1, 0, AUDIT_ARCH_X86_64],
    [RET_K, 0, 0, RET_ERRNO | EPERM],
    [LD_W_ABS, 0, 0, OFFSET_NR],
    [JGE_K, 0, 1, X32_SYSCALL_BIT],
    [RET_K, 0, 0, RET_ERRNO | EPERM],
  ];
  const deny = (nr: number, errno: number) => p.push([JEQ_K, 0, 1, nr], [RET_K, 0, 0, RET_ERRNO | errno]);
  for (const nr of Object.values(DENIED)) deny(nr, EPERM);
  deny(SYS_CLONE3, ENOSYS);
  if (!sysAdmin) {
    for (const nr of Object.values(SYS_ADMIN_ONLY)) deny(nr, EPERM);
    // clone itself is fine; clone with a namespace flag is not
    p.push(
      [JEQ_K, 0, 3, SYS_CLONE],
      [LD_W_ABS, 0, 0, OFFSET_ARG0_LOW],
      [JSET_K, 0, 1, CLONE_NAMESPACE_FLAGS],
      [RET_K, 0, 0, RET_ERRNO | EPERM],
    );
  }
  p.push([RET_K, 0, 0, RET_ALLOW]);
  const out = new Uint8Array(p.length * 8);
  const v = new DataView(out.buffer);
  for (let i = 0; i < p.length; i++) {
    const [code, jt, jf, k] = p[i];
    v.setUint16(i * 8, code, true);
    v.setUint8(i * 8 + 2, jt);
    v.setUint8(i * 8 + 3, jf);
    v.setUint32(i * 8 + 4, k, true);
  }
  return out;
}
