// load / images / image inspect / tag / rmi / save with the real images in ../shared/images-src,
// through dist/bunker as the unprivileged user.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { dlopen, FFIType } from "bun:ffi";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunkerSandbox, imagesSrc } from "../support/bunker";
import { hostIdMapping, toContainer } from "../../src/userns/idmap";
import { expectOneLineError } from "../support/errors";
import { gzipLayer, sha256, writeOciLayout } from "../support/oci";
import { makeTar } from "../support/tar";

// Unpacking real images as the test user takes seconds on a busy 2-core machine.
setDefaultTimeout(60_000);

const MUSL = join(imagesSrc, "busybox-1.38.0-musl-amd64-oci");
const GLIBC = join(imagesSrc, "busybox-1.38.0-glibc-amd64-oci");
const WHITEOUT = join(imagesSrc, "ggcr-testdata/whiteout_image.tar");
const V25 = join(imagesSrc, "ggcr-testdata/hello-world-v25.tar");

function getXattr(path: string, name: string, raw = false): string | Buffer | undefined {
  const libc = dlopen("libc.so.6", { lgetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 } });
  const value = Buffer.alloc(256);
  const n = Number(libc.symbols.lgetxattr(Buffer.from(`${path}\0`), Buffer.from(`${name}\0`), value, 256));
  libc.close();
  if (n < 0) return undefined;
  return raw ? value.subarray(0, n) : value.subarray(0, n).toString();
}

const sb = bunkerSandbox();
afterAll(() => {
  sb.cleanup();
  rmSync(work, { recursive: true, force: true });
});
const work = mkdtempSync(join(tmpdir(), "bunker-load-"));

async function ok(args: string[]) {
  const r = await sb.run(args);
  if (r.code !== 0) throw new Error(`bunker ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r;
}

function layerDirs(): string[] {
  const dir = join(sb.root, "layers");
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe("load", () => {
  test("an OCI layout directory, named by its annotation", async () => {
    const r = await ok(["load", "-i", MUSL]);
    expect(r.stdout.trim()).toBe("Loaded image: busybox:1.38.0-musl");
    const ls = await ok(["images"]);
    expect(ls.stdout).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
    expect(ls.stdout).toMatch(/\nbusybox\s+1\.38\.0-musl\s+654fc8fd836e\s+/);
  });

  test("the unpacked layer has the image's files, hard links and owners", async () => {
    const [hex] = layerDirs();
    const diff = join(sb.root, "layers", hex, "diff");
    const layer = JSON.parse(readFileSync(join(sb.root, "layers", hex, "layer.json"), "utf8"));
    expect(layer.diffId).toBe(`sha256:${hex}`);
    const sh = statSync(join(diff, "bin/sh"));
    expect(sh.isFile()).toBe(true);
    expect(sh.nlink).toBeGreaterThan(300); // busybox's applets are hard links to one file
    expect(statSync(join(diff, "bin/ls")).ino).toBe(sh.ino);
    expect(sh.uid).toBe(process.getuid!()); // image uid 0 → the user
    expect(statSync(join(diff, "tmp")).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(diff, "root")).mode & 0o777).toBe(0o700);
    // /home belongs to nobody (65534) in busybox: a subordinate id, never the user.
    expect(statSync(join(diff, "home")).uid).not.toBe(process.getuid!());
  });

  test("loading the same image again reuses its layer", async () => {
    const before = layerDirs();
    await ok(["load", "-i", MUSL]);
    expect(layerDirs()).toEqual(before);
  });

  test("a legacy docker-save archive with whiteouts", async () => {
    const r = await ok(["load", "-i", WHITEOUT]);
    expect(r.stdout.trim()).toBe("Loaded image: bazel/pkg/v1/mutate:whiteout_image");
    const inspect = JSON.parse((await ok(["image", "inspect", "bazel/pkg/v1/mutate:whiteout_image"])).stdout);
    expect(inspect).toHaveLength(1);
    expect(inspect[0].RootFS.Layers).toHaveLength(3);
    // The second layer whites out foo.txt: overlayfs' 0/0 character device.
    const second = inspect[0].RootFS.Layers[1].slice(7);
    const diff = join(sb.root, "layers", second, "diff");
    const wh = readdirSync(diff, { recursive: true }).map(String);
    const node = wh.find((n) => n.endsWith("foo.txt"));
    expect(node).toBeDefined();
    const st = lstatSync(join(diff, node!));
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(0);
  });

  test("a docker v25 archive (manifest.json beside an OCI layout), untagged", async () => {
    const r = await ok(["load", "-i", V25]);
    expect(r.stdout.trim()).toBe("Loaded image ID: sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44");
    const inspect = JSON.parse((await ok(["image", "inspect", "ee301c921b8a"])).stdout);
    expect(inspect[0].Architecture).toBe("arm64");
    const ls = await ok(["images"]);
    expect(ls.stdout).toMatch(/\n<none>\s+<none>\s+ee301c921b8a\s+/);
  });

  test("an old docker archive whose layer.tar is a symlink to another member", async () => {
    const dir = join(work, "old-archive");
    const layer = makeTar([{ path: "etc/motd", data: "same layer twice" }]);
    const diff = sha256(layer);
    const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${diff}`, `sha256:${diff}`] } });
    mkdirSync(join(dir, "aaa"), { recursive: true });
    mkdirSync(join(dir, "bbb"), { recursive: true });
    writeFileSync(join(dir, "aaa/layer.tar"), layer);
    symlinkSync("../aaa/layer.tar", join(dir, "bbb/layer.tar"));
    writeFileSync(join(dir, "cfg.json"), config);
    writeFileSync(join(dir, "manifest.json"), JSON.stringify([{ Config: "cfg.json", RepoTags: ["old:1"], Layers: ["aaa/layer.tar", "bbb/layer.tar"] }]));
    const tarPath = join(work, "old-archive.tar");
    expect(Bun.spawnSync(["tar", "-C", dir, "-cf", tarPath, "."]).exitCode).toBe(0);
    const r = await sb.run(["load", "-i", tarPath]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("Loaded image: old:1");
  });

  test("an OCI layout as a tar from stdin", async () => {
    const tarPath = join(work, "glibc.tar");
    const t = Bun.spawnSync(["tar", "-C", GLIBC, "-cf", tarPath, "."]);
    expect(t.exitCode).toBe(0);
    const r = await sb.run(["load"], { stdin: readFileSync(tarPath) });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("Loaded image: busybox:1.38.0-glibc");
  });
});

