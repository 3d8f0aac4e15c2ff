// Layers and blobs as stored: each uncompressed layer is unpacked once into layers/<diffid>/diff and
// shared by every image that has it; its compressed blob is kept in blobs/ (for save and push).
// A layer is complete when its layer.json exists. How layers get in is src/store/ingest.ts: this
// module is what `run` reads the store through, and holds nothing of pulls.
import { existsSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "../fs";
import { join } from "../posix-path";
import { withLock } from "../container/lock";
import { BunkerError, errnoCode } from "../errors";
import { removeTree } from "../userns/helper-process";
import { ensureStoreDirs, hexOf, readJson, store } from "./layout";

export interface LayerRecord {
  diffId: string;
  /** the blob this layer was unpacked from, kept in blobs/ */
  blobDigest: string;
  blobSize: number;
  /** bytes of the uncompressed tar */
  size: number;
  createdAt: string;
}

export function readLayer(diffId: string): LayerRecord | undefined {
  return readJson<LayerRecord>(join(store.layer(diffId), "layer.json"));
}

/** The absolute diff/ directory of a complete layer. */
export function layerDiffDir(diffId: string): string {
  return join(store.layer(diffId), "diff");
}

export function hasBlob(digest: string): boolean {
  return existsSync(store.blob(digest));
}

/** Throws unless bytes hash to digest; `what` names them in the message. */
export function verifyDigest(digest: string, bytes: Uint8Array, what = "blob"): void {
  const actual = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
  if (actual !== digest) throw new BunkerError(`digest mismatch: the ${what} should be ${digest} but hashes to ${actual}`);
}

/** Writes a small blob (manifest, config) after checking its digest. */
export function putBlob(digest: string, bytes: Uint8Array): void {
  verifyDigest(digest, bytes);
  if (hasBlob(digest)) return;
  ensureStoreDirs();
  const path = store.blob(digest);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes, { mode: 0o600 });
  renameSync(tmp, path);
}

export function readBlob(digest: string): Buffer | undefined {
  try {
    return readFileSync(store.blob(digest));
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** Removes a layer and its blob (the caller knows no image uses them). */
export async function deleteLayer(diffId: string): Promise<void> {
  const rec = readLayer(diffId);
  await withLock(store.lock(`layer-${hexOf(diffId)}`), async () => {
    // layer.json first: a half-removed layer must look incomplete, never complete.
    rmSync(join(store.layer(diffId), "layer.json"), { force: true });
    await removeTree(store.layer(diffId));
  });
  if (rec) deleteBlob(rec.blobDigest);
}

export function deleteBlob(digest: string): void {
  try {
    unlinkSync(store.blob(digest));
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
}
