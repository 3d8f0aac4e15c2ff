// Resource flags (docker's names and units) → ResourceLimits → cgroup v2 interface files.
// The arithmetic follows docker + runc/crun so that a limit means here what it means there.
import { BunkerError } from "../errors";

export interface ResourceLimits {
  /** bytes → memory.max */
  memory?: number;
  /** docker semantics: memory + swap in bytes, -1 unlimited → memory.swap.max = memorySwap - memory */
  memorySwap?: number;
  /** bytes → memory.low */
  memoryReservation?: number;
  /** CPUs (0.5 = half of one) → cpu.max "<cpus*100000> 100000" */
  cpus?: number;
  /** cgroup v1 shares (2..262144) → cpu.weight */
  cpuShares?: number;
  /** → cpuset.cpus, e.g. "0-2,4" */
  cpusetCpus?: string;
  /** → cpuset.mems */
  cpusetMems?: string;
  /** → pids.max; -1 or 0 = unlimited (docker) */
  pidsLimit?: number;
  /** 10..1000 → io.weight */
  blkioWeight?: number;
}

/** The resource flags bunker's run accepts, by docker's long name (all take a value). */
export const RESOURCE_FLAGS = [
  "memory",
  "memory-swap",
  "memory-reservation",
  "cpus",
  "cpu-shares",
  "cpuset-cpus",
  "cpuset-mems",
  "pids-limit",
  "blkio-weight",
] as const;
export type ResourceFlag = (typeof RESOURCE_FLAGS)[number];

/** docker's short forms: `-m 512m`, `-c 512`. */
export const RESOURCE_FLAG_ALIASES: Record<string, ResourceFlag> = { m: "memory", c: "cpu-shares" };

/** `--cgroups` values (podman's flag). */
export type CgroupMode = "enabled" | "disabled";

export function parseCgroupMode(value: string | undefined): CgroupMode {
  if (value === undefined || value === "enabled") return "enabled";
  if (value === "disabled") return "disabled";
  throw new BunkerError(`invalid --cgroups value "${value}": use enabled or disabled`);
}

/** The cgroup period docker uses with --cpus (100 ms). */
export const CPU_PERIOD_USEC = 100000;
/** docker refuses memory limits below 6 MB ("Minimum memory limit allowed is 6MB"). */
const MIN_MEMORY = 6 * 1024 * 1024;

const UNIT: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * docker's RAMInBytes (go-units): "512m", "1.5g", "512MiB", "100" (bytes); binary units,
 * case-insensitive.
 */
export function parseBytes(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtpb])?(?:i?b)?$/i.exec(value.trim());
  if (!m) throw new BunkerError(`invalid value "${value}" for --${flag}: use a size like 512m, 1g or 1048576 (bytes)`);
  const unit = UNIT[(m[2] ?? "").toLowerCase()];
  return Math.floor(Number(m[1]) * unit);
}

function parseInteger(flag: string, value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new BunkerError(`invalid value "${value}" for --${flag}: an integer is needed`);
  return Number(value);
}

/** cpuset lists: "0", "0-3", "0,2,4-7". */
function parseCpuset(flag: string, value: string): string {
  const v = value.trim();
  const ok = /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v) && v.split(",").every((r) => { const [a, b] = r.split("-").map(Number); return b === undefined || a <= b; });
  if (!ok) throw new BunkerError(`invalid value "${value}" for --${flag}: use a list like 0-3 or 0,2`);
  return v;
}

/** Expands a cpuset list into its members ("0-2,4" → 0,1,2,4). */
export function cpusetMembers(list: string): Set<number> {
  const out = new Set<number>();
  for (const range of list.trim().split(",")) {
    if (!range) continue;
    const [a, b] = range.split("-").map(Number);
    for (let i = a; i <= (b ?? a); i++) out.add(i);
  }
  return out;
}

/**
 * Parses docker's resource flags (keys are the long names without dashes: "memory", "cpus", …).
 * Bad values throw a one-line BunkerError, as docker refuses them before creating anything.
 */
