// Bringing layers into the store (pull, load): each is unpacked in tmp/ under the layer's lock and
// renamed into place only once both digests are verified, with layer.json (written last) marking
// it complete. A download goes to tmp/blob-<hex>.partial first: a dropped connection resumes with
// Range within the pull, and an interrupted pull's next run resumes from the file (where the
// registry honours Range). Apart from src/store/layers.ts so that `run`'s bundle, which only reads
// the store, holds no decompressor or tar parser (scripts/build.ts).
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { withLock } from "../container/lock";
import { BunkerError } from "../errors";
import { log } from "../log";
import type { Compression } from "../unpack/compression";
import { removeTree } from "../userns/helper-process";
import { hasBlob, type LayerRecord, readLayer } from "./layers";
import { ensureStoreDirs, hexOf, staleTmpEntries, store, tmpPath, writeJsonAtomic } from "./layout";

/** Where a layer's bytes come from: a local file, or a (resumable) download. */
export type LayerSource =
  | { kind: "file"; path: string }
  | {
      kind: "fetch";
      /** starts the download at offset; returns the offset the server honoured (0 if it ignored Range) */
      fetch: (offset: number) => Promise<{ body: AsyncIterable<Uint8Array>; offset: number; size?: number }>;
    };

export interface LayerWant {
  diffId: string;
  blobDigest: string;
  /** a short name for messages and progress */
  label: string;
}

// An unpack can legitimately take minutes (a large layer on a slow disk); waiting pulls must not give up.
const LAYER_LOCK_TIMEOUT_MS = 60 * 60 * 1000;

/** How a stored blob is compressed, from its first bytes. */
export function blobCompression(digest: string): Compression {
  // Loaded when used: it brings zlib, which a pull of layers already stored has no use for.
  const { detectFileCompression } = require("../unpack/compression") as typeof import("../unpack/compression");
  return detectFileCompression(store.blob(digest));
}

/** Marks errors of the download itself, which keep the partial file for a resume. */
class DownloadError extends Error {}

// A connection that drops mid-blob is picked up again where it stopped, within the same pull, as
// docker does; the count starts over whenever bytes arrived, so only a download that makes no
// progress gives up (and keeps its partial file for the next pull).
const MAX_RESUMES = 5;
const RESUME_DELAY_MS = 250;

type Fetched = Awaited<ReturnType<Extract<LayerSource, { kind: "fetch" }>["fetch"]>>;

/** Drops the first n bytes of a body (a registry that ignored our Range sent them again). */
async function* skipBytes(body: AsyncIterable<Uint8Array>, n: number): AsyncGenerator<Uint8Array> {
  let left = n;
  for await (const chunk of body) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

/**
 * The download as one stream from byte 0: the partial file's bytes, then the network's (appended
 * to it). A body that breaks off is resumed with Range (or re-read and skipped where the registry
 * ignores Range), so the consumer sees one unbroken stream.
 */
async function* resumableStream(fetch: Extract<LayerSource, { kind: "fetch" }>["fetch"], partial: string): AsyncGenerator<Uint8Array> {
  const request = async (offset: number): Promise<Fetched> => {
    try {
      return await fetch(offset);
    } catch (e) {
      throw new DownloadError((e as Error).message, { cause: e });
    }
  };
  let have = existsSync(partial) ? statSync(partial).size : 0;
  let response = await request(have);
  if (response.offset !== have) have = 0; // the registry ignored Range: start over
  if (have > 0) log.debug(`resuming ${partial} at ${have} bytes`);
  // node:fs/promises is loaded for downloads only (a load reads files).
  const { open } = await import("node:fs/promises");
  const fh = await open(partial, have > 0 ? "a" : "w", 0o600);
  try {
    if (have > 0) yield* createReadStream(partial, { start: 0, end: have - 1 });
    let got = have;
    let resumes = 0;
    for (;;) {
      const it = response.body[Symbol.asyncIterator]();
      const before = got;
      let lost: string | undefined;
      for (;;) {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await it.next();
        } catch (e) {
          lost = (e as Error).message;
          break;
        }
        if (r.done) break;
        await fh.write(r.value);
        got += r.value.length;
        yield r.value;
      }
      // A connection that closes early may look like a normal end of the body.
      if (lost === undefined && (response.size === undefined || got >= response.size)) return;
      lost ??= `the connection closed after ${got} of ${response.size} bytes`;
      if (got > before) resumes = 0;
      if (++resumes > MAX_RESUMES) throw new DownloadError(lost);
      log.debug(`${partial}: ${lost}; resuming at ${got} bytes`);
      await Bun.sleep(RESUME_DELAY_MS * 2 ** (resumes - 1));
      response = await request(got);
      if (response.offset < got) response = { ...response, body: skipBytes(response.body, got - response.offset) };
    }
  } finally {
    await fh.close();
  }
}

