// The runtime state of a container. The monitor (native/helper/monitor.c) writes it while a
// detached container lives; TypeScript writes it around starts and stops. Both write the live copy
// ($runroot/containers/<id>/state.json, cleared at reboot) and a durable copy beside config.json,
// always with temp + rename.
//
// A monitor can die without a word (kill -9, reboot, OOM). Whoever reads the state checks that the
// process that owns it is still the same process (pid AND start time, against pid reuse); if not,
// the container is shown exited with ExitCode -1 ("unknown": the exit was never seen) and an
// Error saying why, never running forever. -1 is what podman reports in that case too.
import { mkdirSync, readFileSync } from "../fs";
import { join } from "../posix-path";
import { errnoCode } from "../errors";
import { containerDir, containerRunDir, nowTimestamp, writeJsonAtomic } from "./records";

export type ContainerStatus = "created" | "running" | "restarting" | "paused" | "exited" | "dead" | "removing";

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Restarting: boolean;
  /** host pid of the container's init (0 when not running) */
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  OOMKilled: boolean;
  /** the process that waits for the container: the monitor, or a foreground `bunker run` */
  MonitorPid: number;
  /** its start time in clock ticks since boot (/proc/PID/stat field 22), to detect pid reuse */
  MonitorStartTime: number;
  RestartCount: number;
}

/** docker's zero time */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

export const EXIT_UNKNOWN = -1;

export function initialState(): ContainerState {
  return {
    Status: "created",
    Running: false,
    Restarting: false,
    Pid: 0,
    ExitCode: 0,
    Error: "",
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
    OOMKilled: false,
    MonitorPid: 0,
    MonitorStartTime: 0,
    RestartCount: 0,
  };
}

function liveStatePath(id: string): string {
  return join(containerRunDir(id), "state.json");
}

function durableStatePath(id: string): string {
  return join(containerDir(id), "state.json");
}

function readJson(path: string): Partial<ContainerState> | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/** Start time of a process in clock ticks since boot, or undefined when it doesn't exist. */
export function processStartTime(pid: number): number | undefined {
  if (!(pid > 0)) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined; // a zombie waits for nobody
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

function isActive(s: ContainerState): boolean {
  return s.Status === "running" || s.Status === "restarting" || s.Status === "paused";
}

function ownerAlive(s: ContainerState): boolean {
  const start = processStartTime(s.MonitorPid);
  return start !== undefined && (s.MonitorStartTime === 0 || start === s.MonitorStartTime);
}

/**
 * Writes the state atomically, to the live and the durable copy. `live` alone: for a `run --rm`
 * container, which never outlives the bunker that runs it, so a copy that survives reboots would
 * only be one more file to create and delete.
 */
export async function writeState(id: string, state: ContainerState, copies: "both" | "live" = "both"): Promise<void> {
  mkdirSync(containerRunDir(id), { recursive: true, mode: 0o700 });
  const s = { ...state, Running: state.Status === "running", Restarting: state.Status === "restarting" };
  writeJsonAtomic(liveStatePath(id), s);
  if (copies === "both") writeJsonAtomic(durableStatePath(id), s);
}

/** Merges a change into the current state and writes it. */
export async function updateState(id: string, change: Partial<ContainerState>): Promise<ContainerState> {
  const next = { ...(await readState(id)), ...change };
  await writeState(id, next);
  return next;
}

/**
 * The container's state, repaired when the process that watched it is gone: that container is
 * shown exited with an unknown code (-1), and the repair is written so every command agrees.
 */
export async function readState(id: string): Promise<ContainerState> {
  const live = readJson(liveStatePath(id));
  const durable = live ? undefined : readJson(durableStatePath(id));
  const s: ContainerState = { ...initialState(), ...(live ?? durable) };
  if (!isActive(s)) return s;
  if (live && ownerAlive(s)) return s;
  // The owner may have written its final state and exited between our read and the check.
  const again: ContainerState = { ...initialState(), ...(readJson(liveStatePath(id)) ?? durable) };
  if (!isActive(again)) return again;
  const repaired: ContainerState = {
    ...again,
    Status: "exited",
    Pid: 0,
    ExitCode: EXIT_UNKNOWN,
    FinishedAt: nowTimestamp(),
    Error: live ? "the container's monitor process died; its exit code is unknown" : "the host rebooted (runtime state is gone); its exit code is unknown",
  };
  await writeState(id, repaired);
  return { ...repaired, Running: false, Restarting: false };
}
