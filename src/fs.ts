// bunker's synchronous file calls: the part of node:fs that `bunker run` and what it loads use,
// with node's names, arguments, return values and errors (`code`, `errno`, `syscall`, `path`,
// "ENOENT: no such file or directory, open '/x'"), over one libbunker function (native/lib/fs.c).
// Why not node:fs itself: loading it is ~2 M instructions of every run's ~21 M (callgrind), in a
// command whose whole budget is ~18 ms; a run through this layer executes 1.4 M fewer
// (docs/benchmarks.md, "Sixth round"). Its calls are kept cheap on purpose: paths are encoded into
// reused buffers, stat fills a shared array, and listing and tree removal are done in C, since
// JavaScript that runs once is interpreted. Streams, copies, owners and the rest stay node:fs's,
// loaded where they are used.
import { errnoMessageOf, errnoNameOf } from "../native/errno";
import { native } from "../native/ffi";

// native/lib/fs.c's ops, in the same order
const enum Op {
  Open = 1,
  Close,
  Read,
  Write,
  Stat,
  Mkdir,
  Unlink,
  Rename,
  List,
  Readlink,
  Symlink,
  Chmod,
  Utimes,
  Access,
  Constants,
  Empty,
}

const EINTR = 4;
const ENOENT = 2;
const EEXIST = 17;

// The kernel's values of the flags below (they differ between architectures), read from libbunker
// by sys(): native/lib/fs.c's FS_CONSTANTS writes them in this order.
const kernel = {
  O_RDONLY: 0,
  O_WRONLY: 0,
  O_RDWR: 0,
  O_CREAT: 0,
  O_EXCL: 0,
  O_TRUNC: 0,
  O_APPEND: 0,
  O_DIRECTORY: 0,
  O_NOFOLLOW: 0,
  O_NONBLOCK: 0,
  AT_FDCWD: 0,
  AT_SYMLINK_NOFOLLOW: 0,
  AT_REMOVEDIR: 0,
  F_OK: 0,
  R_OK: 0,
  W_OK: 0,
  X_OK: 0,
};

/**
 * node:fs's `constants`, for the names src/ uses. Getters: a caller reads a flag before its first
 * call here (`accessSync(p, constants.X_OK)`), and must get the kernel's value, not a placeholder.
 */
export const constants = {} as Readonly<typeof kernel>;
for (const name of Object.keys(kernel) as (keyof typeof kernel)[])
  Object.defineProperty(constants, name, { enumerable: true, get: () => kernelFlags()[name] });

type FsCall = (op: Op, dirfd: number, path: Uint8Array | null, buf: Uint8Array | Int32Array | Float64Array | null, n: number, flags: number) => number;
let fsCall: FsCall | undefined;
/** libbunker's bk_fs; the first call also reads the constants (native/lib/fs.c's FS_CONSTANTS, in constants' order). */
function sys(): FsCall {
  if (fsCall) return fsCall;
  const call = native().bk_fs as FsCall;
  const names = Object.keys(kernel) as (keyof typeof kernel)[];
  const values = new Int32Array(32);
  const n = call(Op.Constants, 0, null, values, values.length, 0);
  if (n !== names.length) throw new Error(`libbunker's file constants: got ${n}, want ${names.length}`);
  for (let i = 0; i < names.length; i++) kernel[names[i]] = values[i];
  fsCall = call;
  return call;
}

