// The store under stress: two loads of one image at once, a load killed with SIGKILL midway,
// where the store lives, the single-id mapping, and system reset.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunkerBin, bunkerSandbox, imagesSrc } from "../support/bunker";
import { gzipLayer, writeOciLayout } from "../support/oci";
import { makeTar } from "../support/tar";

// Unpacking real images as the test user takes seconds on a busy 2-core machine.
setDefaultTimeout(60_000);

const work = mkdtempSync(join(tmpdir(), "bunker-images-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const alpine = join(work, "alpine");
const gz = readFileSync(join(imagesSrc, "alpine-3.20.3-x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz"));
writeOciLayout(alpine, { layers: [{ blob: gz, tar: Bun.gunzipSync(gz) }], refName: "localhost/alpine:3.20.3", config: { Cmd: ["/bin/sh"] } });

function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

describe("concurrency and interruption", () => {
  test("two loads of the same image at once store its layer once, and both succeed", async () => {
    const sb = bunkerSandbox();
    try {
      const [a, b] = await Promise.all([sb.run(["load", "-i", alpine]), sb.run(["load", "-i", alpine])]);
      expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, "", ""]);
      const layers = entries(join(sb.root, "layers"));
      expect(layers).toHaveLength(1);
      expect(existsSync(join(sb.root, "layers", layers[0], "layer.json"))).toBe(true);
      expect(entries(join(sb.root, "tmp"))).toEqual([]);
      const ids = (await sb.run(["images", "-q"])).stdout.trim().split("\n");
      expect(ids).toHaveLength(1);
    } finally {
      sb.cleanup();
    }
  });

  test("a load killed with SIGKILL midway leaves a consistent store, and the next one finishes", async () => {
    const sb = bunkerSandbox();
    try {
      const p = Bun.spawn([bunkerBin, "load", "-i", alpine], { env: sb.env, stdout: "ignore", stderr: "ignore" });
      // Wait until the unpack has begun (its work dir exists under tmp/), then kill.
      const tmp = join(sb.root, "tmp");
      for (let i = 0; i < 2000 && !entries(tmp).some((n) => n.startsWith("unpack-")); i++) await Bun.sleep(2);
      p.kill("SIGKILL");
      await p.exited;
      expect(entries(tmp).some((n) => n.startsWith("unpack-"))).toBe(true); // it died mid-unpack
      // Nothing half-done is visible: no image, and no layer without its layer.json.
      expect((await sb.run(["images", "-q"])).stdout).toBe("");
      for (const l of entries(join(sb.root, "layers"))) expect(existsSync(join(sb.root, "layers", l, "layer.json"))).toBe(true);
      // Any later load or pull clears the dead process's work dir, whatever image it is for.
      expect((await sb.run(["load", "-i", join(imagesSrc, "busybox-1.38.0-uclibc-amd64-oci")])).code).toBe(0);
      expect(entries(tmp)).toEqual([]);
      const again = await sb.run(["load", "-i", alpine]);
      expect(again.code).toBe(0);
      expect(again.stdout.trim()).toBe("Loaded image: localhost/alpine:3.20.3");
      expect(entries(tmp)).toEqual([]);
      const [img] = JSON.parse((await sb.run(["image", "inspect", "localhost/alpine:3.20.3"])).stdout);
      const diff = join(sb.root, "layers", img.RootFS.Layers[0].slice(7), "diff");
      expect(statSync(join(diff, "bin/busybox")).size).toBeGreaterThan(100_000);
    } finally {
      sb.cleanup();
    }
  });
});

