// `bunker cp`: files in and out of a container, like docker cp. The container's tree is
// untrusted: every path in it is opened with openat2(RESOLVE_IN_ROOT) under the container's root
// (/proc/PID/root of the container, or of the process holding a stopped one's mounted:
// src/runtime/container-root.ts), so no symlink or ".." planted by the container can make us read
// or write anything outside it. Entries are created one component at a time in directories opened that way,
// with O_NOFOLLOW, and the walk copies symlinks as symlinks (docker cp's default).
import {
  chmodSync,
  closeSync,
  constants as fsc,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  type Stats,
  statSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, posix } from "node:path";
import { errnoName, native } from "../../native/ffi";
import { BunkerError, errnoCode } from "../errors";
import { mkdirAt, readlinkFd, symlinkAt, unlinkAt } from "../fs";
import { log } from "../log";
import { inUserNamespace } from "../userns/enter";

const O_PATH = 0o10000000;
const ELOOP = 40;
const EEXIST = 17;

/** "CONTAINER:PATH" → [container, path]; a host path (no colon before the first slash) → undefined. */
export function splitCpArg(arg: string): { container: string; path: string } | undefined {
  const colon = arg.indexOf(":");
  if (colon <= 0) return undefined;
  const slash = arg.indexOf("/");
  if (slash >= 0 && slash < colon) return undefined; // ./a:b is a host path
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) || "/" };
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

function check(rc: number, what: string): number {
  if (rc < 0) throw new BunkerError(`cp: ${what}: ${errnoName(rc)}`);
  return rc;
}

function openIn(dirFd: number, path: string, flags: number, mode = 0): number {
  return native().bk_open_in_root(dirFd, cstr(path), flags, mode);
}

