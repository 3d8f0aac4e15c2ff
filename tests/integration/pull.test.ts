// bunker pull against Debian's docker-registry on 127.0.0.1, with the images pushed by skopeo in
// every shape (OCI, Docker schema 2, zstd, a multi-arch index). Faults (500s, garbage, a dropped
// connection) come from a small proxy in front of the real registry.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunkerBin, bunkerSandbox, imagesSrc } from "../support/bunker";
import { gzipLayer, sha256, writeOciLayout } from "../support/oci";
import { makeTar } from "../support/tar";
import { loopbackHostName, standardRegistry, startRegistry, TEST_PASSWORD, TEST_USER, type TestRegistry } from "../support/registry";

// Unpacking real images as the test user takes seconds on a busy 2-core machine.
setDefaultTimeout(60_000);

let reg: TestRegistry;
const sb = bunkerSandbox();
beforeAll(async () => {
  reg = await standardRegistry();
}, 120_000);
afterAll(() => sb.cleanup());

const MUSL_CONFIG = "sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9";
const MUSL_DIFF = "0f8918d0fe4f272ce8acece89916a9ba0b240584d3c1dd1943f343f69b0d0ffb";
const MUSL_BLOB = "5c3b447848a98e48dce106cb3e6acbd4fb6f9b26ee778798137349ce01f4d3c1";

function layers(root: string): string[] {
  const dir = join(root, "layers");
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Progress lines may come first (as docker pull prints them); the error itself is one line, and the last. */
function expectErrorLast(r: { code: number; stderr: string }, words: RegExp) {
  expect(r.code).toBe(125);
  const lines = r.stderr.trim().split("\n");
  expect(lines.filter((l) => /error/i.test(l))).toHaveLength(1);
  const last = lines[lines.length - 1];
  expect(last).toMatch(/^Error: /);
  expect(last).toMatch(words);
}

/**
 * An HTTP proxy on 127.0.0.1 in front of the real registry: `answer` may reply to a request
 * itself (a fault); when it returns nothing, the request goes to the registry unchanged.
 */
function relay(answer: (req: Request, url: URL) => Response | undefined | Promise<Response | undefined> = () => undefined, hostname = "127.0.0.1") {
  return Bun.serve({
    hostname,
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const own = await answer(req, url);
      if (own) return own;
      return fetch(`${reg.url}${url.pathname}${url.search}`, { headers: req.headers, method: req.method, redirect: "manual" });
    },
  });
}

/**
 * A body that declares all of `whole` but sends only its first `cut` bytes, then: the rest once
 * `rest` resolves, or (no `rest`) it closes short of its Content-Length, which drops the connection.
 */
function cutBody(whole: Uint8Array, cut: number, rest?: Promise<void>): Response {
  return new Response(
    new ReadableStream({
      async start(c) {
        c.enqueue(whole.subarray(0, cut));
        if (rest) {
          await rest;
          c.enqueue(whole.subarray(cut));
        }
        c.close();
      },
    }),
    { headers: { "content-type": "application/octet-stream", "content-length": String(whole.length) } },
  );
}

const muslBlob = readFileSync(join(imagesSrc, "busybox-1.38.0-musl-amd64-oci/blobs/sha256", MUSL_BLOB));

