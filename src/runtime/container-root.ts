// The root filesystem of a container, for `bunker cp`: the running container's
// own (/proc/PID/root), or, for a stopped one (created or exited), its layers put together for the
// time of the copy as its next start would: its writable layer mounted over the image's layers in
// a user and mount namespace of a holder process made for it, its copy, or its --rootfs dir. The
// copy then works through /proc/<holder>/root with openat2(RESOLVE_IN_ROOT), exactly as for a
// running container: nothing outside the container's root is created, changed or followed. A
// fuse-overlayfs root is used from inside the container's user namespace (src/container/cp.ts).
import { isRunning } from "../container/lifecycle";
import type { ContainerRoot } from "../container/cp";
import { withLock } from "../container/lock";
import { type ContainerRecord, containerLockPath } from "../container/records";
import { readState } from "../container/state";
import { BunkerError } from "../errors";
import { Op, type Step } from "./program";
import { prepareRootfs, privateMountsProgram, stopRootfsHelpers } from "./rootfs";
import type { ContainerSpec } from "./spec";
import { overlayData } from "./steps";

/**
 * A process that holds the stopped container's root mounted in namespaces of its own (the
 * container's id mapping, so owners read as in the container) until it is killed; it dies with
 * bunker at the latest (the spawn's PDEATHSIG).
 */
async function holdRoot(spec: ContainerSpec): Promise<{ pid: number; root: string; release(): Promise<void> }> {
  const { spawnAndRelease, syncPipes, waitForExit, errnoMessage } = await import("./process");
  const r = spec.rootfs;
  const steps: Step[] = [];
  if (r.kind === "overlay")
    steps.push({ op: Op.Mount, ints: [0, 0, 0, 0, 0], strs: ["overlay", r.mountPoint, "overlay", overlayData(r.lowerDirs, r.upperDir, r.workDir)], what: "mounting the container's layers" });
  // its environment names the container it holds (for ps e, and the tests)
  steps.push({ op: Op.Exec, ints: [2, 1, -1], strs: ["/usr/bin:/bin", "sleep", "infinity", `BUNKER_CP_HOLDER=${spec.id}`], what: "waiting" });
  const pipes = syncPipes();
  const program = await privateMountsProgram(pipes, steps);
  // fuse-overlayfs mounts, or the copy is made (a container that never ran), in its namespaces first
  const started = await spawnAndRelease({ program, idMapping: spec.idMapping, closeAfterClone: [], setup: (pid) => prepareRootfs(spec, pid) }, pipes);
  if (started.failed) {
    await stopRootfsHelpers();
    const step = steps[started.failed.index - 1]; // after the private-mounts step
    throw new BunkerError(`cp: ${step?.what ?? "setting up the container's root"} failed: ${errnoMessage(started.failed.errno)}`);
  }
  const root = "dir" in r ? r.dir : r.mountPoint;
  return {
    pid: started.pid,
    root: `/proc/${started.pid}/root${root}`,
    async release() {
      process.kill(started.pid, "SIGKILL");
      await waitForExit(started.pid);
      await stopRootfsHelpers();
    },
  };
}

/** Runs fn with the container's root (see ContainerRoot), running or stopped. */
export async function withContainerRoot<T>(rec: ContainerRecord, fn: (root: ContainerRoot) => Promise<T> | T): Promise<T> {
  const spec = rec.RunSpec as ContainerSpec | undefined;
  // a fuse-overlayfs root is usable only from the container's user namespace
  const fuse = spec?.rootfs.kind === "fuse-overlay";
  const ofRunning = (pid: number): ContainerRoot => ({ path: `/proc/${pid}/root`, userNsPid: fuse ? pid : undefined });
  const s = await readState(rec.Id);
  if (isRunning(s) && s.Pid > 0) return fn(ofRunning(s.Pid));
  // Stopped: under the container's lock, so that no start mounts the same writable layer meanwhile.
  return withLock(containerLockPath(rec.Id), async () => {
    const now = await readState(rec.Id);
    if (isRunning(now) && now.Pid > 0) return fn(ofRunning(now.Pid));
    if (rec.Rootfs) return fn({ path: rec.Rootfs });
    if (!spec) throw new BunkerError(`cp: container ${rec.Name} has no saved run spec: its root filesystem is unknown`);
    const held = await holdRoot(spec);
    try {
      return await fn({ path: held.root, userNsPid: fuse ? held.pid : undefined });
    } finally {
      await held.release();
    }
  });
}
