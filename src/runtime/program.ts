// Serializes a spawn program for native/shared/spawn.c (its layout is documented in spawn.h).
// TypeScript decides every mount, id and capability; the C carries the steps out in order.

export const enum Op {
  Mount = 1,
  SetRoot = 2,
  Mkdir = 3,
  Symlink = 4,
  PivotRoot = 5,
  SetattrRo = 6,
  Hostname = 7,
  Chdir = 8,
  SetId = 9,
  CapBset = 10,
  CapSet = 11,
  NoNewPrivs = 12,
  Seccomp = 13,
  ResetSignals = 14,
  Stdio = 15,
  Exec = 16,
  Rlimit = 17,
  IfupLo = 18,
  Umask = 19,
  Unshare = 20,
  Pty = 21,
  WriteFile = 22,
  Umount = 23,
  Await = 24,
  WriteExisting = 25,
}

const MAGIC = 0x50534b42;
const VERSION = 2;
const HEADER = 48;

export interface Step {
  op: Op;
  ints: (number | bigint)[];
  strs: (string | Uint8Array)[];
  /** What the step does, for the error message when it fails ("mount proc on /proc"). */
  what: string;
  /** What to do when it fails with one of these errnos (by name: "EPERM"), appended to that message. */
  advice?: Partial<Record<string, string>>;
}

export interface ProgramHeader {
  cloneFlags: bigint;
  cgroupFd: number;
  goFd: number;
  goWriteFd: number;
  errFd: number;
  errReadFd: number;
  /** a pipe the id-mapping tools hold until they exit: the child runs nothing before (see spawn.h) */
  mappedFd?: number;
  mappedWriteFd?: number;
}

function stepBytes(s: Step): Uint8Array {
  // Buffer, not a TextEncoder: Buffer is loaded anyway, and a run's first TextEncoder costs ~0.5 ms
  const strs = s.strs.map((v) => (typeof v === "string" ? Buffer.from(v) : v));
  let size = 16 + 8 * s.ints.length;
  for (const b of strs) size += (4 + b.length + 1 + 3) & ~3;
  size = (size + 7) & ~7;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, s.op, true);
  view.setUint32(4, size, true);
  view.setUint32(8, s.ints.length, true);
  view.setUint32(12, strs.length, true);
  let off = 16;
  for (const v of s.ints) {
    view.setBigInt64(off, BigInt(v), true);
    off += 8;
  }
  for (const b of strs) {
    view.setUint32(off, b.length, true);
    out.set(b, off + 4);
    off += (4 + b.length + 1 + 3) & ~3;
  }
  return out;
}

/** The program as bytes; the child reads it in place (bk_spawn_vm): keep it until it has exec'd. */
export function encodeProgram(h: ProgramHeader, steps: Step[]): Uint8Array {
  const bodies = steps.map(stepBytes);
  let total = HEADER;
  for (const b of bodies) total += b.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setBigUint64(8, h.cloneFlags, true);
  view.setInt32(16, h.cgroupFd, true);
  view.setInt32(20, h.goFd, true);
  view.setInt32(24, h.goWriteFd, true);
  view.setInt32(28, h.errFd, true);
  view.setInt32(32, h.errReadFd, true);
  view.setUint32(36, steps.length, true);
  view.setInt32(40, h.mappedFd ?? -1, true);
  view.setInt32(44, h.mappedWriteFd ?? -1, true);
  let off = HEADER;
  for (const b of bodies) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}