/** An error as node:fs throws it. */
function fsError(errno: number, syscall: string, path?: string, dest?: string): Error {
  const code = errnoNameOf(errno) ?? `E${errno}`;
  let message = `${code}: ${errnoMessageOf(errno)}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  const e = new Error(message) as Error & { errno: number; code: string; syscall: string; path?: string; dest?: string };
  e.errno = -errno;
  e.code = code;
  e.syscall = syscall;
  if (path !== undefined) e.path = path;
  if (dest !== undefined) e.dest = dest;
  return e;
}

// Paths go to C NUL-terminated in two reused buffers (a second for rename's and symlink's other
// path): encodeInto is native, where Buffer.from would allocate for each call.
const encoder = new TextEncoder();
const pathBufs = [new Uint8Array(4097), new Uint8Array(4097)];

/** path, NUL-terminated, in reused buffer `which`; a NUL inside would cut it short, so it is refused. */
function cstr(path: string, which = 0): Uint8Array {
  let buf = pathBufs[which];
  if (path.length * 3 >= buf.length) buf = new Uint8Array(path.length * 3 + 1);
  const { read, written } = encoder.encodeInto(path, buf);
  if (read !== path.length || path.indexOf("\0") >= 0) {
    const e = new TypeError(`path must be a string without null bytes: ${JSON.stringify(path)}`) as TypeError & { code: string };
    e.code = "ERR_INVALID_ARG_VALUE";
    throw e;
  }
  buf[written] = 0;
  return buf;
}

/** One call into libbunker, repeated when a signal interrupted it (not close: Linux has closed the fd). */
function call(op: Op, dirfd: number, path: Uint8Array | null, buf: Uint8Array | Int32Array | Float64Array | null, n: number, flags: number): number {
  const f = fsCall ?? sys();
  let rc = f(op, dirfd, path, buf, n, flags);
  while (rc === -EINTR && op !== Op.Close) rc = f(op, dirfd, path, buf, n, flags);
  return rc;
}

function check(rc: number, syscall: string, path?: string, dest?: string): number {
  if (rc < 0) throw fsError(-rc, syscall, path, dest);
  return rc;
}

/** The kernel's flag values, read from libbunker if no call has read them yet. */
function kernelFlags(): typeof kernel {
  if (!fsCall) sys();
  return kernel;
}

/** AT_FDCWD: paths relative to the working directory */
function cwd(): number {
  return kernelFlags().AT_FDCWD;
}

// ---- descriptors ----

function openFlags(flags: string | number): number {
  if (typeof flags === "number") return flags;
  const c = kernelFlags();
  switch (flags) {
    case "r":
      return c.O_RDONLY;
    case "r+":
      return c.O_RDWR;
    case "w":
      return c.O_WRONLY | c.O_CREAT | c.O_TRUNC;
    case "wx":
      return c.O_WRONLY | c.O_CREAT | c.O_TRUNC | c.O_EXCL;
    case "w+":
      return c.O_RDWR | c.O_CREAT | c.O_TRUNC;
    case "a":
      return c.O_WRONLY | c.O_CREAT | c.O_APPEND;
    case "ax":
      return c.O_WRONLY | c.O_CREAT | c.O_APPEND | c.O_EXCL;
    case "a+":
      return c.O_RDWR | c.O_CREAT | c.O_APPEND;
  }
  const e = new TypeError(`invalid open flags "${flags}"`) as TypeError & { code: string };
  e.code = "ERR_INVALID_ARG_VALUE";
  throw e;
}

export function openSync(path: string, flags: string | number = "r", mode = 0o666): number {
  return check(call(Op.Open, cwd(), cstr(path), null, mode, openFlags(flags)), "open", path);
}

export function closeSync(fd: number): void {
  check(call(Op.Close, fd, null, null, 0, 0), "close");
}

/** Reads up to length bytes into buffer at offset, from the fd's current position (position must be null). */
export function readSync(fd: number, buffer: Uint8Array, offset = 0, length = buffer.length - offset, position: null = null): number {
  if (offset < 0 || length < 0 || offset + length > buffer.length) throw new RangeError(`readSync: offset ${offset} and length ${length} do not fit a buffer of ${buffer.length}`);
  return check(call(Op.Read, fd, null, offset === 0 ? buffer : buffer.subarray(offset), length, 0), "read");
}

/** Writes a string or bytes (from offset, length of them) once; returns how many were written. */
export function writeSync(fd: number, data: string | Uint8Array, offset = 0, length?: number): number {
  const bytes = typeof data === "string" ? encoder.encode(data) : offset === 0 && length === undefined ? data : data.subarray(offset, length === undefined ? undefined : offset + length);
  return check(call(Op.Write, fd, null, bytes, bytes.length, 0), "write");
}

let scratch = Buffer.allocUnsafe(16384);

/** Everything left to read from fd, in the shared scratch buffer (valid until the next read); its length. */
function readToEnd(fd: number): number {
  let n = 0;
  for (;;) {
    if (n === scratch.length) {
      const bigger = Buffer.allocUnsafe(scratch.length * 2);
      bigger.set(scratch);
      scratch = bigger;
    }
    const got = check(call(Op.Read, fd, null, n === 0 ? scratch : scratch.subarray(n), scratch.length - n, 0), "read");
    if (got === 0) return n;
    n += got;
  }
}

// ---- whole files ----

type ReadOptions = { encoding?: BufferEncoding | null; flag?: string } | BufferEncoding;

export function readFileSync(path: string | number, options: { encoding: BufferEncoding; flag?: string } | BufferEncoding): string;
export function readFileSync(path: string | number, options?: { encoding?: null; flag?: string } | null): Buffer;
export function readFileSync(path: string | number, options?: ReadOptions | null): string | Buffer {
  const encoding = typeof options === "string" ? options : options?.encoding;
  const fd = typeof path === "number" ? path : openSync(path, (typeof options === "object" && options?.flag) || "r");
  let n: number;
  try {
    n = readToEnd(fd);
  } catch (e) {
    if (typeof path === "string") (e as { path?: string }).path = path;
    throw e;
  } finally {
    if (typeof path === "string") closeSync(fd);
  }
  return encoding ? scratch.toString(encoding, 0, n) : Buffer.from(scratch.subarray(0, n));
}

type WriteOptions = { mode?: number; flag?: string } | BufferEncoding;

/** Writes data to path (created with mode, default 0o666 less the umask; truncated, or as flag says). */
export function writeFileSync(path: string, data: string | Uint8Array, options?: WriteOptions): void {
  const opts = typeof options === "object" ? options : undefined;
  const fd = openSync(path, opts?.flag ?? "w", opts?.mode ?? 0o666);
  try {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off);
  } finally {
    closeSync(fd);
  }
}

// ---- metadata ----

const S_IFMT = 0o170000;
const statFields = new Float64Array(13);

/** node:fs's Stats, for the fields and tests bunker uses. */
export class Stats {
  dev = statFields[0];
  ino = statFields[1];
  mode = statFields[2];
  nlink = statFields[3];
  uid = statFields[4];
  gid = statFields[5];
  rdev = statFields[6];
  size = statFields[7];
  blksize = statFields[8];
  blocks = statFields[9];
  atimeMs = statFields[10];
  mtimeMs = statFields[11];
  ctimeMs = statFields[12];
  get atime(): Date {
    return new Date(this.atimeMs);
  }
  get mtime(): Date {
    return new Date(this.mtimeMs);
  }
  get ctime(): Date {
    return new Date(this.ctimeMs);
  }
  isFile(): boolean {
    return (this.mode & S_IFMT) === 0o100000;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === 0o040000;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === 0o120000;
  }
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === 0o020000;
  }
  isBlockDevice(): boolean {
    return (this.mode & S_IFMT) === 0o060000;
  }
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === 0o010000;
  }
  isSocket(): boolean {
    return (this.mode & S_IFMT) === 0o140000;
  }
}

function statAt(dirfd: number, path: string, follow: boolean, syscall: string, throwIfNoEntry: boolean): Stats | undefined {
  const rc = call(Op.Stat, dirfd, cstr(path), statFields, 0, follow ? 0 : kernel.AT_SYMLINK_NOFOLLOW);
  if (rc === -ENOENT && !throwIfNoEntry) return undefined;
  check(rc, syscall, path);
  return new Stats();
}

export function statSync(path: string): Stats;
export function statSync(path: string, options: { throwIfNoEntry: false }): Stats | undefined;
export function statSync(path: string, options?: { throwIfNoEntry?: boolean }): Stats | undefined {
  return statAt(cwd(), path, true, "stat", options?.throwIfNoEntry ?? true);
}

export function lstatSync(path: string): Stats;
export function lstatSync(path: string, options: { throwIfNoEntry: false }): Stats | undefined;
export function lstatSync(path: string, options?: { throwIfNoEntry?: boolean }): Stats | undefined {
  return statAt(cwd(), path, false, "lstat", options?.throwIfNoEntry ?? true);
}

/** Whether path exists (symlinks followed), as node's: never throws. */
export function existsSync(path: string): boolean {
  if (path.indexOf("\0") >= 0) return false;
  return call(Op.Access, cwd(), cstr(path), null, kernel.F_OK, 0) === 0;
}

/** Throws unless the caller may access path as mode says (constants.R_OK, W_OK, X_OK; F_OK by default). */
export function accessSync(path: string, mode?: number): void {
  check(call(Op.Access, cwd(), cstr(path), null, mode ?? kernel.F_OK, 0), "access", path);
}

export function chmodSync(path: string, mode: number): void {
  check(call(Op.Chmod, cwd(), cstr(path), null, mode, 0), "chmod", path);
}

/** Sets path's access and modification times: Dates, or numbers of seconds since 1970 (as node's). */
export function utimesSync(path: string, atime: Date | number, mtime: Date | number): void {
  const seconds = (t: Date | number) => (typeof t === "number" ? t : t.getTime() / 1000);
  check(call(Op.Utimes, cwd(), cstr(path), new Float64Array([seconds(atime), seconds(mtime)]), 0, 0), "utime", path);
}

// ---- names ----

export function renameSync(from: string, to: string): void {
  check(call(Op.Rename, cwd(), cstr(from), cstr(to, 1), 0, 0), "rename", from, to);
}

export function unlinkSync(path: string): void {
  check(call(Op.Unlink, cwd(), cstr(path), null, 0, 0), "unlink", path);
}

export function rmdirSync(path: string): void {
  check(call(Op.Unlink, cwd(), cstr(path), null, 0, kernel.AT_REMOVEDIR), "rmdir", path);
}

export function symlinkSync(target: string, path: string): void {
  check(call(Op.Symlink, cwd(), cstr(path), cstr(target, 1), 0, 0), "symlink", target, path);
}

const linkBuf = Buffer.allocUnsafe(4096);

export function readlinkSync(path: string): string {
  const n = check(call(Op.Readlink, cwd(), cstr(path), linkBuf, linkBuf.length, 0), "readlink", path);
  return linkBuf.toString("utf8", 0, n);
}

// ---- relative to a directory fd, returning -errno (bunker cp, under a container's root) ----

/** mkdirat(2): 0 or -errno. */
export function mkdirAt(dirfd: number, name: string, mode: number): number {
  return call(Op.Mkdir, dirfd, cstr(name), null, mode, 0);
}

/** symlinkat(2): 0 or -errno. */
export function symlinkAt(target: string, dirfd: number, name: string): number {
  return call(Op.Symlink, dirfd, cstr(name), cstr(target, 1), 0, 0);
}

/** unlinkat(2): 0 or -errno. */
export function unlinkAt(dirfd: number, name: string, flags: number): number {
  return call(Op.Unlink, dirfd, cstr(name), null, 0, flags);
}

/** The target of the symlink fd refers to (an O_PATH|O_NOFOLLOW fd). */
export function readlinkFd(fd: number): string {
  const n = check(call(Op.Readlink, fd, cstr(""), linkBuf, linkBuf.length, 0), "readlink");
  return linkBuf.toString("utf8", 0, n);
}

/** path with every symlink resolved, from the kernel's own name for an fd opened on it. */
export function realpathSync(path: string): string {
  // O_PATH: opens anything, even what can't be read, and touches nothing (the same on every Linux architecture)
  const O_PATH = 0o10000000;
  const fd = check(call(Op.Open, cwd(), cstr(path), null, 0, O_PATH), "realpath", path);
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes a directory (mode default 0o777, less the umask). recursive: its missing parents too,
 * with the same mode, and nothing when it is a directory already; returns the first one made.
 */
export function mkdirSync(path: string, options?: { recursive?: boolean; mode?: number } | number): string | undefined {
  const recursive = typeof options === "object" && options.recursive === true;
  const mode = (typeof options === "number" ? options : options?.mode) ?? 0o777;
  const rc = call(Op.Mkdir, cwd(), cstr(path), null, mode, 0);
  if (rc === 0) return recursive ? path : undefined;
  if (!recursive) throw fsError(-rc, "mkdir", path);
  if (rc === -EEXIST) {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) return undefined;
    throw fsError(EEXIST, "mkdir", path);
  }
  const parent = parentOf(path);
  if (rc !== -ENOENT || parent === path) throw fsError(-rc, "mkdir", path);
  const first = mkdirSync(parent, { recursive, mode });
  const again = call(Op.Mkdir, cwd(), cstr(path), null, mode, 0);
  if (again !== 0 && !(again === -EEXIST && statSync(path, { throwIfNoEntry: false })?.isDirectory())) throw fsError(-again, "mkdir", path);
  return first ?? path;
}

/** path's parent ("/a/b/" → "/a", "a" → "."), without node:path. */
function parentOf(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  const slash = path.lastIndexOf("/", end - 1);
  if (slash < 0) return ".";
  return slash === 0 ? "/" : path.slice(0, slash);
}

// ---- directories ----

// d_type
const DT_DIR = 4;
const DT_LNK = 10;
const DT_REG = 8;
const DT_UNKNOWN = 0;

/** A directory entry as readdirSync({ withFileTypes: true }) gives it (node's Dirent, in part). */
export class Dirent {
  constructor(
    readonly name: string,
    readonly parentPath: string,
    private readonly type: number,
  ) {}
  isDirectory(): boolean {
    return this.type === DT_DIR;
  }
  isFile(): boolean {
    return this.type === DT_REG;
  }
  isSymbolicLink(): boolean {
    return this.type === DT_LNK;
  }
}

const listBuf = Buffer.allocUnsafe(32768);

export function readdirSync(path: string): string[];
export function readdirSync(path: string, options: { withFileTypes: true }): Dirent[];
export function readdirSync(path: string, options?: { withFileTypes?: boolean }): string[] | Dirent[] {
  // node's readdir follows a symlink to a directory
  const fd = check(call(Op.Open, cwd(), cstr(path), null, 0, kernel.O_RDONLY | kernel.O_DIRECTORY), "scandir", path);
  const names: string[] = [];
  const types: number[] = [];
  try {
    for (;;) {
      // records of d_type (one byte), name, NUL (native/lib/fs.c's list_entries)
      const n = check(call(Op.List, fd, null, listBuf, listBuf.length, 0), "scandir", path);
      if (n === 0) break;
      for (let off = 0; off < n; ) {
        const end = listBuf.indexOf(0, off + 1);
        types.push(listBuf[off]);
        names.push(listBuf.toString("utf8", off + 1, end));
        off = end + 1;
      }
    }
  } finally {
    closeSync(fd);
  }
  if (!options?.withFileTypes) return names;
  return names.map((name, i) => {
    let type = types[i];
    if (type === DT_UNKNOWN) {
      // some file systems leave d_type unset: lstat says
      const st = lstatSync(`${path}/${name}`, { throwIfNoEntry: false });
      type = st?.isDirectory() ? DT_DIR : st?.isSymbolicLink() ? DT_LNK : st?.isFile() ? DT_REG : DT_UNKNOWN;
    }
    return new Dirent(name, path, type);
  });
}

/**
 * Removes path: a file or symlink, or with recursive a directory and all it holds (symlinks are
 * removed, never followed: native/lib/fs.c's empty_dir). force: a missing path is no error.
 */
export function rmSync(path: string, options?: { recursive?: boolean; force?: boolean }): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) {
    if (options?.force) return;
    throw fsError(ENOENT, "lstat", path);
  }
  if (!st.isDirectory()) return unlinkSync(path);
  if (!options?.recursive) {
    const e = new Error(`Path is a directory: rm returned EISDIR (is a directory) ${path}`) as Error & { code: string; path: string };
    e.code = "ERR_FS_EISDIR";
    e.path = path;
    throw e;
  }
  const fd = check(call(Op.Open, cwd(), cstr(path), null, 0, kernel.O_RDONLY | kernel.O_DIRECTORY | kernel.O_NOFOLLOW), "rm", path);
  try {
    const rc = call(Op.Empty, fd, null, linkBuf, linkBuf.length, 0);
    if (rc < 0) throw fsError(-rc, "rm", `${path}/${linkBuf.toString("utf8", 0, linkBuf.indexOf(0))}`);
  } finally {
    closeSync(fd);
  }
  rmdirSync(path);
}
