// bunker's unpacked trees against umoci's (`umoci unpack --rootless`, which records each file's
// image owner in the user.rootlesscontainers xattr), and the bad layer streams: truncated gzip and
// zstd, digests that don't match, configs that aren't JSON.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { dlopen, FFIType } from "bun:ffi";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zstdCompressSync } from "node:zlib";
import { hostIdMapping, toContainer } from "../../src/userns/idmap";
import { bunkerSandbox, imagesSrc } from "../support/bunker";
import { expectOneLineError } from "../support/errors";
import { gzipLayer, sha256, writeOciLayout } from "../support/oci";
import { makeTar } from "../support/tar";

// Unpacking real images as the test user takes seconds on a busy 2-core machine.
setDefaultTimeout(60_000);

const sb = bunkerSandbox();
const work = mkdtempSync(join(tmpdir(), "bunker-unpack-"));
afterAll(() => {
  sb.cleanup();
  // umoci's tree has only the user's files (rootless umoci never chowns).
  Bun.spawnSync(["chmod", "-R", "u+rwx", work]);
  Bun.spawnSync(["rm", "-rf", work]);
});

const libc = dlopen("libc.so.6", { lgetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 } });
function xattr(path: string, name: string): Buffer | undefined {
  const value = Buffer.alloc(1024);
  const n = Number(libc.symbols.lgetxattr(Buffer.from(`${path}\0`), Buffer.from(`${name}\0`), value, 1024));
  return n < 0 ? undefined : value.subarray(0, n);
}

