// `bunker doctor`: can this user, on this host, run rootless containers, and what is missing?
// Each check says ok, warn (works, with less: a fallback is used) or fail (containers can't run),
// and how to fix it. The namespace, overlay and network checks do not guess from files: they
// start a real (tiny) sandbox through the same runtime `run` uses and report what happened.
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { release, tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { BunkerError } from "../errors";
import { findExecutable, whyUnusable } from "../net";
import { storeRoot } from "../paths";
import { parseSubIdFile } from "../userns/idmap";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: CheckStatus;
  message: string;
  fix?: string;
}

/** The lowest kernel where overlayfs can be mounted inside a user namespace (5.11). */
const OVERLAY_USERNS_KERNEL: [number, number] = [5, 11];

export function kernelCheck(version: string = release()): Check {
  const m = /^(\d+)\.(\d+)/.exec(version);
  const [major, minor] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  const [wantMajor, wantMinor] = OVERLAY_USERNS_KERNEL;
  if (major > wantMajor || (major === wantMajor && minor >= wantMinor))
    return { name: "kernel", status: "ok", message: `${version} (overlayfs works in a user namespace from 5.11)` };
  return {
    name: "kernel",
    status: "warn",
    message: `${version} is older than 5.11: no overlayfs in a user namespace, so containers use fuse-overlayfs or a copy of the image`,
    fix: "upgrade the kernel to 5.11 or later, or install fuse-overlayfs",
  };
}

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Why the host's settings forbid unprivileged user namespaces, if they visibly do. */
export function usernsSysctlProblem(read: (path: string) => string | undefined = readSysctl): Check | undefined {
  if (read("/proc/sys/kernel/unprivileged_userns_clone") === "0")
    return { name: "user namespaces", status: "fail", message: "disabled for unprivileged users (kernel.unprivileged_userns_clone=0)", fix: "sysctl -w kernel.unprivileged_userns_clone=1" };
  if (read("/proc/sys/user/max_user_namespaces") === "0")
    return { name: "user namespaces", status: "fail", message: "user.max_user_namespaces is 0", fix: "sysctl -w user.max_user_namespaces=15000" };
  return undefined;
}

function subIdRange(file: string): { start: number; count: number } | undefined {
  try {
    return parseSubIdFile(readFileSync(file, "utf8"), userInfo().username, process.getuid!());
  } catch {
    return undefined;
  }
}

/** newuidmap only helps when it can act for us: setuid root (or file capabilities). */
function toolState(name: string): { path?: string; setuid: boolean } {
  const path = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map((d) => join(d, name)).find((p) => existsSync(p));
  if (!path) return { setuid: false };
  const st = statSync(path);
  return { path, setuid: (st.mode & 0o4000) !== 0 && st.uid === 0 };
}

export function subIdCheck(): Check {
  const user = userInfo().username;
  if (process.getuid!() === 0) return { name: "subordinate ids", status: "ok", message: "running as root: no subordinate ids needed" };
  const uids = subIdRange("/etc/subuid");
  const gids = subIdRange("/etc/subgid");
  const newuidmap = toolState("newuidmap");
  const newgidmap = toolState("newgidmap");
  const missing: string[] = [];
  if (!uids) missing.push(`no range for ${user} in /etc/subuid`);
  if (!gids) missing.push(`no range for ${user} in /etc/subgid`);
  if (!newuidmap.path || !newgidmap.path) missing.push("newuidmap/newgidmap not installed");
  if (missing.length > 0)
    return {
      name: "subordinate ids",
      status: "warn",
      message: `${missing.join("; ")}: containers get a single id (every file is yours; images that chown to other users fail)`,
      fix: `apt-get install uidmap; usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`,
    };
  const small = Math.min(uids!.count, gids!.count) < 65536;
  const notSetuid = [newuidmap, newgidmap].filter((t) => !t.setuid).map((t) => t.path);
  if (small || notSetuid.length > 0)
    return {
      name: "subordinate ids",
      status: "warn",
      message: [
        small ? `ranges of ${uids!.count}/${gids!.count} ids are below 65536: images with high ids may fail` : "",
        notSetuid.length ? `${notSetuid.join(", ")} not setuid root (fine only if it has file capabilities)` : "",
      ]
        .filter(Boolean)
        .join("; "),
      fix: small ? `give ${user} 65536 ids in /etc/subuid and /etc/subgid` : "chmod u+s /usr/bin/newuidmap /usr/bin/newgidmap",
    };
  return { name: "subordinate ids", status: "ok", message: `uids ${uids!.start}+${uids!.count}, gids ${gids!.start}+${gids!.count}; newuidmap and newgidmap installed` };
}

