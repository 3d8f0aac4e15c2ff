import { describe, expect, test } from "bun:test";
import { zstdCompressSync } from "node:zlib";
import { Parser } from "tar";
import { detectCompression } from "../../src/unpack/compression";
import { cleanEntryName } from "../../src/unpack/layer";
import { paxRecords, XattrScanner } from "../../src/unpack/xattrs";
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

describe("PAX xattrs from the raw tar bytes", () => {
  const cap = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // not UTF-8
  const tar = makeTar([
    { path: "plain", data: "x" },
    { path: "f", data: "x", xattrs: { "user.a": "1", "user.long": "é".repeat(50) } },
    { path: "bin/ping", data: "y", xattrs: { "security.capability": cap } },
    { path: `${"d".repeat(120)}/long-name`, data: "z", xattrs: { "user.z": "long" } },
  ]);

  function scan(chunkSize: number) {
    const s = new XattrScanner();
    for (let i = 0; i < tar.length; i += chunkSize) s.write(Buffer.from(tar.subarray(i, i + chunkSize)));
    return s;
  }

  test("each entry gets its own, binary values intact, whatever the chunking", () => {
    for (const size of [1, 7, 512, 100_000]) {
      const s = scan(size);
      expect(s.take("plain")).toEqual([]);
      expect(s.take("f").map(([k, v]) => [k, v.toString()])).toEqual([
        ["user.a", "1"],
        ["user.long", "é".repeat(50)],
      ]);
      expect(s.take("bin/ping")).toEqual([["security.capability", cap]]);
      expect(s.take(`${"d".repeat(120)}/long-name`).map(([k, v]) => [k, v.toString()])).toEqual([["user.z", "long"]]);
      expect(s.take("f")).toEqual([]); // taken once
    }
  });

  test("names match what node-tar's Parser calls the entries", async () => {
    const s = scan(4096);
    const names: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const p = new Parser();
      p.on("entry", (e) => {
        if (s.take(e.path).length) names.push(e.path);
        e.resume();
      });
      p.on("end", resolve);
      p.on("error", reject);
      p.end(Buffer.from(tar));
    });
    expect(names).toEqual(["f", "bin/ping", `${"d".repeat(120)}/long-name`]);
  });

  test("PAX records are read as bytes", () => {
    expect(paxRecords(Buffer.from("13 path=abcd\n")).get("path")?.toString()).toBe("abcd");
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
