// Pull orchestration: reference → manifest (index → the platform's manifest) → config → every
// layer downloaded, decompressed and unpacked concurrently (src/store/ingest.ts) → image record.
// Also ensureImage(), the entry point `run`/`create` use to get an image by name.
import { BunkerError } from "../errors";
import { log } from "../log";
import { RegistryClient } from "../registry/client";
import { commitImage, findImage, type ImageRecord, type StoredImage, storedImage } from "../store/images";
import { blobCompression, ensureLayer, removeStaleWork } from "../store/ingest";
import { putBlob, readBlob, readLayer, verifyDigest } from "../store/layers";
import {
  formatPlatform,
  hostPlatform,
  type ImageManifest,
  layerMediaType,
  parseImageConfig,
  parseManifestDocument,
  parsePlatform,
  platformMatches,
  selectManifest,
} from "./manifest";
import { PullProgress } from "./pull-progress";
import { formatReference, parseReference } from "./reference";

export interface PullOptions {
  /** os/arch[/variant] to pick from a multi-platform image; the host's by default */
  platform?: string;
  tlsVerify?: boolean;
  /** a credentials file searched first (--authfile) */
  authFile?: string;
  quiet?: boolean;
}

export interface PullResult {
  id: string;
  /** what docker prints at the end: "docker.io/library/alpine:latest" or "…@sha256:…" */
  reference: string;
  image: StoredImage;
}

// A pull's hot work is native (fetch, sha256, zlib, the helper writing files): JavaScriptCore's
// optimizing JITs made it no faster, but their compilers and code were ~12 MB of the pull's peak
// RSS (of ~95 MB; measured with scripts/bench-pull.ts). 1000x their thresholds keeps the per-entry
// code in the interpreter and baseline tiers, for a little more CPU (docs/benchmarks.md, pull).
const PULL_JIT_POLICY = 1000;

// Configs are small; a registry sending megabytes of "config" is broken or hostile.
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

async function readSmallBlob(body: AsyncIterable<Uint8Array>, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_CONFIG_BYTES) throw new BunkerError(`the ${what} is larger than ${MAX_CONFIG_BYTES} bytes; refusing it`);
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts);
}

export async function pullImage(input: string, opts: PullOptions = {}): Promise<PullResult> {
  Bun.unsafe.setJITPolicy(PULL_JIT_POLICY);
  const ref = parseReference(input);
  const reference = formatReference(ref);
  const wanted = opts.platform ? parsePlatform(opts.platform) : undefined; // a bad one fails before any request
  const repo = ref.repository;
  const client = new RegistryClient(ref.registry, { tlsVerify: opts.tlsVerify, authFile: opts.authFile });
  await removeStaleWork();
  if (!opts.quiet) log.info(`Pulling ${reference}`);
  const top = await client.getManifest(repo, ref.digest ?? ref.tag ?? "latest");
  let doc = parseManifestDocument(top.bytes, top.mediaType);
  let manifest = top;
  if (doc.kind === "index") {
    const desc = selectManifest(doc, wanted ?? hostPlatform());
    manifest = await client.getManifest(repo, desc.digest);
    doc = parseManifestDocument(manifest.bytes, manifest.mediaType);
    if (doc.kind === "index") throw new BunkerError(`${reference}: the index entry ${desc.digest} is itself an index; nested indexes are not supported`);
  }
  const image: ImageManifest = doc;
  const configDigest = image.config.digest;
  const configBytes = readBlob(configDigest) ?? (await readSmallBlob((await client.getBlob(repo, configDigest)).body, `config of ${reference}`));
  verifyDigest(configDigest, configBytes, `config of ${reference}`);
  const config = parseImageConfig(configBytes);
  // A single-platform image asked for by --platform must be that platform (as docker checks).
  const actual = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
  if (wanted && !platformMatches(actual, wanted))
    throw new BunkerError(`${reference} is for ${formatPlatform(actual)}, not the ${formatPlatform(wanted)} that --platform asks for`);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== image.layers.length)
    throw new BunkerError(`${reference}: the manifest has ${image.layers.length} layers but the config lists ${diffIds.length}`);

  const progress = new PullProgress(Boolean(opts.quiet));
  let layers: ImageRecord["layers"];
  try {
    layers = await Promise.all(
      image.layers.map(async (desc, i) => {
        const label = desc.digest.slice(7, 19);
        const row = progress.add(label, desc.size);
        const existed = readLayer(diffIds[i]) !== undefined;
        const rec = await ensureLayer(
          { diffId: diffIds[i], blobDigest: desc.digest, label: `layer ${label}` },
          {
            kind: "fetch",
            fetch: async (offset) => {
              const r = await client.getBlob(repo, desc.digest, { offset });
              return { body: r.body, offset: r.offset, size: r.size ?? desc.size };
            },
          },
          (n) => progress.advance(row, n),
        );
        progress.finish(row, existed);
        // The layer may have come from another image's blob of the same content (a gzip copy of
        // this zstd one, say): the record names the blob that is really in the store.
        const mediaType = rec.blobDigest === desc.digest ? desc.mediaType : layerMediaType(blobCompression(rec.blobDigest), desc.mediaType);
        return { diffId: diffIds[i], blobDigest: rec.blobDigest, mediaType, size: rec.size };
      }),
    );
  } finally {
    progress.stop();
  }
  // Only now, with every layer in place: a failed pull leaves no config or manifest behind.
  putBlob(configDigest, configBytes);
  putBlob(manifest.digest, manifest.bytes);
  const id = configDigest;
  await commitImage(
    {
      id,
      manifestDigest: manifest.digest,
      repoDigests: [`${ref.registry}/${repo}@${top.digest}`],
      layers,
      size: layers.reduce((s, l) => s + l.size, 0),
      addedAt: new Date().toISOString(),
    },
    ref.digest ? [] : [reference],
  );
  if (!opts.quiet) log.info(`Digest: ${top.digest}`);
  return { id, reference, image: storedImage(id, input) };
}

export interface EnsureOptions extends PullOptions {
  pull: "missing" | "always" | "never";
}

/** The image for `run`/`create`: from the store, pulled when missing (or always, or never). */
export async function ensureImage(ref: string, opts: EnsureOptions): Promise<StoredImage> {
  if (opts.pull !== "always") {
    const found = await findImage(ref);
    if (found) return found;
    if (opts.pull === "never") throw new BunkerError(`no such image: ${ref}; pull it first or use --pull missing`);
  }
  return (await pullImage(ref, opts)).image;
}