export function parseResourceFlags(args: Record<string, string | undefined>, hostCpus?: number): ResourceLimits {
  const l: ResourceLimits = {};
  const get = (k: ResourceFlag) => {
    const v = args[k];
    return v === undefined || v === "" ? undefined : v;
  };
  const memory = get("memory");
  if (memory !== undefined) {
    l.memory = parseBytes("memory", memory);
    // docker treats 0 as "no limit"
    if (l.memory === 0) delete l.memory;
    else if (l.memory < MIN_MEMORY) throw new BunkerError("minimum memory limit allowed is 6MB");
  }
  const swap = get("memory-swap");
  if (swap !== undefined) {
    l.memorySwap = swap.trim() === "-1" ? -1 : parseBytes("memory-swap", swap);
    if (l.memorySwap === 0) delete l.memorySwap;
    else {
      if (l.memory === undefined) throw new BunkerError("you should always set the memory limit when using the memoryswap limit: add --memory");
      if (l.memorySwap !== -1 && l.memorySwap < l.memory)
        throw new BunkerError("minimum memoryswap limit should be larger than memory limit, see usage");
    }
  }
  const reservation = get("memory-reservation");
  if (reservation !== undefined) {
    l.memoryReservation = parseBytes("memory-reservation", reservation);
    if (l.memoryReservation === 0) delete l.memoryReservation;
    else if (l.memory !== undefined && l.memoryReservation > l.memory)
      throw new BunkerError("minimum memory limit can not be less than memory reservation limit, see usage");
  }
  const cpus = get("cpus");
  if (cpus !== undefined) {
    if (!/^\d*\.?\d+$/.test(cpus.trim())) throw new BunkerError(`invalid value "${cpus}" for --cpus: use a number of CPUs like 0.5 or 2`);
    const n = Number(cpus);
    if (n !== 0) {
      // node:os only now: loading it costs every run ~0.3 ms
      hostCpus ??= (require("node:os") as typeof import("node:os")).availableParallelism();
      // docker: "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
      if (n < 0.01 || n > hostCpus)
        throw new BunkerError(`range of CPUs is from 0.01 to ${hostCpus.toFixed(2)}, as there are only ${hostCpus} CPUs available`);
      l.cpus = n;
    }
  }
  const shares = get("cpu-shares");
  if (shares !== undefined) {
    const n = parseInteger("cpu-shares", shares);
    if (n < 0) throw new BunkerError(`invalid value "${shares}" for --cpu-shares: shares can't be negative`);
    // the kernel's (and runc's) bounds for v1 shares; 0 means "not set" as in docker
    if (n !== 0) l.cpuShares = Math.min(Math.max(n, 2), 262144);
  }
  const cpusetCpus = get("cpuset-cpus");
  if (cpusetCpus !== undefined) l.cpusetCpus = parseCpuset("cpuset-cpus", cpusetCpus);
  const cpusetMems = get("cpuset-mems");
  if (cpusetMems !== undefined) l.cpusetMems = parseCpuset("cpuset-mems", cpusetMems);
  const pids = get("pids-limit");
  if (pids !== undefined) {
    const n = parseInteger("pids-limit", pids);
    // docker: 0 or -1 = unlimited
    if (n > 0) l.pidsLimit = n;
    else if (n < -1) throw new BunkerError(`invalid value "${pids}" for --pids-limit: use a positive number, or -1 for unlimited`);
  }
  const blkio = get("blkio-weight");
  if (blkio !== undefined) {
    const n = parseInteger("blkio-weight", blkio);
    if (n !== 0) {
      if (n < 10 || n > 1000) throw new BunkerError("range of blkio weight is from 10 to 1000");
      l.blkioWeight = n;
    }
  }
  return l;
}

export function hasLimits(l: ResourceLimits): boolean {
  for (const v of Object.values(l)) if (v !== undefined) return true;
  return false;
}

