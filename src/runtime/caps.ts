// Linux capabilities by name, docker's default set, and --cap-add/--cap-drop arithmetic.
import { BunkerError } from "../errors";

export const CAPABILITIES = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
  "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
  "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
  "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
  "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
  "CHECKPOINT_RESTORE",
] as const;

/** docker's default capabilities (moby/oci/caps/defaults.go). */
export const DEFAULT_CAPS = [
  "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
  "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
];

function normalize(name: string): string {
  const upper = name.trim().toUpperCase();
  const bare = upper.startsWith("CAP_") ? upper.slice(4) : upper;
  if (bare !== "ALL" && !(CAPABILITIES as readonly string[]).includes(bare))
    throw new BunkerError(`unknown capability: "${name}"; names look like NET_ADMIN or CAP_NET_ADMIN`);
  return bare;
}

/** --cap-add/--cap-drop values ("NET_ADMIN,sys_time") as capability names. */
function capNames(flags: string[]): string[] {
  const out: string[] = [];
  for (const flag of flags) for (const s of flag.split(",")) if (s) out.push(normalize(s));
  return out;
}

/** The container's capability names, from docker's defaults and the user's flags. */
export function effectiveCaps(opts: { privileged: boolean; add: string[]; drop: string[] }): string[] {
  if (opts.privileged) return [...CAPABILITIES];
  const add = capNames(opts.add);
  const drop = capNames(opts.drop);
  let caps = new Set(drop.includes("ALL") ? [] : DEFAULT_CAPS);
  for (const c of drop) caps.delete(c);
  if (add.includes("ALL")) caps = new Set(CAPABILITIES);
  for (const c of add) if (c !== "ALL") caps.add(c);
  return CAPABILITIES.filter((c) => caps.has(c));
}

/** A 64-bit mask with one bit per capability number. */
export function capMask(names: string[]): bigint {
  let mask = 0n;
  for (const n of names) mask |= 1n << BigInt(CAPABILITIES.indexOf(n as (typeof CAPABILITIES)[number]));
  return mask;
}
