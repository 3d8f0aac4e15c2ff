// Usage figures read from a cgroup v2 directory, the way docker computes them for `docker stats`.
import { readFileSync } from "../fs";
import { join } from "../posix-path";

export interface CgroupStats {
  /** cpu.stat usage_usec */
  cpuUsageUsec: number;
  /** memory.current minus inactive file cache (docker's "MEM USAGE") */
  memoryUsage: number;
  /** memory.max; the host's memory when unlimited (as docker shows) */
  memoryLimit: number;
  pids: number;
  /** io.stat rbytes / wbytes summed over devices */
  ioRead: number;
  ioWrite: number;
  /** memory.events oom_kill */
  oomKills: number;
}

function read(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), "utf8");
  } catch {
    return undefined;
  }
}

/** "key value" lines (cpu.stat, memory.stat, memory.events) → a lookup. */
export function parseKeyed(text: string | undefined): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.split(" ");
    if (k && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

/** io.stat: "8:0 rbytes=1 wbytes=2 rios=..." per device. */
export function parseIoStat(text: string | undefined): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of (text ?? "").split("\n"))
    for (const field of line.split(" ").slice(1)) {
      const [k, v] = field.split("=");
      if (k === "rbytes") read += Number(v);
      else if (k === "wbytes") write += Number(v);
    }
  return { read, write };
}

export function readStats(path: string): CgroupStats {
  const cpu = parseKeyed(read(path, "cpu.stat"));
  const mem = parseKeyed(read(path, "memory.stat"));
  const current = Number((read(path, "memory.current") ?? "0").trim());
  const max = (read(path, "memory.max") ?? "max").trim();
  const io = parseIoStat(read(path, "io.stat"));
  const pidsText = read(path, "pids.current");
  return {
    cpuUsageUsec: cpu.get("usage_usec") ?? 0,
    memoryUsage: Math.max(0, current - (mem.get("inactive_file") ?? 0)),
    // node:os when needed only: the cgroup module is loaded by every run, and node:os costs ~0.3 ms
    memoryLimit: max === "max" ? (require("node:os") as typeof import("node:os")).totalmem() : Number(max),
    pids: pidsText !== undefined ? Number(pidsText.trim()) : (read(path, "cgroup.procs") ?? "").split("\n").filter(Boolean).length,
    ioRead: io.read,
    ioWrite: io.write,
    oomKills: parseKeyed(read(path, "memory.events")).get("oom_kill") ?? 0,
  };
}
