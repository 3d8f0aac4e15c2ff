// A cgroup per container: created before the container's process exists (the spawn clones it
// straight into the cgroup with CLONE_INTO_CGROUP, so no instruction runs unlimited), written with
// the limits, removed when the container ends. A small record per cgroup in the runtime dir lets
// any later bunker command remove cgroups whose bunker was killed (cleanupStaleCgroups).
import {
  closeSync,
  constants,
  type Dirent,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "../fs";
import { join } from "../posix-path";
import { BunkerError, errnoCode } from "../errors";
import { log } from "../log";
import { runtimeRoot } from "../paths";
import { type CgroupSetup, DISABLE_HINT, detectCgroupSetup, LIMIT_CONTROLLERS, readControllers } from "./detect";
import { type CgroupMode, controllersFor, cpusetMembers, hasLimits, limitFlagNames, limitWrites, type ResourceLimits } from "./limits";

export interface ContainerCgroup {
  /** the cgroup directory; "" for a systemd scope until attach() */
  path: string;
  /** an O_DIRECTORY fd of the cgroup for clone3(CLONE_INTO_CGROUP); -1 when the process must be attached instead */
  dirFd: number;
  /**
   * Puts the (still waiting) container process in the cgroup. Call it after the clone and before
   * the child is released. For a cgroup entered by CLONE_INTO_CGROUP it only makes sure.
   * `monitorPid` (run -d): the process that waits for the container and restarts it. A systemd
   * scope then holds it too, in a leaf of its own, so that the scope, and the container's cgroup
   * with its limits inside it, last until the monitor ends, across restarts.
   */
  attach(pid: number, monitorPid?: number): Promise<void>;
  /**
   * For a container that outlives this bunker (run -d): closes the fd and leaves the cgroup to the
   * process that waits for the container (its monitor), which stale-cgroup cleanup then respects.
   */
  release(ownerPid?: number): void;
  /** memory.events counted an oom_kill (read it before remove()) */
  oomKilled(): boolean;
  /** kills what is left in the cgroup, removes it and its record; safe to call twice */
  remove(): Promise<void>;
}

const PREFIX = "bunker-";
/** In a detached container's scope: the leaf the container runs in (with the limits), and the monitor's. */
const SCOPE_CONTAINER_LEAF = "container";
const SCOPE_MONITOR_LEAF = "monitor";

function recordsDir(): string {
  return join(runtimeRoot(), "cgroups");
}

interface CgroupRecord {
  path: string;
  /** the bunker process that created it, and its start time (pid reuse) */
  creatorPid: number;
  creatorStart: string;
}

/** Field 22 of /proc/PID/stat: the process's start time, to tell a reused pid apart. */
function processStart(pid: number | "self"): string | undefined {
  if (pid !== "self" && !(pid > 0)) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function writeRecord(id: string, rec: CgroupRecord): void {
  const dir = recordsDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${id}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(rec));
  renameSync(tmp, join(dir, `${id}.json`));
}

function dropRecord(id: string): void {
  rmSync(join(recordsDir(), `${id}.json`), { force: true });
}

/** The cgroup directory recorded for a container (while it has one), for stats and exec. */
export function cgroupPathOf(id: string): string | undefined {
  try {
    const rec = JSON.parse(readFileSync(join(recordsDir(), `${id}.json`), "utf8")) as CgroupRecord;
    return existsSync(rec.path) ? rec.path : undefined;
  } catch {
    return undefined;
  }
}

/** The transient systemd scope of a container (where the host's systemd makes its cgroup). */
function scopeUnit(id: string): string {
  return `${PREFIX}${id}.scope`;
}

/**
 * How a process exec'd into a running container joins its cgroup:
 * - `{ path }` (a delegated cgroup): the joining process writes itself into path/cgroup.procs;
 * - `{ path, attach }` (a systemd scope): it can't. It runs in the user's login session scope,
 *   root's like its parent user-UID.slice, and a move needs write access to the common ancestor of
 *   both cgroups. So, as podman does, the user manager is asked (AttachProcessesToUnit), and hands
 *   the move to PID 1 over the system bus. Call attach(pid) while the process is still held.
 * undefined: the container has no cgroup.
 */
export function execCgroupOf(id: string): { path: string; attach?: (pid: number) => Promise<void> } | undefined {
  const path = cgroupPathOf(id);
  if (!path) return undefined;
  const unit = scopeUnit(id);
  const at = path.lastIndexOf(`/${unit}`);
  if (at < 0) return { path };
  return { path, attach: (pid: number) => attachThroughManager(unit, path.slice(at + unit.length + 1), pid, path) };
}

/**
 * Has the user's systemd manager move `pid` into `subcgroup` ("" or "/leaf") of its scope `unit`,
 * whose cgroup is `path` (AttachProcessesToUnit). For a process in a login session scope: the
 * manager asks PID 1, which may write where the user may not. Throws a one-line BunkerError.
 */
async function attachThroughManager(unit: string, subcgroup: string, pid: number, path: string): Promise<void> {
  const answer = Bun.spawnSync(attachProcessesCommand(unit, subcgroup, [pid]), { stdout: "pipe", stderr: "pipe", env: process.env });
  if (answer.exitCode !== 0)
    throw new BunkerError(`systemd could not move the process into ${unit}${subcgroup}: ${answer.stderr?.toString().trim().split("\n")[0] || `busctl exit ${answer.exitCode}`}`);
  // the manager answers once PID 1 has moved it; make sure before it runs
  const rel = cgroupOfProcess(pid);
  if (!rel || !path.endsWith(rel)) throw new BunkerError(`systemd did not move the process into ${unit}${subcgroup} (it is in ${rel || "no cgroup"})`);
}

function writeCgroupFile(dir: string, file: string, value: string): void {
  writeFileSync(join(dir, file), value);
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function isPopulated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(join(dir, "cgroup.events"), "utf8"));
  } catch {
    return false;
  }
}