export function fuseOverlayCheck(): Check {
  const path = findExecutable("fuse-overlayfs");
  if (!path) return { name: "fuse-overlayfs", status: "warn", message: "not installed: where overlayfs is refused, containers start from a copy of the image (slow)", fix: "apt-get install fuse-overlayfs" };
  try {
    closeSync(openSync("/dev/fuse", "r+"));
  } catch {
    return { name: "fuse-overlayfs", status: "warn", message: `${path} is installed but /dev/fuse is not usable by this user`, fix: "chmod 0666 /dev/fuse" };
  }
  return { name: "fuse-overlayfs", status: "ok", message: `${path} (the fallback when overlayfs is refused)` };
}

/** Runs `true` in a sandbox with these flags; a message when it could not. */
async function trySandbox(argv: string[], adjust?: Parameters<typeof import("../sandbox").runSandbox>[1]): Promise<string | undefined> {
  const { runSandbox } = await import("../sandbox");
  try {
    const code = await runSandbox(["--cwd", "none", ...argv, "--", "true"], adjust);
    return code === 0 ? undefined : `the probe exited with ${code}`;
  } catch (e) {
    if (e instanceof BunkerError) return e.message;
    throw e;
  }
}

export async function usernsCheck(): Promise<Check> {
  const sysctl = usernsSysctlProblem();
  if (sysctl) return sysctl;
  const why = await trySandbox(["--network", "none"]);
  if (why)
    return {
      name: "user namespaces",
      status: "fail",
      message: `cannot start a container: ${why}`,
      // ENOSPC from clone(): a user.max_user_namespaces limit, here or in a parent namespace
      fix: why.includes("ENOSPC")
        ? "raise the limit on user namespaces (sysctl -w user.max_user_namespaces=15000), or end what uses them up"
        : "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0)",
    };
  return { name: "user namespaces", status: "ok", message: "a user, mount, pid, uts, ipc, cgroup and network namespace were created" };
}

/** Mounts a real overlay (with userxattr) as the root of a probe container, where images will live. */
export async function overlayCheck(): Promise<Check> {
  const parent = existsSync(storeRoot()) ? storeRoot() : tmpdir();
  const dir = mkdtempSync(join(parent, ".doctor-overlay-"));
  try {
    const paths = { lower: join(dir, "lower"), upperDir: join(dir, "upper"), workDir: join(dir, "work"), mountPoint: join(dir, "merged") };
    for (const p of Object.values(paths)) mkdirSync(p);
    const why = await trySandbox(["--network", "none"], (spec) => {
      spec.rootfs = { kind: "overlay", lowerDirs: [paths.lower], upperDir: paths.upperDir, workDir: paths.workDir, mountPoint: paths.mountPoint };
    });
    if (why)
      return {
        name: "overlay",
        status: "warn",
        message: `overlayfs in a user namespace failed on ${parent} (${why}): containers use fuse-overlayfs or a copy`,
        fix: "use kernel 5.11 or later, and a store on a filesystem overlayfs accepts as upper dir (ext4, xfs, btrfs, tmpfs)",
      };
    return { name: "overlay", status: "ok", message: `overlayfs mounts in a user namespace (tried in ${parent})` };
  } finally {
    // overlayfs leaves work/work with mode 000; it is ours, so open it up before removing.
    try {
      chmodSync(join(dir, "work/work"), 0o700);
    } catch {
      // not created: the mount failed early
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function networkCheck(): Promise<Check> {
  const pasta = whyUnusable("pasta");
  const slirp = whyUnusable("slirp4netns");
  if (pasta && slirp)
    return {
      name: "network",
      status: "warn",
      message: `${pasta}; slirp4netns: ${slirp}: containers get loopback only (--network none) unless --network host`,
      fix: "apt-get install passt, and make /dev/net/tun mode 0666",
    };
  const mode = pasta ? "slirp4netns" : "pasta";
  const why = await trySandbox(["--network", mode]);
  if (why) return { name: "network", status: "warn", message: `${mode} is installed but failed: ${why}`, fix: "check that /dev/net/tun is usable, or use --network none|host" };
  if (pasta) return { name: "network", status: "warn", message: `slirp4netns works; pasta: ${pasta}`, fix: "apt-get install passt (faster, and the default)" };
  return { name: "network", status: "ok", message: `pasta attached a private network (${findExecutable("pasta")}; /dev/net/tun usable)` };
}

export async function cgroupChecks(): Promise<Check[]> {
  const { cgroupReport } = await import("../cgroup");
  return cgroupReport().lines.map((l) => ({ name: "cgroups", status: l.status, message: l.message.replace(/^cgroups: /, ""), ...(l.fix ? { fix: l.fix } : {}) }));
}

/** Every check, in the order a user would fix things. */
export async function runChecks(): Promise<Check[]> {
  return [kernelCheck(), await usernsCheck(), subIdCheck(), await overlayCheck(), fuseOverlayCheck(), await networkCheck(), ...(await cgroupChecks())];
}

/** podman-style: 0 when nothing failed (warnings included), 1 otherwise. */
export function exitCodeOf(checks: Check[]): number {
  return checks.some((c) => c.status === "fail") ? 1 : 0;
}
