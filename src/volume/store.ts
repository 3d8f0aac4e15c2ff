// Named and anonymous volumes, docker's "local" driver: a directory in the store.
//   $root/volumes/<name>/_data          what the container sees (files may belong to subordinate ids)
//   $root/volumes/<name>/volume.json    {Name, CreatedAt, Labels, Anonymous}
// A volume is created whole in volumes/.tmp-* and renamed into place, so a reader sees a complete
// volume or none, and two runs that create the same name at once both end up using one volume.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "../fs";
import { randomHex } from "../random";
import { join } from "../posix-path";
import { listContainers } from "../container/records";
import { BunkerError, errnoCode } from "../errors";
import { storeRoot } from "../paths";
import { removeTree } from "../userns/helper-process";

/** docker's rule for local volume names (at least two characters). */
export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export interface VolumeRecord {
  Name: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  /** made by `-v /ctr` or a --mount without source: removed with its container by `run --rm` */
  Anonymous: boolean;
}

/** What `volume inspect` prints, in docker's field order. */
export interface VolumeInspect {
  CreatedAt: string;
  Driver: "local";
  Labels: Record<string, string>;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string>;
  Scope: "local";
}

export function volumesRoot(): string {
  return join(storeRoot(), "volumes");
}

function volumeDir(name: string): string {
  return join(volumesRoot(), name);
}

/** The directory a container mounts for volume NAME. */
export function volumeDataDir(name: string): string {
  return join(volumeDir(name), "_data");
}

/** Anonymous volumes get docker's kind of name: 64 random hex digits. */
export function anonymousVolumeName(): string {
  return randomHex(32);
}

