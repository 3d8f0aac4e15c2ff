// Where things live inside the store (storeRoot()), and the small file primitives every store
// module uses: JSON written to a temp name and renamed, so a crash never leaves half a file.
//
//   blobs/sha256/<hex>       compressed layer blobs, manifests, configs (content-addressed)
//   layers/<diffid-hex>/     diff/ (an overlayfs lowerdir) + layer.json, written last
//   images/<config-hex>.json one record per image
//   repositories.json        "docker.io/library/alpine:latest" → image id
//   tmp/                     partial downloads and unpacks in progress
//   locks/                   flock files
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "../fs";
import { join } from "../posix-path";
import { BunkerError, errnoCode } from "../errors";
import { storeRoot } from "../paths";

export const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function hexOf(digest: string): string {
  if (!DIGEST_RE.test(digest)) throw new BunkerError(`unsupported digest "${digest}": bunker supports sha256 digests`);
  return digest.slice(7);
}

export const store = {
  root: () => storeRoot(),
  blobs: () => join(storeRoot(), "blobs/sha256"),
  blob: (digest: string) => join(storeRoot(), "blobs/sha256", hexOf(digest)),
  layers: () => join(storeRoot(), "layers"),
  layer: (diffId: string) => join(storeRoot(), "layers", hexOf(diffId)),
  images: () => join(storeRoot(), "images"),
  image: (id: string) => join(storeRoot(), "images", `${hexOf(id)}.json`),
  repositories: () => join(storeRoot(), "repositories.json"),
  tmp: () => join(storeRoot(), "tmp"),
  lock: (name: string) => join(storeRoot(), "locks", `${name}.lock`),
  containers: () => join(storeRoot(), "containers"),
  /** an image's mount-point layer (src/runtime/mountpoints.ts) */
  mountpoints: (imageId: string) => join(storeRoot(), "mountpoints", hexOf(imageId)),
};

/** Creates the store's directories (cheap when they exist). */
export function ensureStoreDirs(): void {
  for (const dir of [store.blobs(), store.layers(), store.images(), store.tmp(), join(storeRoot(), "locks")])
    mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** A unique name under tmp/ for work in progress. */
export function tmpPath(prefix: string): string {
  return join(store.tmp(), `${prefix}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === "EPERM";
  }
}

/**
 * What killed bunker processes left in tmp/: every work entry is named <what>-<pid>-<random>, so
 * one whose process is gone belongs to nobody. (Partial downloads, blob-<hex>.partial, are not
 * work entries: they stay so the next pull resumes them.)
 */
export function staleTmpEntries(): string[] {
  let names: string[];
  try {
    names = readdirSync(store.tmp());
  } catch {
    return [];
  }
  return names.filter((name) => {
    const m = /^.+-(\d+)-[0-9a-f]{8}$/.exec(name);
    return m !== null && !alive(Number(m[1]));
  });
}

/** Writes JSON to a temp name in the same directory and renames it over path. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Reads a JSON file, or undefined when it doesn't exist. */
export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw new BunkerError(`the store file ${path} is damaged (${(e as Error).message}); remove it or run 'bunker system reset'`);
  }
}

/** The lock every change to image records and tags takes. */
export const METADATA_LOCK = "metadata";
