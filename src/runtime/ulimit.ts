// --ulimit TYPE=SOFT[:HARD], docker's grammar and names. The limits become Op.Rlimit steps of the
// container's process (steps.ts), and of every `bunker exec` into it, as docker's exec inherits
// the container's rlimits.
import { BunkerError } from "../errors";
import { readFileSync } from "../fs";

/** A limit as the spec keeps it: docker's name, -1 for unlimited. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** docker's names → RLIMIT_* of <sys/resource.h> (Linux; the numbers are the same on x86_64 and arm64). */
export const RLIMITS: Record<string, number> = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  rss: 5,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
  locks: 10,
  sigpending: 11,
  msgqueue: 12,
  nice: 13,
  rtprio: 14,
  rttime: 15,
};

const UNLIMITED = -1;

/** The limit's value, or undefined when it is not an integer bunker can carry exactly. */
function limitValue(text: string): number | undefined {
  if (!/^-?\d+$/.test(text)) return undefined;
  const n = Number(text);
  // -1 is docker's "unlimited"; other negatives mean nothing. Beyond 2^53 a JSON number (the
  // record) would round it: no real limit is that large short of unlimited.
  if (n < UNLIMITED || !Number.isSafeInteger(n)) return undefined;
  return n;
}

/** Orders limits with unlimited above every number. */
const above = (a: number, b: number) => (a === UNLIMITED ? b !== UNLIMITED : b !== UNLIMITED && a > b);

/** `name=soft[:hard]`; hard defaults to soft, as docker's. */
export function parseUlimit(flag: string): Ulimit {
  const eq = flag.indexOf("=");
  const bad = (why: string) => new BunkerError(`invalid --ulimit "${flag}": ${why}`);
  if (eq <= 0) throw bad("use TYPE=SOFT[:HARD], e.g. nofile=1024:4096");
  const name = flag.slice(0, eq);
  if (!(name in RLIMITS)) throw bad(`unknown type ${name}: use one of ${Object.keys(RLIMITS).join(", ")}`);
  const parts = flag.slice(eq + 1).split(":");
  if (parts.length > 2) throw bad("use TYPE=SOFT[:HARD], e.g. nofile=1024:4096");
  const [soft, hard] = [limitValue(parts[0]), limitValue(parts[1] ?? parts[0])];
  if (soft === undefined || hard === undefined) throw bad("the limits are integers, or -1 for unlimited");
  if (above(soft, hard)) throw bad(`the soft limit ${soft} is above the hard limit ${hard}: lower it, or raise the hard one`);
  return { name, soft, hard };
}

/**
 * bunker's own hard limits by RLIMIT_* number, from /proc/self/limits: its rows are the kernel's
 * table in resource order, each "name  soft  hard  [units]" with the name in 26 columns.
 */
function ownHardLimits(): (number | undefined)[] {
  const rows = readFileSync("/proc/self/limits", "utf8").split("\n").slice(1);
  return rows.map((row) => {
    const hard = row.slice(26).trim().split(/\s+/)[1];
    return hard === "unlimited" ? UNLIMITED : hard === undefined ? undefined : limitValue(hard);
  });
}

/**
 * Every --ulimit, the last one of a type winning (docker keeps one per type). A hard limit above
 * bunker's own is refused now: the child would fail with EPERM, since raising one takes
 * CAP_SYS_RESOURCE in the host's user namespace, which a container never has (rootless or not).
 */
export function parseUlimits(flags: string[]): Ulimit[] {
  if (flags.length === 0) return [];
  const byName = new Map<string, Ulimit>();
  for (const f of flags) {
    const u = parseUlimit(f);
    byName.delete(u.name);
    byName.set(u.name, u);
  }
  const own = ownHardLimits();
  for (const u of byName.values()) {
    const mine = own[RLIMITS[u.name]];
    if (mine !== undefined && above(u.hard, mine))
      throw new BunkerError(
        `--ulimit ${u.name}: the hard limit ${u.hard === UNLIMITED ? "unlimited" : u.hard} is above bunker's own (${mine === UNLIMITED ? "unlimited" : mine}), which a container can't raise: ask for at most ${mine}, or raise yours first`,
      );
  }
  return [...byName.values()];
}

/** HostConfig.Ulimits as docker's inspect shows them. */
export function dockerUlimits(ulimits: Ulimit[]): { Name: string; Soft: number; Hard: number }[] {
  return ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }));
}
