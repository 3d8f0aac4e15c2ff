// Which host ids a container's ids map to. Container uid 0 is always the invoking user. With a
// subordinate range in /etc/subuid and /etc/subgid, and newuidmap/newgidmap installed, ids 1..N
// map into that range, as podman does; otherwise a single-id mapping is all we can have.
import { closeSync, existsSync, readFileSync, writeFileSync } from "../fs";
import { BunkerError } from "../errors";

export interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

export interface IdMapping {
  uids: IdRange[];
  gids: IdRange[];
  /** "subid": 0 → user, 1..N → subordinate range; "single": only 0 → user; "root": bunker runs as real root. */
  kind: "subid" | "single" | "root";
}

/** The largest range podman uses by default: enough for any distro's system users and nobody. */
const MAX_SUB_IDS = 65536;

const NEWUIDMAP_PATHS = ["/usr/bin/newuidmap", "/bin/newuidmap", "/usr/sbin/newuidmap"];
const NEWGIDMAP_PATHS = ["/usr/bin/newgidmap", "/bin/newgidmap", "/usr/sbin/newgidmap"];

export function findTool(paths: string[]): string | undefined {
  for (const p of paths) if (existsSync(p)) return p;
  return undefined;
}

/** Parses /etc/subuid-style text and returns the first range that belongs to name or id. */
export function parseSubIdFile(text: string, name: string, id: number): { start: number; count: number } | undefined {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [owner, start, count] = line.split(":");
    if (owner !== name && owner !== String(id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && s >= 0 && c > 0) return { start: s, count: c };
  }
  return undefined;
}

function readSubIds(file: string, name: string, id: number) {
  try {
    return parseSubIdFile(readFileSync(file, "utf8"), name, id);
  } catch {
    return undefined;
  }
}

/**
 * The user's name, as /etc/subuid may list it: from /etc/passwd, else from the password database
 * through node:os (NSS: LDAP, sssd...), which costs a run ~0.3 ms to load.
 */
function userName(uid: number): string {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f.length >= 7 && f[2] === String(uid)) return f[0];
    }
  } catch {
    // unreadable: ask the database
  }
  return (require("node:os") as typeof import("node:os")).userInfo().username;
}

let cached: IdMapping | undefined;

/** The invoking user's mapping. BUNKER_USERNS=single forces the single-id mapping (tests, doctor). */
export function hostIdMapping(): IdMapping {
  if (cached) return cached;
  const uid = process.getuid!();
  const gid = process.getgid!();
  if (uid === 0) {
    // Real root needs no subordinate ids: the container's ids are the host's, as with rootful podman.
    const all = [{ inside: 0, outside: 0, count: 4294967295 }];
    cached = { uids: all, gids: all, kind: "root" };
    return cached;
  }
  const single: IdMapping = {
    uids: [{ inside: 0, outside: uid, count: 1 }],
    gids: [{ inside: 0, outside: gid, count: 1 }],
    kind: "single",
  };
  if (process.env.BUNKER_USERNS === "single") return (cached = single);
  const name = userName(uid);
  const subU = readSubIds("/etc/subuid", name, uid);
  const subG = readSubIds("/etc/subgid", name, uid);
  if (!subU || !subG || !findTool(NEWUIDMAP_PATHS) || !findTool(NEWGIDMAP_PATHS)) return (cached = single);
  cached = {
    uids: [single.uids[0], { inside: 1, outside: subU.start, count: Math.min(subU.count, MAX_SUB_IDS) }],
    gids: [single.gids[0], { inside: 1, outside: subG.start, count: Math.min(subG.count, MAX_SUB_IDS) }],
    kind: "subid",
  };
  return cached;
}

/** Maps a container id to the host id it is stored as, or undefined when it has no mapping. */
export function toHost(ranges: IdRange[], id: number): number | undefined {
  for (const r of ranges) if (id >= r.inside && id < r.inside + r.count) return r.outside + (id - r.inside);
  return undefined;
}

/** Maps a host id back to the container's view, or undefined. */
export function toContainer(ranges: IdRange[], id: number): number | undefined {
  for (const r of ranges) if (id >= r.outside && id < r.outside + r.count) return r.inside + (id - r.outside);
  return undefined;
}

/** The highest container id that has a mapping (65536 with a subid range, 0 without). */
export function maxMappedId(ranges: IdRange[]): number {
  return Math.max(...ranges.map((r) => r.inside + r.count - 1));
}

function lines(ranges: IdRange[]): string {
  return ranges.map((r) => `${r.inside} ${r.outside} ${r.count}`).join("\n");
}

/** A started host tool: its pid and its exit code once it has ended. */
export interface StartedTool {
  pid: number;
  exited: Promise<number>;
}

