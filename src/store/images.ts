// Image records and tags. images/<config-hex>.json describes an image (its id is its config's
// digest, as docker's); repositories.json maps full references to ids and is the only place tags
// live, so a tag can never point two ways. Every change happens under the metadata lock.
import { existsSync, readdirSync, readFileSync, rmSync } from "../fs";
import { join } from "../posix-path";
import { withLock } from "../container/lock";
import { BunkerError, errnoCode } from "../errors";
import type { ImageConfig } from "../image/manifest";
import { familiarName, formatReference, type ImageReference, parseReference } from "../image/reference";
import { deleteBlob, deleteLayer, layerDiffDir, readBlob, readLayer } from "./layers";
import { ensureStoreDirs, METADATA_LOCK, readJson, store, writeJsonAtomic } from "./layout";

export interface ImageLayerRef {
  diffId: string;
  blobDigest: string;
  mediaType: string;
  size: number;
}

export interface ImageRecord {
  /** sha256:<config digest> */
  id: string;
  /** digest of the manifest the image came from (absent for docker-save archives) */
  manifestDigest?: string;
  /** "docker.io/library/alpine@sha256:…" */
  repoDigests: string[];
  layers: ImageLayerRef[];
  /** sum of the uncompressed layer sizes */
  size: number;
  /** when it came into this store */
  addedAt: string;
}

/** What the run helper needs from an image. */
export interface StoredImage {
  id: string;
  config: ImageConfig;
  /** bottom → top, absolute diff/ directories ready as overlay lowerdirs */
  layerDirs: string[];
  /** full references ("docker.io/library/alpine:latest") */
  repoTags: string[];
  /** the name the image was asked for, or its first tag, or its id */
  name: string;
}

type Repositories = Record<string, string>;

export function readRepositories(): Repositories {
  return readJson<Repositories>(store.repositories()) ?? {};
}

export function readImageRecord(id: string): ImageRecord | undefined {
  return readJson<ImageRecord>(store.image(id));
}

