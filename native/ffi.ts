// bun:ffi bindings to libbunker.so, and the embedded static helper.
// Both are carried inside dist/bunker. libbunker is loaded from a copy in the runtime dir (see
// loadLib); the helper is copied into a sealed memfd and executed from there.
import { dlopen, FFIType } from "bun:ffi";
import { runtimeRoot } from "../src/paths";
import { errnoNameOf } from "./errno";
import helperFile from "./build/bunker-helper" with { type: "file" };
import libFile from "./build/libbunker.so" with { type: "file" };
import LIB_DIGEST from "./build/libbunker.so.sha256" with { type: "text" };

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;

let libc: ReturnType<typeof openLibc> | undefined;
function openLibc() {
  return dlopen("libc.so.6", {
    memfd_create: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
  }).symbols;
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

// node:fs only off the fast path: a run's file calls are src/fs.ts's, through this file's library
const nodeFs = () => require("node:fs") as typeof import("node:fs");

/** Copies an embedded file into a new memfd and returns its fd (close-on-exec). */
function memfdOf(path: string, name: string): number {
  const { readFileSync, writeSync } = nodeFs();
  libc ??= openLibc();
  const fd = libc.memfd_create(cstr(name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw new Error(`memfd_create failed for ${name}`);
  const bytes = new Uint8Array(readFileSync(path));
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  return fd;
}

/**
 * Every symbol of libbunker.so. Each native concern adds its declarations here; C functions
 * return -errno on failure because bun:ffi cannot read errno.
 */
const symbols = {
  bk_flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bk_memfd_seal: { args: [FFIType.i32], returns: FFIType.i32 },
  // src/fs.ts's system calls (native/lib/fs.c): op, dirfd, path, buffer, n, flags
  bk_fs: { args: [FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  // spawn (native/shared/spawn.c, native/lib/spawn_host.c)
  bk_spawn_vm: { args: [FFIType.ptr, FFIType.u32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  bk_spawn_vm_done: { args: [], returns: FFIType.i32 },
  bk_linger: { args: [FFIType.i32], returns: FFIType.i32 },
  bk_release_program: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  bk_pipe2: { args: [FFIType.ptr], returns: FFIType.i32 },
  bk_waitpid: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  bk_set_winsize: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bk_get_winsize: { args: [FFIType.i32], returns: FFIType.i32 },
  bk_socketpair: { args: [FFIType.ptr], returns: FFIType.i32 },
  bk_spawn_tool: { args: [FFIType.ptr, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bk_recv_fd: { args: [FFIType.i32], returns: FFIType.i32 },
  // exec and cp (native/lib/exec.c)
  bk_exec_join: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bk_open_in_root: { args: [FFIType.i32, FFIType.cstring, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
} as const;

let lib: ReturnType<typeof loadLib> | undefined;
/**
 * libbunker is loaded from a copy in the runtime dir (the user's own, 0700, a tmpfs under a login
 * session), named by its digest and written once per build and boot, by temp file and rename so
 * that no process ever loads a half-written one. Copying it into a memfd on every start cost
 * ~0.5 ms of each `run` (the memfd_create binding, the read, the writes). Where the runtime dir
 * can't hold it, the memfd it is.
 */
function loadLib() {
  const dir = runtimeRoot();
  const cached = `${dir}/libbunker-${LIB_DIGEST.trim().slice(0, 32)}.so`;
  try {
    return dlopen(cached, symbols).symbols;
  } catch {
    // not written yet (or unusable: written again below)
  }
  const { closeSync, mkdirSync, readFileSync, renameSync, writeFileSync } = nodeFs();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, new Uint8Array(readFileSync(libFile)), { mode: 0o500 });
    renameSync(tmp, cached);
    return dlopen(cached, symbols).symbols;
  } catch {
    const fd = memfdOf(libFile, "libbunker.so");
    try {
      return dlopen(`/proc/self/fd/${fd}`, symbols).symbols;
    } finally {
      closeSync(fd); // the mapping keeps the library alive
    }
  }
}

/** libbunker's functions, loaded on first use. */
export function native() {
  lib ??= loadLib();
  return lib;
}

/** libbunker's functions if this process has loaded them already, else undefined. */
export function nativeIfLoaded() {
  return lib;
}

let helperFd: number | undefined;

/** The fd of a sealed memfd holding bunker-helper; for execveat() from a cloned child. */
export function helperMemfd(): number {
  if (helperFd === undefined) {
    const fd = memfdOf(helperFile, "bunker-helper");
    const rc = native().bk_memfd_seal(fd);
    if (rc < 0) throw new Error(`sealing the helper memfd failed: errno ${-rc}`);
    helperFd = fd;
  }
  return helperFd;
}

/** A path that execs bunker-helper, valid while this process lives (for Bun.spawn). */
export function helperPath(): string {
  return `/proc/${process.pid}/fd/${helperMemfd()}`;
}

/** Converts a negative-errno return into its name, for messages ("ENOENT"). */
export function errnoName(rc: number): string {
  const code = -rc;
  const common = errnoNameOf(code);
  if (common) return common;
  const names = require("node:os").constants.errno as Record<string, number>;
  for (const [name, value] of Object.entries(names)) if (value === code) return name;
  return `errno ${code}`;
}

// Extended attributes through libc's l*xattr (no symlink followed), for the rootfs copy fallback,
// which must carry file capabilities and read overlayfs's opaque marker. Node has no xattr API.
let xattrLibc: ReturnType<typeof openXattrLibc> | undefined;
function openXattrLibc() {
  return dlopen("libc.so.6", {
    llistxattr: { args: [FFIType.cstring, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    lgetxattr: { args: [FFIType.cstring, FFIType.cstring, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    lsetxattr: { args: [FFIType.cstring, FFIType.cstring, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  }).symbols;
}

/** The names of path's extended attributes ([] when it has none or they can't be read). */
export function listXattrs(path: string): string[] {
  xattrLibc ??= openXattrLibc();
  const buf = Buffer.alloc(64 * 1024);
  const n = Number(xattrLibc.llistxattr(cstr(path), buf, BigInt(buf.length)));
  if (n <= 0) return [];
  return buf.subarray(0, n).toString("latin1").split("\0").filter(Boolean);
}

/** The value of one extended attribute of path, undefined when it has none of that name. */
export function getXattr(path: string, name: string): Buffer | undefined {
  xattrLibc ??= openXattrLibc();
  const buf = Buffer.alloc(64 * 1024);
  const n = Number(xattrLibc.lgetxattr(cstr(path), cstr(name), buf, BigInt(buf.length)));
  return n < 0 ? undefined : Buffer.from(buf.subarray(0, n));
}

/** Sets one extended attribute of path; false when the kernel refused it. */
export function setXattr(path: string, name: string, value: Buffer): boolean {
  xattrLibc ??= openXattrLibc();
  return xattrLibc.lsetxattr(cstr(path), cstr(name), value.length ? value : Buffer.alloc(1), BigInt(value.length), 0) === 0;
}