/** Removes a cgroup and the ones a container made inside it, deepest first. */
async function removeCgroupTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  if (isPopulated(dir)) {
    try {
      writeCgroupFile(dir, "cgroup.kill", "1"); // kernel ≥ 5.14: SIGKILL to every process inside
    } catch {
      for (const pid of readText(join(dir, "cgroup.procs")).split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {}
      }
    }
  }
  // A systemd scope's cgroup may vanish under us: the manager removes it once it is empty.
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  for (const entry of entries) if (entry.isDirectory()) await removeCgroupTree(join(dir, entry.name));
  // Dying tasks leave the cgroup asynchronously: rmdir says EBUSY until they are gone.
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = errnoCode(e);
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || attempt >= 100) throw e;
      await Bun.sleep(10);
    }
  }
}

/** Reads memory.events: has the kernel's OOM killer killed something in this cgroup? */
export function oomKilled(path: string): boolean {
  try {
    const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(path, "memory.events"), "utf8"));
    return m !== null && Number(m[1]) > 0;
  } catch {
    return false;
  }
}

function errnoMessage(e: unknown): string {
  return errnoCode(e) ?? (e instanceof Error ? e.message : String(e));
}

/** Enables controllers in a parent's subtree_control; returns the ones that could not be. */
function enableControllers(parent: string, wanted: string[]): string[] {
  const enabled = new Set(readControllers(parent, "cgroup.subtree_control"));
  const failed: string[] = [];
  for (const c of wanted) {
    if (enabled.has(c)) continue;
    try {
      writeCgroupFile(parent, "cgroup.subtree_control", `+${c}`);
    } catch {
      failed.push(c);
    }
  }
  return failed;
}

function checkCpuset(parent: string, limits: ResourceLimits): void {
  for (const [flag, list, file] of [
    ["cpuset-cpus", limits.cpusetCpus, "cpuset.cpus.effective"],
    ["cpuset-mems", limits.cpusetMems, "cpuset.mems.effective"],
  ] as const) {
    if (list === undefined) continue;
    let available: string;
    try {
      available = readFileSync(join(parent, file), "utf8").trim();
    } catch {
      continue;
    }
    const have = cpusetMembers(available);
    if ([...cpusetMembers(list)].some((n) => !have.has(n)))
      throw new BunkerError(`--${flag}: requested ${flag === "cpuset-cpus" ? "CPUs" : "memory nodes"} are not available - requested ${list}, available: ${available}`);
  }
}

function applyLimits(dir: string, limits: ResourceLimits): void {
  for (const w of limitWrites(limits)) {
    if (w.implicit && !existsSync(join(dir, w.file))) continue;
    try {
      writeCgroupFile(dir, w.file, w.value);
    } catch (e) {
      throw new BunkerError(`cannot set ${w.file} to ${w.value} in ${dir}: ${errnoMessage(e)}`);
    }
  }
}