// Layers stream in parallel, but not without bound: each stream costs a helper process, a
// decompressor and buffers (a few MB), and bunker's RSS must stay flat whatever the layer count.
// Docker downloads three layers at once by default; four keeps two cores busy while one waits.
const MAX_PARALLEL_LAYERS = 4;
let running = 0;
const queued: (() => void)[] = [];

async function inLayerSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_PARALLEL_LAYERS) await new Promise<void>((resolve) => queued.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    queued.shift()?.();
  }
}

/**
 * Makes sure a layer is unpacked in the store (and its blob kept), downloading or reading it only
 * when needed. Safe to call from two processes at once: the second waits and reuses the first's work.
 */
export async function ensureLayer(want: LayerWant, source: LayerSource, onProgress?: (bytes: number) => void): Promise<LayerRecord> {
  const done = readLayer(want.diffId);
  if (done) return done;
  return inLayerSlot(() => unpackIntoStore(want, source, onProgress));
}

async function unpackIntoStore(want: LayerWant, source: LayerSource, onProgress?: (bytes: number) => void): Promise<LayerRecord> {
  ensureStoreDirs();
  const hex = hexOf(want.diffId);
  return withLock(
    store.lock(`layer-${hex}`),
    async () => {
      const again = readLayer(want.diffId);
      if (again) return again;
      await removeStaleUnpacks(hex);
      const work = tmpPath(`unpack-${hex}`);
      mkdirSync(join(work, "diff"), { recursive: true, mode: 0o755 });
      const blobPath = store.blob(want.blobDigest);
      const partial = join(store.tmp(), `blob-${hexOf(want.blobDigest)}.partial`);
      const fromBlob = hasBlob(want.blobDigest);
      try {
        const stream =
          fromBlob ? createReadStream(blobPath) : source.kind === "file" ? createReadStream(source.path) : resumableStream(source.fetch, partial);
        // Loaded here, not at the top: tar, zlib and node:stream only once a layer is unpacked.
        const { unpackLayer } = await import("../unpack/layer");
        const result = await unpackLayer(stream, join(work, "diff"), { diffId: want.diffId, blobDigest: want.blobDigest, label: want.label }, onProgress);
        if (!fromBlob) {
          if (source.kind === "fetch") renameSync(partial, blobPath);
          else await copyInto(source.path, blobPath);
        }
        const record: LayerRecord = { diffId: want.diffId, blobDigest: want.blobDigest, blobSize: result.blobSize, size: result.size, createdAt: new Date().toISOString() };
        writeJsonAtomic(join(work, "layer.json"), record);
        // A directory without layer.json is what a killed removal leaves: not a layer, replace it.
        await removeTree(store.layer(want.diffId));
        renameSync(work, store.layer(want.diffId));
        return record;
      } catch (e) {
        await removeTree(work).catch((err) => log.debug(`cleanup of ${work} failed: ${err}`));
        if (!(e instanceof DownloadError)) rmSync(partial, { force: true }); // bad bytes: don't resume from them
        if (fromBlob && /digest mismatch/.test((e as Error).message)) rmSync(blobPath, { force: true });
        if (e instanceof DownloadError) throw new BunkerError(`${want.label}: download failed: ${e.message}; run the pull again to resume`);
        if (e instanceof BunkerError) throw e;
        throw new BunkerError(`${want.label}: ${(e as Error).message}`);
      }
    },
    LAYER_LOCK_TIMEOUT_MS,
  );
}

/** Copies a verified local file into blobs/ through a temp name. */
async function copyInto(from: string, to: string): Promise<void> {
  const tmp = `${to}.tmp-${process.pid}`;
  await Bun.write(tmp, Bun.file(from));
  renameSync(tmp, to);
}

/** Removes the work dirs of bunker processes that died (killed pulls and loads). */
export async function removeStaleWork(): Promise<void> {
  for (const name of staleTmpEntries()) {
    const path = join(store.tmp(), name);
    // Unpacked files may belong to subordinate ids; archive members and spooled input are ours.
    if (name.startsWith("unpack-")) await removeTree(path).catch((e) => log.debug(`cannot remove ${path}: ${e}`));
    else rmSync(path, { recursive: true, force: true });
  }
}

/** Unpacks a killed pull left behind (we hold the layer's lock, so nobody is using them). */
async function removeStaleUnpacks(hex: string): Promise<void> {
  for (const name of readdirSync(store.tmp())) if (name.startsWith(`unpack-${hex}-`)) await removeTree(join(store.tmp(), name));
}
