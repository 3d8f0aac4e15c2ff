// Which of the cgroup cases this host is in, found from /proc/self/{cgroup,mountinfo} and the
// ownership of the cgroup directories (youki's libcgroups and podman make the same distinctions):
//   delegated      cgroup v2, and the user owns the cgroup above bunker's own: containers become
//                  leaf cgroups beside bunker's (the no-internal-processes rule), like systemd scopes;
//   systemd-scope  cgroup v2 under a systemd user manager, bunker's own cgroup not delegated: each
//                  container is moved into a transient scope that the manager creates for it;
//   none           cgroup v1, hybrid (v2 only at /sys/fs/cgroup/unified), no permission, no cgroup2.
import { accessSync, constants, existsSync, readFileSync, statSync } from "../fs";
import { dirname, join } from "../posix-path";

export type CgroupLayout = "unified" | "hybrid" | "v1" | "none";

export type CgroupSetup =
  | {
      kind: "delegated";
      layout: "unified";
      /** where cgroup2 is mounted */
      mount: string;
      /** bunker's own cgroup (a directory) */
      own: string;
      /** the delegated directory containers are created in */
      parent: string;
      /** controllers the parent can hand to its children (its cgroup.controllers) */
      controllers: string[];
    }
  | {
      kind: "systemd-scope";
      layout: "unified";
      mount: string;
      own: string;
      /** the user manager's cgroup (user@UID.service) under which systemd creates scopes */
      manager: string;
      controllers: string[];
    }
  | { kind: "none"; layout: CgroupLayout; reason: string; fix: string };

/** Where to look; tests point these at fake trees in a tmp dir. */
export interface CgroupHost {
  /** a /proc/self lookalike holding `cgroup` and `mountinfo` */
  procSelf: string;
  uid: number;
  /** $XDG_RUNTIME_DIR, where the user's D-Bus socket (`bus`) is */
  runtimeDir?: string;
  /** finds a program on PATH (systemd-run / busctl) */
  hasProgram: (name: string) => boolean;
}

/** The controllers bunker can use for limits (cgroup v2 names). */
export const LIMIT_CONTROLLERS = ["cpu", "cpuset", "io", "memory", "pids"];

export const DISABLE_HINT = "or run with --cgroups=disabled to run without limits deliberately";

function onPath(name: string): boolean {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) if (dir && existsSync(join(dir, name))) return true;
  return false;
}

export function realHost(): CgroupHost {
  const uid = process.geteuid?.() ?? process.getuid!();
  return {
    procSelf: "/proc/self",
    uid,
    runtimeDir: process.env.XDG_RUNTIME_DIR || `/run/user/${uid}`,
    hasProgram: onPath,
  };
}

interface Mount {
  root: string;
  point: string;
  fstype: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
}

export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const post = line.slice(sep + 3).split(" ");
    mounts.push({ root: unescape(pre[3]), point: unescape(pre[4]), fstype: post[0], superOptions: (post[2] ?? "").split(",") });
  }
  return mounts;
}

/** The cgroup v2 path of the process ("0::/user.slice/..."), or undefined on pure v1. */
export function parseProcCgroup(text: string): string | undefined {
  for (const line of text.split("\n")) if (line.startsWith("0::")) return line.slice(3);
  return undefined;
}

const V1_LIMIT_CONTROLLERS = new Set(["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio"]);

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export function readControllers(dir: string, file = "cgroup.controllers"): string[] {
  return (readText(join(dir, file)) ?? "").trim().split(/\s+/).filter(Boolean);
}

/** Owned like systemd delegates: the directory and the files that move and enable. */
export function isDelegatedTo(dir: string, uid: number): boolean {
  try {
    if (statSync(dir).uid !== uid) return false;
    for (const f of ["cgroup.procs", "cgroup.subtree_control"]) {
      const p = join(dir, f);
      if (statSync(p).uid !== uid) return false;
      accessSync(p, constants.W_OK);
    }
    return true;
  } catch {
    return false;
  }
}