describe("bad archives: one line, exit 125, nothing stored", () => {
  test("not an archive, missing, empty dir, truncated, a member missing, a non-JSON manifest", async () => {
    const bad = join(work, "bad");
    mkdirSync(join(bad, "empty"), { recursive: true });
    writeFileSync(join(bad, "random.tar"), crypto.getRandomValues(new Uint8Array(3000)));
    const whole = readFileSync(WHITEOUT);
    writeFileSync(join(bad, "truncated.tar"), whole.subarray(0, whole.length >> 1));
    mkdirSync(join(bad, "missing-layer"));
    writeFileSync(join(bad, "missing-layer/manifest.json"), JSON.stringify([{ Config: "c.json", RepoTags: ["gone:1"], Layers: ["nope/layer.tar"] }]));
    writeFileSync(join(bad, "missing-layer/c.json"), JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${"1".repeat(64)}`] } }));
    mkdirSync(join(bad, "not-json"));
    writeFileSync(join(bad, "not-json/manifest.json"), "<html>");
    const other = bunkerSandbox();
    try {
      for (const [input, words] of [
        ["/etc/passwd", "is not a readable image archive"],
        [join(bad, "nonexistent.tar"), "no such file or directory"],
        [join(bad, "empty"), "is neither a docker-save archive (manifest.json) nor an OCI layout (index.json)"],
        [join(bad, "random.tar"), "is not a readable image archive"],
        [join(bad, "truncated.tar"), "Truncated input"],
        [join(bad, "missing-layer"), "nope/layer.tar"],
        [join(bad, "not-json"), "the archive's manifest.json is not JSON"],
      ]) {
        const r = await other.run(["load", "-i", input]);
        expectOneLineError(r, words);
      }
      const list = (dir: string) => (existsSync(join(other.root, dir)) ? readdirSync(join(other.root, dir)) : []);
      expect({ images: list("images"), layers: list("layers"), tmp: list("tmp") }).toEqual({ images: [], layers: [], tmp: [] });
    } finally {
      other.cleanup();
    }
  });
});

describe("save from a damaged store", () => {
  test("a cut layer blob: one line naming the layer, no archive written, an old file kept", async () => {
    const other = bunkerSandbox();
    try {
      await other.run(["load", "-i", MUSL]);
      const blob = join(other.root, "blobs/sha256/5c3b447848a98e48dce106cb3e6acbd4fb6f9b26ee778798137349ce01f4d3c1");
      writeFileSync(blob, readFileSync(blob).subarray(0, 1000));
      const out = join(work, "damaged.tar");
      writeFileSync(out, "an older archive");
      const r = await other.run(["save", "-o", out, "busybox:1.38.0-musl"]);
      expectOneLineError(r, "layer 0f8918d0fe4f in the store is damaged (unexpected end of file); remove the image with bunker rmi");
      expect(readFileSync(out, "utf8")).toBe("an older archive");
      expect(readdirSync(work).filter((n) => n.startsWith("damaged.tar."))).toEqual([]);
    } finally {
      other.cleanup();
    }
  });
});

describe("tag, inspect, rmi", () => {
  test("tag adds a name; images -q lists ids once", async () => {
    await ok(["tag", "busybox:1.38.0-musl", "localhost:5000/mine/bb:v1"]);
    const ls = await ok(["images"]);
    expect(ls.stdout).toMatch(/\nlocalhost:5000\/mine\/bb\s+v1\s+654fc8fd836e/);
    const q = (await ok(["images", "-q"])).stdout.trim().split("\n");
    expect(new Set(q).size).toBe(q.length);
    expect(q).toContain("654fc8fd836e");
  });

  test("tag by id prefix; bad tags, missing images: one line, exit 125, nothing changed", async () => {
    await ok(["tag", "654fc8", "short:1"]);
    expect((await ok(["images", "short"])).stdout).toMatch(/\nshort\s+1\s+654fc8fd836e/);
    await ok(["rmi", "short:1"]);
    const listing = async () => (await ok(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])).stdout;
    const before = await listing();
    expectOneLineError(await sb.run(["tag", "nosuch:1", "x:1"]), "no such image: nosuch:1");
    expectOneLineError(await sb.run(["tag", "busybox:1.38.0-musl", "Bad!"]), 'invalid reference format "Bad!"');
    expectOneLineError(await sb.run(["tag", "busybox:1.38.0-musl", `x@sha256:${"a".repeat(64)}`]), "cannot tag with a digest");
    expectOneLineError(await sb.run(["rmi", "nosuch"]), "no such image: nosuch");
    // docker: what was found on stdout ([] here), one error line per missing name, exit 1
    expect(await sb.run(["image", "inspect", "nosuch"])).toEqual({ code: 1, stdout: "[]\n", stderr: "Error: No such image: nosuch\n" });
    const some = await sb.run(["image", "inspect", "-f", "{{.Id}}", "nosuch", "busybox:1.38.0-musl", "other"]);
    expect(some).toEqual({ code: 1, stdout: `sha256:${"654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9"}\n`, stderr: "Error: No such image: nosuch\nError: No such image: other\n" });
    expect(await listing()).toBe(before);
  });

  test("image inspect is docker-shaped JSON", async () => {
    const [img] = JSON.parse((await ok(["image", "inspect", "busybox:1.38.0-musl"])).stdout);
    expect(img.Id).toBe("sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9");
    expect(img.RepoTags.sort()).toEqual(["busybox:1.38.0-musl", "localhost:5000/mine/bb:v1"]);
    expect(img.Os).toBe("linux");
    expect(img.Architecture).toBe("amd64");
    expect(img.Config.Cmd).toEqual(["sh"]);
    expect(img.RootFS).toEqual({ Type: "layers", Layers: ["sha256:0f8918d0fe4f272ce8acece89916a9ba0b240584d3c1dd1943f343f69b0d0ffb"] });
    expect(img.Size).toBe(1761280);
  });

  test("images REPOSITORY[:TAG] filters", async () => {
    const all = (await ok(["images", "busybox"])).stdout;
    expect(all).toContain("1.38.0-musl");
    expect(all).not.toContain("localhost:5000/mine/bb");
    expect((await ok(["images", "busybox:nope"])).stdout.trim().split("\n")).toHaveLength(1); // just the header
  });

  test("images --filter: dangling, reference globs, before/since, label; repeated keys OR, different keys AND", async () => {
    const labeled = join(work, "labeled");
    writeOciLayout(labeled, {
      layers: [gzipLayer(makeTar([{ path: "etc/team", data: "images" }]))],
      config: { Cmd: ["sh"], Labels: { "com.example.team": "images" } },
      refName: "labeled:1",
    }); // created 2024-01-01: after the v25 hello-world (2023) and the whiteout image (1970), before busybox (2026)
    await ok(["load", "-i", labeled]);
    const names = async (...filters: string[]) =>
      (await ok(["images", "--format", "{{.Repository}}:{{.Tag}}", ...filters.flatMap((f) => ["--filter", f])])).stdout.trim().split("\n").filter(Boolean).sort();
    expect((await ok(["images", "-q", "--no-trunc", "-f", "dangling=true"])).stdout).toBe("sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44\n");
    const tagged = await names("dangling=false");
    expect(tagged).toContain("busybox:1.38.0-musl");
    expect(tagged.filter((n) => n.startsWith("<none>"))).toEqual([]);
    expect(await names("reference=busy*")).toEqual(["busybox:1.38.0-glibc", "busybox:1.38.0-musl"]);
    expect(await names("reference=*:*musl")).toEqual(["busybox:1.38.0-musl"]);
    expect(await names("reference=localhost:5000/*/bb")).toEqual(["localhost:5000/mine/bb:v1"]);
    expect(await names("reference=old", "reference=labeled")).toEqual(["labeled:1", "old:1"]);
    expect(await names("label=com.example.team")).toEqual(["labeled:1"]);
    expect(await names("label=com.example.team=images")).toEqual(["labeled:1"]);
    expect(await names("label=com.example.team=other")).toEqual([]);
    expect(await names("label=com.example.team", "reference=old")).toEqual([]);
    expect(await names("before=labeled:1")).toEqual(["<none>:<none>", "bazel/pkg/v1/mutate:whiteout_image"]);
    const since = await names("since=labeled:1");
    expect(since).toContain("busybox:1.38.0-musl");
    expect(since).not.toContain("labeled:1");
    expect(since).not.toContain("bazel/pkg/v1/mutate:whiteout_image");
    expectOneLineError(await sb.run(["images", "-f", "nope=1"]), "invalid filter 'nope=1'");
    expectOneLineError(await sb.run(["images", "-f", "dangling=maybe"]), "dangling is true or false");
    expectOneLineError(await sb.run(["images", "-f", "before=nosuch:1"]), "no such image: nosuch:1");
    await ok(["rmi", "labeled:1"]);
  });

  test("images and image inspect take docker's Go templates", async () => {
    const lines = (await ok(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])).stdout.trim().split("\n");
    expect(lines).toContain("busybox:1.38.0-musl 654fc8fd836e");
    const id = (await ok(["image", "inspect", "-f", "{{.Id}} {{.Os}}", "busybox:1.38.0-musl"])).stdout;
    expect(id).toBe("sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9 linux\n");
  });

  test("images --format json is data", async () => {
    const rows = JSON.parse((await ok(["images", "--format", "json"])).stdout);
    expect(rows.some((r: { Repository: string; Tag: string }) => r.Repository === "busybox" && r.Tag === "1.38.0-musl")).toBe(true);
  });

  test("rmi of one of two tags only untags", async () => {
    const r = await ok(["rmi", "localhost:5000/mine/bb:v1"]);
    expect(r.stdout.trim()).toBe("Untagged: localhost:5000/mine/bb:v1");
    expect((await ok(["images", "-q"])).stdout).toContain("654fc8fd836e");
  });

  test("rmi refuses an image a container uses; -f untags it but keeps it while the container needs its layers", async () => {
    const run = await sb.run(["run", "--name", "rmi-user", "--network", "none", "busybox:1.38.0-musl", "true"]);
    expect(run.code).toBe(0);
    const id = (await ok(["inspect", "-f", "{{.Id}}", "rmi-user"])).stdout.trim();
    const refused = await sb.run(["rmi", "busybox:1.38.0-musl"]);
    expectOneLineError(refused, `container ${id.slice(0, 12)} uses it`);
    const forced = await ok(["rmi", "-f", "busybox:1.38.0-musl"]);
    expect(forced.stdout).toBe("Untagged: busybox:1.38.0-musl\n");
    expect((await ok(["images"])).stdout).toMatch(/\n<none>\s+<none>\s+654fc8fd836e/);
    expect(existsSync(join(sb.root, "layers/0f8918d0fe4f272ce8acece89916a9ba0b240584d3c1dd1943f343f69b0d0ffb/diff/bin/busybox"))).toBe(true);
    expect(JSON.parse((await ok(["image", "inspect", "654fc8fd836e"])).stdout)[0].RepoTags).toEqual([]);
    await ok(["rm", "rmi-user"]);
    await ok(["tag", "654fc8fd836e", "busybox:1.38.0-musl"]);
  });

  test("save writes an archive skopeo reads, and load brings it back in a fresh store", async () => {
    const out = join(work, "saved.tar");
    await ok(["save", "-o", out, "busybox:1.38.0-musl"]);
    const sk = Bun.spawnSync(["skopeo", "inspect", `docker-archive:${out}`]);
    expect(sk.exitCode).toBe(0);
    const info = JSON.parse(sk.stdout.toString());
    expect(info.Layers).toHaveLength(1);
    // skopeo copies every blob out, checking each digest: the config keeps the image's id.
    const copied = join(work, "saved-dir");
    const cp = Bun.spawnSync(["skopeo", "--insecure-policy", "copy", "--quiet", `docker-archive:${out}`, `dir:${copied}`], { stderr: "pipe" });
    expect(cp.stderr.toString()).toBe("");
    const manifest = JSON.parse(readFileSync(join(copied, "manifest.json"), "utf8"));
    expect(manifest.config.digest).toBe("sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9");
    const other = bunkerSandbox();
    try {
      const r = await other.run(["load", "-i", out]);
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("Loaded image: busybox:1.38.0-musl");
      const [img] = JSON.parse((await other.run(["image", "inspect", "busybox:1.38.0-musl"])).stdout);
      expect(img.Id).toBe("sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9");
    } finally {
      other.cleanup();
    }
  });

  test.skipIf(!Bun.which("podman"))("podman loads what save writes", async () => {
    const out = join(work, "for-podman.tar");
    await ok(["save", "-o", out, "busybox:1.38.0-musl"]);
    const proot = join(work, "podman");
    const p = Bun.spawnSync(["podman", "--root", proot, "--runroot", join(work, "podman-run"), "load", "-i", out], { stderr: "pipe" });
    try {
      expect(p.stderr.toString()).not.toContain("Error");
      expect(p.exitCode).toBe(0);
      expect(p.stdout.toString()).toContain("busybox:1.38.0-musl");
      const id = Bun.spawnSync(["podman", "--root", proot, "--runroot", join(work, "podman-run"), "image", "inspect", "--format", "{{.Id}}", "busybox:1.38.0-musl"]);
      expect(id.stdout.toString().trim()).toBe("654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9");
    } finally {
      Bun.spawnSync(["podman", "unshare", "rm", "-rf", proot]);
    }
  }, 60_000);

  test("rmi removes the image and frees its layer, keeping shared ones", async () => {
    const before = layerDirs().length;
    const r = await ok(["rmi", "busybox:1.38.0-musl"]);
    expect(r.stdout).toContain("Untagged: busybox:1.38.0-musl");
    expect(r.stdout).toContain("Deleted: sha256:654fc8fd836e");
    expect(layerDirs()).toHaveLength(before - 1);
    expect(existsSync(join(sb.root, "blobs/sha256/654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9"))).toBe(false);
    const missing = await sb.run(["rmi", "busybox:1.38.0-musl"]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain("no such image");
  });
});

describe("layer details", () => {
  test("symlinks, modes, owners, times and xattrs come out as written", async () => {
    const tar = makeTar([
      { path: "etc/", type: "Directory", mode: 0o755, mtime: new Date("2020-02-02T00:00:00Z") },
      { path: "etc/shadow", data: "secret", mode: 0o640, uid: 0, gid: 42 },
      { path: "usr/bin/su", data: "x", mode: 0o4755 },
      { path: "etc/link", type: "SymbolicLink", linkpath: "/etc/shadow", mtime: new Date("2021-03-03T00:00:00Z") },
      { path: "etc/hard", type: "Link", linkpath: "etc/shadow" },
      { path: "data.txt", data: "hi", xattrs: { "user.note": "kept" }, mtime: new Date("2022-04-04T00:00:00Z"), uid: 1000, gid: 1000 },
      { path: "fifo", type: "FIFO", mode: 0o600 },
      { path: "dev/null", type: "CharacterDevice", mode: 0o666 },
      { path: "dev/zero", type: "CharacterDevice", mode: 0o666 },
      { path: "bin/ping", data: "p", mode: 0o755, xattrs: { "security.capability": new Uint8Array([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) } },
      { path: "opq/", type: "Directory", uid: 1, gid: 1 },
      { path: "opq/.wh..wh..opq", data: "" },
      { path: ".wh.gone", data: "" },
    ]);
    const dir = join(work, "details");
    writeOciLayout(dir, { layers: [gzipLayer(tar)], refName: "localhost/details:1" });
    const r = await sb.run(["load", "-i", dir]);
    expect(r.code).toBe(0);
    // Two device nodes, one warning line; the unpack goes on.
    expect(r.stderr.split("\n").filter((l) => l.includes("device nodes"))).toHaveLength(1);
    const [img] = JSON.parse((await ok(["image", "inspect", "localhost/details:1"])).stdout);
    const diff = join(sb.root, "layers", img.RootFS.Layers[0].slice(7), "diff");
    expect(statSync(join(diff, "etc")).mtime.toISOString()).toBe("2020-02-02T00:00:00.000Z");
    expect(statSync(join(diff, "etc/shadow")).mode & 0o7777).toBe(0o640);
    expect(statSync(join(diff, "usr/bin/su")).mode & 0o7777).toBe(0o4755);
    expect(readlinkSync(join(diff, "etc/link"))).toBe("/etc/shadow");
    expect(lstatSync(join(diff, "fifo")).isFIFO()).toBe(true);
    expect(existsSync(join(diff, "dev/null"))).toBe(false);
    expect(existsSync(join(diff, "dev/zero"))).toBe(false);
    expect(lstatSync(join(diff, "etc/link")).mtime.toISOString()).toBe("2021-03-03T00:00:00.000Z");
    expect(statSync(join(diff, "data.txt")).mtime.toISOString()).toBe("2022-04-04T00:00:00.000Z");
    expect(statSync(join(diff, "etc/hard")).ino).toBe(statSync(join(diff, "etc/shadow")).ino);
    // Owners as the container sees them: image 0 is the user, other ids map into the subordinate range.
    const ids = hostIdMapping();
    const owner = (p: string) => {
      const st = lstatSync(join(diff, p));
      return `${toContainer(ids.uids, st.uid)}:${toContainer(ids.gids, st.gid)}`;
    };
    expect(lstatSync(join(diff, "usr/bin/su")).uid).toBe(process.getuid!());
    if (ids.kind !== "single") {
      expect(owner("etc/shadow")).toBe("0:42");
      expect(owner("data.txt")).toBe("1000:1000");
      expect(owner("opq")).toBe("1:1");
    }
    expect(getXattr(join(diff, "data.txt"), "user.note")).toBe("kept");
    // File capabilities (binary): the kernel stores them for bunker's namespace (v3, 24 bytes).
    const cap = getXattr(join(diff, "bin/ping"), "security.capability", true) as Buffer;
    expect(cap.length === 20 || cap.length === 24).toBe(true);
    expect(cap.readUInt32LE(4)).toBe(1 << 13); // cap_net_raw, permitted
    // Opaque directories and whiteouts as overlayfs mounted with "userxattr" reads them.
    expect(getXattr(join(diff, "opq"), "user.overlay.opaque")).toBe("y");
    expect(existsSync(join(diff, "opq/.wh..wh..opq"))).toBe(false);
    expect(lstatSync(join(diff, "gone")).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(diff, "gone")).rdev).toBe(0);
  });
});

describe("layers are overlayfs lowerdirs", () => {
  test.skipIf(!Bun.which("unshare"))("whiteouts hide and opaque directories reset what lower layers hold", async () => {
    const lower = makeTar([
      { path: "gone", data: "lower" },
      { path: "opq/", type: "Directory" },
      { path: "opq/old", data: "lower" },
      { path: "kept", data: "lower" },
    ]);
    const upper = makeTar([
      { path: ".wh.gone", data: "" },
      { path: "opq/", type: "Directory" },
      { path: "opq/.wh..wh..opq", data: "" },
      { path: "opq/new", data: "upper" },
    ]);
    const dir = join(work, "overlay");
    writeOciLayout(dir, { layers: [gzipLayer(lower), gzipLayer(upper)], refName: "localhost/overlay:1" });
    await ok(["load", "-i", dir]);
    const [img] = JSON.parse((await ok(["image", "inspect", "localhost/overlay:1"])).stdout);
    const [l1, l2] = img.RootFS.Layers.map((l: string) => join(sb.root, "layers", l.slice(7), "diff"));
    const mnt = join(work, "merged");
    mkdirSync(mnt);
    const script = `mount -t overlay overlay -o lowerdir=${l2}:${l1},userxattr ${mnt} && ls -A ${mnt} && ls -A ${mnt}/opq`;
    const r = Bun.spawnSync(["unshare", "-Urm", "sh", "-c", script], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString().split("\n")).toEqual(["kept", "opq", "new", ""]);
  });
});