describe("pull", () => {
  test("an OCI image: the reference on stdout, plain progress lines on stderr, the layer unpacked", async () => {
    const r = await sb.run(["pull", `${reg.host}/busybox:musl`]);
    expect(r.stderr).not.toContain("Error");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${reg.host}/busybox:musl\n`);
    expect(r.stderr).toContain(`${MUSL_BLOB.slice(0, 12)}: pull complete`);
    expect(r.stderr).not.toContain("\x1b["); // no bars off a terminal
    expect(layers(sb.root)).toEqual([MUSL_DIFF]);
    expect(statSync(join(sb.root, "layers", MUSL_DIFF, "diff/bin/busybox")).isFile()).toBe(true);
    expect(existsSync(join(sb.root, "blobs/sha256", MUSL_BLOB))).toBe(true);
    const [img] = JSON.parse((await sb.run(["image", "inspect", `${reg.host}/busybox:musl`])).stdout);
    expect(img.Id).toBe(MUSL_CONFIG);
    expect(img.RepoDigests[0]).toMatch(new RegExp(`^${reg.host}/busybox@sha256:[0-9a-f]{64}$`));
  });

  test.skipIf(!Bun.which("script"))("on a terminal: a progress bar per layer, redrawn in place", async () => {
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    // Sends the first half of the layer, and the rest only once the test has seen a bar.
    const slow = relay((_req, url) => (url.pathname.endsWith(MUSL_BLOB) ? cutBody(muslBlob, muslBlob.length >> 1, released) : undefined));
    const other = bunkerSandbox();
    try {
      const { NO_COLOR: _, ...env } = other.env;
      // `script` gives bunker a pty for stdout and stderr alike.
      const p = Bun.spawn(["script", "-qec", `${bunkerBin} pull 127.0.0.1:${slow.port}/busybox:musl`, "/dev/null"], { env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      let seen = "";
      const bar = new RegExp(`${MUSL_BLOB.slice(0, 12)}: Downloading \\[=*>? *\\] [0-9.]+[kM]B/`);
      for await (const chunk of p.stdout) {
        seen += new TextDecoder().decode(chunk);
        if (bar.test(seen)) release();
      }
      expect(await p.exited).toBe(0);
      release();
      expect(seen).toMatch(bar);
      expect(seen).toContain(`\x1b[2K${MUSL_BLOB.slice(0, 12)}: Pull complete`);
      expect(seen).toContain("\x1b[1A"); // back up over the previous drawing
      expect(seen).not.toContain(": downloading"); // not the plain lines
      expect(seen).toContain(`127.0.0.1:${slow.port}/busybox:musl`);
      expect(layers(other.root)).toEqual([MUSL_DIFF]);
    } finally {
      release();
      slow.stop(true);
      other.cleanup();
    }
  });

  test("-q prints only the image id", async () => {
    const r = await sb.run(["pull", "-q", `${reg.host}/busybox:latest`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${MUSL_CONFIG}\n`);
    expect(r.stderr).toBe("");
  });

  test("the same layer in schema 2 and zstd copies is stored once", async () => {
    for (const name of ["busybox-v2s2:latest", "busybox-zstd:latest"]) {
      const r = await sb.run(["pull", `${reg.host}/${name}`]);
      expect(r.stderr).not.toContain("Error");
      expect(r.code).toBe(0);
    }
    expect(layers(sb.root)).toEqual([MUSL_DIFF]);
    const ls = (await sb.run(["images"])).stdout;
    expect(ls).toContain(`${reg.host}/busybox-v2s2`);
    expect(ls).toContain(`${reg.host}/busybox-zstd`);
    // The zstd copy's layer came from the gzip blob already here (its own was never fetched):
    // pushing it sends that blob, under a gzip media type, and the result pulls back whole.
    const pushed = await sb.run(["push", "-q", `${reg.host}/busybox-zstd:latest`, `${reg.host}/repushed/zstd:1`]);
    expect([pushed.code, pushed.stderr]).toEqual([0, ""]);
    const raw = JSON.parse(Bun.spawnSync(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/repushed/zstd:1`]).stdout.toString());
    expect(raw.layers.map((l: { mediaType: string; digest: string }) => [l.mediaType, l.digest])).toEqual([
      ["application/vnd.oci.image.layer.v1.tar+gzip", `sha256:${MUSL_BLOB}`],
    ]);
    const other = bunkerSandbox();
    try {
      const back = await other.run(["pull", "-q", `${reg.host}/repushed/zstd:1`]);
      expect([back.code, back.stderr, back.stdout.trim()]).toEqual([0, "", MUSL_CONFIG]);
    } finally {
      other.cleanup();
    }
  });

  test("a zstd layer alone unpacks to the same tree", async () => {
    const other = bunkerSandbox();
    try {
      const r = await other.run(["pull", `${reg.host}/busybox-zstd:latest`]);
      expect(r.code).toBe(0);
      expect(layers(other.root)).toEqual([MUSL_DIFF]);
      expect(statSync(join(other.root, "layers", MUSL_DIFF, "diff/bin/sh")).nlink).toBeGreaterThan(300);
    } finally {
      other.cleanup();
    }
  });

  test("alpine, glibc and uclibc busybox, hello-world", async () => {
    for (const name of ["alpine:3.20.3", "busybox:glibc", "busybox:uclibc", "hello-world:latest"]) {
      const r = await sb.run(["pull", "-q", `${reg.host}/${name}`]);
      expect(`${name}: ${r.stderr}`).toBe(`${name}: `);
    }
    const [hello] = JSON.parse((await sb.run(["image", "inspect", `${reg.host}/hello-world`])).stdout);
    expect(hello.Config.Cmd).toEqual(["/hello"]);
    const diff = join(sb.root, "layers", hello.RootFS.Layers[0].slice(7), "diff");
    expect(readFileSync(join(diff, "hello")).equals(readFileSync(join(imagesSrc, "hello-world-amd64/hello")))).toBe(true);
  });

  test("a multi-arch index picks the host's platform, or --platform's", async () => {
    const r = await sb.run(["pull", "-q", `${reg.host}/multi:latest`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(MUSL_CONFIG);
    const other = bunkerSandbox();
    try {
      const arm = await other.run(["pull", "-q", "--platform", "linux/arm64", `${reg.host}/multi:latest`]);
      expect(arm.code).toBe(0);
      const [img] = JSON.parse((await other.run(["image", "inspect", arm.stdout.trim()])).stdout);
      expect(img.Architecture).toBe("arm64");
    } finally {
      other.cleanup();
    }
    const none = await sb.run(["pull", "--platform", "linux/s390x", `${reg.host}/multi:latest`]);
    expectErrorLast(none, /linux\/amd64/);
    // A single-platform image must be the platform asked for; a malformed one fails before any request.
    const fresh = bunkerSandbox();
    try {
      const single = await fresh.run(["pull", "--platform", "linux/arm64", `${reg.host}/busybox:musl`]);
      expectErrorLast(single, /busybox:musl is for linux\/amd64, not the linux\/arm64 that --platform asks for$/);
      expect(layers(fresh.root)).toEqual([]);
      expect(existsSync(join(fresh.root, "blobs"))).toBe(false);
      const malformed = await fresh.run(["pull", "--platform", "linux/arm/v7/x", "127.0.0.1:1/nothing:here"]);
      expectErrorLast(malformed, /^Error: invalid platform "linux\/arm\/v7\/x"/);
    } finally {
      fresh.cleanup();
    }
  });

  test("by digest: the digest reference on stdout, no tag", async () => {
    const [img] = JSON.parse((await sb.run(["image", "inspect", `${reg.host}/busybox:musl`])).stdout);
    const digestRef = img.RepoDigests[0] as string;
    const other = bunkerSandbox();
    try {
      const r = await other.run(["pull", digestRef]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(digestRef);
      expect((await other.run(["images"])).stdout).toMatch(/<none>/);
      expect((await other.run(["image", "inspect", digestRef])).code).toBe(0);
    } finally {
      other.cleanup();
    }
  });

  test("two pulls of one image at once: both succeed, the layer is downloaded and stored once", async () => {
    let manifestGets = 0;
    let release = () => {};
    const bothStarted = new Promise<void>((r) => (release = r));
    const layerGets: string[] = [];
    // Holds the layer back until both pulls have asked for the manifest, so that they overlap.
    const gate = relay(async (_req, url) => {
      if (url.pathname.endsWith("/manifests/latest") && ++manifestGets === 2) release();
      if (url.pathname.includes("/blobs/") && !url.pathname.endsWith(MUSL_CONFIG.slice(7))) {
        layerGets.push(url.pathname);
        await bothStarted;
      }
      return undefined;
    });
    const other = bunkerSandbox();
    try {
      const image = `127.0.0.1:${gate.port}/busybox:latest`;
      const [a, b] = await Promise.all([other.run(["pull", "-q", image]), other.run(["pull", "-q", image])]);
      expect([a.code, b.code, a.stderr, b.stderr, a.stdout, b.stdout]).toEqual([0, 0, "", "", `${MUSL_CONFIG}\n`, `${MUSL_CONFIG}\n`]);
      expect(manifestGets).toBe(2);
      expect(layerGets).toEqual([`/v2/busybox/blobs/sha256:${MUSL_BLOB}`]); // the second pull waited and reused it
      expect(layers(other.root)).toEqual([MUSL_DIFF]);
      expect(readdirSync(join(other.root, "blobs/sha256"))).toHaveLength(3); // config, manifest, layer
      expect(readdirSync(join(other.root, "tmp"))).toEqual([]);
      expect((await other.run(["images", "-q"])).stdout).toBe(`${MUSL_CONFIG.slice(7, 19)}\n`);
      const sh = statSync(join(other.root, "layers", MUSL_DIFF, "diff/bin/sh"));
      expect(sh.nlink).toBeGreaterThan(300);
    } finally {
      gate.stop(true);
      other.cleanup();
    }
  });

  test("a pull killed midway leaves the store consistent; the next one finishes, reusing the partial download", async () => {
    const other = bunkerSandbox();
    try {
      // Pre-seed half of glibc busybox's layer blob as a partial download, as a killed pull leaves it.
      const dir = join(imagesSrc, "busybox-1.38.0-glibc-amd64-oci/blobs/sha256");
      const layerBlob = readdirSync(dir)
        .map((n) => ({ n, size: statSync(join(dir, n)).size }))
        .sort((a, b) => b.size - a.size)[0];
      const bytes = readFileSync(join(dir, layerBlob.n));
      mkdirSync(join(other.root, "tmp"), { recursive: true });
      writeFileSync(join(other.root, "tmp", `blob-${layerBlob.n}.partial`), bytes.subarray(0, bytes.length >> 1));
      const p = Bun.spawn([bunkerBin, "pull", `${reg.host}/alpine:latest`], { env: other.env, stdout: "ignore", stderr: "ignore" });
      for (let i = 0; i < 2000 && !(existsSync(join(other.root, "tmp")) && readdirSync(join(other.root, "tmp")).some((n) => n.startsWith("unpack-"))); i++)
        await Bun.sleep(2);
      p.kill("SIGKILL");
      await p.exited;
      for (const l of layers(other.root)) expect(existsSync(join(other.root, "layers", l, "layer.json"))).toBe(true);
      const r = await other.run(["pull", "-q", `${reg.host}/busybox:glibc`]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const again = await other.run(["pull", "-q", `${reg.host}/alpine:latest`]);
      expect(again.code).toBe(0);
      expect(readdirSync(join(other.root, "tmp"))).toEqual([]);
      expect((await other.run(["images", "-q"])).stdout.trim().split("\n")).toHaveLength(2);
    } finally {
      other.cleanup();
    }
  });

  test("the layers of an image download at the same time", async () => {
    const work = join(sb.root, "..", "concurrent");
    const parts = ["one", "two", "three"].map((name) => gzipLayer(makeTar([{ path: `etc/${name}`, data: name }])));
    writeOciLayout(work, { layers: parts, refName: "c" });
    await reg.push(`oci:${work}:c`, "concurrent:1");
    const wanted = new Set(parts.map((p) => sha256(p.blob)));
    let allAsked = () => {};
    const together = new Promise<void>((r) => (allAsked = r));
    // No layer is answered until every layer has been asked for: a pull that fetched them one
    // after another would wait here forever (and the test time out).
    const asked = new Set<string>();
    const proxy = relay(async (_req, url) => {
      const hex = /\/blobs\/sha256:([0-9a-f]{64})$/.exec(url.pathname)?.[1];
      if (hex && wanted.has(hex)) {
        asked.add(hex);
        if (asked.size === wanted.size) allAsked();
        await together;
      }
      return undefined;
    });
    const other = bunkerSandbox();
    try {
      const r = await other.run(["pull", "-q", `127.0.0.1:${proxy.port}/concurrent:1`]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(layers(other.root)).toHaveLength(3);
    } finally {
      allAsked();
      proxy.stop(true);
      other.cleanup();
    }
  }, 30_000);

  for (const signal of ["SIGKILL", "SIGINT"] as const)
    test(`${signal} mid-pull: the finished layer is kept, the next pull skips it and resumes the other with Range`, async () => {
      const work = join(sb.root, "..", `two-layers-${signal}`);
      const small = gzipLayer(makeTar([{ path: "etc/first", data: "first layer" }]));
      // Random bytes don't compress: half the blob is a real partial download.
      const big = gzipLayer(makeTar([{ path: "data/random", data: crypto.getRandomValues(new Uint8Array(60_000)) }, { path: "data/more", data: crypto.getRandomValues(new Uint8Array(60_000)) }]));
      writeOciLayout(work, { layers: [small, big], refName: "two" });
      await reg.push(`oci:${work}:two`, `two-layers:${signal.toLowerCase()}`);
      const [smallHex, bigHex] = [sha256(small.blob), sha256(big.blob)];
      const blobGets: { hex: string; range: string | null }[] = [];
      let stall = true;
      // Relays the registry; while `stall`, the big layer stops after its first half.
      const proxy = relay(async (req, url) => {
        const hex = /\/blobs\/sha256:([0-9a-f]{64})$/.exec(url.pathname)?.[1];
        if (hex) blobGets.push({ hex, range: req.headers.get("range") });
        if (!stall || hex !== bigHex) return undefined;
        const bytes = new Uint8Array(await (await fetch(`${reg.url}${url.pathname}`)).arrayBuffer());
        return cutBody(bytes, bytes.length >> 1, new Promise(() => {})); // the rest never comes
      });
      const other = bunkerSandbox();
      try {
        const image = `127.0.0.1:${proxy.port}/two-layers:${signal.toLowerCase()}`;
        const partial = join(other.root, "tmp", `blob-${bigHex}.partial`);
        const p = Bun.spawn([bunkerBin, "pull", image], { env: other.env, stdout: "ignore", stderr: "ignore" });
        const smallDiff = sha256(small.tar);
        while (!(existsSync(join(other.root, "layers", smallDiff, "layer.json")) && existsSync(partial) && statSync(partial).size > 0)) {
          expect(p.exitCode).toBeNull();
          await Bun.sleep(10);
        }
        p.kill(signal);
        expect(await p.exited).not.toBe(0);
        const kept = statSync(partial).size;
        expect(layers(other.root)).toEqual([smallDiff]);
        expect((await other.run(["images", "-q"])).stdout).toBe("");
        stall = false;
        blobGets.length = 0;
        const r = await other.run(["pull", "-q", image]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        // The config is fetched again (a killed pull stores none); the small layer is not.
        expect(blobGets.filter((g) => g.hex === smallHex)).toEqual([]);
        expect(blobGets.filter((g) => g.hex === bigHex)).toEqual([{ hex: bigHex, range: `bytes=${kept}-` }]);
        expect(layers(other.root).sort()).toEqual([smallDiff, sha256(big.tar)].sort());
        expect(readdirSync(join(other.root, "tmp"))).toEqual([]);
      } finally {
        proxy.stop(true);
        other.cleanup();
      }
    });

  test("a layer streams through: pulling a 160 MiB layer peaks below the layer's own size", async () => {
    // Random bytes in an uncompressed layer: the blob is as big as the file, so a pull that held
    // the download, the tar or the file whole would need more memory than the layer itself.
    const size = 160 * 1024 * 1024;
    const data = new Uint8Array(size);
    for (let off = 0; off < size; off += 65536) crypto.getRandomValues(data.subarray(off, off + 65536));
    const tar = makeTar([{ path: "big.bin", data }]);
    const work = join(sb.root, "..", "big-layer");
    writeOciLayout(work, { layers: [{ blob: tar, tar, mediaType: "application/vnd.oci.image.layer.v1.tar" }], refName: "big" });
    await reg.push(`oci:${work}:big`, "big-layer:1");
    const other = bunkerSandbox();
    try {
      const timeFile = join(other.root, "..", "time");
      const p = Bun.spawnSync(["/usr/bin/time", "-o", timeFile, "-f", "%M", bunkerBin, "pull", "-q", `${reg.host}/big-layer:1`], { env: other.env, stdout: "pipe", stderr: "pipe" });
      expect(p.stderr.toString()).toBe("");
      expect(p.exitCode).toBe(0);
      const peakKb = Number(readFileSync(timeFile, "utf8").trim().split("\n").pop());
      expect(peakKb).toBeGreaterThan(0);
      expect(peakKb * 1024).toBeLessThan(size);
      expect(layers(other.root)).toEqual([sha256(tar)]);
    } finally {
      other.cleanup();
    }
  }, 120_000);

  test("a partial download with wrong bytes fails the digest check once, then pulls cleanly", async () => {
    const other = bunkerSandbox();
    try {
      mkdirSync(join(other.root, "tmp"), { recursive: true });
      writeFileSync(join(other.root, "tmp", `blob-${MUSL_BLOB}.partial`), Buffer.alloc(4096, 7));
      const bad = await other.run(["pull", `${reg.host}/busybox:musl`]);
      expectErrorLast(bad, /digest mismatch|not a readable tar|not a valid tar/);
      expect(layers(other.root)).toEqual([]);
      const good = await other.run(["pull", "-q", `${reg.host}/busybox:musl`]);
      expect(good.code).toBe(0);
      expect(layers(other.root)).toEqual([MUSL_DIFF]);
    } finally {
      other.cleanup();
    }
  });
});

describe("pull from registries that need credentials", () => {
  for (const auth of ["htpasswd", "token"] as const)
    test(`${auth}: fails in one line without credentials, pulls with them from REGISTRY_AUTH_FILE, --authfile or $DOCKER_CONFIG`, async () => {
      const secured = await startRegistry({ auth });
      const other = bunkerSandbox();
      try {
        await secured.push(`oci:${join(imagesSrc, "busybox-1.38.0-musl-amd64-oci")}`, "private/bb:1");
        const denied = await other.run(["pull", `${secured.host}/private/bb:1`]);
        expectErrorLast(denied, /auth|login|401|denied/i);
        expect(layers(other.root)).toEqual([]);
        const authFile = join(other.root, "..", "auth.json");
        writeFileSync(authFile, JSON.stringify({ auths: { [secured.host]: { auth: Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString("base64") } } }));
        const issued = secured.tokensIssued?.() ?? 0;
        const r = await other.run(["pull", "-q", `${secured.host}/private/bb:1`], { env: { REGISTRY_AUTH_FILE: authFile } });
        expect(r.stderr).toBe("");
        // Manifest, config and layer share one token for the repository's pull scope.
        if (auth === "token") expect((secured.tokensIssued?.() ?? 0) - issued).toBe(1);
        expect(r.stdout.trim()).toBe(MUSL_CONFIG);
        expect(layers(other.root)).toEqual([MUSL_DIFF]);
        // The same file named by --authfile (the manifest is fetched again, with credentials).
        const flag = await other.run(["pull", "-q", "--authfile", authFile, `${secured.host}/private/bb:1`]);
        expect([flag.stderr, flag.stdout.trim()]).toEqual(["", MUSL_CONFIG]);
        // And docker's config.json in $DOCKER_CONFIG.
        const dockerConfig = join(other.root, "..", "docker-config");
        mkdirSync(dockerConfig);
        writeFileSync(join(dockerConfig, "config.json"), readFileSync(authFile));
        const viaDocker = await other.run(["pull", "-q", `${secured.host}/private/bb:1`], { env: { DOCKER_CONFIG: dockerConfig } });
        expect([viaDocker.stderr, viaDocker.stdout.trim()]).toEqual(["", MUSL_CONFIG]);
      } finally {
        other.cleanup();
        await secured.stop();
      }
    }, 120_000);
});

// A name for this machine that isn't a loopback literal, though it resolves to loopback.
const ownName = await loopbackHostName();

describe("a registry that redirects blob downloads to another host", () => {
  test("the other host gets no Authorization, and the pull completes", async () => {
    const seen: { path: string; authorization: string | null }[] = [];
    let dataDir = "";
    // Stands in for a CDN or object store: serves the registry's blob files by their storage path.
    const cdn = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        seen.push({ path, authorization: req.headers.get("authorization") });
        const file = Bun.file(join(dataDir, path));
        return file.size > 0 && !path.includes("..") ? new Response(file) : new Response("not found", { status: 404 });
      },
    });
    // "localhost" is another origin than the registry's 127.0.0.1: a different host to a browser or fetch.
    const secured = await startRegistry({ auth: "htpasswd", redirectBlobsTo: `http://localhost:${cdn.port}` });
    dataDir = secured.dataDir;
    const other = bunkerSandbox();
    try {
      await secured.push(`oci:${join(imagesSrc, "busybox-1.38.0-musl-amd64-oci")}`, "cdn/bb:1");
      const authFile = join(other.root, "..", "auth.json");
      writeFileSync(authFile, JSON.stringify({ auths: { [secured.host]: { auth: Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString("base64") } } }));
      const r = await other.run(["pull", "-q", "--authfile", authFile, `${secured.host}/cdn/bb:1`]);
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe(MUSL_CONFIG);
      expect(layers(other.root)).toEqual([MUSL_DIFF]);
      // The config and the layer came from the other host, without the registry's credentials.
      expect(seen.map((s) => s.path).some((p) => p.includes(MUSL_BLOB))).toBe(true);
      expect(seen.map((s) => s.path).some((p) => p.includes(MUSL_CONFIG.slice(7)))).toBe(true);
      expect(seen.map((s) => s.authorization)).toEqual(seen.map(() => null));
    } finally {
      other.cleanup();
      await secured.stop();
      cdn.stop(true);
    }
  }, 120_000);
});

describe("plain HTTP", () => {
  test("for ::1 and the rest of 127.0.0.0/8, as for 127.0.0.1", async () => {
    for (const [listen, host] of [
      ["::1", "[::1]"],
      ["127.0.0.2", "127.0.0.2"],
    ]) {
      const front = relay(undefined, listen);
      const other = bunkerSandbox();
      try {
        const r = await other.run(["pull", "-q", `${host}:${front.port}/busybox:musl`]);
        expect([host, r.stderr, r.stdout.trim()]).toEqual([host, "", MUSL_CONFIG]);
      } finally {
        front.stop(true);
        other.cleanup();
      }
    }
  });

  test.skipIf(ownName === undefined)(
    "only for loopback names: another name needs HTTPS unless --tls-verify=false",
    async () => {
      const other = bunkerSandbox();
      try {
        const image = `${ownName}:${reg.host.split(":")[1]}/busybox:musl`;
        const refused = await other.run(["pull", image]);
        expectErrorLast(refused, new RegExp(`${ownName}:\\d+ failed the TLS handshake: it does not speak HTTPS; use --tls-verify=false`));
        expect(layers(other.root)).toEqual([]);
        expect((await other.run(["images", "-q"])).stdout).toBe("");
        const r = await other.run(["pull", "-q", "--tls-verify=false", image]);
        expect(r.stderr).toBe("");
        expect(r.stdout.trim()).toBe(MUSL_CONFIG);
      } finally {
        other.cleanup();
      }
    },
  );
});

describe("pull failures: one line, exit 125, nothing stored", () => {
  test("an image that doesn't exist", async () => {
    const r = await sb.run(["pull", `${reg.host}/nope:latest`]);
    expectErrorLast(r, /nope/);
  });

  test("a reference with bad characters", async () => {
    const r = await sb.run(["pull", "Bad_Ref!!"]);
    expectErrorLast(r, /Bad_Ref!!|invalid|reference/i);
  });


  async function pullThrough(fault: (url: URL) => Response | undefined, image = "busybox:musl") {
    const proxy = relay((_req, url) => fault(url));
    const other = bunkerSandbox();
    try {
      const r = await other.run(["pull", `127.0.0.1:${proxy.port}/${image}`]);
      const list = (dir: string) => (existsSync(join(other.root, dir)) ? readdirSync(join(other.root, dir)) : []);
      // Nothing half-written: no layer, no blob (not even the config), no work files left behind.
      expect({ layers: layers(other.root), blobs: list("blobs/sha256"), tmp: list("tmp") }).toEqual({ layers: [], blobs: [], tmp: [] });
      return { r, layers: layers(other.root), images: (await other.run(["images", "-q"])).stdout };
    } finally {
      other.cleanup();
      proxy.stop(true);
    }
  }

  test("a registry answering 500", async () => {
    const { r, images } = await pullThrough((u) => (u.pathname.includes("/manifests/") ? new Response("boom", { status: 500 }) : undefined));
    expectErrorLast(r, /500/);
    expect(images).toBe("");
  }, 60_000);

  test("a server that doesn't speak HTTP", async () => {
    const garbage = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(sock) {
          sock.write("SSH-2.0-OpenSSH_9.2\r\n\r\n\x00\x01garbage");
          sock.end();
        },
      },
    });
    const other = bunkerSandbox();
    try {
      const r = await other.run(["pull", `127.0.0.1:${garbage.port}/busybox:musl`]);
      expectErrorLast(r, new RegExp(`^Error: cannot reach 127\\.0\\.0\\.1:${garbage.port}: it answered something that is not HTTP \\(tried 4 times\\)$`));
      expect(layers(other.root)).toEqual([]);
    } finally {
      garbage.stop(true);
      other.cleanup();
    }
  });

  test("500s and a dropped connection on the way are retried, and the pull succeeds", async () => {
    const hits = new Map<string, number>();
    const proxy = relay((_req, url) => {
      const n = (hits.get(url.pathname) ?? 0) + 1;
      hits.set(url.pathname, n);
      // The manifest fails once with 500 and the config once with 503; the layer's first answer breaks off.
      if (n === 1 && url.pathname.endsWith("/manifests/musl")) return new Response("overloaded", { status: 500 });
      if (n === 1 && url.pathname.endsWith(MUSL_CONFIG.slice(7))) return new Response("busy", { status: 503 });
      if (n === 1 && url.pathname.endsWith(MUSL_BLOB)) return cutBody(muslBlob, 1000);
      return undefined;
    });
    const other = bunkerSandbox();
    try {
      const r = await other.run(["pull", "-q", `127.0.0.1:${proxy.port}/busybox:musl`]);
      expect([r.code, r.stderr, r.stdout.trim()]).toEqual([0, "", MUSL_CONFIG]);
      expect(hits.get("/v2/busybox/manifests/musl")).toBe(2);
      expect(hits.get(`/v2/busybox/blobs/${MUSL_CONFIG}`)).toBe(2);
      expect(hits.get(`/v2/busybox/blobs/sha256:${MUSL_BLOB}`)).toBe(2);
      expect(layers(other.root)).toEqual([MUSL_DIFF]);
    } finally {
      proxy.stop(true);
      other.cleanup();
    }
  });

  test("a manifest that is not JSON", async () => {
    const { r, images } = await pullThrough((u) =>
      u.pathname.includes("/manifests/") ? new Response("<html>garbage", { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } }) : undefined,
    );
    expectErrorLast(r, /JSON|garbage|manifest/i);
    expect(images).toBe("");
  });

  test("an unknown layer media type", async () => {
    const { r, images } = await pullThrough((u) =>
      u.pathname.endsWith("/manifests/musl")
        ? Response.json(
            {
              schemaVersion: 2,
              mediaType: "application/vnd.oci.image.manifest.v1+json",
              config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: MUSL_CONFIG, size: 462 },
              layers: [{ mediaType: "application/x-bunker-unknown", digest: `sha256:${MUSL_BLOB}`, size: 886160 }],
            },
            { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } },
          )
        : undefined,
    );
    expectErrorLast(r, /application\/x-bunker-unknown/);
    expect(images).toBe("");
  });

  test("a blob whose bytes don't match its digest", async () => {
    const { r, layers: l, images } = await pullThrough((u) =>
      u.pathname.includes(`/blobs/sha256:${MUSL_BLOB}`) ? new Response(Bun.gzipSync(new Uint8Array(2048))) : undefined,
    );
    expectErrorLast(r, /digest mismatch/);
    expect(l).toEqual([]);
    expect(images).toBe("");
  });

  test("a connection dropped mid-blob is resumed with Range in the same pull", async () => {
    const other = bunkerSandbox();
    const blob = muslBlob;
    const half = blob.length >> 1;
    const blobRanges: (string | null)[] = [];
    // Relays the real registry, except that the first answer for the layer breaks off halfway.
    const flaky = relay((req, url) => {
      if (!url.pathname.endsWith(MUSL_BLOB)) return undefined;
      blobRanges.push(req.headers.get("range"));
      return blobRanges.length === 1 ? cutBody(blob, half) : undefined;
    });
    try {
      const r = await other.run(["pull", "-q", `127.0.0.1:${flaky.port}/busybox:musl`]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(MUSL_CONFIG);
      expect(blobRanges).toHaveLength(2);
      expect(blobRanges[0]).toBeNull();
      // The retry asks for the rest only (what arrived before the drop, at least a byte of it).
      const from = Number(/^bytes=(\d+)-$/.exec(blobRanges[1] ?? "")?.[1]);
      expect(from).toBeGreaterThan(0);
      expect(from).toBeLessThanOrEqual(half);
      expect(layers(other.root)).toEqual([MUSL_DIFF]);
      expect(readFileSync(join(other.root, "blobs/sha256", MUSL_BLOB)).equals(blob)).toBe(true);
      expect(readdirSync(join(other.root, "tmp"))).toEqual([]);
    } finally {
      flaky.stop(true);
      other.cleanup();
    }
  });

  test("a connection dropped mid-blob from a registry that ignores Range: the repeated bytes are skipped", async () => {
    let blobGets = 0;
    const noRange = relay(async (req, url) => {
      if (!url.pathname.endsWith(MUSL_BLOB)) return undefined;
      if (++blobGets === 1) return cutBody(muslBlob, 300_000);
      // The whole blob again, 200 and all, whatever Range asked for.
      return new Response(muslBlob, { headers: { "content-type": "application/octet-stream" } });
    });
    const other = bunkerSandbox();
    try {
      const r = await other.run(["pull", "-q", `127.0.0.1:${noRange.port}/busybox:musl`]);
      expect([r.code, r.stderr, r.stdout.trim()]).toEqual([0, "", MUSL_CONFIG]);
      expect(blobGets).toBe(2);
      expect(readFileSync(join(other.root, "blobs/sha256", MUSL_BLOB)).equals(muslBlob)).toBe(true);
      expect(layers(other.root)).toEqual([MUSL_DIFF]);
    } finally {
      noRange.stop(true);
      other.cleanup();
    }
  });

  test("a connection lost mid-blob: the pull fails in one line, keeps what it got, and the next pull resumes with Range", async () => {
    const other = bunkerSandbox();
    // The first proxy sends half the layer and then goes away for good.
    const dying = relay((_req, url) => {
      if (!url.pathname.endsWith(MUSL_BLOB)) return undefined;
      setTimeout(() => dying.stop(true), 300);
      return cutBody(muslBlob, muslBlob.length >> 1, new Promise(() => {}));
    });
    const seen: Request[] = [];
    const healthy = relay((req) => {
      seen.push(req);
      return undefined;
    });
    try {
      const r = await other.run(["pull", `127.0.0.1:${dying.port}/busybox:musl`]);
      expectErrorLast(r, /busybox|download|connection|127\.0\.0\.1/i);
      expect(layers(other.root)).toEqual([]);
      const partial = join(other.root, "tmp", `blob-${MUSL_BLOB}.partial`);
      expect(statSync(partial).size).toBeGreaterThan(0);
      const again = await other.run(["pull", "-q", `127.0.0.1:${healthy.port}/busybox:musl`]);
      expect(again.stderr).toBe("");
      expect(again.code).toBe(0);
      expect(layers(other.root)).toEqual([MUSL_DIFF]);
      const blobGet = seen.find((q) => q.url.includes(`/blobs/sha256:${MUSL_BLOB}`));
      expect(blobGet?.headers.get("range")).toMatch(/^bytes=\d+-/);
      expect(existsSync(partial)).toBe(false);
    } finally {
      dying.stop(true);
      healthy.stop(true);
      other.cleanup();
    }
  }, 120_000);
});
