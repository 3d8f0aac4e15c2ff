// `run -d` and `start`: the same plan as a foreground run, started under the container's monitor
// (src/container/monitor.ts, native/helper/monitor.c), which outlives bunker in a session of its
// own. The parent's part of a start is the foreground one (ids, rootfs, cgroup, network), except
// that nothing is tied to this bunker process: the network helpers end with the container, and the
// cgroup belongs to the monitor, which removes it after the last exit.

// The container modules this needs, not ../container's index: a `run -d` must not load logs, cp, view...
import { clearStopped, isRunning } from "../container/lifecycle";
import { withLock } from "../container/lock";
import { launchMonitored } from "../container/monitor";
import { parseLogOpts, parseRestartPolicy } from "../container/policy";
import { type ContainerRecord, containerLockPath, removeContainer, saveContainer } from "../container/records";
import { readState } from "../container/state";
import { closeSync, createWriteStream } from "node:fs";
import { BunkerError } from "../errors";
import { writePublishedPorts } from "../container/ports";
import { attachNetwork, publishedBindings } from "../net";
import { applyIdMapping } from "../userns/idmap";
import { prepareVolumes } from "../volume";
import { bool, list, str } from "./flags";
import { pipe, spawnProgram, startFailure } from "./process";
import { prepareRootfs } from "./rootfs";
import { type ContainerPlan, containerCgroup } from "./run";
import { mark } from "./trace";
import type { ContainerSpec } from "./spec";

/** Starts a planned container detached; returns its id once its command runs. */
export async function runDetached(plan: ContainerPlan): Promise<string> {
  const { record, spec, flags } = plan;
  try {
    record.HostConfig.RestartPolicy = parseRestartPolicy(str(flags, "restart"));
    record.HostConfig.LogConfig = parseLogOpts(list(flags, "logOpt"));
    if (record.HostConfig.RestartPolicy.Name !== "no" && bool(flags, "rm"))
      throw new BunkerError("conflicting options: --restart and --rm; a container that restarts can't remove itself");
  } catch (e) {
    await removeContainer(record.Id);
    throw e;
  }
  saveContainer(record);
  mark("saved");
  await startUnderMonitor(record, spec);
  mark("started");
  return record.Id;
}

/** The parent's part of a start for the waiting child pid, none of it tied to this process. */
async function parentSetup(record: ContainerRecord, spec: ContainerSpec, pid: number): Promise<void> {
  mark("monitor");
  await applyIdMapping(pid, spec.idMapping);
  mark("idmap");
  await prepareRootfs(spec, pid, { outliveBunker: true });
  const net = await attachNetwork(spec.network, pid, { outliveBunker: true });
  // -p 80 / -p IP::80 got a free port just now: `port`, `ps` and inspect show that one
  if (net.ports.length) writePublishedPorts(record.Id, publishedBindings(net.ports));
  mark("setup");
}

/**
 * Starts (or starts again) a container whose spec is known, under a new monitor. stdinFd: a pipe
 * the container reads as its stdin instead (`start -ai`: bunker writes its own stdin into it).
 */
export async function startUnderMonitor(record: ContainerRecord, spec: ContainerSpec, stdinFd?: number): Promise<void> {
  prepareVolumes(spec.mounts);
  const cgroup = await containerCgroup(spec);
  mark("cgroup");
  // -t: the child makes a pty in the container's devpts at each start and sends its master to the
  // monitor, which logs from it (`run -dit IMAGE sh`, then `exec -it`). Otherwise the monitor's own
  // 0/1/2 are its stdin (/dev/null or a pipe held open for -i) and the log pipes when it clones:
  // the container keeps them.
  // ./tty loads node:tty (~1 ms): only for -t
  const channel = spec.tty ? (await import("./tty")).containerPtyChannel() : undefined;
  const stdio = channel ? { pty: channel.pty } : { fds: [stdinFd ?? 0, 1, 2] as [number, number, number], setsid: true, controllingTty: false };
  const { program, steps, execFd } = spawnProgram(spec, stdio, { cgroupFd: cgroup?.dirFd ?? -1, goFd: -1, goWriteFd: -1, errFd: -1, errReadFd: -1 });
  let result: Awaited<ReturnType<typeof launchMonitored>>;
  try {
    result = await launchMonitored({
      rec: record,
      program,
      passFds: [execFd, cgroup?.dirFd ?? -1, channel?.socket ?? -1, channel?.pty.socket ?? -1, stdinFd ?? -1].filter((fd) => fd >= 0),
      ttySocket: channel?.socket,
      stdinOpen: spec.stdin && !channel,
      cgroupPath: () => cgroup?.path || undefined,
      setup: async (pid, monitorPid) => {
        await parentSetup(record, spec, pid);
        await cgroup?.attach(pid, monitorPid);
      },
      restartSetup: [process.execPath, "container-setup", record.Id],
    });
  } catch (e) {
    await cgroup?.remove();
    throw e;
  } finally {
    // the monitor has its own copies
    if (channel) for (const fd of [channel.socket, channel.pty.socket]) closeSync(fd);
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
  await parentSetup(record, spec, pid);
}

/**
 * `bunker start`: runs a stopped container again, detached, on the same writable layer, from the
 * spec its first run saved in the record. stdinFd: see startUnderMonitor.
 */
export async function startExisting(record: ContainerRecord, stdinFd?: number): Promise<void> {
  await withLock(containerLockPath(record.Id), async () => {
    if (isRunning(await readState(record.Id))) return; // docker: starting a running container is fine
    const spec = record.RunSpec as ContainerSpec | undefined;
    if (!spec) throw new BunkerError(`container ${record.Name} can't be started: its record has no run spec`);
    if (stdinFd !== undefined && spec.tty) throw new BunkerError(`start -i: container ${record.Name} has a tty (-t): attach to it with exec -it instead`);
    clearStopped(record.Id);
    await startUnderMonitor(record, spec, stdinFd);
  });
}

/**
 * `start -a [-i]`: starts the container and prints its output (stdout and stderr apart) until it
 * exits; returns its exit code. With -i, for a container made with -i, bunker's stdin goes to the
 * container's through a pipe (docker start -ai); bunker's EOF is the container's.
 */
export async function startAttached(record: ContainerRecord, interactive: boolean): Promise<number> {
  const { attachOutput } = await import("../container/logs");
  const since = Date.now();
  if (!interactive || (record.RunSpec as ContainerSpec | undefined)?.stdin !== true) {
    await startExisting(record);
    return attachOutput(record, since);
  }
  const [readEnd, writeEnd] = pipe();
  try {
    await startExisting(record, readEnd);
  } catch (e) {
    closeSync(writeEnd);
    throw e;
  } finally {
    closeSync(readEnd); // the monitor has its own copy
  }
  const toContainer = createWriteStream("", { fd: writeEnd });
  toContainer.on("error", () => {}); // the container has stopped reading: the rest of our stdin is dropped
  process.stdin.pipe(toContainer);
  try {
    return await attachOutput(record, since);
  } finally {
    process.stdin.unpipe(toContainer);
    process.stdin.destroy();
    toContainer.destroy();
  }
}
