// Layer compression is detected from the bytes themselves, whatever the media type claims:
// registries and archives in the wild mislabel layers (uncompressed tars marked +gzip and so on).
import { closeSync, openSync, readSync } from "node:fs";
import type { Transform } from "node:stream";
import { PassThrough } from "node:stream";
import { createGunzip, createZstdDecompress } from "node:zlib";

export type Compression = "gzip" | "zstd" | "none";

/** How many leading bytes detectCompression needs. */
export const MAGIC_LENGTH = 4;

export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

/** A streaming decompressor for the detected format (a pass-through for plain tar). */
export function decompressor(kind: Compression): Transform {
  if (kind === "gzip") return createGunzip();
  if (kind === "zstd") return createZstdDecompress();
  return new PassThrough();
}

/** The compression of a file on disk, from its first bytes. */
export function detectFileCompression(path: string): Compression {
  const head = Buffer.alloc(MAGIC_LENGTH);
  const fd = openSync(path, "r");
  try {
    const n = readSync(fd, head, 0, MAGIC_LENGTH, 0);
    return detectCompression(head.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}
