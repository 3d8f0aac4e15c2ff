// -u/--user and the environment, resolved against the container's own /etc/passwd and /etc/group
// as docker does. The files are read from the image's layers (top first) without following
// symlinks, so an image can't make bunker read a host file.
import { lstatSync, readFileSync } from "../fs";
import { join } from "../posix-path";
import { BunkerError } from "../errors";

/** Reads a file of the container's root: the first layer (top → bottom) that has it wins. */
export function readRootFile(rootsTopFirst: string[], path: string): string | undefined {
  const parts = path.split("/").filter(Boolean);
  for (const root of rootsTopFirst) {
    let cur = root;
    let found: "file" | "whiteout" | "none" = "none";
    for (let i = 0; i < parts.length; i++) {
      cur = join(cur, parts[i]);
      let st: ReturnType<typeof lstatSync> | undefined;
      try {
        st = lstatSync(cur);
      } catch {
        break;
      }
      // overlay whiteout: the entry was deleted in this layer
      if (st.isCharacterDevice() && st.rdev === 0) {
        found = "whiteout";
        break;
      }
      if (i === parts.length - 1) found = st.isFile() ? "file" : "none";
      else if (!st.isDirectory()) break;
    }
    if (found === "whiteout") return undefined;
    if (found === "file") return readFileSync(cur, "utf8");
  }
  return undefined;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (!text) return [];
  return text
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 7 && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3]))
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }));
}

function parseGroup(text: string | undefined): { name: string; gid: number; members: string[] }[] {
  if (!text) return [];
  return text
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2]))
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: f[3].split(",").filter(Boolean) }));
}

const isNumber = (s: string) => /^\d+$/.test(s);

/**
 * docker's -u: "name", "uid", "name:group", "uid:gid"; names looked up inside the container.
 * groupAdd (--group-add, names or gids) joins the supplementary groups in every case.
 */
export function resolveUser(spec: string, rootsTopFirst: string[], groupAdd: string[] = []): ResolvedUser {
  const [userPart, groupPart] = spec.includes(":") ? [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)] : [spec, undefined];
  if (userPart === "") throw new BunkerError(`invalid user "${spec}": use NAME or UID, optionally :GROUP or :GID`);
  const passwd = parsePasswd(readRootFile(rootsTopFirst, "/etc/passwd"));
  const groups = parseGroup(readRootFile(rootsTopFirst, "/etc/group"));
  const entry = isNumber(userPart) ? passwd.find((p) => p.uid === Number(userPart)) : passwd.find((p) => p.name === userPart);
  if (!entry && !isNumber(userPart)) throw new BunkerError(`unable to find user ${userPart}: no matching entries in passwd file`);
  const uid = entry ? entry.uid : Number(userPart);
  /** A gid, or a group name looked up in the container's /etc/group; `flag` names where it came from. */
  const gidOf = (group: string, flag: string) => {
    if (isNumber(group)) return Number(group);
    const g = groups.find((x) => x.name === group);
    if (!g) throw new BunkerError(`unable to find group ${group}${flag}: no matching entries in group file`);
    return g.gid;
  };
  const gid = groupPart !== undefined ? gidOf(groupPart, "") : entry ? entry.gid : 0;
  // Supplementary groups come from /etc/group only when no group was given explicitly (as docker).
  const extra = entry && groupPart === undefined ? groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
  for (const group of groupAdd) extra.push(gidOf(group, " (--group-add)"));
  const all = [gid];
  for (const g of extra) if (!all.includes(g)) all.push(g);
  return { uid, gid, groups: all, home: entry?.home || (uid === 0 ? "/root" : "/") };
}

/** The container's environment, docker's order: defaults, image, then the user's -e/--env-file. */
export function buildEnv(o: { image: string[]; flags: string[]; envFiles: string[]; hostname: string; home: string; tty: boolean }): string[] {
  const env = new Map<string, string>();
  const put = (kv: string) => {
    const eq = kv.indexOf("=");
    if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
    else if (eq < 0 && kv && process.env[kv] !== undefined) env.set(kv, process.env[kv]!);
    else if (eq === 0) throw new BunkerError(`invalid environment variable: ${kv}`);
  };
  env.set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  env.set("HOSTNAME", o.hostname);
  for (const kv of o.image) put(kv);
  for (const file of o.envFiles) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new BunkerError(`cannot read env file ${file}: ${(e as Error).message}`);
    }
    for (const line of text.split("\n")) {
      const t = line.trim();
      if (t && !t.startsWith("#")) put(t);
    }
  }
  for (const kv of o.flags) put(kv);
  if (o.tty && !env.has("TERM")) env.set("TERM", "xterm");
  if (!env.has("HOME")) env.set("HOME", o.home);
  return [...env].map(([k, v]) => `${k}=${v}`);
}
