// Which network a container gets.
//
// The default is a private network namespace through pasta (falling back to slirp4netns), like
// docker's bridge and podman's rootless default: images expect to reach the network (apk add,
// apt-get, pip install) and `-p` to work without extra flags. It costs pasta's start-up (about
// 25-30 ms here), so scripts that need no network should say `--network none` (fastest, loopback
// only); benchmarks compare with that. When neither pasta nor slirp4netns can run (not installed,
// or /dev/net/tun not usable), a run does not fail: it falls back to `none` and says so in one
// line. Only an explicit `--network pasta|slirp4netns` or `-p` that can't be honoured is an error.
import { accessSync, constants, openSync, closeSync } from "../fs";
import { join } from "../posix-path";
import { BunkerError } from "../errors";
import type { PortMapping } from "./ports";

export type NetworkMode = "none" | "host" | "pasta" | "slirp4netns";

export interface NetworkPlan {
  mode: NetworkMode;
  /** false only for host: the container shares bunker's network namespace */
  newNetNs: boolean;
  ports: PortMapping[];
  /** one line for the user: what was used instead of what was asked, or what was ignored */
  note?: string;
}

/** What planNetwork needs to know about the host (injectable for tests). */
export interface NetworkHost {
  which(tool: string): string | undefined;
  tunUsable(): boolean;
}

const TOOL_DIRS = ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"];

export function findExecutable(tool: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":").filter((d) => d.startsWith("/")), ...TOOL_DIRS];
  for (const d of dirs) {
    const p = join(d, tool);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** pasta and slirp4netns open /dev/net/tun; it is often 0600 root on servers. */
export function tunUsable(): boolean {
  try {
    closeSync(openSync("/dev/net/tun", "r+"));
    return true;
  } catch {
    return false;
  }
}

export const realNetworkHost: NetworkHost = { which: findExecutable, tunUsable };

/** Why a user-mode network tool can't run here, or undefined when it can. */
export function whyUnusable(tool: "pasta" | "slirp4netns", host: NetworkHost = realNetworkHost): string | undefined {
  if (!host.which(tool)) return `${tool} is not installed (Debian: apt-get install ${tool === "pasta" ? "passt" : "slirp4netns"})`;
  if (!host.tunUsable()) return "/dev/net/tun is not usable by this user (make it mode 0666)";
  return undefined;
}

const PRIVATE_ALIASES = new Set(["bridge", "private", "default"]);

/** Decides the network for `--network FLAG` (undefined: the default) with these -p mappings. */
export function planNetwork(flag: string | undefined, ports: PortMapping[], host: NetworkHost = realNetworkHost): NetworkPlan {
  const mode = flag ?? "default";
  if (mode === "none" || mode === "host") {
    // docker keeps running and drops the ports for host mode; we do the same for none, and say so.
    const note = ports.length > 0 ? `Published ports are discarded when using ${mode} network mode` : undefined;
    return { mode, newNetNs: mode === "none", ports: [], ...(note ? { note } : {}) };
  }
  if (mode === "pasta" || mode === "slirp4netns") {
    const why = whyUnusable(mode, host);
    if (why) throw new BunkerError(`--network ${mode}: ${why}; or use --network none`);
    return { mode, newNetNs: true, ports };
  }
  if (!PRIVATE_ALIASES.has(mode))
    throw new BunkerError(`network ${mode} not found: use none, host, pasta, slirp4netns or bridge (the default)`);
  const pastaWhy = whyUnusable("pasta", host);
  if (!pastaWhy) return { mode: "pasta", newNetNs: true, ports };
  if (!whyUnusable("slirp4netns", host)) return { mode: "slirp4netns", newNetNs: true, ports, note: `${pastaWhy}: using slirp4netns for the network` };
  if (ports.length > 0) throw new BunkerError(`-p needs pasta or slirp4netns: ${pastaWhy}`);
  return { mode: "none", newNetNs: true, ports: [], note: `${pastaWhy}: the container has loopback only (--network none)` };
}