/**
 * Starts a host program with argv (argv[0] its name), no environment, bunker's stdin and stdout,
 * and stderr on stderrFd; throws when it can't be started.
 */
export type ToolStarter = (path: string, argv: string[], stderrFd: number, stdoutFd?: number) => Promise<StartedTool>;

/** posix_spawn (bk_spawn_tool): returns once the tool has exec'd. Bun.spawn held the caller's thread for 2-4 ms per tool. */
async function posixSpawnTool(path: string, argv: string[], stderrFd: number): Promise<StartedTool> {
  const { native } = await import("../../native/ffi");
  const { waitForExit } = await import("../wait");
  const pid = native().bk_spawn_tool(Buffer.from(`${path}\0`), Buffer.from(`${argv.join("\0")}\0`), argv.length, stderrFd);
  if (pid < 0) throw new BunkerError(`cannot run ${path}: errno ${-pid}`);
  return { pid, exited: waitForExit(pid) };
}

/**
 * Writes the mapping of a process that has just created a user namespace and is waiting for it.
 * Subordinate ranges go through the setuid newuidmap/newgidmap, run side by side: the two write
 * different files, and each takes over a millisecond of setuid exec and dynamic linking. With the
 * container cloned early (src/runtime/process.ts, prestart) they run while bunker plans the
 * container, started by its own starter. A single mapping or real root writes
 * /proc/PID/{setgroups,uid_map,gid_map} directly.
 */
export async function applyIdMapping(pid: number, m: IdMapping, startTool: ToolStarter = posixSpawnTool, mappedFd?: number): Promise<void> {
  // mappedFd (see Prestarted in src/runtime/process.ts): the tools' stdout, closed here as soon as
  // they have started or the mapping is written. The child sees its hang-up once the tools have
  // exited too, without waiting for bunker to notice.
  let tools: { done: Promise<void> };
  try {
    if (m.kind !== "subid") {
      writeIdMaps(pid, m);
      return;
    }
    tools = await startIdTools(pid, m, startTool, mappedFd);
  } finally {
    if (mappedFd !== undefined) closeSync(mappedFd);
  }
  await tools.done;
}

/** A single mapping, or real root's: written to /proc/PID/{setgroups,uid_map,gid_map} directly. */
function writeIdMaps(pid: number, m: IdMapping): void {
  try {
    if (m.kind === "single") writeFileSync(`/proc/${pid}/setgroups`, "deny");
    writeFileSync(`/proc/${pid}/uid_map`, lines(m.uids));
    writeFileSync(`/proc/${pid}/gid_map`, lines(m.gids));
  } catch (e) {
    throw new BunkerError(`writing the user namespace mapping of process ${pid} failed: ${(e as Error).message}`);
  }
}

/** Starts newuidmap and newgidmap; resolves once both are started, with their outcome still to come. */
async function startIdTools(pid: number, m: IdMapping, startTool: ToolStarter, stdoutFd: number | undefined): Promise<{ done: Promise<void> }> {
  const { native } = await import("../../native/ffi");
  const fds = new Int32Array(2);
  const prc = native().bk_pipe2(fds);
  if (prc < 0) throw new BunkerError(`cannot map the container's ids: pipe2: errno ${-prc}`);
  const errRead = fds[0];
  const errWrite = fds[1];
  const tools = [
    ["newuidmap", NEWUIDMAP_PATHS, m.uids],
    ["newgidmap", NEWGIDMAP_PATHS, m.gids],
  ] as const;
  // Both start before either is awaited: they run side by side, and beside the caller's work.
  const starts = await Promise.allSettled(
    tools.map(([tool, paths, ranges]) => {
      const argv: string[] = [tool, String(pid)];
      for (const r of ranges) argv.push(String(r.inside), String(r.outside), String(r.count));
      return startTool(findTool(paths)!, argv, errWrite, stdoutFd);
    }),
  );
  closeSync(errWrite);
  const runs: { tool: string; exited: Promise<number> }[] = [];
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i];
    if (s.status === "fulfilled") runs.push({ tool: tools[i][0], exited: s.value.exited });
  }
  const spawnFailure = starts.find((s) => s.status === "rejected");
  const outcome = async () => {
    try {
      const codes = await Promise.all(runs.map((r) => r.exited));
      if (spawnFailure) throw spawnFailure.reason;
      const failed = runs.find((_, i) => codes[i] !== 0);
      if (failed) {
        // both have exited: the pipe holds all they wrote, then EOF
        const text = readFileSync(errRead, "utf8").trim();
        throw new BunkerError(`${failed.tool} failed: ${text || `exit code ${codes[runs.indexOf(failed)]}`}; check /etc/sub${failed.tool === "newuidmap" ? "uid" : "gid"} for your user`);
      }
    } finally {
      closeSync(errRead);
    }
  };
  return { done: outcome() };
}
