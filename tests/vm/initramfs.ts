// Builds the VM lane's initramfs: busybox, dist/bunker with the glibc libraries it links, the
// kernel modules the guest needs, a busybox rootfs for the tests' containers, the init script and
// the guest checks. Everything is owned by root inside the archive; the init script hands the
// test directories to the unprivileged uids itself.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { CpioWriter } from "./cpio";

/** The libraries dist/bunker needs (ldd of a Bun executable), looked up on the host. */
const GLIBC_LIBS = ["libc.so.6", "libpthread.so.0", "libdl.so.2", "libm.so.6"];
const LIB_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64"];
const LOADER = "/lib64/ld-linux-x86-64.so.2";

/** Modules Debian builds as modules that the guest needs, in load order. */
// brd: RAM disks (/dev/ram*), the one block device the guest has, for stats' block I/O.
const MODULES = ["kernel/fs/overlayfs/overlay.ko", "kernel/drivers/block/brd.ko"];

export interface VmKernel {
  version: string;
  vmlinuz: string;
  modulesDir: string;
}

/** The newest Debian kernel installed under /boot with its modules, or a reason why none can be used. */
export function findKernel(): VmKernel | { missing: string } {
  let versions: string[] = [];
  try {
    versions = readdirSync("/boot")
      .filter((f) => f.startsWith("vmlinuz-"))
      .map((f) => f.slice("vmlinuz-".length))
      .sort();
  } catch {
    return { missing: "no /boot directory (install linux-image-amd64)" };
  }
  for (const version of versions.reverse()) {
    const vmlinuz = `/boot/vmlinuz-${version}`;
    const modulesDir = `/lib/modules/${version}`;
    if (!existsSync(modulesDir)) continue;
    try {
      readFileSync(vmlinuz, { flag: "r" }).subarray(0, 1);
    } catch {
      return { missing: `${vmlinuz} is not readable by this user (scripts/test.sh makes it 0644 when run as root)` };
    }
    return { version, vmlinuz, modulesDir };
  }
  return { missing: "no /boot/vmlinuz-* with modules in /lib/modules (install linux-image-amd64)" };
}

function findLib(name: string): string {
  for (const dir of LIB_DIRS) {
    const p = join(dir, name);
    if (existsSync(p)) return realpathSync(p);
  }
  throw new Error(`the VM lane needs ${name} on the host`);
}

/**
 * Adds a host directory tree (files, dirs, symlinks) under `at`, owned by `uid`. Hard links
 * (busybox's applets) become symlinks to the first path, so the tree isn't copied 400 times.
 */
function addTree(cpio: CpioWriter, hostDir: string, at: string, uid: number, seen = new Map<string, string>(), rootAt = at): void {
  cpio.dir(at, statSync(hostDir).mode & 0o7777, uid, uid);
  for (const name of readdirSync(hostDir).sort()) {
    const host = join(hostDir, name);
    const inside = `${at}/${name}`;
    const st = lstatSync(host);
    if (st.isSymbolicLink()) cpio.symlink(inside, readlinkSync(host));
    else if (st.isDirectory()) addTree(cpio, host, inside, uid, seen, rootAt);
    else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = seen.get(key);
      if (first !== undefined) cpio.symlink(inside, first);
      else {
        seen.set(key, inside.slice(rootAt.length) || "/");
        cpio.copy(inside, host, st.mode & 0o7777, uid, uid);
      }
    }
  }
}

export interface InitramfsParts {
  out: string;
  kernel: VmKernel;
  /** dist/bunker with its glibc libraries (the systemd guest uses the host's, over 9p) */
  bunkerBin?: string;
  /** kernel modules (paths under the kernel's modules dir), in load order; default: the busybox guest's */
  modules?: string[];
  busybox: string;
  /** the init script (runs as root in the guest) */
  init: string;
  /** extra files: guest path → content or { host path } */
  files: Record<string, string | { host: string; mode?: number }>;
  /** extra directory trees: guest path → host dir and the uid that owns it in the guest */
  trees?: Record<string, { host: string; uid: number }>;
}

export function buildInitramfs(p: InitramfsParts): void {
  const cpio = new CpioWriter(p.out);
  for (const d of ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "usr/local", "usr/local/bin", "lib", "lib64", "lib/x86_64-linux-gnu", "lib/modules", "etc", "proc", "sys", "dev", "tmp", "run", "root", "home"])
    cpio.dir(d);
  cpio.copy("bin/busybox", p.busybox, 0o755);
  cpio.symlink("bin/sh", "busybox");
  if (p.bunkerBin) {
    cpio.copy("usr/local/bin/bunker", p.bunkerBin, 0o755);
    for (const lib of GLIBC_LIBS) cpio.copy(`lib/x86_64-linux-gnu/${lib}`, findLib(lib), 0o755);
    cpio.copy("lib64/ld-linux-x86-64.so.2", realpathSync(LOADER), 0o755);
  }
  for (const mod of p.modules ?? MODULES) {
    const host = join(p.kernel.modulesDir, mod);
    if (existsSync(host)) cpio.copy(`lib/modules/${mod.split("/").pop()}`, host, 0o644);
  }
  cpio.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/home/tester:/bin/sh\nother:x:1001:1001:other:/home/other:/bin/sh\n");
  cpio.file("etc/group", "root:x:0:\ntester:x:1000:\nother:x:1001:\n");
  cpio.file("init", p.init, 0o755);
  const parents = (path: string) => {
    const dirs = path.split("/").slice(0, -1);
    for (let i = 1; i <= dirs.length; i++) if (dirs.slice(0, i).join("/")) cpio.dir(dirs.slice(0, i).join("/"));
  };
  for (const [path, content] of Object.entries(p.files)) {
    parents(path);
    if (typeof content === "string") cpio.file(path, content, 0o755);
    else cpio.copy(path, content.host, content.mode);
  }
  for (const [at, t] of Object.entries(p.trees ?? {})) {
    parents(at);
    addTree(cpio, t.host, at, t.uid);
  }
  cpio.close();
}