export function listImageRecords(): ImageRecord[] {
  let names: string[];
  try {
    names = readdirSync(store.images());
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
  return names
    .filter((n) => /^[0-9a-f]{64}\.json$/.test(n))
    .map((n) => readImageRecord(`sha256:${n.slice(0, 64)}`))
    .filter((r): r is ImageRecord => r !== undefined);
}

export function readImageConfig(id: string): ImageConfig {
  const bytes = readBlob(id);
  if (!bytes) throw new BunkerError(`image ${id.slice(7, 19)} is damaged: its config is missing; pull it again`);
  return JSON.parse(bytes.toString()) as ImageConfig;
}

/** Tags of an image, as full references. */
export function tagsOf(id: string, repos: Repositories = readRepositories()): string[] {
  return Object.keys(repos)
    .filter((k) => repos[k] === id)
    .sort();
}

/** "alpine:latest" as docker shows a full reference. */
export function familiarTag(full: string): string {
  const ref = parseReference(full);
  return `${familiarName(ref)}:${ref.tag ?? "latest"}`;
}

function tryParse(nameOrId: string): ImageReference | undefined {
  try {
    return parseReference(nameOrId);
  } catch {
    return undefined;
  }
}

/** Resolves a reference, an id or a unique id prefix to an image id. */
export function resolveImageId(nameOrId: string, repos: Repositories = readRepositories()): string | undefined {
  const ref = tryParse(nameOrId);
  if (ref) {
    if (ref.digest) {
      const want = `${ref.registry}/${ref.repository}@${ref.digest}`;
      const hit = listImageRecords().find((r) => r.repoDigests.some((d) => normalizeDigestRef(d) === want));
      if (hit) return hit.id;
    } else {
      const id = repos[formatReference(ref)];
      if (id && existsSync(store.image(id))) return id;
    }
  }
  const m = /^(?:sha256:)?([0-9a-f]{1,64})$/.exec(nameOrId);
  if (!m) return undefined;
  const hits = listImageRecords().filter((r) => r.id.slice(7).startsWith(m[1]));
  if (hits.length > 1) throw new BunkerError(`image id prefix "${nameOrId}" is ambiguous: use more characters`);
  return hits[0]?.id;
}

function normalizeDigestRef(d: string): string {
  const ref = tryParse(d);
  return ref ? `${ref.registry}/${ref.repository}@${ref.digest}` : d;
}

/** An image by reference, id or id prefix, with what the run helper needs. */
export async function findImage(nameOrId: string): Promise<StoredImage | undefined> {
  // repositories.json is read once for the lookup and the tags: this is on every `run`'s path
  const repos = readRepositories();
  const id = resolveImageId(nameOrId, repos);
  if (!id) return undefined;
  return storedImage(id, nameOrId, repos);
}

export function storedImage(id: string, asked?: string, repos: Repositories = readRepositories()): StoredImage {
  const rec = readImageRecord(id);
  if (!rec) throw new BunkerError(`image ${id.slice(7, 19)} disappeared from the store`);
  const repoTags = tagsOf(id, repos);
  const layerDirs = rec.layers.map((l) => {
    if (!readLayer(l.diffId)) throw new BunkerError(`image ${id.slice(7, 19)} is damaged: layer ${l.diffId.slice(7, 19)} is missing; pull it again`);
    return layerDiffDir(l.diffId);
  });
  const ref = asked ? tryParse(asked) : undefined;
  const name = ref && !ref.digest && repoTags.includes(formatReference(ref)) ? formatReference(ref) : (repoTags[0] ?? id);
  return { id, config: readImageConfig(id), layerDirs, repoTags, name };
}

/** Records an image (its blobs and layers must already be in the store) and points tags at it. */
export async function commitImage(rec: ImageRecord, tags: string[]): Promise<void> {
  ensureStoreDirs();
  await withLock(store.lock(METADATA_LOCK), () => {
    // A concurrent rmi may have freed a layer we reuse between our unpack and now.
    for (const l of rec.layers)
      if (!readLayer(l.diffId)) throw new BunkerError(`layer ${l.diffId.slice(7, 19)} was removed while this image was being stored; run the command again`);
    const old = readImageRecord(rec.id);
    const merged: ImageRecord = old ? { ...rec, repoDigests: [...new Set([...old.repoDigests, ...rec.repoDigests])], addedAt: old.addedAt } : rec;
    writeJsonAtomic(store.image(rec.id), merged);
    if (tags.length) {
      const repos = readRepositories();
      for (const t of tags) repos[t] = rec.id;
      writeJsonAtomic(store.repositories(), repos);
    }
  });
}

/** Points a new tag at an existing image. */
export async function tagImage(source: string, target: string): Promise<void> {
  const id = resolveImageId(source);
  if (!id) throw new BunkerError(`no such image: ${source}`);
  const ref = parseReference(target);
  if (ref.digest) throw new BunkerError(`cannot tag with a digest reference: ${target}`);
  await withLock(store.lock(METADATA_LOCK), () => {
    const repos = readRepositories();
    repos[formatReference(ref)] = id;
    writeJsonAtomic(store.repositories(), repos);
  });
}

/** Ids of images that containers in the store were created from (their config.json "Image"). */
function imagesInUse(): Map<string, string> {
  const used = new Map<string, string>();
  let ids: string[];
  try {
    ids = readdirSync(store.containers());
  } catch {
    return used;
  }
  for (const cid of ids) {
    try {
      const cfg = JSON.parse(readFileSync(join(store.containers(), cid, "config.json"), "utf8")) as { Image?: string; Id?: string; ImageID?: string };
      for (const v of [cfg.Image, cfg.ImageID]) if (typeof v === "string") used.set(v.startsWith("sha256:") ? v : `sha256:${v}`, cid);
    } catch {
      // a container being created or removed right now has no readable config: not a user of anything
    }
  }
  return used;
}

export interface RemoveOutcome {
  /** the tags removed, as docker prints them ("alpine:3.20") */
  untagged: string[];
  deleted: string[];
}

/**
 * docker rmi: a tag with other tags beside it is only untagged; otherwise the image goes, unless a
 * container uses it (or, by id, several tags name it) and force is not given. Layers no other image
 * uses are freed. Forced, an image a container uses loses its tags but stays until the container goes.
 */
export async function removeImage(nameOrId: string, force: boolean): Promise<RemoveOutcome> {
  const outcome: RemoveOutcome = { untagged: [], deleted: [] };
  const freed: ImageRecord[] = [];
  await withLock(store.lock(METADATA_LOCK), () => {
    const id = resolveImageId(nameOrId);
    if (!id) throw new BunkerError(`no such image: ${nameOrId}`);
    const repos = readRepositories();
    const tags = tagsOf(id, repos);
    const ref = tryParse(nameOrId);
    const byTag = ref && !ref.digest && tags.includes(formatReference(ref)) ? formatReference(ref) : undefined;
    if (byTag && tags.length > 1) {
      delete repos[byTag];
      writeJsonAtomic(store.repositories(), repos);
      outcome.untagged.push(familiarTag(byTag));
      return;
    }
    if (!byTag && tags.length > 1 && !force)
      throw new BunkerError(`unable to delete ${id.slice(7, 19)} (must be forced): the image is tagged in several repositories`);
    const user = imagesInUse().get(id);
    if (user && !force) throw new BunkerError(`unable to remove image ${nameOrId}: container ${user.slice(0, 12)} uses it; remove the container first or use -f`);
    if (user) {
      // -f: the tags go, but the image stays (dangling) while a container stands on its layers:
      // freeing them would pull the ground from under a running container's overlay mount.
      for (const t of tags) {
        delete repos[t];
        outcome.untagged.push(familiarTag(t));
      }
      writeJsonAtomic(store.repositories(), repos);
      return;
    }
    const rec = readImageRecord(id)!;
    for (const t of tags) {
      delete repos[t];
      outcome.untagged.push(familiarTag(t));
    }
    writeJsonAtomic(store.repositories(), repos);
    rmSync(store.image(id), { force: true });
    rmSync(store.mountpoints(id), { recursive: true, force: true });
    outcome.deleted.push(id);
    freed.push(rec);
  });
  for (const rec of freed) await freeUnused(rec);
  return outcome;
}

/** Frees the layers and blobs of a removed image that no remaining image refers to. */
async function freeUnused(rec: ImageRecord): Promise<void> {
  const still = listImageRecords();
  const usedLayers = new Set(still.flatMap((r) => r.layers.map((l) => l.diffId)));
  const usedBlobs = new Set(still.flatMap((r) => [r.id, ...(r.manifestDigest ? [r.manifestDigest] : []), ...r.layers.map((l) => l.blobDigest)]));
  for (const l of rec.layers) if (!usedLayers.has(l.diffId)) await deleteLayer(l.diffId);
  for (const d of [rec.id, ...(rec.manifestDigest ? [rec.manifestDigest] : []), ...rec.layers.map((l) => l.blobDigest)]) if (!usedBlobs.has(d)) deleteBlob(d);
}