/** The flags a set of limits came from, for messages ("--memory, --cpus"). */
export function limitFlagNames(l: ResourceLimits): string[] {
  const names: Record<keyof ResourceLimits, ResourceFlag> = {
    memory: "memory",
    memorySwap: "memory-swap",
    memoryReservation: "memory-reservation",
    cpus: "cpus",
    cpuShares: "cpu-shares",
    cpusetCpus: "cpuset-cpus",
    cpusetMems: "cpuset-mems",
    pidsLimit: "pids-limit",
    blkioWeight: "blkio-weight",
  };
  return (Object.keys(names) as (keyof ResourceLimits)[]).filter((k) => l[k] !== undefined).map((k) => `--${names[k]}`);
}

/** crun/runc's conversion of v1 cpu shares [2..262144] to v2 cpu.weight [1..10000]. */
export function cpuSharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** runc's conversion of blkio weight [10..1000] to io.weight [1..10000]. */
export function blkioWeightToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** cpu.max for a number of CPUs: "<quota> <period>" (docker: period 100 ms). */
export function cpuMax(cpus: number): string {
  return `${Math.round(cpus * CPU_PERIOD_USEC)} ${CPU_PERIOD_USEC}`;
}

export interface CgroupWrite {
  file: string;
  value: string;
  /** a default docker applies on its own (swap = memory): skipped quietly where the file is missing */
  implicit?: boolean;
}

/**
 * The interface files to write for a set of limits, in an order the kernel accepts (cpuset.cpus
 * before mems is free; memory.low before memory.max so low ≤ max holds at each step).
 */
export function limitWrites(l: ResourceLimits): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  if (l.cpusetCpus !== undefined) w.push({ file: "cpuset.cpus", value: l.cpusetCpus });
  if (l.cpusetMems !== undefined) w.push({ file: "cpuset.mems", value: l.cpusetMems });
  if (l.memoryReservation !== undefined) w.push({ file: "memory.low", value: String(l.memoryReservation) });
  if (l.memory !== undefined) {
    w.push({ file: "memory.max", value: String(l.memory) });
    if (l.memorySwap === -1) w.push({ file: "memory.swap.max", value: "max" });
    else if (l.memorySwap !== undefined) w.push({ file: "memory.swap.max", value: String(l.memorySwap - l.memory) });
    // docker's default when only --memory is given: as much swap as memory (total 2× memory)
    else w.push({ file: "memory.swap.max", value: String(l.memory), implicit: true });
  }
  if (l.cpus !== undefined) w.push({ file: "cpu.max", value: cpuMax(l.cpus) });
  if (l.cpuShares !== undefined) w.push({ file: "cpu.weight", value: String(cpuSharesToWeight(l.cpuShares)) });
  if (l.pidsLimit !== undefined) w.push({ file: "pids.max", value: String(l.pidsLimit) });
  if (l.blkioWeight !== undefined) w.push({ file: "io.weight", value: String(blkioWeightToIoWeight(l.blkioWeight)) });
  return w;
}

/** The controllers a set of limits needs enabled in the parent's cgroup.subtree_control. */
export function controllersFor(l: ResourceLimits): string[] {
  const need = new Set<string>();
  for (const { file } of limitWrites(l)) need.add(file.split(".")[0]);
  return [...need];
}

/** The limits as docker's inspect shows them in HostConfig (unset ones as docker's zero values). */
export function dockerResources(l: ResourceLimits): Record<string, number | string | null> {
  return {
    Memory: l.memory ?? 0,
    MemoryReservation: l.memoryReservation ?? 0,
    // docker reports the default (swap = memory) as twice the memory
    MemorySwap: l.memorySwap ?? (l.memory !== undefined ? l.memory * 2 : 0),
    NanoCpus: l.cpus !== undefined ? Math.round(l.cpus * 1e9) : 0,
    CpuShares: l.cpuShares ?? 0,
    CpusetCpus: l.cpusetCpus ?? "",
    CpusetMems: l.cpusetMems ?? "",
    PidsLimit: l.pidsLimit ?? null,
    BlkioWeight: l.blkioWeight ?? 0,
  };
}
