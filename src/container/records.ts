// Containers as durable records. Layout (see docs in README "Where the data lives"):
//   $root/containers/<id>/config.json   the record below (written with temp + rename)
//   $root/containers/<id>/{upper,work}  the writable layer (files may belong to subordinate ids)
//   $root/containers/<id>/ctr.log       the log of a detached container (k8s-file format)
//   $root/containers/<id>/state.json    last known state, so `ps -a` survives a reboot
//   $runroot/containers/<id>/           live state: state.json written by the monitor, stopped flag
//   $root/containers/.names/<name>      symlink to the id that holds the name (see claimName)
// A record without config.json is not a container (being created or removed) and is ignored.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "../fs";
import { randomHex } from "../random";
import { join } from "../posix-path";
import { BunkerError, errnoCode } from "../errors";
import { runtimeRoot, storeRoot } from "../paths";
import { removeTree } from "../userns/helper-process";
import { withLock } from "./lock";
import { NAME_PATTERN, randomName } from "./names";

export interface ContainerConfig {
  Hostname: string;
  User: string;
  Env: string[];
  Cmd: string[];
  Entrypoint: string[] | null;
  WorkingDir: string;
  Tty: boolean;
  OpenStdin: boolean;
  Labels: Record<string, string>;
  StopSignal?: string;
  /** --stop-timeout: seconds `stop` and `restart` wait before SIGKILL when not given -t */
  StopTimeout?: number;
  /** the image as the user named it */
  Image: string;
}