describe("layers", () => {
  test("an image that repeats a layer (empty layers often do) stores it once", async () => {
    const sb = bunkerSandbox();
    try {
      const empty = new Uint8Array(1024);
      const file = makeTar([{ path: "etc/motd", data: "hi" }]);
      const dir = join(work, "repeats");
      writeOciLayout(dir, { layers: [gzipLayer(empty), gzipLayer(file), gzipLayer(empty)], refName: "localhost/repeats:1" });
      const r = await sb.run(["load", "-i", dir]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(entries(join(sb.root, "layers"))).toHaveLength(2);
      const [img] = JSON.parse((await sb.run(["image", "inspect", "localhost/repeats:1"])).stdout);
      expect(img.RootFS.Layers).toHaveLength(3);
      expect(img.RootFS.Layers[0]).toBe(img.RootFS.Layers[2]);
    } finally {
      sb.cleanup();
    }
  });
});

describe("where the store lives", () => {
  test("$XDG_DATA_HOME/bunker, by default ~/.local/share/bunker; $BUNKER_ROOT and then --root override it", async () => {
    const home = join(work, "home");
    const { BUNKER_ROOT: _, XDG_DATA_HOME: __, ...base } = process.env as Record<string, string>;
    const run = async (args: string[], env: Record<string, string>) => {
      const p = Bun.spawn([bunkerBin, ...args], { env: { ...base, HOME: home, ...env }, stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      if (code !== 0) throw new Error(`bunker ${args.join(" ")}: ${err}`);
      return out;
    };
    const storeOf = async (env: Record<string, string>, args: string[] = []) => JSON.parse(await run([...args, "version", "--format", "json"], env)).Store;
    expect(await storeOf({})).toBe(join(home, ".local/share/bunker"));
    expect(await storeOf({ XDG_DATA_HOME: join(work, "xdg") })).toBe(join(work, "xdg/bunker"));
    expect(await storeOf({ XDG_DATA_HOME: join(work, "xdg"), BUNKER_ROOT: join(work, "env-root") })).toBe(join(work, "env-root"));
    expect(await storeOf({ BUNKER_ROOT: join(work, "env-root") }, ["--root", join(work, "flag-root")])).toBe(join(work, "flag-root"));
    // And the default is where a load really writes.
    await run(["load", "-i", join(imagesSrc, "busybox-1.38.0-musl-amd64-oci")], {});
    const store = join(home, ".local/share/bunker");
    expect(entries(join(store, "layers"))).toHaveLength(1);
    expect(await run(["images", "-q"], {})).toBe("654fc8fd836e\n");
    await run(["system", "reset", "--force"], {});
    expect(existsSync(store)).toBe(false);
  });
});

describe("id mappings and reset", () => {
  test("without a subordinate range every file belongs to the user, and one notice says so", async () => {
    const sb = bunkerSandbox();
    try {
      const r = await sb.run(["load", "-i", join(imagesSrc, "busybox-1.38.0-musl-amd64-oci")], { env: { BUNKER_USERNS: "single" } });
      expect(r.code).toBe(0);
      const notices = r.stderr.split("\n").filter((l) => l.includes("subordinate"));
      expect(notices).toHaveLength(1);
      const [layer] = entries(join(sb.root, "layers"));
      const diff = join(sb.root, "layers", layer, "diff");
      expect(statSync(join(diff, "home")).uid).toBe(process.getuid!()); // 65534 in the image
      expect(statSync(join(diff, "bin/sh")).uid).toBe(process.getuid!());
      // Three layers unpacked side by side: still one notice.
      const three = await sb.run(["load", "-i", join(imagesSrc, "ggcr-testdata/whiteout_image.tar")], { env: { BUNKER_USERNS: "single" } });
      expect(three.code).toBe(0);
      expect(three.stderr.split("\n").filter((l) => l.includes("subordinate"))).toHaveLength(1);
    } finally {
      sb.cleanup();
    }
  });

  test("system reset needs --force off a terminal, and then removes the whole store", async () => {
    const sb = bunkerSandbox();
    try {
      expect((await sb.run(["load", "-i", join(imagesSrc, "busybox-1.38.0-uclibc-amd64-oci")])).code).toBe(0);
      const refused = await sb.run(["system", "reset"]);
      expect(refused.code).toBe(125);
      expect(refused.stderr).toContain("--force");
      expect(existsSync(join(sb.root, "layers"))).toBe(true);
      const df = JSON.parse((await sb.run(["system", "df", "--format", "json"])).stdout);
      expect(df[0]).toMatchObject({ Type: "Images", Total: 1 });
      const r = await sb.run(["system", "reset", "--force"]);
      expect(r.code).toBe(0);
      expect(existsSync(sb.root)).toBe(false);
    } finally {
      sb.cleanup();
    }
  });
});
