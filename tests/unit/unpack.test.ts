import { describe, expect, test } from "bun:test";
import { zstdCompressSync } from "node:zlib";
import { Parser } from "tar";
import { detectCompression } from "../../src/unpack/compression";
import { cleanEntryName, paxXattrs } from "../../src/unpack/layer";
import { encodeRecord, Op } from "../../src/unpack/records";
import { makeTar } from "../support/tar";

describe("compression is detected from the bytes", () => {
  const tar = makeTar([{ path: "a", data: "b" }]);
  test("gzip, zstd and plain tar", () => {
    expect(detectCompression(Bun.gzipSync(tar))).toBe("gzip");
    expect(detectCompression(zstdCompressSync(tar))).toBe("zstd");
    expect(detectCompression(tar)).toBe("none");
    expect(detectCompression(new Uint8Array(0))).toBe("none");
  });
});

describe("entry names", () => {
  test("are made relative and clean", () => {
    expect(cleanEntryName("./bin/sh", "l")).toBe("bin/sh");
    expect(cleanEntryName("bin//x/./y/", "l")).toBe("bin/x/y");
    expect(cleanEntryName("./", "l")).toBe(".");
  });
  test('refuse ".." components and absolute names, naming the entry', () => {
    expect(() => cleanEntryName("../x", "layer 1")).toThrow('layer 1: entry "../x" has a ".." component');
    expect(() => cleanEntryName("a/b/../../../x", "l")).toThrow('".." component');
    expect(() => cleanEntryName("/etc/passwd", "l")).toThrow('entry "/etc/passwd" has an absolute name');
  });
  test('allow names that merely contain dots', () => {
    expect(cleanEntryName("a/..b/c..", "l")).toBe("a/..b/c..");
  });
});

describe("PAX xattrs", () => {
  test("SCHILY.xattr records reach us through node-tar's meta event", async () => {
    const tar = makeTar([{ path: "f", data: "x", xattrs: { "user.a": "1", "user.long": "é".repeat(50) } }]);
    const seen: [string, string][] = [];
    await new Promise<void>((resolve, reject) => {
      const p = new Parser();
      p.on("meta", (body: string) => seen.push(...paxXattrs(body).map(([k, v]) => [k, v.toString()] as [string, string])));
      p.on("entry", (e) => e.resume());
      p.on("end", resolve);
      p.on("error", reject);
      p.end(Buffer.from(tar));
    });
    expect(seen).toEqual([
      ["user.a", "1"],
      ["user.long", "é".repeat(50)],
    ]);
  });
  test("other PAX keys are not xattrs", () => {
    expect(paxXattrs("13 path=abcd\n")).toEqual([]);
  });
});

describe("records for bunker-helper", () => {
  test("a 64-byte little-endian header, then path, link and xattrs", () => {
    const rec = encodeRecord(Op.Symlink, "a/b", {
      mode: 0o104755,
      uid: 7,
      gid: 8,
      mtime: new Date(1_700_000_000_500),
      link: "/t",
      xattrs: [["user.x", Buffer.from("v")]],
    });
    expect(rec.readUInt32LE(0)).toBe(Op.Symlink);
    expect(rec.readUInt32LE(4)).toBe(0o4755); // file-type bits are not the helper's business
    expect(rec.readUInt32LE(8)).toBe(7);
    expect(rec.readUInt32LE(12)).toBe(8);
    expect(rec.readBigInt64LE(16)).toBe(1_700_000_000n);
    expect(rec.readUInt32LE(32)).toBe(500_000_000);
    expect(rec.readUInt32LE(40)).toBe(3);
    expect(rec.readUInt32LE(44)).toBe(2);
    expect(rec.readUInt32LE(48)).toBe(8 + 6 + 1);
    expect(rec.readBigUInt64LE(56)).toBe(0n);
    expect(rec.subarray(64).toString()).toBe("a/b/t\x06\x00\x00\x00\x01\x00\x00\x00user.xv");
  });
});
