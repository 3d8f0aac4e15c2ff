// docker run's flags that few runs give (extra /etc entries, groups, rlimits, devices, sysctls,
// another container's volumes...), parsed in one place and only when one of them is there. Each
// function a run calls for the first time costs it tens of thousands of instructions (its bytecode
// is linked then), so the common run, which gives none of these, calls none of their parsers.
import { findContainer, type MountPoint } from "../container/records";
import { BunkerError } from "../errors";
import { existsSync, readFileSync } from "../fs";
import { checkDnsFlags, type DnsFlags, type ExtraHost, NO_DNS_FLAGS, parseAddHosts } from "../net";
import { parseSize, parseVolumesFrom } from "../volume";
import { type DeviceSpec, dockerDevices, parseDevices } from "./device";
import { bool, list, type ParsedFlags, str } from "./flags";
import { DEFAULT_SHM_SIZE } from "./spec";
import { parseSysctls } from "./sysctl";
import { dockerUlimits, parseUlimits, type Ulimit } from "./ulimit";

/** The flags parsed here: a run that gives none of them takes NO_EXTRA_FLAGS without a call. */
export const EXTRA_FLAG_KEYS = [
  ...["addHost", "dns", "dnsSearch", "dnsOption", "groupAdd", "shmSize", "stopTimeout", "labelFile", "cidfile"],
  ...["ulimit", "device", "sysctl", "volumesFrom", "restart", "logOpt"],
];

export interface ExtraFlags {
  extraHosts: ExtraHost[];
  dns: DnsFlags;
  /** --group-add, as given: names are resolved in the container (resolveUser) */
  groupAdd: string[];
  /** bytes of /dev/shm, when not docker's default */
  shmSize?: number;
  stopTimeout?: number;
  /** --label-file lines (KEY=VALUE), read; --label comes after them */
  fileLabels: string[];
  cidfile?: string;
  ulimits?: Ulimit[];
  devices?: DeviceSpec[];
  sysctls?: Record<string, string>;
  /** --volumes-from: each container named, with its recorded mounts */
  volumesFrom: { container: string; mode?: "ro" | "rw"; mounts: MountPoint[] }[];
  /** docker's HostConfig fields for inspect */
  hostConfig: Record<string, unknown>;
}

export const NO_EXTRA_FLAGS: ExtraFlags = {
  extraHosts: [],
  dns: NO_DNS_FLAGS,
  groupAdd: [],
  fileLabels: [],
  volumesFrom: [],
  hostConfig: { VolumesFrom: [], ExtraHosts: [], Dns: [], DnsSearch: [], DnsOptions: [], GroupAdd: [], ShmSize: DEFAULT_SHM_SIZE, Ulimits: [], Devices: [] },
};

/**
 * The extra flags of a run or sandbox, checked (one line, 125, before anything exists);
 * `newNetNs`: not --network host. Call it only where one of EXTRA_FLAG_KEYS is given.
 */
export async function parseExtraFlags(f: ParsedFlags, newNetNs: boolean): Promise<ExtraFlags> {
  if (!bool(f, "detach")) {
    // No daemon outlives a foreground run to restart its container, and its output goes straight
    // to the caller instead of to a log: refused rather than ignored.
    const restart = str(f, "restart");
    if (restart !== undefined && restart !== "" && restart !== "no")
      throw new BunkerError(`--restart ${restart} needs -d: a restart policy is carried out by a detached container's monitor`);
    if (list(f, "logOpt").length > 0) throw new BunkerError("--log-opt needs -d: a foreground container's output goes straight to you, not to a log");
  }
  const extraHosts = parseAddHosts(list(f, "addHost"));
  const dns = checkDnsFlags({ servers: list(f, "dns"), search: list(f, "dnsSearch"), options: list(f, "dnsOption") });
  const shmSize = parseShmSize(str(f, "shmSize"));
  const stopTimeout = parseStopTimeout(str(f, "stopTimeout"));
  const fileLabels = list(f, "labelFile").flatMap(readLabelFile);
  const cidfile = str(f, "cidfile");
  if (cidfile !== undefined && existsSync(cidfile))
    throw new BunkerError(`container ID file found, make sure the other container isn't running or delete ${cidfile}`);
  const ulimits = parseUlimits(list(f, "ulimit"));
  const devices = parseDevices(list(f, "device"));
  const sysctls = parseSysctls(list(f, "sysctl"), newNetNs);
  const volumesFrom = await Promise.all(list(f, "volumesFrom").map(lookUpVolumesFrom));
  return {
    extraHosts,
    dns,
    groupAdd: list(f, "groupAdd"),
    shmSize,
    stopTimeout,
    fileLabels,
    cidfile,
    ...(ulimits.length ? { ulimits } : {}),
    ...(devices.length ? { devices } : {}),
    ...(Object.keys(sysctls).length ? { sysctls } : {}),
    volumesFrom,
    hostConfig: {
      VolumesFrom: list(f, "volumesFrom"),
      ExtraHosts: extraHosts.map((h) => `${h.name}:${h.ip}`),
      Dns: dns.servers,
      DnsSearch: dns.search,
      DnsOptions: dns.options,
      GroupAdd: list(f, "groupAdd"),
      ShmSize: shmSize ?? DEFAULT_SHM_SIZE,
      Ulimits: dockerUlimits(ulimits),
      Devices: dockerDevices(devices),
      // docker omits an empty Sysctls
      ...(Object.keys(sysctls).length > 0 ? { Sysctls: sysctls } : {}),
    },
  };
}

function parseShmSize(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const bytes = parseSize(v);
  if (bytes === undefined || bytes <= 0) throw new BunkerError(`invalid --shm-size "${v}": give a size such as 64m or 1g`);
  return bytes;
}

function parseStopTimeout(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new BunkerError(`invalid --stop-timeout "${v}": give whole seconds (-1: wait for ever)`);
  return Number(v);
}

/** A --label-file's KEY=VALUE lines, without blanks and # comments (docker's format). */
function readLabelFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new BunkerError(`cannot read label file ${file}: ${(e as Error).message}`);
  }
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

async function lookUpVolumesFrom(spec: string): Promise<ExtraFlags["volumesFrom"][number]> {
  const { container, mode } = parseVolumesFrom(spec);
  const rec = await findContainer(container);
  if (!rec) throw new BunkerError(`--volumes-from ${container}: no such container`);
  return { container, mode, mounts: rec.Mounts };
}
