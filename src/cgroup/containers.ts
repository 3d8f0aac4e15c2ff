// `bunker stats`' rows: the containers (from the lifecycle's records) joined with their cgroups.
import { type ContainerRecord, findContainer, listContainers, readState } from "../container";
import { BunkerError } from "../errors";
import { cgroupPathOf, cleanupStaleCgroups } from "./manager";
import { cpuPercent, netIo, sample, type UsageSample } from "./usage";

/** One row, with docker's `stats --format json` field names and strings. */
export interface StatsRow {
  BlockIO: string;
  CPUPerc: string;
  Container: string;
  ID: string;
  MemPerc: string;
  MemUsage: string;
  Name: string;
  NetIO: string;
  PIDs: string;
}

/** How long CPU use is measured for one reading (docker's stats also look one second back). */
const INTERVAL_MS = 1000;

/** How sizes are written (the CLI's docker-style formatters). */
export interface SizeFormat {
  /** decimal, for I/O ("4.1kB") */
  humanSize: (n: number) => string;
  /** binary, for memory ("48MiB") */
  binarySize: (n: number) => string;
}

export async function collectStats(o: { names: string[]; all: boolean } & SizeFormat): Promise<StatsRow[]> {
  await cleanupStaleCgroups();
  let records: ContainerRecord[];
  if (o.names.length > 0) {
    records = [];
    for (const n of o.names) {
      const r = await findContainer(n);
      if (!r) throw new BunkerError(`no such container: ${n}`);
      records.push(r);
    }
  } else {
    records = [];
    for (const r of await listContainers()) if (o.all || (await readState(r.Id)).Running) records.push(r);
  }
  const live: { rec: ContainerRecord; path?: string; pid: number; first?: UsageSample }[] = [];
  for (const rec of records) {
    const state = await readState(rec.Id);
    const path = state.Running ? cgroupPathOf(rec.Id) : undefined;
    live.push({ rec, path, pid: state.Running ? state.Pid : 0, first: path ? sample(path) : undefined });
  }
  if (live.some((l) => l.first)) await Bun.sleep(INTERVAL_MS);
  return live.map(({ rec, path, pid, first }) => {
    const row = { Container: rec.Name, ID: rec.Id.slice(0, 12), Name: rec.Name };
    if (!path || !first) {
      // A stopped container, or one that runs without a cgroup (--cgroups=disabled, no
      // delegation): docker's zeros.
      return { ...row, BlockIO: "0B / 0B", CPUPerc: "0.00%", MemPerc: "0.00%", MemUsage: "0B / 0B", NetIO: "0B / 0B", PIDs: "0" };
    }
    const second = sample(path);
    const s = second.stats;
    const net = netIo(pid);
    return {
      ...row,
      BlockIO: `${o.humanSize(s.ioRead)} / ${o.humanSize(s.ioWrite)}`,
      CPUPerc: `${cpuPercent(first, second).toFixed(2)}%`,
      MemPerc: `${(s.memoryLimit > 0 ? (s.memoryUsage / s.memoryLimit) * 100 : 0).toFixed(2)}%`,
      MemUsage: `${o.binarySize(s.memoryUsage)} / ${o.binarySize(s.memoryLimit)}`,
      NetIO: `${o.humanSize(net.rx)} / ${o.humanSize(net.tx)}`,
      PIDs: String(s.pids),
    };
  });
}