export function checkVolumeName(name: string): void {
  if (!VOLUME_NAME_RE.test(name))
    throw new BunkerError(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
}

/** docker's timestamp for volumes: RFC 3339 with the local offset, to the second. */
function createdAt(now = new Date()): string {
  const offset = -now.getTimezoneOffset();
  const pad = (n: number) => String(Math.abs(Math.trunc(n))).padStart(2, "0");
  const local = new Date(now.getTime() + offset * 60_000).toISOString().slice(0, 19);
  const zone = offset === 0 ? "Z" : `${offset < 0 ? "-" : "+"}${pad(offset / 60)}:${pad(offset % 60)}`;
  return `${local}${zone}`;
}

export function readVolume(name: string): VolumeRecord | undefined {
  if (!VOLUME_NAME_RE.test(name)) return undefined;
  try {
    return JSON.parse(readFileSync(join(volumeDir(name), "volume.json"), "utf8")) as VolumeRecord;
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return undefined;
    if (e instanceof SyntaxError) return undefined; // never half-written (temp + rename): foreign junk
    throw e;
  }
}

/**
 * Creates volume NAME (a random 64-hex name when omitted) unless it exists; returns its record.
 * Like docker, creating an existing name is not an error.
 */
export function createVolume(name?: string, labels: Record<string, string> = {}, anonymous = name === undefined): VolumeRecord {
  const volName = name ?? anonymousVolumeName();
  checkVolumeName(volName);
  const existing = readVolume(volName);
  if (existing) return existing;
  mkdirSync(volumesRoot(), { recursive: true, mode: 0o700 });
  const tmp = join(volumesRoot(), `.tmp-${process.pid}-${randomHex(4)}`);
  const record: VolumeRecord = { Name: volName, CreatedAt: createdAt(), Labels: labels, Anonymous: anonymous };
  // _data is 0755 like docker's, so a non-root user inside the container can read it.
  mkdirSync(join(tmp, "_data"), { recursive: true, mode: 0o755 });
  writeFileSync(join(tmp, "volume.json"), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  try {
    renameSync(tmp, volumeDir(volName));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const code = errnoCode(e);
    // Someone created it between our check and the rename: theirs is as good as ours.
    if ((code === "ENOTEMPTY" || code === "EEXIST") && readVolume(volName)) return readVolume(volName)!;
    throw e;
  }
  return record;
}

export function listVolumes(): VolumeRecord[] {
  let names: string[];
  try {
    names = readdirSync(volumesRoot());
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
  return names
    .filter((n) => VOLUME_NAME_RE.test(n))
    .map(readVolume)
    .filter((v): v is VolumeRecord => v !== undefined)
    .sort((a, b) => a.Name.localeCompare(b.Name));
}

export function inspectVolume(v: VolumeRecord): VolumeInspect {
  return {
    CreatedAt: v.CreatedAt,
    Driver: "local",
    Labels: v.Labels,
    Mountpoint: volumeDataDir(v.Name),
    Name: v.Name,
    Options: {},
    Scope: "local",
  };
}

export function getVolume(name: string): VolumeRecord {
  const v = readVolume(name);
  if (!v) throw new BunkerError(`get ${name}: no such volume`);
  return v;
}

/** Ids of the containers (any state) whose record mounts volume NAME. */
export async function containersUsing(name: string): Promise<string[]> {
  const users: string[] = [];
  for (const c of await listContainers())
    if ((c.Mounts ?? []).some((m) => m.Type === "volume" && m.Name === name)) users.push(c.Id);
  return users;
}

/**
 * docker's `volume ls --filter`: dangling=true|false (used by no container), name=SUBSTRING,
 * label=KEY or label=KEY=VALUE, driver=local. Several filters must all match.
 */
export async function filterVolumes(vols: VolumeRecord[], filters: string[]): Promise<VolumeRecord[]> {
  if (filters.length === 0) return vols;
  let inUse: Set<string> | undefined;
  const tests: ((v: VolumeRecord) => boolean)[] = [];
  for (const f of filters) {
    const eq = f.indexOf("=");
    const [key, value] = eq < 0 ? [f, ""] : [f.slice(0, eq), f.slice(eq + 1)];
    switch (key) {
      case "dangling": {
        if (!["true", "false", "1", "0"].includes(value)) throw new BunkerError(`invalid filter 'dangling=${value}': use true or false`);
        inUse ??= new Set((await listContainers()).flatMap((c) => (c.Mounts ?? []).filter((m) => m.Type === "volume" && m.Name).map((m) => m.Name!)));
        const want = value === "true" || value === "1";
        const used = inUse;
        tests.push((v) => !used.has(v.Name) === want);
        break;
      }
      case "name":
        tests.push((v) => v.Name.includes(value));
        break;
      case "driver":
        tests.push(() => value === "local");
        break;
      case "label": {
        const leq = value.indexOf("=");
        const [lk, lv] = leq < 0 ? [value, undefined] : [value.slice(0, leq), value.slice(leq + 1)];
        tests.push((v) => lk in v.Labels && (lv === undefined || v.Labels[lk] === lv));
        break;
      }
      default:
        throw new BunkerError(`invalid filter '${key}': use dangling, name, label or driver`);
    }
  }
  return vols.filter((v) => tests.every((t) => t(v)));
}

/** Removes a volume; one in use by a container is refused unless force. */
export async function removeVolume(name: string, force: boolean): Promise<void> {
  getVolume(name);
  const users = await containersUsing(name);
  if (users.length > 0 && !force) throw new BunkerError(`remove ${name}: volume is in use - [${users.join(", ")}]`);
  await deleteVolumeDir(name);
}

/**
 * Takes the volume out of sight first (rename to a .tmp- name, which listing ignores), then removes
 * the data: a crash half-way leaves garbage under a hidden name, never half a volume.
 * removeTree runs in the user namespace, since a container may have left subordinate-owned files.
 */
async function deleteVolumeDir(name: string): Promise<void> {
  const doomed = join(volumesRoot(), `.tmp-rm-${process.pid}-${randomHex(4)}`);
  try {
    renameSync(volumeDir(name), doomed);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return; // removed meanwhile by someone else
    throw e;
  }
  await removeTree(doomed);
}

/** Removes unused volumes (only anonymous ones unless all, as docker ≥ 23); returns their names and size. */
export async function pruneVolumes(all: boolean): Promise<{ removed: string[]; bytes: number }> {
  const removed: string[] = [];
  let bytes = 0;
  for (const v of await filterVolumes(listVolumes(), ["dangling=true"])) {
    if (!all && !v.Anonymous) continue;
    bytes += treeSize(volumeDir(v.Name));
    await deleteVolumeDir(v.Name);
    removed.push(v.Name);
  }
  return { removed, bytes };
}

/** Bytes under dir, counting what we can read (subordinate-owned dirs may not be listable). */
function treeSize(dir: string): number {
  let total = 0;
  let entries: import("../fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += treeSize(p);
    else if (e.isFile()) {
      try {
        total += statSync(p).size;
      } catch {
        // vanished or unreadable: not counted
      }
    }
  }
  return total;
}
