// docker stats' figures for one container, from two readings of its cgroup: CPU % is the CPU time
// used between them over the wall time between them (100% = one CPU, as docker shows it).
import { readFileSync } from "../fs";
import { type CgroupStats, readStats } from "./stats";

export interface UsageSample {
  at: bigint;
  stats: CgroupStats;
}

export function sample(path: string): UsageSample {
  return { at: process.hrtime.bigint(), stats: readStats(path) };
}

export function cpuPercent(before: UsageSample, after: UsageSample): number {
  const wallUsec = Number(after.at - before.at) / 1000;
  if (wallUsec <= 0) return 0;
  return (Math.max(0, after.stats.cpuUsageUsec - before.stats.cpuUsageUsec) / wallUsec) * 100;
}

/** Bytes received/sent by the interfaces of a process's network namespace, loopback excluded. */
export function netIo(pid: number): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  try {
    for (const line of readFileSync(`/proc/${pid}/net/dev`, "utf8").split("\n").slice(2)) {
      const [name, rest] = line.split(":");
      if (!rest || name.trim() === "lo") continue;
      const f = rest.trim().split(/\s+/).map(Number);
      rx += f[0];
      tx += f[8];
    }
  } catch {
    // the process has just gone
  }
  return { rx, tx };
}
