// bunker run on stored images: overlayfs over the layers with a per-container writable layer,
// the image config (Entrypoint, Cmd, Env, WorkingDir, User), Alpine's owners (group 42), chown
// to subordinate ids, --rm and --pull; a debootstrap Debian where chown and dpkg work; the rootfs
// fallbacks (fuse-overlayfs, copy) forced and chosen by themselves; pulls from the test registry.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunkerBin, bunkerSandbox, imagesSrc, type Sandbox } from "../support/bunker";
import { fuseOverlayCheck } from "../../src/doctor";
import { fallbackNotice } from "../../src/runtime/rootfs";
import { gzipLayer, writeOciLayout } from "../support/oci";
import { standardRegistry } from "../support/registry";

let sb: Sandbox;
let layouts: string;
const BUSYBOX = "busybox:1.38.0-musl";
// Built once by scripts/test.sh (as root, with debootstrap from Debian's mirror).
const DEBIAN_TAR = process.env.BUNKER_DEBIAN_TAR ?? "/var/cache/bunker-tests/debian-minbase.tar";
if (!existsSync(DEBIAN_TAR))
  console.warn(`SKIPPING the debootstrap Debian test: ${DEBIAN_TAR} is missing (run npm test as root to build it, or set BUNKER_DEBIAN_TAR)`);

async function load(dir: string) {
  const r = await sb.run(["load", "-i", dir]);
  if (r.code !== 0) throw new Error(`load ${dir}: ${r.stderr}`);
}

beforeAll(async () => {
  sb = bunkerSandbox();
  layouts = mkdtempSync(join(tmpdir(), "bunker-layouts-"));
  await load(join(imagesSrc, "busybox-1.38.0-musl-amd64-oci"));
  const alpineTgz = new Uint8Array(readFileSync(join(imagesSrc, "alpine-3.20.3-x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz")));
  const alpine = join(layouts, "alpine");
  writeOciLayout(alpine, { layers: [{ blob: alpineTgz, tar: Bun.gunzipSync(alpineTgz) }], refName: "alpine:3.20.3" });
  await load(alpine);
  // An image whose config sets everything run takes from it, on busybox's files.
  const index = JSON.parse(readFileSync(join(imagesSrc, "busybox-1.38.0-musl-amd64-oci/index.json"), "utf8"));
  const blobs = join(imagesSrc, "busybox-1.38.0-musl-amd64-oci/blobs/sha256");
  const manifest = JSON.parse(readFileSync(join(blobs, index.manifests[0].digest.slice(7)), "utf8"));
  const layer = new Uint8Array(readFileSync(join(blobs, manifest.layers[0].digest.slice(7))));
  const configured = join(layouts, "configured");
  writeOciLayout(configured, {
    layers: [{ ...gzipLayer(Bun.gunzipSync(layer)) }],
    config: {
      Env: ["PATH=/bin", "FROM_IMAGE=yes", "OVERRIDE=image"],
      Entrypoint: ["/bin/sh", "-c", 'echo "$(id -un) $(pwd) $FROM_IMAGE $OVERRIDE args:$0"'],
      Cmd: ["from-cmd"],
      WorkingDir: "/home/work",
      User: "nobody",
    },
    refName: "configured:1",
  });
  await load(configured);
});

afterAll(() => {
  sb.cleanup();
  rmSync(layouts, { recursive: true, force: true });
});

const containerIds = () => {
  const dir = join(sb.root, "containers");
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
};

