// Starting a detached container under its monitor (native/helper/monitor.c, run from the sealed
// bunker-helper memfd). The caller (src/runtime) serializes the spawn program as for a foreground
// run; the monitor fills in the sync pipes' fds, clones the container and waits for it. This module
// speaks the monitor's handshake: the monitor reports the child's pid, the caller's setup (id
// mapping, network, cgroup) runs, then the monitor lets the child go and says whether execve worked.
//
// Restarts (--restart) happen while bunker is not running, so the monitor runs
// `bunker container-setup ID PID` (src/cli/commands/container-setup.ts) for the parent's part.
// Nothing restarts after a reboot: there is no daemon (see `bunker generate systemd`).
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "../posix-path";
import { helperPath } from "../../native/ffi";
import { BunkerError } from "../errors";
import { type ContainerRecord, containerDir, containerLogPath, containerRunDir } from "./records";
import { initialState, writeState } from "./state";

export interface MonitorLaunch {
  rec: ContainerRecord;
  /** the encoded spawn program; its go/error pipe fds are replaced by the monitor's own */
  program: Uint8Array;
  /** fds the program refers to (cgroup dir, --init's exec fd): they keep their numbers in the monitor */
  passFds: number[];
  /**
   * The container's cgroup directory, asked for after setup (a systemd scope's is known only once
   * the container is in it): the monitor reads OOM kills from its memory.events, moves restarted
   * processes into it, and removes it after the last exit.
   */
  cgroupPath?: () => string | undefined;
  /** the parent's part of a start, run between clone and release (id mapping, network, cgroup) */
  setup: (pid: number, monitorPid: number) => Promise<void> | void;
  /** a command (argv) that redoes setup for a restart; the monitor appends the new pid */
  restartSetup?: string[];
  /** -t: the socket the container's pty master comes back on, at each start, for the monitor to log from (in passFds) */
  ttySocket?: number;
  /** -i without -t: the monitor keeps the container's stdin open (a pipe nobody writes to) */
  stdinOpen?: boolean;
}

/** How the first start went: the container's pid, or the program step that failed and its errno. */
export type LaunchResult = ({ pid: number } | { failedStep: number; errno: number }) & { monitorPid: number };

export function stoppedFlagPath(id: string): string {
  return join(containerRunDir(id), "stopped");
}

/** Parses docker's size units for --log-opt max-size ("10m", "1g", "512k", bytes). */
export function parseLogSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(value.trim());
  if (!m) throw new BunkerError(`invalid --log-opt max-size=${value}: use a size like 10m, 512k or 1g`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as "" | "k" | "m" | "g"];
  return Math.floor(Number(m[1]) * mult);
}

function monitorArgs(l: MonitorLaunch, programPath: string): string[] {
  const { rec } = l;
  const id = rec.Id;
  const logOpts = rec.HostConfig.LogConfig.Config;
  const args = [
    "monitor",
    "--program", programPath,
    "--state", join(containerRunDir(id), "state.json"),
    "--state2", join(containerDir(id), "state.json"),
    "--log", containerLogPath(id),
    "--stopped", stoppedFlagPath(id),
    "--restart", rec.HostConfig.RestartPolicy.Name,
    "--max-retries", String(rec.HostConfig.RestartPolicy.MaximumRetryCount),
  ];
  if (logOpts["max-size"]) args.push("--log-max-size", String(parseLogSize(logOpts["max-size"])));
  if (logOpts["max-file"]) args.push("--log-max-file", logOpts["max-file"]);
  if (l.ttySocket !== undefined) args.push("--tty-socket", String(l.ttySocket));
  if (l.stdinOpen) args.push("--stdin-open", "1");
  if (l.restartSetup && rec.HostConfig.RestartPolicy.Name !== "no") args.push("--setup", String(l.restartSetup.length), ...l.restartSetup);
  // --rm: the monitor runs `bunker rm -f -v ID` after the final exit (it can't remove subuid-owned
  // files itself); -v: the anonymous volumes go too, as with docker's --rm.
  if (rec.HostConfig.AutoRemove) args.push("--on-exit", "5", process.execPath, "rm", "-f", "-v", id);
  return args;
}

/** Reads the monitor's status lines as they come. */
class LineReader {
  private buffer = "";
  private reader: { read(): Promise<{ value?: Uint8Array; done?: boolean }>; releaseLock(): void };
  private decoder = new TextDecoder();
  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }
  async next(): Promise<string | undefined> {
    for (;;) {
      const nl = this.buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        return line;
      }
      const { value, done } = await this.reader.read();
      if (done || !value) return undefined;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }
  release(): void {
    this.reader.releaseLock();
  }
}

/**
 * Starts the monitor for a created container and completes its first start. Returns once the
 * container's command runs (or failed to start); the monitor then lives on alone, in its own session.
 */
export async function launchMonitored(l: MonitorLaunch): Promise<LaunchResult> {
  const id = l.rec.Id;
  const runDir = containerRunDir(id);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  rmSync(stoppedFlagPath(id), { force: true });
  const programPath = join(runDir, "program.bin");
  writeFileSync(programPath, l.program, { mode: 0o600 });
  // Bun.spawn places stdio[i] at fd i, so the fds the program names keep their numbers.
  const stdio: (number | "pipe" | "ignore")[] = ["pipe", "pipe", "ignore"];
  for (const fd of l.passFds) {
    while (stdio.length <= fd) stdio.push("ignore");
    stdio[fd] = fd;
  }
  const proc = Bun.spawn([helperPath(), ...monitorArgs(l, programPath)], {
    argv0: "bunker-monitor",
    // biome-ignore lint/suspicious/noExplicitAny: Bun's types list only three stdio entries
    stdio: stdio as any,
    env: process.env,
  });
  const ctl = proc.stdin as unknown as import("bun").FileSink;
  const lines = new LineReader(proc.stdout as unknown as ReadableStream<Uint8Array>);
  const fail = async (why: string): Promise<never> => {
    ctl.end();
    await proc.exited;
    throw new BunkerError(`the container monitor failed: ${why}`);
  };
  const first = await lines.next();
  if (!first) return fail(`it exited with code ${await proc.exited} before starting the container`);
  const [kind, a] = first.split(" ");
  if (kind === "F") throw new BunkerError(`cannot create the container's namespaces: errno ${a}; run 'bunker doctor'`);
  if (kind !== "P") return fail(`unexpected answer "${first}"`);
  const pid = Number(a);
  try {
    await l.setup(pid, proc.pid);
  } catch (e) {
    ctl.end(); // EOF instead of "g": the monitor kills the waiting child and records the failure
    await proc.exited;
    throw e;
  }
  const cgroupPath = l.cgroupPath?.();
  ctl.write(cgroupPath ? `C${cgroupPath}\ng` : "g");
  await ctl.flush();
  const result = await lines.next();
  ctl.end();
  lines.release();
  proc.unref();
  if (result === "S") return { pid, monitorPid: proc.pid };
  if (result?.startsWith("E ")) {
    const [, step, errno] = result.split(" ");
    return { failedStep: Number(step), errno: Number(errno), monitorPid: proc.pid };
  }
  throw new BunkerError(`the container monitor failed: unexpected answer "${result ?? "EOF"}"`);
}

/** True when a detached container's monitor has set things up (its program is kept for restarts). */
export function hasMonitor(id: string): boolean {
  return existsSync(join(containerRunDir(id), "program.bin"));
}

/** Resets the state of a container that is about to be started again. */
export async function resetForStart(id: string): Promise<void> {
  await writeState(id, initialState());
}