/** The owner umoci recorded: a protobuf with varint fields 1 (uid) and 2 (gid); absent means 0:0. */
function umociOwner(path: string): string {
  const pb = xattr(path, "user.rootlesscontainers");
  const ids = [0, 0];
  let i = 0;
  while (pb && i < pb.length) {
    const field = pb[i++] >> 3;
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = pb[i++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    // NoopID (2^32-1) means "not changed": the unpacking user, who is 0 in the image.
    ids[field - 1] = v === 0xffffffff ? 0 : v;
  }
  return `${ids[0]}:${ids[1]}`;
}

const mapping = hostIdMapping();
function bunkerOwner(path: string): string {
  const st = lstatSync(path);
  return `${toContainer(mapping.uids, st.uid)}:${toContainer(mapping.gids, st.gid)}`;
}

/** path → "type mode owner [link]" for every entry of a tree. */
function describeTree(root: string, owner: (p: string) => string): Map<string, string> {
  const out = new Map<string, string>();
  // readdirSync's recursive mode follows symlinks (alpine's /var/run → /run): walk by hand.
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = lstatSync(p);
      const type = st.isDirectory() ? "dir" : st.isSymbolicLink() ? `link→${readlinkSync(p)}` : st.isFile() ? `file ${st.size}` : "other";
      const mode = st.isSymbolicLink() ? "" : (st.mode & 0o7777).toString(8);
      out.set(r, `${type} ${mode} ${owner(p)}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  return out;
}

async function compareWithUmoci(layout: string, tag: string) {
  const bundle = join(work, `umoci-${sha256(layout).slice(0, 8)}`);
  const u = Bun.spawnSync(["umoci", "unpack", "--rootless", "--image", `${layout}:${tag}`, bundle], { stderr: "pipe" });
  expect(u.exitCode).toBe(0);
  const r = await sb.run(["load", "-i", layout]);
  expect(r.code).toBe(0);
  const [img] = JSON.parse((await sb.run(["image", "inspect", r.stdout.trim().replace(/^Loaded image(?: ID)?: /, "")])).stdout);
  expect(img.RootFS.Layers).toHaveLength(1);
  const diff = join(sb.root, "layers", img.RootFS.Layers[0].slice(7), "diff");
  const ours = describeTree(diff, bunkerOwner);
  const theirs = describeTree(join(bundle, "rootfs"), umociOwner);
  expect(ours.size).toBeGreaterThan(10);
  expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
  for (const [path, desc] of theirs) expect(`${path}: ${ours.get(path)}`).toBe(`${path}: ${desc}`);
}

const umoci = Bun.which("umoci") !== null;
describe.if(umoci)("same tree as umoci unpack --rootless", () => {
  for (const flavour of ["musl", "glibc", "uclibc"])
    test(`busybox ${flavour}`, async () => {
      await compareWithUmoci(join(imagesSrc, `busybox-1.38.0-${flavour}-amd64-oci`), `busybox:1.38.0-${flavour}`);
    });

  test("alpine 3.20.3 minirootfs", async () => {
    const gz = readFileSync(join(imagesSrc, "alpine-3.20.3-x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz"));
    const layout = join(work, "alpine");
    writeOciLayout(layout, { layers: [{ blob: gz, tar: Bun.gunzipSync(gz) }], refName: "localhost/alpine:3.20.3", config: { Cmd: ["/bin/sh"] } });
    await compareWithUmoci(layout, "localhost/alpine:3.20.3");
  });
});

describe("bad layer streams fail with one line and store nothing", () => {
  const tar = makeTar([
    { path: "big", data: "x".repeat(200_000) + Math.random().toString() },
    { path: "small", data: "y" },
  ]);

  async function expectBad(name: string, layer: { blob: Uint8Array; tar: Uint8Array; mediaType?: string }, words: string, mutate?: (dir: string) => void) {
    const dir = join(work, name);
    writeOciLayout(dir, { layers: [layer], refName: `localhost/bad:${name}` });
    mutate?.(dir);
    const r = await sb.run(["load", "-i", dir]);
    expectOneLineError(r, words);
    const images = await sb.run(["images", "--format", "json"]);
    expect(JSON.parse(images.stdout).some((i: { Tag: string }) => i.Tag === name)).toBe(false);
    const tmp = join(sb.root, "tmp");
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
  }

  test("truncated gzip", async () => {
    const gz = Bun.gzipSync(tar);
    await expectBad("trunc-gzip", { blob: gz.subarray(0, gz.length >> 1), tar }, "truncated");
  });

  test("truncated zstd", async () => {
    const zst = zstdCompressSync(tar);
    await expectBad("trunc-zstd", { blob: zst.subarray(0, zst.length >> 1), tar, mediaType: "application/vnd.oci.image.layer.v1.tar+zstd" }, "truncated");
  });

  test("a whole zstd layer unpacks (compression from the bytes, not the media type)", async () => {
    const dir = join(work, "zstd-ok");
    writeOciLayout(dir, { layers: [{ blob: zstdCompressSync(tar), tar, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" }], refName: "localhost/good:zstd" });
    const r = await sb.run(["load", "-i", dir]);
    expect(r.code).toBe(0);
  });

  test("gzip, zstd and plain tar are each known by their bytes whatever the media type claims", async () => {
    const part = (name: string) => makeTar([{ path: `from-${name}`, data: name }]);
    const dir = join(work, "mislabelled");
    writeOciLayout(dir, {
      layers: [
        { blob: Bun.gzipSync(part("gzip")), tar: part("gzip"), mediaType: "application/vnd.oci.image.layer.v1.tar" },
        { blob: part("plain"), tar: part("plain"), mediaType: "application/vnd.oci.image.layer.v1.tar+zstd" },
        { blob: zstdCompressSync(part("zstd")), tar: part("zstd"), mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip" },
      ],
      refName: "localhost/mislabelled:1",
    });
    const r = await sb.run(["load", "-i", dir]);
    expect(r.stderr).toBe("");
    const [img] = JSON.parse((await sb.run(["image", "inspect", "localhost/mislabelled:1"])).stdout);
    const files = (img.RootFS.Layers as string[]).map((l) => readdirSync(join(sb.root, "layers", l.slice(7), "diff")));
    expect(files).toEqual([["from-gzip"], ["from-plain"], ["from-zstd"]]);
  });

  test("a layer whose content doesn't match the config's diff_id", async () => {
    const claimed = makeTar([{ path: "claimed", data: "c" }]);
    const other = makeTar([{ path: "other", data: "z" }]);
    await expectBad("diffid", { blob: Bun.gzipSync(other), tar: claimed }, "uncompressed digest mismatch");
  });

  test("a config that is not JSON", async () => {
    await expectBad("config", gzipLayer(tar), "not JSON", (dir) => {
      const m = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).manifests[0].digest.slice(7);
      const cfg = JSON.parse(readFileSync(join(dir, "blobs/sha256", m), "utf8")).config.digest.slice(7);
      writeFileSync(join(dir, "blobs/sha256", cfg), "{not json");
    });
  });
});