function refuse(limits: ResourceLimits, reason: string, fix: string): never {
  throw new BunkerError(`cannot enforce ${limitFlagNames(limits).join(", ")}: ${reason}; ${fix}`);
}

/**
 * Decides, before anything is created, whether the limits can be enforced here: returns the setup
 * to give createContainerCgroup, or throws the one-line BunkerError (exit 125) that says why not
 * and how to fix it. With --cgroups=disabled, limits are dropped with a warning, deliberately.
 */
let warnedDisabled = false;

export function checkCgroupLimits(limits: ResourceLimits, mode: CgroupMode = "enabled", setup: CgroupSetup = detectCgroupSetup()): CgroupSetup {
  const limited = hasLimits(limits);
  if (mode === "disabled") {
    if (limited && !warnedDisabled) log.warn(`--cgroups=disabled: ${limitFlagNames(limits).join(", ")} will not be enforced`);
    warnedDisabled = true;
    return setup;
  }
  if (setup.kind === "none") {
    if (limited) refuse(limits, setup.reason, setup.fix);
    log.debug(`no cgroup for the container: ${setup.reason}`);
    return setup;
  }
  const missing = controllersFor(limits).filter((c) => !setup.controllers.includes(c));
  if (missing.length > 0)
    refuse(
      limits,
      `the ${missing.join(", ")} controller${missing.length > 1 ? "s are" : " is"} not delegated to you (available: ${setup.controllers.join(" ") || "none"})`,
      `enable ${missing.join(", ")} for user@.service delegation (systemd: Delegate=${missing.join(" ")} in a user@.service drop-in), ${DISABLE_HINT}`,
    );
  if (setup.kind === "delegated") checkCpuset(setup.parent, limits);
  return setup;
}

/**
 * Creates the container's cgroup with its limits applied (the setup comes from checkCgroupLimits,
 * called before the container's record exists so that a refusal leaves nothing behind).
 * - `undefined` when there is nothing to do: --cgroups=disabled, or no limit asked and no cgroup
 *   can be made here (a run that asks for no limit never fails because of cgroups);
 * - throws a one-line BunkerError (exit 125) when a limit is asked and can't be enforced, with why
 *   and how to fix it.
 * Call stats/oomKilled on `path`, and `remove()` when the container has ended.
 */
export async function createContainerCgroup(
  id: string,
  limits: ResourceLimits,
  mode: CgroupMode = "enabled",
  detected?: CgroupSetup,
): Promise<ContainerCgroup | undefined> {
  const setup = checkCgroupLimits(limits, mode, detected ?? detectCgroupSetup());
  if (mode === "disabled") return undefined;
  if (setup.kind === "none") return undefined;
  await cleanupStaleCgroups();
  if (setup.kind === "systemd-scope") return systemdScope(id, limits, setup.mount);
  const limited = hasLimits(limits);
  const needed = controllersFor(limits);
  const parent = setup.parent;
  const failed = enableControllers(parent, LIMIT_CONTROLLERS.filter((c) => setup.controllers.includes(c)));
  const failedNeeded = failed.filter((c) => needed.includes(c));
  if (failedNeeded.length > 0)
    refuse(limits, `cannot enable ${failedNeeded.join(", ")} in ${parent}/cgroup.subtree_control (processes in that cgroup?)`, `run bunker from a leaf cgroup of a delegated subtree (systemd-run --user --scope bunker ...), ${DISABLE_HINT}`);
  const path = join(parent, `${PREFIX}${id}`);
  try {
    mkdirSync(path);
  } catch (e) {
    // A leftover of a killed earlier run of the same container: its processes are gone with it.
    if (errnoCode(e) !== "EEXIST") {
      if (!limited) {
        log.debug(`no cgroup for the container: mkdir ${path}: ${errnoMessage(e)}`);
        return undefined;
      }
      throw new BunkerError(`cannot create the container's cgroup ${path}: ${errnoMessage(e)}`);
    }
    await removeCgroupTree(path);
    mkdirSync(path);
  }
  writeRecord(id, { path, creatorPid: process.pid, creatorStart: processStart("self") ?? "" });
  let dirFd = -1;
  try {
    applyLimits(path, limits);
    dirFd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    await removeCgroupTree(path);
    dropRecord(id);
    throw e;
  }
  return handle(id, path, dirFd);
}

