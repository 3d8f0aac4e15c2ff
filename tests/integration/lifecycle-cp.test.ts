// bunker cp both ways as a real unprivileged user, on a running container and on a stopped one
// (its layers put together for the copy), and confinement: symlinks planted by the container
// can't make cp read or write anything outside the container's root.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fuseOverlayCheck } from "../../src/doctor";
import { bunkerSandbox, imagesSrc, type Sandbox } from "../support/bunker";
import { busyboxRootfs } from "../support/rootfs";

let sb: Sandbox;
let rootfs: string;
let host: string;

beforeAll(async () => {
  sb = bunkerSandbox();
  rootfs = busyboxRootfs();
  host = mkdtempSync(join(tmpdir(), "bunker-cp-"));
  const r = await sb.run(["run", "-d", "--network", "none", "--name", "box", "--rootfs", rootfs, "sleep", "600"]);
  expect(r.code).toBe(0);
});
afterAll(async () => {
  await sb.run(["rm", "-f", "box"]);
  sb.cleanup();
  rmSync(dirname(rootfs), { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

const inBox = (script: string) => sb.run(["exec", "box", "sh", "-c", script]);

describe("cp", () => {
  test("a file and a directory into the container", async () => {
    writeFileSync(join(host, "hello.txt"), "hello\n", { mode: 0o640 });
    mkdirSync(join(host, "tree/sub"), { recursive: true });
    writeFileSync(join(host, "tree/sub/leaf"), "leaf\n");
    symlinkSync("sub/leaf", join(host, "tree/link"));
    expect((await sb.run(["cp", join(host, "hello.txt"), "box:/tmp/"])).code).toBe(0);
    expect((await sb.run(["cp", join(host, "hello.txt"), "box:/tmp/renamed.txt"])).code).toBe(0);
    expect((await sb.run(["cp", join(host, "tree"), "box:/tmp/tree"])).code).toBe(0);
    const r = await inBox("cat /tmp/hello.txt /tmp/renamed.txt /tmp/tree/sub/leaf; stat -c '%a %u' /tmp/hello.txt; readlink /tmp/tree/link; cat /tmp/tree/link");
    expect(r.stdout).toBe("hello\nhello\nleaf\n640 0\nsub/leaf\nleaf\n");
  });

  test("a file and a directory out of the container", async () => {
    await inBox("mkdir -p /data/d && echo one > /data/d/one && echo top > /data/top && chmod 751 /data/d && ln -s one /data/d/l");
    expect((await sb.run(["cp", "box:/data/top", join(host, "top.txt")])).code).toBe(0);
    expect(readFileSync(join(host, "top.txt"), "utf8")).toBe("top\n");
    mkdirSync(join(host, "out"));
    expect((await sb.run(["cp", "box:/data/d", join(host, "out")])).code).toBe(0);
    expect(readFileSync(join(host, "out/d/one"), "utf8")).toBe("one\n");
    expect(readlinkSync(join(host, "out/d/l"))).toBe("one");
    expect(statSync(join(host, "out/d")).mode & 0o777).toBe(0o751);
    expect((await sb.run(["cp", "box:/data/.", join(host, "contents")])).code).toBe(0);
    expect(readFileSync(join(host, "contents/top"), "utf8")).toBe("top\n");
  });

  test("errors: one line, exit 125", async () => {
    for (const args of [["box:/nosuch", join(host, "x")], [join(host, "nosuch"), "box:/tmp"], ["nobox:/etc", host], [host, join(host, "y")]]) {
      const r = await sb.run(["cp", ...args]);
      expect(r.code).toBe(125);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  test("the container's symlinks can't lead cp outside its root", async () => {
    const secret = join(host, "secret");
    mkdirSync(secret);
    writeFileSync(join(secret, "key"), "host secret\n");
    // absolute and relative escapes, pointing at the host's directory
    await inBox(`ln -s ${secret} /tmp/abs; ln -s ../../../../../../..${secret} /tmp/rel; mkdir -p ${secret} && echo container > ${secret}/key`);
    // reading through them finds the container's own files (the link resolves inside its root)
    expect((await sb.run(["cp", "box:/tmp/abs/key", join(host, "got1")])).code).toBe(0);
    expect(readFileSync(join(host, "got1"), "utf8")).toBe("container\n");
    expect((await sb.run(["cp", "box:/tmp/rel/key", join(host, "got2")])).code).toBe(0);
    expect(readFileSync(join(host, "got2"), "utf8")).toBe("container\n");
    // writing through them writes inside the container, never to the host
    writeFileSync(join(host, "payload"), "owned\n");
    expect((await sb.run(["cp", join(host, "payload"), "box:/tmp/abs/"])).code).toBe(0);
    expect((await sb.run(["cp", join(host, "payload"), "box:/tmp/rel/key"])).code).toBe(0);
    expect(existsSync(join(secret, "payload"))).toBe(false);
    expect(readFileSync(join(secret, "key"), "utf8")).toBe("host secret\n");
    expect((await inBox(`cat ${secret}/payload ${secret}/key`)).stdout).toBe("owned\nowned\n");
    // a symlink where a copied file lands is replaced, not followed
    await inBox(`ln -s ${secret}/key /tmp/trap`);
    expect((await sb.run(["cp", join(host, "payload"), "box:/tmp/trap"])).code).toBe(0);
    expect(lstatSync(join(secret, "key")).isFile()).toBe(true);
    expect(readFileSync(join(secret, "key"), "utf8")).toBe("host secret\n");
    expect((await inBox("test -L /tmp/trap || cat /tmp/trap")).stdout).toBe("owned\n");
  });
});

/** Processes that hold the container id's root for a cp (they name it in their environment), or have it mounted. */
function holdersOf(id: string): string[] {
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/environ`, "utf8").includes(`BUNKER_CP_HOLDER=${id}`) || readFileSync(`/proc/${e}/mountinfo`, "utf8").includes(`containers/${id}/`);
      } catch {
        return false; // gone, or not ours
      }
    });
}

describe("cp on a stopped container", () => {
  beforeAll(async () => {
    expect((await sb.run(["load", "-i", join(imagesSrc, "busybox-1.38.0-musl-amd64-oci")])).code).toBe(0);
  });

  for (const driver of ["overlay", "fuse-overlayfs", "copy"] as const)
    test.skipIf(driver === "fuse-overlayfs" && fuseOverlayCheck().status !== "ok")(`${driver} rootfs: into an exited container (start -a sees it), out of it, and its symlinks out are not followed`, async () => {
      const env = { BUNKER_ROOTFS_DRIVER: driver };
      const name = `stopped-${driver}`;
      const secret = join(host, `stopped-secret-${driver}`);
      mkdirSync(secret);
      writeFileSync(join(secret, "key"), "host secret\n");
      // The first run plants symlinks to the host's directory and exits; every start prints what cp put in.
      const script = `if [ ! -e /planted ]; then ln -s ${secret} /abs; ln -s ../../../../../../..${secret} /rel; mkdir -p ${secret}; echo container > ${secret}/key; echo made > /made; touch /planted; fi; cat /in.txt ${secret}/payload ${secret}/key 2>&1`;
      const first = await sb.run(["run", "--name", name, "--network", "none", "busybox:1.38.0-musl", "sh", "-c", script], { env });
      expect(first.stdout).toContain("No such file");
      expect((await sb.run(["inspect", "-f", "{{.State.Status}}", name])).stdout).toBe("exited\n");

      writeFileSync(join(host, "in.txt"), "copied in\n");
      writeFileSync(join(host, "payload"), "owned\n");
      expect((await sb.run(["cp", join(host, "in.txt"), `${name}:/`], { env })).code).toBe(0);
      expect((await sb.run(["cp", join(host, "payload"), `${name}:/abs/`], { env })).code).toBe(0);
      expect((await sb.run(["cp", join(host, "payload"), `${name}:/rel/key`], { env })).code).toBe(0);
      // nothing reached the host through the links; the container stays exited; nothing stays mounted
      expect(readFileSync(join(secret, "key"), "utf8")).toBe("host secret\n");
      expect(existsSync(join(secret, "payload"))).toBe(false);
      expect((await sb.run(["inspect", "-f", "{{.State.Status}}", name])).stdout).toBe("exited\n");
      const id = (await sb.run(["inspect", "-f", "{{.Id}}", name])).stdout.trim();
      expect(holdersOf(id)).toEqual([]);

      const started = await sb.run(["start", "-a", name], { env });
      expect(started.stdout).toBe("copied in\nowned\nowned\n");
      expect(started.code).toBe(0);

      // out of the exited container: its own files, and its links resolved inside its root
      expect((await sb.run(["cp", `${name}:/made`, join(host, `made-${driver}`)], { env })).code).toBe(0);
      expect(readFileSync(join(host, `made-${driver}`), "utf8")).toBe("made\n");
      expect((await sb.run(["cp", `${name}:/abs/key`, join(host, `key-${driver}`)], { env })).code).toBe(0);
      expect(readFileSync(join(host, `key-${driver}`), "utf8")).toBe("owned\n");
      // and from the image's layers under its writable one
      expect((await sb.run(["cp", `${name}:/etc/passwd`, join(host, `passwd-${driver}`)], { env })).code).toBe(0);
      expect(readFileSync(join(host, `passwd-${driver}`), "utf8")).toStartWith("root:x:0:0:");
      expect(holdersOf(id)).toEqual([]);
      expect(fuseDaemonsOf(id)).toEqual([]);
      expect((await sb.run(["rm", name])).code).toBe(0);
    }, 60_000);
});

/** fuse-overlayfs daemons serving the container id's root. */
function fuseDaemonsOf(id: string): string[] {
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8");
        return cmd.startsWith("fuse-overlayfs") && cmd.includes(`containers/${id}/`);
      } catch {
        return false; // gone meanwhile
      }
    });
}

/**
 * A fuse-overlayfs root, where the kernel refuses overlayfs in a user namespace: its daemon lives
 * exactly as long as the container (a detached one outlives the bunker that started it), and cp
 * works from the container's user namespace, which is the only place FUSE lets in.
 */
describe.skipIf(fuseOverlayCheck().status !== "ok")("fuse-overlayfs root of a detached container", () => {
  const env = { BUNKER_ROOTFS_DRIVER: "fuse-overlayfs" };
  test("run -d keeps running after bunker exits; cp in and out while it runs; stop ends the daemon, start brings one back", async () => {
    const name = "fuse-detached";
    const r = await sb.run(["run", "-d", "--name", name, "--network", "none", "busybox:1.38.0-musl", "sh", "-c", "echo made > /made; while :; do sleep 0.1; done"], { env });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    await Bun.sleep(500);
    // its root is still served: a command that reads it works, and the container is running
    expect((await sb.run(["exec", name, "cat", "/made", "/etc/hostname"])).stdout).toBe(`made\n${id.slice(0, 12)}\n`);
    expect((await sb.run(["inspect", "-f", "{{.State.Status}}", name])).stdout).toBe("running\n");
    expect(fuseDaemonsOf(id)).toHaveLength(1);

    writeFileSync(join(host, "fuse-in.txt"), "into fuse\n");
    expect(await sb.run(["cp", join(host, "fuse-in.txt"), `${name}:/tmp/`])).toMatchObject({ code: 0, stderr: "" });
    expect((await sb.run(["exec", name, "sh", "-c", "cat /tmp/fuse-in.txt; stat -c %u /tmp/fuse-in.txt"])).stdout).toBe("into fuse\n0\n");
    expect(await sb.run(["cp", `${name}:/made`, join(host, "fuse-made")])).toMatchObject({ code: 0, stderr: "" });
    expect(readFileSync(join(host, "fuse-made"), "utf8")).toBe("made\n");
    // an error inside is the same one line, exit 125
    const missing = await sb.run(["cp", `${name}:/nosuch`, join(host, "x")]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toBe("Error: cp: /nosuch: ENOENT\n");

    // stopped: the daemon goes with the container's mount namespace, no one has to stop it
    expect((await sb.run(["stop", "-t", "1", name])).code).toBe(0);
    for (let i = 0; i < 50 && fuseDaemonsOf(id).length > 0; i++) await Bun.sleep(100);
    expect(fuseDaemonsOf(id)).toEqual([]);

    // started again (by the monitor's set-up, a bunker that exits at once): a new daemon serves it
    expect((await sb.run(["start", name])).code).toBe(0);
    await Bun.sleep(500);
    expect((await sb.run(["exec", name, "cat", "/made", "/tmp/fuse-in.txt"])).stdout).toBe("made\ninto fuse\n");
    expect(fuseDaemonsOf(id)).toHaveLength(1);
    expect((await sb.run(["rm", "-f", name])).code).toBe(0);
    for (let i = 0; i < 50 && fuseDaemonsOf(id).length > 0; i++) await Bun.sleep(100);
    expect(fuseDaemonsOf(id)).toEqual([]);
    expect(holdersOf(id)).toEqual([]);
  }, 60_000);
});
