// `run -d` and `start`: the same plan as a foreground run, started under the container's monitor
// (src/container/monitor.ts, native/helper/monitor.c), which outlives bunker in a session of its
// own. The parent's part of a start is the foreground one (ids, rootfs, cgroup, network), except
// that nothing is tied to this bunker process: the network helpers end with the container, and the
// cgroup belongs to the monitor, which removes it after the last exit.
import {
  type ContainerRecord,
  clearStopped,
  containerLockPath,
  isRunning,
  launchMonitored,
  parseLogOpts,
  parseRestartPolicy,
  readState,
  removeContainer,
  saveContainer,
  withLock,
} from "../container";
import { BunkerError } from "../errors";
import { attachNetwork } from "../net";
import { applyIdMapping } from "../userns/idmap";
import { prepareVolumes } from "../volume";
import { bool, list, str } from "./flags";
import { spawnProgram, startFailure } from "./process";
import { prepareRootfs } from "./rootfs";
import { type ContainerPlan, containerCgroup } from "./run";
import type { ContainerSpec } from "./spec";

/** Starts a planned container detached; returns its id once its command runs. */
export async function runDetached(plan: ContainerPlan): Promise<string> {
  const { record, spec, flags } = plan;
  try {
    record.HostConfig.RestartPolicy = parseRestartPolicy(str(flags, "restart"));
    record.HostConfig.LogConfig = parseLogOpts(list(flags, "logOpt"));
    if (record.HostConfig.RestartPolicy.Name !== "no" && bool(flags, "rm"))
      throw new BunkerError("conflicting options: --restart and --rm; a container that restarts can't remove itself");
    if (spec.tty || spec.stdin) throw new BunkerError("-i and -t are not supported with -d: use 'bunker exec -it' to work in a detached container");
  } catch (e) {
    await removeContainer(record.Id);
    throw e;
  }
  saveContainer(record);
  await startUnderMonitor(record, spec);
  return record.Id;
}

/** The parent's part of a start for the waiting child pid, none of it tied to this process. */
async function parentSetup(spec: ContainerSpec, pid: number): Promise<void> {
  applyIdMapping(pid, spec.idMapping);
  await prepareRootfs(spec, pid);
  await attachNetwork(spec.network, pid, { outliveBunker: true });
}

/** Starts (or starts again) a container whose spec is known, under a new monitor. */
export async function startUnderMonitor(record: ContainerRecord, spec: ContainerSpec): Promise<void> {
  prepareVolumes(spec.mounts);
  const cgroup = await containerCgroup(spec);
  // The monitor's own 0/1/2 are /dev/null and the log pipes when it clones: the container keeps them.
  const { program, steps, execFd } = spawnProgram(
    spec,
    { fds: [0, 1, 2], setsid: true, controllingTty: false },
    { cgroupFd: cgroup?.dirFd ?? -1, goFd: -1, goWriteFd: -1, errFd: -1, errReadFd: -1 },
  );
  let result: Awaited<ReturnType<typeof launchMonitored>>;
  try {
    result = await launchMonitored({
      rec: record,
      program,
      passFds: [execFd, cgroup?.dirFd ?? -1].filter((fd) => fd >= 0),
      cgroupPath: cgroup?.path || undefined,
      setup: async (pid) => {
        await parentSetup(spec, pid);
        await cgroup?.attach(pid);
      },
      restartSetup: [process.execPath, "container-setup", record.Id],
    });
  } catch (e) {
    await cgroup?.remove();
    throw e;
  }
  if ("failedStep" in result) {
    // the monitor has removed the cgroup and recorded the failure
    cgroup?.release(result.monitorPid);
    if (record.HostConfig.AutoRemove) await removeContainer(record.Id);
    throw startFailure(steps[result.failedStep], result.errno, spec);
  }
  cgroup?.release(result.monitorPid);
}

/** The parent's part of a restart, run by the monitor through `bunker container-setup ID PID`. */
export async function restartSetup(record: ContainerRecord, pid: number): Promise<void> {
  const spec = record.RunSpec as ContainerSpec | undefined;
  if (!spec) throw new BunkerError(`container ${record.Name} has no saved run spec`);
  await parentSetup(spec, pid);
}

/**
 * `bunker start`: runs a stopped container again, detached, on the same writable layer, from the
 * spec its first run saved in the record.
 */
export async function startExisting(record: ContainerRecord): Promise<void> {
  await withLock(containerLockPath(record.Id), async () => {
    if (isRunning(await readState(record.Id))) return; // docker: starting a running container is fine
    const spec = record.RunSpec as ContainerSpec | undefined;
    if (!spec) throw new BunkerError(`container ${record.Name} can't be started: its record has no run spec`);
    clearStopped(record.Id);
    await startUnderMonitor(record, spec);
  });
}