describe("images", () => {
  test("overlayfs over the image's layers; writes go to the container's own layer", async () => {
    const r = await sb.run(["run", "--name", "writer", BUSYBOX, "sh", "-c", "grep ' / ' /proc/mounts; echo data > /etc/added; rm /bin/vi; echo ok"]);
    expect(r.stdout).toContain("overlay / overlay");
    expect(r.stdout).toContain("userxattr");
    expect(r.stdout).toContain("ok");
    const id = containerIds().find((c) => JSON.parse(readFileSync(join(sb.root, "containers", c, "config.json"), "utf8")).Name === "writer")!;
    expect(readFileSync(join(sb.root, "containers", id, "upper/etc/added"), "utf8")).toBe("data\n");
    // the image itself is untouched: a new container still has vi and no /etc/added
    const fresh = await sb.run(["run", "--rm", BUSYBOX, "sh", "-c", "ls /etc/added 2>&1; ls /bin/vi"]);
    expect(fresh.stdout).toContain("No such file");
    expect(fresh.stdout).toContain("/bin/vi");
  });

  test("mount points the image lacks come from a layer made once per image: a container that writes nothing has an empty layer of its own", async () => {
    // busybox has no /proc, /sys, /etc/hosts, /etc/hostname, /etc/resolv.conf; alpine has /etc/hosts
    for (const [image, name] of [
      [BUSYBOX, "quiet-busybox"],
      ["alpine:3.20.3", "quiet-alpine"],
    ]) {
      const r = await sb.run(["run", "--name", name, image, "sh", "-c", "stat -c '%n %a %u' /etc /etc/hosts; mountpoint -q /proc && mountpoint -q /sys && cat /etc/hostname"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^\/etc 755 0\n\/etc\/hosts 644 0\n[0-9a-f]{12}\n$/);
      const id = containerIds().find((c) => JSON.parse(readFileSync(join(sb.root, "containers", c, "config.json"), "utf8")).Name === name)!;
      expect(readdirSync(join(sb.root, "containers", id, "upper"))).toEqual([]);
    }
    const made = readdirSync(join(sb.root, "mountpoints"));
    const busyboxId = (await sb.run(["inspect", "--format", "{{.Id}}", BUSYBOX])).stdout.trim();
    expect(made).toContain(busyboxId.replace("sha256:", ""));
    const layer = join(sb.root, "mountpoints", busyboxId.replace("sha256:", ""));
    expect(readdirSync(layer).sort()).toEqual(["etc", "proc", "sys"]);
    expect(readdirSync(join(layer, "etc")).sort()).toEqual(["hostname", "hosts", "resolv.conf"]);
    // the image's /etc keeps its time in the merged view
    const etcTime = await sb.run(["run", "--rm", BUSYBOX, "stat", "-c", "%Y", "/etc"]);
    expect(Number(etcTime.stdout)).toBeLessThan(Date.now() / 1000 - 86400);
    for (const name of ["quiet-busybox", "quiet-alpine"]) expect((await sb.run(["rm", name])).code).toBe(0);
    // rmi takes the image's mount-point layer with it
    const blobs = join(imagesSrc, "busybox-1.38.0-musl-amd64-oci/blobs/sha256");
    const index = JSON.parse(readFileSync(join(imagesSrc, "busybox-1.38.0-musl-amd64-oci/index.json"), "utf8"));
    const manifest = JSON.parse(readFileSync(join(blobs, index.manifests[0].digest.slice(7)), "utf8"));
    const throwaway = join(layouts, "throwaway");
    writeOciLayout(throwaway, { layers: [gzipLayer(Bun.gunzipSync(new Uint8Array(readFileSync(join(blobs, manifest.layers[0].digest.slice(7))))))], config: { Env: ["THROWAWAY=1"] }, refName: "throwaway:1" });
    await load(throwaway);
    expect((await sb.run(["run", "--rm", "throwaway:1", "true"])).code).toBe(0);
    const throwawayId = (await sb.run(["inspect", "--format", "{{.Id}}", "throwaway:1"])).stdout.trim().replace("sha256:", "");
    expect(existsSync(join(sb.root, "mountpoints", throwawayId))).toBe(true);
    expect((await sb.run(["rmi", "throwaway:1"])).code).toBe(0);
    expect(existsSync(join(sb.root, "mountpoints", throwawayId))).toBe(false);
  });

  test("the image's Cmd runs when no COMMAND is given", async () => {
    const r = await sb.run(["run", "--rm", "-i", BUSYBOX], { stdin: "echo from-default-sh\n" });
    expect(r.stdout).toBe("from-default-sh\n");
  });

  test("Entrypoint, Cmd, Env, WorkingDir and User from the config; flags override them", async () => {
    const r = await sb.run(["run", "--rm", "configured:1"]);
    expect(r.stdout).toBe("nobody /home/work yes image args:from-cmd\n");
    const o = await sb.run(["run", "--rm", "-u", "root", "-w", "/tmp", "-e", "OVERRIDE=flag", "configured:1", "given"]);
    expect(o.stdout).toBe("root /tmp yes flag args:given\n");
    const ep = await sb.run(["run", "--rm", "--entrypoint", "/bin/echo", "configured:1", "plain"]);
    expect(ep.stdout).toBe("plain\n");
  });

  test("Alpine: apk's files keep group 42, chown to other ids works, apk runs", async () => {
    const r = await sb.run([
      "run", "--rm", "alpine:3.20.3", "sh", "-c",
      "stat -c '%g %G' /etc/shadow; touch /x && chown 1000:1000 /x && stat -c '%u %g' /x; apk --version >/dev/null && echo apk-ok; su nobody -s /bin/sh -c 'id -u'",
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("42 shadow\n1000 1000\napk-ok\n65534\n");
  });

  test.skipIf(!existsSync(DEBIAN_TAR))("debootstrap Debian: owners kept, chown 1000 and dpkg -i (files of uid 1000) work", async () => {
    const layout = join(layouts, "debian");
    const tar = new Uint8Array(readFileSync(DEBIAN_TAR));
    writeOciLayout(layout, {
      layers: [{ blob: tar, tar, mediaType: "application/vnd.oci.image.layer.v1.tar" }],
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["bash"] },
      refName: "debian:minbase",
    });
    await load(layout);
    rmSync(layout, { recursive: true, force: true });
    // A package built in the container with a file of uid 1000, installed by dpkg: dpkg chowns
    // what it unpacks, so this needs the subordinate range mapped.
    const script = [
      "set -e",
      "stat -c '%U %G %A' /etc/shadow /usr/bin/chage /var/mail",
      "touch /x && chown 1000:1000 /x && stat -c '%u %g' /x",
      "mkdir -p /pkg/DEBIAN /pkg/opt/bunker",
      "printf 'Package: bunker-probe\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@example.org>\\nDescription: probe\\n' > /pkg/DEBIAN/control",
      "echo hi > /pkg/opt/bunker/file && chown -R 1000:1000 /pkg/opt/bunker",
      "dpkg-deb --build /pkg /tmp/probe.deb >/dev/null",
      "dpkg -i /tmp/probe.deb >/dev/null",
      "dpkg -s bunker-probe | grep '^Status'",
      "stat -c '%u %g' /opt/bunker/file",
      "dpkg --configure -a && dpkg -s dpkg | grep '^Status'",
      "dpkg -r bunker-probe >/dev/null && test ! -e /opt/bunker/file && echo removed",
    ].join("\n");
    const r = await sb.run(["run", "--rm", "debian:minbase", "bash", "-c", script]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("root shadow -rw-r-----\nroot shadow -rwxr-sr-x\nroot mail drwxrwsr-x\n1000 1000\nStatus: install ok installed\n1000 1000\nStatus: install ok installed\nremoved\n");
    expect(r.code).toBe(0);
  }, 180_000);

  /** fuse-overlayfs daemons serving this test's store. */
  const fuseDaemons = () =>
    readdirSync("/proc")
      .filter((e) => /^\d+$/.test(e))
      .filter((e) => {
        try {
          const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8");
          return cmd.startsWith("fuse-overlayfs") && cmd.includes(sb.root);
        } catch {
          return false; // gone meanwhile
        }
      });

  for (const driver of ["fuse-overlayfs", "copy"] as const)
    test.skipIf(driver === "fuse-overlayfs" && fuseOverlayCheck().status !== "ok")(`rootfs fallback forced to ${driver}: one line says so; owners, writes and --rm work`, async () => {
      const before = containerIds().length;
      const r = await sb.run(
        ["run", "--rm", "alpine:3.20.3", "sh", "-c", "awk '$2 == \"/\" {print $3}' /proc/mounts; stat -c %g /etc/shadow; echo w > /etc/new && cat /etc/new; rm /bin/ls && ls 2>/dev/null || echo ls-gone"],
        { env: { BUNKER_ROOTFS_DRIVER: driver } },
      );
      const [rootType, ...rest] = r.stdout.trim().split("\n");
      if (driver === "fuse-overlayfs") expect(rootType).toBe("fuse.fuse-overlayfs");
      else expect(rootType).not.toMatch(/overlay/); // the copy is a plain directory of the host's filesystem
      expect(rest).toEqual(["42", "w", "ls-gone"]);
      expect(r.stderr.trim().split("\n")).toEqual([expect.stringContaining(fallbackNotice(driver)!)]);
      expect(r.code).toBe(0);
      expect(fuseDaemons()).toEqual([]);
      expect(containerIds().length).toBe(before);
      // the image is untouched by what the container did
      expect((await sb.run(["run", "--rm", "alpine:3.20.3", "sh", "-c", "test -e /bin/ls && test ! -e /etc/new && echo intact"])).stdout).toBe("intact\n");
    }, 60_000);

  /**
   * bunker chooses the rootfs itself on a host where overlayfs is refused: its runtime dir (where
   * the probe mounts) is on an overlayfs, which can't be an upper dir. An outer user namespace
   * (root inside) sets that up, and may hide fuse-overlayfs; an inner one maps our own id back.
   */
  async function runWhereOverlayIsRefused(hide: string[]) {
    const [uid, gid] = [process.getuid!(), process.getgid!()];
    const base = mkdtempSync(join(tmpdir(), "bunker-no-overlay-"));
    const hideTools = hide.map((t) => `for d in /usr/bin /bin; do [ -e $d/${t} ] && mount --bind /dev/null $d/${t}; done;`).join(" ");
    const ov = join(base, "ov");
    const setup = `mkdir -p ${ov}/l ${ov}/u ${ov}/w ${ov}/m && mount -t overlay o -o lowerdir=${ov}/l,upperdir=${ov}/u,workdir=${ov}/w,userxattr ${ov}/m && ${hideTools} true`;
    const bk = `env BUNKER_USERNS=single BUNKER_ROOT=${base}/store BUNKER_RUNTIME_DIR=${ov}/m/run ${bunkerBin}`;
    const inner = `${bk} load -i ${join(imagesSrc, "busybox-1.38.0-musl-amd64-oci")} >/dev/null 2>&1 && ${bk} run --rm ${BUSYBOX} sh -c 'awk "\\$2 == \\"/\\" {print \\$3}" /proc/mounts; echo w > /etc/w && cat /etc/w'; echo "exit=$?"; cat ${ov}/m/run/rootfs-driver`;
    const p = Bun.spawn(["unshare", "-rm", "sh", "-c", `${setup} && exec unshare -U --map-user=${uid} --map-group=${gid} sh -c '${inner.replace(/'/g, "'\\''")}'`], {
      env: sb.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    chmodSync(join(ov, "w/work"), 0o700); // the outer overlay's work dir, mode 000
    rmSync(base, { recursive: true, force: true });
    return { stdout, stderr };
  }

  test.skipIf(fuseOverlayCheck().status !== "ok")("where overlayfs is refused, run chooses fuse-overlayfs by itself and says so", async () => {
    const r = await runWhereOverlayIsRefused([]);
    expect(r.stdout).toBe("fuse.fuse-overlayfs\nw\nexit=0\nfuse-overlayfs");
    expect(r.stderr).toBe(`[warn] ${fallbackNotice("fuse-overlayfs")}\n`);
  }, 60_000);

  test("where overlayfs is refused and fuse-overlayfs is missing, run copies the image and says so", async () => {
    const r = await runWhereOverlayIsRefused(["fuse-overlayfs"]);
    const [rootType, ...rest] = r.stdout.split("\n");
    expect(rootType).not.toMatch(/overlay/);
    expect(rest).toEqual(["w", "exit=0", "copy"]);
    expect(r.stderr).toBe(`[warn] ${fallbackNotice("copy")}\n`);
  }, 60_000);

  test.skipIf(fuseOverlayCheck().status !== "ok")("kill -9 of bunker with fuse-overlayfs: the container and its fuse-overlayfs daemon go too", async () => {
    const p = Bun.spawn([bunkerBin, "run", "--rm", "--network", "none", BUSYBOX, "sh", "-c", "echo ready; exec sleep 1000"], {
      env: { ...sb.env, BUNKER_ROOTFS_DRIVER: "fuse-overlayfs" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = p.stdout.getReader();
    let out = "";
    while (!out.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the container ended before it was ready: ${await new Response(p.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    expect(fuseDaemons().length).toBe(1);
    p.kill("SIGKILL");
    await p.exited;
    // PDEATHSIG takes them: poll until they are gone (bounded, no timing assumed)
    for (let i = 0; i < 500 && fuseDaemons().length > 0; i++) await Bun.sleep(10);
    expect(fuseDaemons()).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(sb.root);
  }, 30_000);

  test("--rm leaves no container and no writable layer behind", async () => {
    const before = containerIds().length;
    const r = await sb.run(["run", "--rm", BUSYBOX, "sh", "-c", "mkdir -p /a/b && touch /a/b/c && chown -R 123:456 /a"]);
    expect(r.code).toBe(0);
    expect(containerIds().length).toBe(before);
    expect(readdirSync(join(sb.root, "containers")).filter((n) => n.startsWith(".removing"))).toEqual([]);
  });

  test("once a run has exited, nothing holds its container's mount namespace: the process that tears it down after bunker's exit is gone too", async () => {
    const r = await sb.run(["run", "--rm", BUSYBOX, "readlink", "/proc/self/ns/mnt"]);
    expect(r.code).toBe(0);
    const ns = r.stdout.trim();
    expect(ns).toMatch(/^mnt:\[\d+\]$/);
    // Every process of ours that has it as its namespace or an open fd (the lingerer's hold).
    const holders = () => {
      const found: string[] = [];
      for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
        const links = [`/proc/${pid}/ns/mnt`];
        try {
          for (const fd of readdirSync(`/proc/${pid}/fd`)) links.push(`/proc/${pid}/fd/${fd}`);
        } catch {
          // another user's, or gone
        }
        for (const l of links) {
          try {
            if (readlinkSync(l) === ns) found.push(l);
          } catch {
            // gone, or not ours
          }
        }
      }
      return found;
    };
    // bounded poll: the lingerer exits as soon as bunker has, and the namespace goes with it
    for (let i = 0; i < 500 && holders().length > 0; i++) await Bun.sleep(10);
    expect(holders()).toEqual([]);
  });

  test("an image that isn't stored is pulled from the registry first (--pull=missing), then run; --pull=always asks the registry again", async () => {
    const reg = await standardRegistry();
    const ref = `${reg.host}/alpine:3.20.3`;
    const first = await sb.run(["run", "--rm", ref, "cat", "/etc/alpine-release"]);
    expect(first.stdout).toBe("3.20.3\n");
    expect(first.code).toBe(0);
    expect((await sb.run(["images", "-q", ref])).stdout.trim()).toMatch(/^[0-9a-f]{12}$/);
    // A name that is stored but not in the registry tells who asks the registry: missing doesn't, always does.
    const local = `${reg.host}/not-pushed:1`;
    expect((await sb.run(["tag", ref, local])).code).toBe(0);
    const missing = await sb.run(["run", "--rm", local, "cat", "/etc/alpine-release"]);
    expect(missing.stdout).toBe("3.20.3\n");
    const always = await sb.run(["run", "--rm", "--pull=always", local, "true"]);
    expect(always.code).toBe(125);
    expect(always.stderr).toContain("not-pushed");
    // -q: the pull says nothing; without it, it says what it pulls
    const loud = await sb.run(["run", "--rm", "--pull=always", ref, "true"]);
    expect(loud.stderr).toContain(`Pulling ${ref}`);
    const quiet = await sb.run(["run", "--rm", "-q", "--pull=always", ref, "true"]);
    expect(quiet.stderr).toBe("");
    expect(quiet.code).toBe(0);
  }, 60_000);

  test("--pull=never with an image that is not stored: one line, 125", async () => {
    const r = await sb.run(["run", "--rm", "--pull=never", "not-here:1", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("not-here:1");
  });
});