function handle(id: string, path: string, dirFd: number): ContainerCgroup {
  let fd = dirFd;
  return {
    path,
    dirFd,
    async attach(pid: number) {
      writeCgroupFile(path, "cgroup.procs", String(pid));
    },
    oomKilled: () => oomKilled(path),
    release(ownerPid?: number) {
      if (fd >= 0) {
        closeSync(fd);
        fd = -1;
      }
      if (ownerPid !== undefined) writeRecord(id, { path, creatorPid: ownerPid, creatorStart: processStart(ownerPid) ?? "" });
    },
    async remove() {
      if (fd >= 0) {
        closeSync(fd);
        fd = -1;
      }
      await removeCgroupTree(path);
      dropRecord(id);
    },
  };
}

/**
 * The busctl command that asks the user's systemd manager (D-Bus StartTransientUnit) for a
 * transient scope holding `pid`, with Delegate=yes so that its cgroup is ours to write limits into,
 * collected when it ends, like the scopes podman asks for.
 */
export function transientScopeCommand(unit: string, pids: number[]): string[] {
  const properties: [string, string, ...string[]][] = [
    ["PIDs", "au", String(pids.length), ...pids.map(String)],
    ["Delegate", "b", "true"],
    ["CollectMode", "s", "inactive-or-failed"],
  ];
  return [
    "busctl", "--user", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "StartTransientUnit",
    // name, mode, properties a(sv), auxiliary units a(sa(sv)) (none)
    "ssa(sv)a(sa(sv))", unit, "fail", String(properties.length), ...properties.flat(), "0",
  ];
}

/**
 * The busctl command that asks the user's systemd manager to move `pids` into `subcgroup` ("" or
 * "/container") of its unit `unit` (D-Bus AttachProcessesToUnit; the unit must have Delegate=yes).
 */
export function attachProcessesCommand(unit: string, subcgroup: string, pids: number[]): string[] {
  return [
    "busctl", "--user", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "AttachProcessesToUnit",
    "ssau", unit, subcgroup, String(pids.length), ...pids.map(String),
  ];
}

/** The cgroup v2 path of a process ("/user.slice/...") from /proc/PID/cgroup. */
function cgroupOfProcess(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, "utf8").match(/^0::(.*)$/m)?.[1] ?? "";
  } catch {
    return "";
  }
}

/**
 * Moves the container and the process that waits for it into leaves of their scope; returns the
 * container's. `monitorPid` (run -d) is in the scope already; without it, this bunker waits for the
 * container, and only the manager can move it there from its login session scope.
 */
async function splitScope(unit: string, scope: string, pid: number, monitorPid: number | undefined): Promise<string> {
  const monitorLeaf = join(scope, SCOPE_MONITOR_LEAF);
  const containerLeaf = join(scope, SCOPE_CONTAINER_LEAF);
  mkdirSync(monitorLeaf);
  mkdirSync(containerLeaf);
  if (monitorPid === undefined) await attachThroughManager(unit, `/${SCOPE_MONITOR_LEAF}`, process.pid, monitorLeaf);
  else writeCgroupFile(monitorLeaf, "cgroup.procs", String(monitorPid));
  writeCgroupFile(containerLeaf, "cgroup.procs", String(pid));
  // Now empty, the scope can hand its controllers to the leaves (all of them, for stats too).
  const failed = enableControllers(scope, readControllers(scope).filter((c) => LIMIT_CONTROLLERS.includes(c)));
  if (failed.length > 0) throw new Error(`cannot enable ${failed.join(", ")} in cgroup.subtree_control`);
  return containerLeaf;
}

/**
 * Non-delegated cgroup v2 under systemd: the user manager puts the container's process into a
 * transient scope (transientScopeCommand). The process is still blocked before its first step when
 * it moves, so nothing runs unlimited, and its first step makes its cgroup namespace, rooted at its
 * cgroup (src/runtime/steps.ts). When no limit was asked, a manager that fails only costs the
 * container its cgroup (and its stats): such a run never fails because of cgroups.
 *
 * The manager removes a scope as soon as it is empty, and the container's exit would take its
 * memory.events (OOMKilled) with it before anyone read it. So the process that waits for the
 * container holds the scope too: run -d's monitor (which also moves a restarted process back into
 * the same limits), or the foreground bunker itself. The no-internal-processes rule puts each in
 * a leaf: SCOPE/container (the limits) and SCOPE/monitor. The scope ends with its holder, also
 * when that is killed.
 */
