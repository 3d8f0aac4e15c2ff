// --sysctl NAME=VALUE, docker's rule: only sysctls of a namespace the container has to itself, so
// that setting one can't change the host. The values are written into /proc/sys inside the
// container before /proc/sys is made read-only (mountSteps).
import { BunkerError } from "../errors";

/** The IPC namespace's sysctls outside fs.mqueue.* (docker's validSysctlMap). */
const IPC_SYSCTLS = new Set(["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]);
/** The UTS namespace's: bunker sets them itself (the hostname step), so they are not the user's to write. */
const UTS_SYSCTLS = new Set(["kernel.hostname", "kernel.domainname"]);

const ALLOWED = `${[...IPC_SYSCTLS].join(", ")}, fs.mqueue.* and net.*`;

/**
 * Dot-separated components with no "/" in them: the path under /proc/sys is the name with its dots
 * as slashes, so a name can't aim the write anywhere else.
 */
const NAME = /^[^./\s\0]+(\.[^./\s\0]+)+$/;

/** /proc/sys/<name with dots as slashes>: where a sysctl lives. */
export function sysctlPath(name: string): string {
  return `/proc/sys/${name.replaceAll(".", "/")}`;
}

/**
 * Every --sysctl as name → value, the last one of a name winning. newNetNs: whether the container
 * has a network namespace of its own (not --network host), without which net.* is the host's.
 */
export function parseSysctls(flags: string[], newNetNs: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags) {
    const eq = f.indexOf("=");
    const name = eq < 0 ? f : f.slice(0, eq);
    const value = eq < 0 ? "" : f.slice(eq + 1);
    if (eq <= 0 || value === "" || !NAME.test(name)) throw new BunkerError(`invalid --sysctl "${f}": use NAME=VALUE, e.g. net.ipv4.ip_forward=1`);
    if (UTS_SYSCTLS.has(name)) throw new BunkerError(`--sysctl ${name} is not allowed: bunker sets the container's UTS names itself (the host name with --hostname)`);
    const net = name.startsWith("net.");
    if (!net && !IPC_SYSCTLS.has(name) && !name.startsWith("fs.mqueue."))
      throw new BunkerError(`--sysctl ${name} is not allowed: only the sysctls of the container's own namespaces can be set (${ALLOWED})`);
    if (net && !newNetNs) throw new BunkerError(`--sysctl ${name} is not allowed with --network host: it would change the host's network; use another --network`);
    out[name] = value;
  }
  return out;
}
