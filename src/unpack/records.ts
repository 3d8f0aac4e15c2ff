// The record stream bunker-helper apply reads on stdin (native/helper/apply.c has the C side):
// a 64-byte little-endian header, then path, link target, xattrs and the file's data.

export const enum Op {
  Dir = 1,
  File = 2,
  Symlink = 3,
  Hardlink = 4,
  Whiteout = 5,
  Opaque = 6,
  Fifo = 7,
  Times = 8,
  End = 9,
}

/** The helper's step numbers (enum ST_* in apply.c), as words for error messages. */
export const STEP_NAMES: Record<number, string> = {
  1: "read",
  2: "create the directory",
  3: "open",
  4: "write",
  5: "chown",
  6: "chmod",
  7: "set the times of",
  8: "create the symlink",
  9: "create the hard link",
  10: "create the node",
  11: "set an xattr on",
  12: "replace",
  13: "chroot into",
  14: "create a user namespace for",
  15: "decode the record for",
};

export interface RecordFields {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  atime?: Date;
  link?: string;
  xattrs?: [string, Buffer][];
  dataLength?: number;
}

function seconds(d: Date | undefined): [bigint, number] {
  const ms = d ? d.getTime() : 0;
  const sec = Math.floor(ms / 1000);
  return [BigInt(sec), (ms - sec * 1000) * 1_000_000];
}

/** Encodes a record header with its path, link and xattrs; file data follows separately. */
export function encodeRecord(op: Op, path: string, f: RecordFields = {}): Buffer {
  const pathBytes = Buffer.from(path);
  const linkBytes = Buffer.from(f.link ?? "");
  const xattrParts: Buffer[] = [];
  for (const [name, value] of f.xattrs ?? []) {
    const n = Buffer.from(name);
    const lens = Buffer.alloc(8);
    lens.writeUInt32LE(n.length, 0);
    lens.writeUInt32LE(value.length, 4);
    xattrParts.push(lens, n, value);
  }
  const xattrBytes = Buffer.concat(xattrParts);
  const head = Buffer.alloc(64);
  const [mSec, mNsec] = seconds(f.mtime);
  const [aSec, aNsec] = seconds(f.atime ?? f.mtime);
  head.writeUInt32LE(op, 0);
  head.writeUInt32LE((f.mode ?? 0) & 0o7777, 4);
  head.writeUInt32LE(f.uid ?? 0, 8);
  head.writeUInt32LE(f.gid ?? 0, 12);
  head.writeBigInt64LE(mSec, 16);
  head.writeBigInt64LE(aSec, 24);
  head.writeUInt32LE(mNsec, 32);
  head.writeUInt32LE(aNsec, 36);
  head.writeUInt32LE(pathBytes.length, 40);
  head.writeUInt32LE(linkBytes.length, 44);
  head.writeUInt32LE(xattrBytes.length, 48);
  head.writeUInt32LE(0, 52);
  head.writeBigUInt64LE(BigInt(f.dataLength ?? 0), 56);
  return Buffer.concat([head, pathBytes, linkBytes, xattrBytes]);
}