function systemdScope(id: string, limits: ResourceLimits, mount: string): ContainerCgroup {
  let path = "";
  const unit = scopeUnit(id);
  const limited = hasLimits(limits);
  const fail = (why: string) => {
    if (limited) throw new BunkerError(`cannot enforce ${limitFlagNames(limits).join(", ")}: ${why}; check the systemd user session (systemctl --user status), ${DISABLE_HINT}`);
    log.debug(`no cgroup for the container: ${why}`);
  };
  const self: ContainerCgroup = {
    path,
    dirFd: -1,
    async attach(pid: number, monitorPid?: number) {
      let answer: { exitCode: number | null; stderr: Buffer | undefined };
      const pids = monitorPid === undefined ? [pid] : [pid, monitorPid];
      // start/restart right after the container's last run: the manager collects the ended scope
      // of the same name asynchronously, and until then it answers that the unit "was already loaded"
      // (older systemd: "already exists").
      for (let attempt = 0; ; attempt++) {
        try {
          answer = Bun.spawnSync(transientScopeCommand(unit, pids), { stdout: "pipe", stderr: "pipe", env: process.env });
        } catch (e) {
          return fail(`busctl could not run: ${errnoMessage(e)}`);
        }
        if (answer.exitCode === 0 || attempt >= 40 || !/already (exists|loaded)/.test(answer.stderr?.toString() ?? "")) break;
        await Bun.sleep(50);
      }
      if (answer.exitCode !== 0)
        return fail(`systemd could not make the scope ${unit}: ${answer.stderr?.toString().trim().split("\n")[0] || `busctl exit ${answer.exitCode}`}`);
      // The manager moves the processes asynchronously; /proc/PID/cgroup shows when it's done.
      let scope = "";
      for (let i = 0; i < 200 && !scope; i++) {
        const rels = pids.map(cgroupOfProcess);
        if (rels.every((rel) => rel.endsWith(`/${unit}`))) scope = join(mount, rels[0]);
        else await Bun.sleep(5);
      }
      if (!scope) return fail(`systemd did not move the container into ${unit}`);
      try {
        path = await splitScope(unit, scope, pid, monitorPid);
      } catch (e) {
        // the scope goes with the container (its start fails when a limit can't be had)
        return fail(`cannot make the container's cgroup in ${scope}: ${e instanceof BunkerError ? e.message : errnoMessage(e)}`);
      }
      self.path = path;
      writeRecord(id, { path, creatorPid: process.pid, creatorStart: processStart("self") ?? "" });
      applyLimits(path, limits);
    },
    oomKilled: () => (path ? oomKilled(path) : false),
    release(ownerPid?: number) {
      if (path && ownerPid !== undefined) writeRecord(id, { path, creatorPid: ownerPid, creatorStart: processStart(ownerPid) ?? "" });
    },
    async remove() {
      if (path) await removeCgroupTree(path);
      dropRecord(id);
    },
  };
  return self;
}

/**
 * Removes the cgroups of containers whose bunker died (kill -9) and whose processes are gone.
 * A cgroup whose creating bunker is still alive is left to it. Call it from any command that
 * manages containers (the lifecycle's startup path); it only reads a directory when there is
 * nothing to do.
 */
export async function cleanupStaleCgroups(): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(recordsDir()).filter((n) => n.endsWith(".json"));
  } catch {
    return removed;
  }
  for (const name of names) {
    const id = name.slice(0, -".json".length);
    let rec: CgroupRecord;
    try {
      rec = JSON.parse(readFileSync(join(recordsDir(), name), "utf8"));
    } catch {
      continue;
    }
    const creatorAlive = processStart(rec.creatorPid) === rec.creatorStart;
    if (creatorAlive || (existsSync(rec.path) && isPopulated(rec.path))) continue;
    try {
      await removeCgroupTree(rec.path);
      dropRecord(id);
      removed.push(rec.path);
    } catch (e) {
      log.debug(`stale cgroup ${rec.path} not removed yet: ${errnoMessage(e)}`);
    }
  }
  return removed;
}

