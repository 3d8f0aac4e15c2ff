// Writes OCI image layouts from parts, for fixtures the shared images don't cover: the Alpine
// minirootfs and hello-world as images, multi-layer images, and crafted hostile layers.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function sha256(data: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

export interface LayoutLayer {
  /** the blob as stored (compressed or not) */
  blob: Uint8Array;
  /** the uncompressed tar, for diff_ids */
  tar: Uint8Array;
  mediaType?: string;
}

export interface LayoutOptions {
  layers: LayoutLayer[];
  config?: Record<string, unknown>;
  architecture?: string;
  os?: string;
  refName?: string;
}

/** Writes an OCI layout into dir and returns the manifest's digest. */
export function writeOciLayout(dir: string, opts: LayoutOptions): string {
  const blobs = join(dir, "blobs/sha256");
  mkdirSync(blobs, { recursive: true });
  const put = (data: Uint8Array | string) => {
    const hex = sha256(data);
    writeFileSync(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: typeof data === "string" ? Buffer.byteLength(data) : data.length };
  };
  const config = JSON.stringify({
    architecture: opts.architecture ?? "amd64",
    os: opts.os ?? "linux",
    created: "2024-01-01T00:00:00Z",
    config: opts.config ?? { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] },
    rootfs: { type: "layers", diff_ids: opts.layers.map((l) => `sha256:${sha256(l.tar)}`) },
    history: opts.layers.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "bunker test fixture" })),
  });
  const cfg = put(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...cfg },
    layers: opts.layers.map((l) => ({ mediaType: l.mediaType ?? "application/vnd.oci.image.layer.v1.tar+gzip", ...put(l.blob) })),
  });
  const man = put(manifest);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...man,
          annotations: { "org.opencontainers.image.ref.name": opts.refName ?? "latest" },
          platform: { architecture: opts.architecture ?? "amd64", os: opts.os ?? "linux" },
        },
      ],
    }),
  );
  return man.digest;
}

/** A gzip-compressed layer from a tar. */
export function gzipLayer(tar: Uint8Array): LayoutLayer {
  return { blob: Bun.gzipSync(tar as Uint8Array<ArrayBuffer>), tar };
}
