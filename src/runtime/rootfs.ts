// The container's root filesystem over an image's layers. overlayfs mounted inside the user
// namespace is the fast path (kernel ≥ 5.11); where the kernel refuses it, fuse-overlayfs (run in
// the container's namespaces before it is released), else a plain copy of the layers
// (src/runtime/rootfs-copy.ts). Which one works is probed once per boot and remembered in the
// runtime dir.
import { join } from "../posix-path";
import { BunkerError } from "../errors";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from "../fs";
import { runtimeRoot } from "../paths";
import { inUserNamespace } from "../userns/enter";
import { hostIdMapping, type IdMapping } from "../userns/idmap";
import type { SyncPipes } from "./process";
import { Op, type Step } from "./program";
import type { ContainerSpec, RootfsSpec } from "./spec";
import { overlayData } from "./steps";

export type RootfsDriver = "overlay" | "fuse-overlayfs" | "copy";
const DRIVERS: RootfsDriver[] = ["overlay", "fuse-overlayfs", "copy"];

// <sys/mount.h>, <linux/sched.h>
const MS_REC = 16384;
const MS_PRIVATE = 1 << 18;
const CLONE_NEWNS = 0x00020000n;
const CLONE_NEWUSER = 0x10000000n;

/**
 * A program for a child in a new user and mount namespace whose mounts are private (nothing it
 * mounts reaches the host's namespace), then these steps: the overlay probe, and cp's holder of a
 * stopped container's root (src/runtime/container-root.ts).
 */
export async function privateMountsProgram(pipes: SyncPipes, steps: Step[]): Promise<Uint8Array> {
  const { encodeProgram } = await import("./program");
  return encodeProgram(
    { cloneFlags: CLONE_NEWUSER | CLONE_NEWNS, cgroupFd: -1, goFd: pipes.goRead, goWriteFd: pipes.goWrite, errFd: pipes.errWrite, errReadFd: pipes.errRead },
    [{ op: Op.Mount, ints: [MS_REC | MS_PRIVATE, 0, 0, 0, 0], strs: ["", "/", "", ""], what: "making the mounts private" }, ...steps],
  );
}

/** A mapping of the user alone: written straight to /proc, no newuidmap, enough for a probe. */
function probeMapping(): IdMapping {
  const m = hostIdMapping();
  if (m.kind === "root") return m;
  return { kind: "single", uids: [m.uids[0]], gids: [m.gids[0]] };
}