export interface RestartPolicy {
  Name: "no" | "always" | "on-failure" | "unless-stopped";
  MaximumRetryCount: number;
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export interface HostConfig {
  AutoRemove: boolean;
  RestartPolicy: RestartPolicy;
  /** "k8s-file" with max-size / max-file */
  LogConfig: { Type: string; Config: Record<string, string> };
  NetworkMode: string;
  /** docker's shape: "80/tcp" → [{HostIp, HostPort}] */
  PortBindings: Record<string, PortBinding[]>;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  Init: boolean;
  CapAdd: string[];
  CapDrop: string[];
  SecurityOpt: string[];
  Binds: string[];
  /** --volumes-from, as given */
  VolumesFrom?: string[];
  /** --add-host entries, "NAME:IP" */
  ExtraHosts?: string[];
  Dns?: string[];
  DnsSearch?: string[];
  DnsOptions?: string[];
  /** --group-add, as given (names are resolved in the container) */
  GroupAdd?: string[];
  /** bytes of /dev/shm */
  ShmSize?: number;
  /** docker's Resources fields (Memory, NanoCpus, PidsLimit, ...), as the cgroup layer set them */
  [resource: string]: unknown;
}

export interface MountPoint {
  Type: "bind" | "volume" | "tmpfs";
  Name?: string;
  Source: string;
  Destination: string;
  Mode: string;
  RW: boolean;
}

export interface ContainerRecord {
  /** 64 hex digits */
  Id: string;
  /** without docker's leading "/" */
  Name: string;
  /** RFC 3339 with nanoseconds */
  Created: string;
  /** the image id ("sha256:<hex>"), or "" for --rootfs */
  Image: string;
  /** the reference the user gave ("alpine", "docker.io/library/alpine:latest", or the --rootfs dir) */
  ImageName: string;
  /** the --rootfs directory, when the container runs on a host directory instead of an image */
  Rootfs?: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig;
  HostConfig: HostConfig;
  Mounts: MountPoint[];
  /**
   * What src/runtime needs to set the container up again for `start`/`restart` (opaque here:
   * the runtime owns its shape). Data flows one way, so this module never interprets it.
   */
  RunSpec?: unknown;
}

export type NewContainer = Omit<ContainerRecord, "Id" | "Name" | "Created"> & { Name?: string };

export function containersRoot(): string {
  return join(storeRoot(), "containers");
}

/** $root/containers/<id>: durable (config.json, upper/, work/, ctr.log). */
export function containerDir(id: string): string {
  return join(containersRoot(), id);
}

/** $runroot/containers/<id>: runtime state, cleared at reboot. */
export function containerRunDir(id: string): string {
  return join(runtimeRoot(), "containers", id);
}

export function containerLogPath(id: string): string {
  return join(containerDir(id), "ctr.log");
}

/** The per-container lock: start, stop, rm and state repairs of one container take it. */
export function containerLockPath(id: string): string {
  return join(containersRoot(), ".locks", `${id}.lock`);
}

/** The lock around name allocation and renames. */
function namesLockPath(): string {
  return join(containersRoot(), ".locks", "names.lock");
}

/** Writes JSON atomically: a reader sees the old file or the new one, never half of either. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

function readRecord(id: string): ContainerRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(containerDir(id), "config.json"), "utf8")) as ContainerRecord;
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return undefined;
    if (e instanceof SyntaxError) return undefined; // never written half (temp + rename); foreign junk
    throw e;
  }
}

const ID_PATTERN = /^[0-9a-f]{64}$/;

function listIds(): string[] {
  try {
    return readdirSync(containersRoot()).filter((n) => ID_PATTERN.test(n));
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
}

/** Every container, oldest first. */
export async function listContainers(): Promise<ContainerRecord[]> {
  const records: ContainerRecord[] = [];
  for (const id of listIds()) {
    const r = readRecord(id);
    if (r) records.push(r);
  }
  return records.sort((a, b) => a.Created.localeCompare(b.Created));
}

/** By exact name (with or without docker's "/"), full id, or unique id prefix. */
export async function findContainer(nameOrId: string): Promise<ContainerRecord | undefined> {
  const key = nameOrId.startsWith("/") ? nameOrId.slice(1) : nameOrId;
  if (!key) return undefined;
  if (ID_PATTERN.test(key)) {
    const r = readRecord(key);
    if (r) return r;
  }
  const named = nameOwner(key);
  if (named) return named;
  const all = await listContainers();
  const byName = all.find((r) => r.Name === key);
  if (byName) return byName;
  if (!/^[0-9a-f]+$/.test(key)) return undefined;
  const matches = all.filter((r) => r.Id.startsWith(key));
  if (matches.length > 1) throw new BunkerError(`multiple containers match the id prefix "${key}": give more of the id`);
  return matches[0];
}

/** findContainer that fails with docker's message when there is no such container. */
export async function getContainer(nameOrId: string): Promise<ContainerRecord> {
  const r = await findContainer(nameOrId);
  if (!r) throw new BunkerError(`no such container: ${nameOrId}`);
  return r;
}

export function checkName(name: string): void {
  if (!NAME_PATTERN.test(name))
    throw new BunkerError(`invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
}

/** The RFC 3339 nanosecond timestamp docker prints ("2024-01-01T00:00:00.123456789Z"). */
export function nowTimestamp(): string {
  const ns = process.hrtime.bigint() % 1_000_000n;
  return new Date().toISOString().replace(/Z$/, `${ns.toString().padStart(6, "0")}Z`);
}

// Names are claimed through $root/containers/.names/<name> -> <id> symlinks, so that creating a
// container doesn't read every record to learn which names are taken (that made each `run` slower
// with every container in the store: 3 ms at 60). A link whose id has no record, or a record of
// another name, is stale (a removal or rename cut short) and the name is free.

function namesDir(): string {
  return join(containersRoot(), ".names");
}

/** The record that holds name, through its link, or undefined. */
function nameOwner(name: string): ContainerRecord | undefined {
  if (!NAME_PATTERN.test(name)) return undefined;
  let id: string;
  try {
    id = readlinkSync(join(namesDir(), name));
  } catch {
    return undefined;
  }
  if (!ID_PATTERN.test(id)) return undefined;
  const r = readRecord(id);
  return r?.Name === name ? r : undefined;
}

/**
 * Points name at id unless a container holds it; returns that container then. The caller holds
 * the names lock: a stale link is only replaced under it.
 */
function claimName(name: string, id: string): ContainerRecord | undefined {
  const link = join(namesDir(), name);
  try {
    symlinkSync(id, link);
    return undefined;
  } catch (e) {
    if (errnoCode(e) !== "EEXIST") throw e;
  }
  const owner = nameOwner(name);
  if (owner) return owner;
  unlinkSync(link);
  symlinkSync(id, link);
  return undefined;
}

/** Removes name's link if it still points at id. */
function releaseName(name: string, id: string): void {
  const link = join(namesDir(), name);
  try {
    if (readlinkSync(link) === id) unlinkSync(link);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
}

/** A store from before the name links gets them once, from its records (under the names lock). */
async function ensureNameLinks(): Promise<void> {
  if (existsSync(namesDir())) return;
  const tmp = join(containersRoot(), `.names.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  for (const r of await listContainers()) {
    try {
      symlinkSync(r.Id, join(tmp, r.Name));
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e; // two records of one name (foreign edits): the older keeps it
    }
  }
  renameSync(tmp, namesDir());
}

function nameInUse(name: string, owner: ContainerRecord, what: string): BunkerError {
  return new BunkerError(`the container name "${name}" is already in use by container ${owner.Id.slice(0, 12)}: remove it (bunker rm ${name}) or choose another ${what}`);
}

/**
 * Creates the record (and its directory) with a unique name, under the names lock so that two
 * concurrent `run --name x` can't both win. A name already in use is refused like docker does,
 * and leaves nothing behind.
 */
export async function createContainer(rec: NewContainer): Promise<ContainerRecord> {
  if (rec.Name !== undefined) checkName(rec.Name);
  return inReservedContainer(async (id) => {
    const record: ContainerRecord = { ...rec, Id: id, Name: "", Created: nowTimestamp() };
    await registerContainer(record, rec.Name);
    return record;
  });
}

/**
 * Reserves a new container's id, with its directory made (empty, so not yet a container: see the
 * top of this file), and calls make(id), which ends with registerContainer. When make throws, the
 * reservation goes: nothing is left. The id is unique without the names lock: the directory's
 * mkdir claims it.
 */
export async function inReservedContainer<T>(make: (id: string) => Promise<T>): Promise<T> {
  mkdirSync(containersRoot(), { recursive: true });
  let id: string;
  for (;;) {
    id = randomHex(32);
    try {
      mkdirSync(containerDir(id), { mode: 0o700 });
      break;
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
    }
  }
  try {
    return await make(id);
  } catch (e) {
    rmSync(containerDir(id), { recursive: true, force: true });
    throw e;
  }
}

/**
 * Makes a reserved container exist: claims its name (name, else a random one, set on the record)
 * under the names lock, then writes the record. `run` plans the whole container in between, so
 * that a bad input found while planning leaves nothing, and the record is written once.
 */
export async function registerContainer(record: ContainerRecord, name: string | undefined): Promise<void> {
  await withLock(namesLockPath(), async () => {
    await ensureNameLinks();
    if (name !== undefined) {
      const owner = claimName(name, record.Id);
      if (owner) throw nameInUse(name, owner, "--name");
    } else {
      for (let retry = 0; name === undefined; retry++) {
        const candidate = randomName(retry);
        if (!claimName(candidate, record.Id)) name = candidate;
      }
    }
    record.Name = name;
    writeJsonAtomic(join(containerDir(record.Id), "config.json"), record); // last: its presence makes the container exist
  });
}

/** Rewrites a record (the caller holds the container's lock when it matters). */
export function saveContainer(rec: ContainerRecord): void {
  writeJsonAtomic(join(containerDir(rec.Id), "config.json"), rec);
}

export async function renameContainer(nameOrId: string, newName: string): Promise<void> {
  checkName(newName);
  await withLock(namesLockPath(), async () => {
    await ensureNameLinks();
    const rec = await getContainer(nameOrId);
    if (rec.Name === newName) throw new BunkerError(`renaming a container with the same name as its current name is not allowed`);
    const clash = claimName(newName, rec.Id);
    if (clash) throw nameInUse(newName, clash, "name");
    saveContainer({ ...rec, Name: newName });
    releaseName(rec.Name, rec.Id);
  });
}

/**
 * Deletes a container's record, runtime dir and writable layer. The directory is first renamed
 * away (atomic: the container is gone for every other command at once), then removed through the
 * store's removeTree, because upper/ may hold files owned by subordinate ids.
 * The caller makes sure nothing runs in it any more; one that has the record gives its name.
 */
export async function removeContainer(id: string, name: string | undefined = readRecord(id)?.Name): Promise<void> {
  rmSync(containerRunDir(id), { recursive: true, force: true });
  // The name goes first, while the record still exists: no one takes the link for stale meanwhile.
  if (name !== undefined) releaseName(name, id);
  const dir = containerDir(id);
  const doomed = join(containersRoot(), `.removing-${id}`);
  try {
    renameSync(dir, doomed);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  await removeTree(doomed);
  rmSync(containerLockPath(id), { force: true });
}

/** Leftovers of removals that were interrupted (kill -9 during rm): finish them. */
export async function finishInterruptedRemovals(): Promise<void> {
  let names: string[] = [];
  try {
    names = readdirSync(containersRoot()).filter((n) => n.startsWith(".removing-"));
  } catch {
    return;
  }
  for (const n of names) await removeTree(join(containersRoot(), n)).catch(() => {});
}
