// stop, kill, wait and rm of containers, and docker's status words. A container's main process is
// signalled directly (its host pid is in the state); the monitor notices the exit and records it.
import { mkdirSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { BunkerError } from "../errors";
import { humanAgo, humanDuration } from "../cli/output";
import { withLock } from "./lock";
import { stoppedFlagPath } from "./monitor";
import { type ContainerRecord, containerLockPath, containerRunDir, finishInterruptedRemovals, listContainers, removeContainer } from "./records";
import { type ContainerState, processStartTime, readState } from "./state";

/** Accepts "TERM", "SIGTERM", "15"; returns the signal number. */
export function parseSignal(value: string): number {
  const v = value.trim().toUpperCase();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = v.startsWith("SIG") ? v : `SIG${v}`;
    const n = (constants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  throw new BunkerError(`invalid signal "${value}": use a name like SIGTERM or KILL, or a number`);
}

export function isRunning(s: ContainerState): boolean {
  return s.Status === "running" || s.Status === "restarting" || s.Status === "paused";
}

/** docker's STATUS column: "Up 5 minutes", "Exited (0) 2 hours ago", "Created", "Restarting (1) …". */
export function statusText(s: ContainerState, now = new Date()): string {
  const ago = (t: string) => humanAgo(new Date(t), now);
  switch (s.Status) {
    case "running":
      return `Up ${humanDuration(now.getTime() - new Date(s.StartedAt).getTime())}`;
    case "restarting":
      return `Restarting (${s.ExitCode}) ${ago(s.FinishedAt)}`;
    case "exited":
      return `Exited (${s.ExitCode}) ${ago(s.FinishedAt)}`;
    case "created":
      return "Created";
    default:
      return s.Status[0].toUpperCase() + s.Status.slice(1);
  }
}

/** docker's State column word (created, running, exited...). */
export function stateWord(s: ContainerState): string {
  return s.Status;
}

/** Sends sig to the container's main process if it runs; false when there was nothing to signal. */
function signal(state: ContainerState, sig: number): boolean {
  if (!isRunning(state) || state.Pid <= 0) return false;
  try {
    process.kill(state.Pid, sig);
    return true;
  } catch {
    return false; // it exited between the read and the kill
  }
}

/** Marks the container as stopped by the user: its monitor won't restart it. */
function markStopped(id: string): void {
  mkdirSync(containerRunDir(id), { recursive: true, mode: 0o700 });
  writeFileSync(stoppedFlagPath(id), "");
}

export function clearStopped(id: string): void {
  rmSync(stoppedFlagPath(id), { force: true });
}

/** Polls until the container is no longer running (the monitor wrote its exit) or the deadline. */
async function waitNotRunning(id: string, deadline: number): Promise<ContainerState> {
  let s = await readState(id);
  while (isRunning(s) && Date.now() < deadline) {
    await Bun.sleep(20);
    s = await readState(id);
  }
  return s;
}

/**
 * Waits until the process that watched the container has gone (it removes the cgroup and closes
 * the log). Not when that is us (a foreground run), nor our parent: a monitor runs `rm -f` for
 * --rm as its child, once it has done both, and waits for it.
 */
async function waitMonitorGone(s: ContainerState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const start = s.MonitorStartTime;
  const watcher = s.MonitorPid;
  while (watcher > 0 && watcher !== process.pid && watcher !== process.ppid && Date.now() < deadline) {
    const now = processStartTime(watcher);
    if (now === undefined || (start !== 0 && now !== start)) return;
    await Bun.sleep(10);
  }
}

/**
 * docker stop: StopSignal (or SIGTERM), then SIGKILL after timeoutSec: by default the container's
 * --stop-timeout, else 10; a negative one waits for ever.
 */
export async function stopContainer(rec: ContainerRecord, timeoutSec: number = rec.Config.StopTimeout ?? 10): Promise<void> {
  await withLock(containerLockPath(rec.Id), async () => {
    markStopped(rec.Id);
    let s = await readState(rec.Id);
    if (!isRunning(s)) return;
    const sig = parseSignal(rec.Config.StopSignal || "SIGTERM");
    if (timeoutSec !== 0 && signal(s, sig)) s = await waitNotRunning(rec.Id, timeoutSec < 0 ? Infinity : Date.now() + timeoutSec * 1000);
    if (isRunning(s)) {
      signal(s, constants.signals.SIGKILL);
      s = await waitNotRunning(rec.Id, Date.now() + 10_000);
      if (isRunning(s)) throw new BunkerError(`container ${rec.Name} did not stop after SIGKILL`);
    }
    await waitMonitorGone(s, 5000);
  });
}

/** docker kill -s SIG. Signals that end a container count as the user stopping it (no restart). */
export async function killContainer(rec: ContainerRecord, sig: number): Promise<void> {
  const s = await readState(rec.Id);
  if (!isRunning(s)) throw new BunkerError(`cannot kill container ${rec.Name}: container is not running`);
  const { SIGKILL, SIGTERM, SIGINT } = constants.signals;
  if (sig === SIGKILL || sig === SIGTERM || sig === SIGINT) markStopped(rec.Id);
  if (!signal(s, sig)) throw new BunkerError(`cannot kill container ${rec.Name}: container is not running`);
}

/** Waits for the container to exit and returns its exit code (docker wait). */
export async function waitContainer(rec: ContainerRecord): Promise<number> {
  for (;;) {
    const s = await readState(rec.Id);
    if (s.Status === "exited" || s.Status === "dead") return s.ExitCode;
    await Bun.sleep(50);
  }
}

/** docker rm [-f]: a running container is refused unless force, which kills it first. */
export async function rmContainer(rec: ContainerRecord, force: boolean): Promise<void> {
  await withLock(containerLockPath(rec.Id), async () => {
    let s = await readState(rec.Id);
    if (isRunning(s)) {
      if (!force)
        throw new BunkerError(`cannot remove container ${rec.Name}: container is running: stop the container before removing or force remove (rm -f)`);
      markStopped(rec.Id);
      signal(s, constants.signals.SIGKILL);
      s = await waitNotRunning(rec.Id, Date.now() + 10_000);
      if (isRunning(s)) throw new BunkerError(`cannot remove container ${rec.Name}: it did not die after SIGKILL`);
    }
    await waitMonitorGone(s, 5000);
    await removeContainer(rec.Id);
  });
}

/** Host pids of every process in the pid namespace of the container whose init is pid. */
export function containerPids(pid: number): number[] {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/ns/pid`) === ns) pids.push(Number(e));
    } catch {
      // gone, or not ours to look at
    }
  }
  return pids;
}

/**
 * docker container prune: removes every container that is not running; returns their ids. It also
 * finishes removals cut short (a kill -9 during rm leaves the renamed .removing-ID directory).
 */
export async function pruneContainers(): Promise<string[]> {
  await finishInterruptedRemovals();
  const removed: string[] = [];
  for (const rec of await listContainers()) {
    const s = await readState(rec.Id);
    if (isRunning(s)) continue;
    try {
      await rmContainer(rec, false);
      removed.push(rec.Id);
    } catch (e) {
      // started meanwhile by another command: not prunable any more
      if (!(e instanceof BunkerError)) throw e;
    }
  }
  return removed;
}