/** Can overlayfs be mounted in a user namespace here? Mounts one over empty dirs and sees. */
async function overlayWorks(): Promise<boolean> {
  const { spawnAndRelease, syncPipes } = await import("./process");
  mkdirSync(runtimeRoot(), { recursive: true, mode: 0o700 });
  // node:fs for mkdtemp (src/fs.ts has none): the probe runs once per boot
  const dir = (require("node:fs") as typeof import("node:fs")).mkdtempSync(join(runtimeRoot(), "probe-"));
  try {
    const d = { lower: join(dir, "l"), upper: join(dir, "u"), work: join(dir, "w"), merged: join(dir, "m") };
    for (const p of Object.values(d)) mkdirSync(p);
    const pipes = syncPipes();
    const program = await privateMountsProgram(pipes, [
      { op: Op.Mount, ints: [0, 0, 0, 0, 0], strs: ["overlay", d.merged, "overlay", overlayData([d.lower], d.upper, d.work)], what: "" },
      { op: Op.Exec, ints: [1, 0, -1], strs: ["/usr/bin:/bin", "true"], what: "" },
    ]);
    const r = await spawnAndRelease({ program, idMapping: probeMapping(), closeAfterClone: [] }, pipes);
    if (!r.failed) {
      const { waitForExit } = await import("./process");
      await waitForExit(r.pid);
    }
    return r.failed === undefined || r.failed.index !== 1;
  } finally {
    // A mounted overlay leaves an empty mode-000 w/work that rmSync can't enter; a refused one
    // (the case this probe is for) leaves none.
    try {
      rmdirSync(join(dir, "w/work"));
    } catch {
      // not created
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function fuseOverlayfs(): string | undefined {
  const path = Bun.which("fuse-overlayfs");
  if (!path) return undefined;
  try {
    // fuse-overlayfs needs to open /dev/fuse itself
    closeSync(openSync("/dev/fuse", "r+"));
  } catch (e) {
    if ((e as { code?: string }).code === "EACCES" || (e as { code?: string }).code === "ENOENT") return undefined;
  }
  return path;
}

/** overlayfs when the kernel allows it in a user namespace, else fuse-overlayfs if usable, else a copy. */
export async function chooseRootfsDriver(overlayAllowed: () => Promise<boolean>, fuseOverlayfsPath: () => string | undefined): Promise<RootfsDriver> {
  if (await overlayAllowed()) return "overlay";
  return fuseOverlayfsPath() ? "fuse-overlayfs" : "copy";
}

/** The one line a run prints when it falls back from overlayfs (nothing on the fast path). */
export function fallbackNotice(driver: RootfsDriver): string | undefined {
  if (driver === "fuse-overlayfs") return "overlayfs is not allowed in a user namespace here: using fuse-overlayfs (slower)";
  if (driver === "copy") return "overlayfs and fuse-overlayfs are not available: the image is copied for this container (slower, uses more disk); install fuse-overlayfs";
  return undefined;
}

/** The driver for this host: BUNKER_ROOTFS_DRIVER if set, else what the probe found this boot. */
export async function rootfsDriver(): Promise<RootfsDriver> {
  const forced = process.env.BUNKER_ROOTFS_DRIVER;
  if (forced) {
    if (!DRIVERS.includes(forced as RootfsDriver)) throw new BunkerError(`BUNKER_ROOTFS_DRIVER=${forced}: use ${DRIVERS.join(", ")}`);
    return forced as RootfsDriver;
  }
  const cache = join(runtimeRoot(), "rootfs-driver");
  try {
    const known = readFileSync(cache, "utf8").trim() as RootfsDriver;
    if (DRIVERS.includes(known)) return known;
  } catch {
    // first run since boot
  }
  const driver = await chooseRootfsDriver(overlayWorks, fuseOverlayfs);
  writeFileSync(`${cache}.tmp-${process.pid}`, driver);
  renameSync(`${cache}.tmp-${process.pid}`, cache);
  return driver;
}

/** The rootfs of an image container in dir (its container directory), for the driver. */
export async function imageRootfs(dir: string, lowerDirsTopFirst: string[]): Promise<RootfsSpec> {
  const driver = await rootfsDriver();
  const notice = fallbackNotice(driver);
  if (notice) (await import("../log")).log.warn(notice);
  if (driver === "copy") {
    // made by prepareRootfs, in the container's user namespace
    return { kind: "copy", lowerDirs: lowerDirsTopFirst, dir: join(dir, "rootfs") };
  }
  const r = { upperDir: join(dir, "upper"), workDir: join(dir, "work"), mountPoint: join(dir, "merged") };
  for (const d of Object.values(r)) mkdirSync(d, { recursive: true, mode: 0o755 });
  return { kind: driver === "overlay" ? "overlay" : "fuse-overlay", lowerDirs: lowerDirsTopFirst, ...r };
}

// fuse-overlayfs can't live in the container's mount namespace: pivot_root would move its root
// too and its lower dirs would vanish. So it runs in a copy of that namespace, made after the
// mount point was made shared there: its mount propagates into the container's namespace.
const FUSE_SCRIPT = `mount --bind "$1" "$1" && mount --make-shared "$1" && exec unshare --mount --propagation unchanged fuse-overlayfs -f -o "$2" "$1"`;
// Then the daemon's own namespace lets go of its copy (its mounts made private first: an unmount
// under a shared mount would propagate to the container's). The container's namespace holds the
// only mount, and when that namespace ends (the container's last process) the kernel tears the
// FUSE connection down and the daemon exits. A container that outlives bunker (run -d, start,
// restart) so keeps its daemon exactly as long as it needs it, with nothing to stop it; an
// attached run still stops its own (stopRootfsHelpers).
const FUSE_RELEASE_SCRIPT = `mount --make-rprivate / && umount -l "$1"`;

/** fuse-overlayfs daemons of this process's attached containers; they die with bunker (PDEATHSIG) at the latest. */
const daemons: { kill(signal?: number): void; exited: Promise<number> }[] = [];

async function mountFuseOverlay(pid: number, r: Extract<RootfsSpec, { kind: "fuse-overlay" }>, outliveBunker: boolean): Promise<void> {
  const data = overlayData(r.lowerDirs, r.upperDir, r.workDir, false);
  // setsid/setpriv and nsenter exec in turn, and so do sh and unshare: the pid is the daemon's
  const launcher = outliveBunker ? ["setsid"] : ["setpriv", "--pdeathsig", "KILL", "--"];
  const p = Bun.spawn([...launcher, "nsenter", `--target=${pid}`, "--user", "--mount", "--preserve-credentials", "sh", "-c", FUSE_SCRIPT, "sh", r.mountPoint, data], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  if (outliveBunker) p.unref();
  else daemons.push(p);
  // Ready when the mount shows in the container's namespace.
  for (let i = 0; i < 1000; i++) {
    const mounted = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
      .split("\n")
      .some((l) => l.split(" ")[4] === r.mountPoint && l.includes(" - fuse.fuse-overlayfs "));
    if (mounted) {
      try {
        inUserNamespace(p.pid, ["--mount", "sh", "-c", FUSE_RELEASE_SCRIPT, "sh", r.mountPoint], "handing the container its fuse-overlayfs mount");
      } catch (e) {
        p.kill(9);
        throw e;
      }
      return;
    }
    if (p.exitCode !== null) break;
    await Bun.sleep(5);
  }
  p.kill();
  const why = (await new Response(p.stderr).text()).trim().split("\n").at(-1);
  throw new BunkerError(`fuse-overlayfs could not mount the container's root: ${why || "it did not come up"}`);
}

/**
 * Stops the fuse-overlayfs daemons started for containers that have ended, and waits for them: a
 * `run --rm` leaves nothing running behind it.
 */
export async function stopRootfsHelpers(): Promise<void> {
  await Promise.all(
    daemons.splice(0).map(async (d) => {
      d.kill(); // SIGTERM: it unmounts and exits
      const stuck = setTimeout(() => d.kill(9), 2000);
      await d.exited;
      clearTimeout(stuck);
    }),
  );
}

/**
 * The part of the rootfs that must happen in the container's namespaces before it is released
 * (the child is cloned and mapped, and waits): fuse-overlayfs mounts, or the copy.
 */
export async function prepareRootfs(spec: ContainerSpec, pid: number, opts: { outliveBunker?: boolean } = {}): Promise<void> {
  const r = spec.rootfs;
  if (r.kind === "fuse-overlay") await mountFuseOverlay(pid, r, opts.outliveBunker === true);
  // made once per container: its writable layer from then on (start reuses it)
  else if (r.kind === "copy" && !existsSync(r.dir)) inUserNamespace(pid, [process.execPath, "rootfs-copy", r.dir, ...r.lowerDirs], "copying the image");
}
