// bunker push: an image from the store to a registry, blobs first, then the manifest (pull.ts in reverse).
//
// API:
//   pushImage(source, dest?, { tlsVerify?, authFile?, quiet? }) → { reference, digest, size }
//     source is a name or id in the store; dest (default: source) is where it goes
//     ("127.0.0.1:5000/ns/name:tag"). The image's original manifest is pushed byte for byte when
//     the store kept it and every blob it names, so the digest stays the same; otherwise (images
//     loaded from docker-save archives) an OCI manifest is written from the stored layers.
//     Blobs the registry already has are skipped.
import { statSync } from "node:fs";
import { BunkerError } from "../errors";
import { MediaTypes, parseManifestDocument } from "./manifest";
import { familiarReference, formatReference, parseReference } from "./reference";
import { log } from "../log";
import { readImageRecord, resolveImageId } from "../store/images";
import { hasBlob, readBlob } from "../store/layers";
import { store } from "../store/layout";
import { RegistryClient } from "../registry/client";

export interface PushOptions {
  tlsVerify?: boolean;
  authFile?: string;
  quiet?: boolean;
}

export interface PushResult {
  /** "127.0.0.1:5000/ns/name:tag" */
  reference: string;
  /** the manifest's digest in the registry */
  digest: string;
  /** the manifest's size in bytes */
  size: number;
}

/** Docker's layer media types → OCI's, for a manifest bunker writes itself. */
const OCI_LAYER_TYPE: Record<string, string> = {
  "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.docker.image.rootfs.diff.tar.gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar.zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
};

interface Blob {
  digest: string;
  size: number;
  label: string;
}

function blobSize(digest: string, what: string): number {
  if (!hasBlob(digest)) throw new BunkerError(`cannot push: the store has no ${what} ${digest} (pull the image again)`);
  return statSync(store.blob(digest)).size;
}

/** The manifest to push and the blobs it names. */
function manifestFor(id: string): { bytes: Uint8Array; mediaType: string; blobs: Blob[] } {
  const rec = readImageRecord(id);
  if (!rec) throw new BunkerError(`no such image: ${id}`);
  const config: Blob = { digest: id, size: blobSize(id, "config"), label: "config" };
  const kept = rec.manifestDigest ? readBlob(rec.manifestDigest) : undefined;
  if (kept) {
    const doc = parseManifestDocument(kept, "");
    if (doc.kind === "manifest" && doc.config.digest === id && doc.layers.every((l) => hasBlob(l.digest))) {
      const layers = doc.layers.map((l) => ({ digest: l.digest, size: l.size, label: l.digest.slice(7, 19) }));
      return { bytes: kept, mediaType: doc.mediaType, blobs: [...layers, config] };
    }
  }
  const layers = rec.layers.map((l) => ({
    mediaType: OCI_LAYER_TYPE[l.mediaType] ?? l.mediaType,
    digest: l.blobDigest,
    size: blobSize(l.blobDigest, "layer blob"),
  }));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: id, size: config.size },
    layers,
  };
  return {
    bytes: new TextEncoder().encode(JSON.stringify(manifest)),
    mediaType: MediaTypes.ociManifest,
    blobs: [...layers.map((l) => ({ digest: l.digest, size: l.size, label: l.digest.slice(7, 19) })), config],
  };
}

export async function pushImage(source: string, dest: string | undefined, opts: PushOptions = {}): Promise<PushResult> {
  const id = resolveImageId(source);
  if (!id) throw new BunkerError(`no such image: ${source}`);
  if (dest === undefined && /^(sha256:)?[0-9a-f]{12,64}$/.test(source))
    throw new BunkerError(`push ${source} needs a destination name: bunker push ${source} HOST/NAME[:TAG]`);
  const target = parseReference(dest ?? source);
  if (target.digest) throw new BunkerError(`cannot push to a digest reference (${familiarReference(target)}): give a tag`);
  const tag = target.tag ?? "latest";
  const { bytes, mediaType, blobs } = manifestFor(id);
  const client = new RegistryClient(target.registry, { tlsVerify: opts.tlsVerify, authFile: opts.authFile });
  const repo = target.repository;
  const say = (msg: string) => {
    if (!opts.quiet) log.info(msg);
  };
  say(`Pushing ${formatReference(target)}`);
  for (const b of blobs) {
    if (await client.blobExists(repo, b.digest)) {
      say(`${b.label}: already exists`);
      continue;
    }
    const path = store.blob(b.digest);
    // A fresh stream per try, so that a retried upload sends the whole blob again.
    await client.uploadBlob(repo, b.digest, () => Bun.file(path).stream(), b.size);
    say(`${b.label}: pushed`);
  }
  const digest = await client.putManifest(repo, tag, bytes, mediaType);
  return { reference: formatReference({ ...target, tag }), digest, size: bytes.length };
}