export function detectCgroupSetup(host: CgroupHost = realHost()): CgroupSetup {
  const mounts = parseMountinfo(readText(join(host.procSelf, "mountinfo")) ?? "");
  // Loops, not find/filter/flatMap: every run decides this, and each builtin's first use costs it ~50 µs.
  let v2: Mount | undefined;
  const v1Controllers = new Set<string>();
  for (const m of mounts) {
    if (m.fstype === "cgroup2") v2 ??= m;
    else if (m.fstype === "cgroup") for (const o of m.superOptions) if (V1_LIMIT_CONTROLLERS.has(o)) v1Controllers.add(o);
  }
  const v1Names = () => [...v1Controllers].join(", ");
  const distroFix = `boot with cgroup v2 (kernel parameter systemd.unified_cgroup_hierarchy=1; the default since systemd 247), ${DISABLE_HINT}`;
  if (!v2) {
    if (v1Controllers.size > 0)
      return { kind: "none", layout: "v1", reason: `this host uses cgroup v1 (${v1Names()}), which rootless bunker can't use for limits`, fix: distroFix };
    return { kind: "none", layout: "none", reason: "no cgroup filesystem is mounted", fix: `mount cgroup2 at /sys/fs/cgroup, ${DISABLE_HINT}` };
  }
  if (v1Controllers.size > 0)
    return {
      kind: "none",
      layout: "hybrid",
      reason: `cgroups are hybrid: cgroup v2 is mounted only at ${v2.point} while ${v1Names()} are bound to cgroup v1`,
      fix: distroFix,
    };
  const rel = parseProcCgroup(readText(join(host.procSelf, "cgroup")) ?? "");
  if (rel === undefined || rel.startsWith("/..") || !rel.startsWith("/"))
    return { kind: "none", layout: "unified", reason: "bunker's own cgroup is outside the visible cgroup tree", fix: `run bunker from a cgroup you own, ${DISABLE_HINT}` };
  // The mount's root is the part of the hierarchy it shows (a cgroup namespace or bind mount).
  const under = v2.root === "/" ? rel : rel.startsWith(`${v2.root}/`) || rel === v2.root ? rel.slice(v2.root.length) || "/" : undefined;
  if (under === undefined)
    return { kind: "none", layout: "unified", reason: `bunker's cgroup ${rel} is not under the cgroup2 mount at ${v2.point}`, fix: DISABLE_HINT };
  const own = under === "/" ? v2.point : join(v2.point, under);
  // The root cgroup may hold processes and have children with controllers; any other cgroup
  // with processes (ours) may not, so containers go beside it, in its parent.
  const parent = under === "/" ? own : dirname(own);
  if (isDelegatedTo(parent, host.uid))
    return { kind: "delegated", layout: "unified", mount: v2.point, own, parent, controllers: readControllers(parent) };
  const manager = join(v2.point, `user.slice/user-${host.uid}.slice/user@${host.uid}.service`);
  // busctl --user reaches the manager through the user's D-Bus ($XDG_RUNTIME_DIR/bus, from
  // dbus-user-session), not through the manager's private socket.
  const userBus = host.runtimeDir ? join(host.runtimeDir, "bus") : undefined;
  if (userBus && existsSync(userBus) && host.hasProgram("busctl") && isDelegatedTo(manager, host.uid))
    return { kind: "systemd-scope", layout: "unified", mount: v2.point, own, manager, controllers: readControllers(manager) };
  return {
    kind: "none",
    layout: "unified",
    reason: `the cgroup ${parent} is not delegated to uid ${host.uid} and no systemd user manager can make a scope (it needs user@${host.uid}.service and the user's D-Bus at ${userBus ?? "$XDG_RUNTIME_DIR/bus"})`,
    fix: `log in through systemd (user@${host.uid}.service with Delegate=yes, and dbus-user-session) or have an administrator chown a cgroup to you, ${DISABLE_HINT}`,
  };
}
