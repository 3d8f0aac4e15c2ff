// The copy fallback for the container's root (no overlayfs in a user namespace, no fuse-overlayfs)
// must merge an image's layers exactly as overlayfs does: whiteouts delete the lower entry, an
// opaque directory hides all that lower layers put in it, a directory over a lower non-directory
// replaces it. And the layers' symlinks are never followed out of the container's directory while
// it is built. Each image runs with the copy forced and with overlayfs, and the trees must match.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunkerSandbox, imagesSrc, type Sandbox } from "../support/bunker";
import { fallbackNotice } from "../../src/runtime/rootfs";
import { gzipLayer, writeOciLayout } from "../support/oci";
import { makeTar } from "../support/tar";

let sb: Sandbox;
let work: string;
/** A host directory the hostile layers point their symlinks at: it must stay exactly as it is. */
let hostDir: string;

const busyboxLayer = (): Uint8Array<ArrayBuffer> => {
  const layout = join(imagesSrc, "busybox-1.38.0-musl-amd64-oci");
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  const blobs = join(layout, "blobs/sha256");
  const manifest = JSON.parse(readFileSync(join(blobs, index.manifests[0].digest.slice(7)), "utf8"));
  return Bun.gunzipSync(new Uint8Array(readFileSync(join(blobs, manifest.layers[0].digest.slice(7)))));
};

beforeAll(async () => {
  sb = bunkerSandbox();
  work = mkdtempSync(join(tmpdir(), "bunker-rootfs-copy-"));
  hostDir = join(work, "host");
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, "victim"), "host data\n");
  const base = busyboxLayer();
  // layer 1: a directory with files and a subtree, a file, and symlinks out of the image
  const lower = makeTar([
    { path: "dir/", type: "Directory" },
    { path: "dir/a", data: "lower a\n" },
    { path: "owned/", type: "Directory", uid: 1000, gid: 1000, mode: 0o700 },
    { path: "owned/secret", data: "s\n", uid: 1000, gid: 42, mode: 0o4750 },
    { path: "owned/hard", type: "Link", linkpath: "owned/secret" },
    { path: "owned/link", type: "SymbolicLink", linkpath: "secret", uid: 7, gid: 8 },
    { path: "dir/sub/", type: "Directory" },
    { path: "dir/sub/x", data: "lower x\n" },
    { path: "kept/", type: "Directory" },
    { path: "kept/one", data: "one\n" },
    { path: "kept/two", data: "two\n" },
    { path: "gone", data: "gone\n" },
    { path: "esc", type: "SymbolicLink", linkpath: hostDir },
    { path: "rel", type: "SymbolicLink", linkpath: `../../../../../../../../..${hostDir}` },
    { path: "wasfile", data: "file\n" },
  ]);
  // layer 2: /dir opaque with one new file, a whiteout of a file at / and in a dir, directories
  // over the lower symlinks (with a file and a whiteout in them), a directory over a lower file
  const upper = makeTar([
    { path: "dir/", type: "Directory" },
    { path: "dir/.wh..wh..opq" },
    { path: "dir/c", data: "upper c\n" },
    { path: ".wh.gone" },
    { path: "kept/.wh.two" },
    { path: "kept/three", data: "three\n" },
    { path: "esc/", type: "Directory" },
    { path: "esc/owned", data: "planted\n" },
    { path: "esc/.wh.victim" },
    { path: "rel/", type: "Directory" },
    { path: "rel/.wh.victim" },
    { path: "rel/owned2", data: "planted\n" },
    { path: "wasfile/", type: "Directory" },
    { path: "wasfile/inner", data: "inner\n" },
  ]);
  const layout = join(work, "layered");
  writeOciLayout(layout, { layers: [gzipLayer(base), gzipLayer(lower), gzipLayer(upper)], refName: "layered:1" });
  const r = await sb.run(["load", "-i", layout]);
  if (r.code !== 0) throw new Error(`load: ${r.stderr}`);
}, 60_000);

afterAll(() => {
  sb.cleanup();
  rmSync(work, { recursive: true, force: true });
});

// What the container sees of the paths the layers touch: type, and content for files.
const LIST = `cd /owned && stat -c '%n %u:%g %a %h' . secret hard && stat -c '%n %u:%g %N' link && [ secret -ef hard ] && echo same-inode
for p in /dir /dir/a /dir/sub /dir/sub/x /dir/c /kept/one /kept/two /kept/three /gone /esc /esc/owned /esc/victim /rel /rel/owned2 /rel/victim /wasfile /wasfile/inner; do
  if [ -L $p ]; then echo "$p link"; elif [ -d $p ]; then echo "$p dir $(ls -A $p | tr '\\n' ' ')"; elif [ -f $p ]; then echo "$p file $(cat $p)"; else echo "$p -"; fi
done`;

async function listing(driver: "overlay" | "copy") {
  const r = await sb.run(["run", "--rm", "--network", "none", "layered:1", "sh", "-c", LIST], { env: { BUNKER_ROOTFS_DRIVER: driver } });
  expect(r.code).toBe(0);
  // the copy really was made (it says so), and isn't an overlay
  if (driver === "copy") expect(r.stderr).toBe(`[warn] ${fallbackNotice("copy")}\n`);
  return r.stdout;
}

describe("the copy fallback merges layers as overlayfs does", () => {
  test("opaque dir, whiteouts, dirs over lower symlinks and files: the same tree as overlayfs", async () => {
    const overlay = await listing("overlay");
    // overlayfs itself, as the reference: spelled out so a change on either side shows
    expect(overlay).toBe(
      [
        ". 1000:1000 700 2",
        "secret 1000:42 4750 2",
        "hard 1000:42 4750 2",
        "link 7:8 'link' -> 'secret'",
        "same-inode",
        "/dir dir c ",
        "/dir/a -",
        "/dir/sub -",
        "/dir/sub/x -",
        "/dir/c file upper c",
        "/kept/one file one",
        "/kept/two -",
        "/kept/three file three",
        "/gone -",
        "/esc dir owned ",
        "/esc/owned file planted",
        "/esc/victim -",
        "/rel dir owned2 ",
        "/rel/owned2 file planted",
        "/rel/victim -",
        "/wasfile dir inner ",
        "/wasfile/inner file inner",
        "",
      ].join("\n"),
    );
    expect(await listing("copy")).toBe(overlay);
  }, 60_000);

  test("building the copy follows no symlink of the layers out of the container's directory", async () => {
    await listing("copy");
    expect(readdirSync(hostDir)).toEqual(["victim"]);
    expect(readFileSync(join(hostDir, "victim"), "utf8")).toBe("host data\n");
    expect(existsSync(join(hostDir, "owned"))).toBe(false);
  }, 60_000);
});