/** Copies every byte of src into dst, then gives dst mode (after the writes: a 0444 file too); closes both. */
function copyFile(src: number, dst: number, mode: number): void {
  try {
    const buf = Buffer.alloc(256 * 1024);
    for (;;) {
      const n = readSync(src, buf, 0, buf.length, null);
      if (n <= 0) break;
      let off = 0;
      while (off < n) off += writeSync(dst, buf, off, n - off);
    }
    fchmodSync(dst, mode);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}

// ---- out of the container ----

function copyOutEntry(root: number, ctrPath: string, hostPath: string): void {
  const fd = openIn(root, ctrPath, O_PATH | fsc.O_NOFOLLOW);
  check(fd, ctrPath);
  try {
    const st = fstatSync(fd);
    if (st.isSymbolicLink()) symlinkSync(readlinkFd(fd), hostPath);
    else if (st.isDirectory()) {
      mkdirSync(hostPath, { recursive: false, mode: 0o700 });
      const dirFd = check(openIn(root, ctrPath, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW), ctrPath);
      let names: string[];
      try {
        names = readdirSync(`/proc/self/fd/${dirFd}`);
      } finally {
        closeSync(dirFd);
      }
      for (const name of names) copyOutEntry(root, posix.join(ctrPath, name), join(hostPath, name));
      chmodSync(hostPath, st.mode & 0o7777);
    } else if (st.isFile()) {
      const src = check(openIn(root, ctrPath, fsc.O_RDONLY | fsc.O_NOFOLLOW), ctrPath);
      const dst = openSync(hostPath, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, st.mode & 0o777);
      copyFile(src, dst, st.mode & 0o777);
    } else log.warn(`cp: skipping ${ctrPath}: not a file, directory or symlink`);
  } finally {
    closeSync(fd);
  }
}

function hostStat(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** docker cp CONTAINER:SRC DEST; root: the container's root directory (an O_PATH fd) */
export function copyOut(root: number, src: string, dest: string): void {
  const ctrPath = posix.resolve("/", src);
  const contentsOnly = src.endsWith("/.");
  const d = hostStat(dest);
  if (contentsOnly) {
    if (!d) mkdirSync(dest);
    const dirFd = check(openIn(root, ctrPath, fsc.O_RDONLY | fsc.O_DIRECTORY), ctrPath);
    const names = readdirSync(`/proc/self/fd/${dirFd}`);
    closeSync(dirFd);
    for (const n of names) copyOutEntry(root, posix.join(ctrPath, n), join(dest, n));
    return;
  }
  if (!d && !hostStat(dirname(dest))?.isDirectory()) throw new BunkerError(`cp: destination directory ${dirname(dest)} does not exist`);
  copyOutEntry(root, ctrPath, d?.isDirectory() ? join(dest, posix.basename(ctrPath) || "root") : dest);
}

// ---- into the container ----

/** Creates (or replaces) one entry named name in the container directory dirFd. */
function copyInEntry(dirFd: number, name: string, hostPath: string): void {
  const st = lstatSync(hostPath);
  if (st.isSymbolicLink()) {
    let rc = symlinkAt(readlinkSync(hostPath), dirFd, name);
    if (rc === -EEXIST) {
      unlinkAt(dirFd, name, 0);
      rc = symlinkAt(readlinkSync(hostPath), dirFd, name);
    }
    check(rc, name);
  } else if (st.isDirectory()) {
    const rc = mkdirAt(dirFd, name, 0o700);
    if (rc < 0 && rc !== -EEXIST) check(rc, name);
    const sub = check(openIn(dirFd, name, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW), name);
    try {
      for (const n of readdirSync(hostPath)) copyInEntry(sub, n, join(hostPath, n));
      fchmodSync(sub, st.mode & 0o7777);
    } finally {
      closeSync(sub);
    }
  } else if (st.isFile()) {
    const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW;
    let dst = openIn(dirFd, name, flags, st.mode & 0o777);
    if (dst === -ELOOP) {
      // a symlink in the container where the file goes: replace the link, never follow it
      unlinkAt(dirFd, name, 0);
      dst = openIn(dirFd, name, flags, st.mode & 0o777);
    }
    check(dst, name);
    const src = openSync(hostPath, "r");
    copyFile(src, dst, st.mode & 0o777);
  } else log.warn(`cp: skipping ${hostPath}: not a file, directory or symlink`);
}

/** docker cp SRC CONTAINER:DEST; root: the container's root directory (an O_PATH fd), name: the container's */
export function copyIn(root: number, name: string, src: string, dest: string): void {
  if (!hostStat(src) && !lstatSync(src, { throwIfNoEntry: false })) throw new BunkerError(`cp: ${src}: no such file or directory`);
  const ctrPath = posix.resolve("/", dest);
  const contentsOnly = src.endsWith("/.");
  // Where the copy lands: into DEST when it is a directory (as docker), else as DEST.
  const existing = openIn(root, ctrPath, fsc.O_RDONLY | fsc.O_DIRECTORY);
  if (existing >= 0) {
    try {
      if (contentsOnly) for (const n of readdirSync(src)) copyInEntry(existing, n, join(src, n));
      else copyInEntry(existing, basename(src), src);
    } finally {
      closeSync(existing);
    }
    return;
  }
  const parent = openIn(root, posix.dirname(ctrPath), fsc.O_RDONLY | fsc.O_DIRECTORY);
  if (parent < 0) throw new BunkerError(`cp: destination directory ${posix.dirname(ctrPath)} does not exist in container ${name}`);
  try {
    copyInEntry(parent, posix.basename(ctrPath), src);
  } finally {
    closeSync(parent);
  }
}

/** One copy: out of the container (docker cp CONTAINER:SRC DEST) or into it (docker cp SRC CONTAINER:DEST). */
export type CpRequest = { direction: "out"; src: string; dest: string } | { direction: "in"; name: string; src: string; dest: string };

/** Where a container's root can be opened, and from where (see runtime/container-root.ts). */
export interface ContainerRoot {
  path: string;
  /**
   * A process in the container's user namespace, when only processes in there may use its root:
   * FUSE (fuse-overlayfs) refuses every process outside the mount's user namespace, its owner too.
   */
  userNsPid?: number;
}

/** Runs a copy on the root at path, in this process. */
export function copyAtRoot(path: string, req: CpRequest): void {
  const root = openSync(path, O_PATH | fsc.O_DIRECTORY);
  try {
    if (req.direction === "out") copyOut(root, req.src, req.dest);
    else copyIn(root, req.name, req.src, req.dest);
  } finally {
    closeSync(root);
  }
}

/**
 * Runs a copy on a container's root: here, or, for a root only its user namespace may use, in a
 * `bunker container-cp` run there as its root (src/userns/enter.ts): what it creates on either side
 * belongs to the same ids as a copy made here. Host paths are read in our mount namespace and
 * working directory, as here; its error is the same one line.
 */
export function copyWithRoot(root: ContainerRoot, req: CpRequest): void {
  if (root.userNsPid === undefined) return copyAtRoot(root.path, req);
  inUserNamespace(root.userNsPid, [process.execPath, "container-cp", root.path, JSON.stringify(req)]);
}
