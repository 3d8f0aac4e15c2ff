// The registry client against Debian's real docker-registry: every manifest shape skopeo pushes,
// blobs with Range resume, no auth / htpasswd Basic / token (Bearer) auth, and faults injected by
// small proxies on 127.0.0.1 in front of the real registry (5xx, garbage, dropped connections,
// cross-host redirects).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server, TCPSocketListener } from "bun";
import { BunkerError } from "../../src/errors";
import { parseImageConfig, parseManifestDocument, selectManifest } from "../../src/image/manifest";
import { RegistryClient, resetRegistryState } from "../../src/registry/client";
import { sha256 } from "../support/oci";
import { BUSYBOX_LAYOUTS, loopbackHostName, selfSignedCert, standardRegistry, startRegistry, type TestRegistry, TEST_PASSWORD, TEST_USER } from "../support/registry";

const hasRegistry = Bun.which("docker-registry") !== null && Bun.which("skopeo") !== null;

const ownName = await loopbackHostName();

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a failure");
}

function expectOneLine(e: Error, re: RegExp) {
  expect(e).toBeInstanceOf(BunkerError);
  expect(e.message).toMatch(re);
  expect(e.message.includes("\n")).toBe(false);
}

async function bytesOf(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

const muslIndex = JSON.parse(readFileSync(join(BUSYBOX_LAYOUTS.musl, "index.json"), "utf8"));
const muslManifestDigest: string = muslIndex.manifests[0].digest;
const muslManifest = JSON.parse(readFileSync(join(BUSYBOX_LAYOUTS.musl, "blobs/sha256", muslManifestDigest.slice(7)), "utf8"));
const muslLayer: { digest: string; size: number } = muslManifest.layers[0];
const muslLayerBytes = new Uint8Array(readFileSync(join(BUSYBOX_LAYOUTS.musl, "blobs/sha256", muslLayer.digest.slice(7))));

describe.if(hasRegistry)("registry client, no auth", () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  beforeAll(async () => {
    reg = await standardRegistry();
    client = new RegistryClient(reg.host);
  }, 180_000);

  test("OCI manifest by tag, then by its digest", async () => {
    const m = await client.getManifest("busybox", "musl");
    expect(m.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(m.digest).toBe(muslManifestDigest);
    expect(m.digest).toBe(`sha256:${sha256(m.bytes)}`);
    const doc = parseManifestDocument(m.bytes, m.mediaType);
    expect(doc.kind).toBe("manifest");
    const again = await client.getManifest("busybox", m.digest);
    expect(again.digest).toBe(m.digest);
  });

  test("Docker schema 2 manifest", async () => {
    const m = await client.getManifest("busybox-v2s2", "latest");
    expect(m.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    const doc = parseManifestDocument(m.bytes, m.mediaType);
    if (doc.kind !== "manifest") throw new Error("expected a manifest");
    expect(doc.layers[0].mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar.gzip");
    expect(doc.config.mediaType).toBe("application/vnd.docker.container.image.v1+json");
  });

  test("zstd layers", async () => {
    const m = await client.getManifest("busybox-zstd", "latest");
    const doc = parseManifestDocument(m.bytes, m.mediaType);
    if (doc.kind !== "manifest") throw new Error("expected a manifest");
    expect(doc.layers[0].mediaType).toBe("application/vnd.oci.image.layer.v1.tar+zstd");
    const blob = await bytesOf((await client.getBlob("busybox-zstd", doc.layers[0].digest)).body);
    expect([...blob.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]); // zstd magic
    expect(`sha256:${sha256(blob)}`).toBe(doc.layers[0].digest);
  });

  test("multi-arch index: the host's entry, another by --platform, and a clear miss", async () => {
    const top = await client.getManifest("multi", "latest");
    const index = parseManifestDocument(top.bytes, top.mediaType);
    if (index.kind !== "index") throw new Error("expected an index");
    expect(selectManifest(index, { os: "linux", architecture: "amd64" }).digest).toBe(muslManifestDigest);
    const arm = selectManifest(index, { os: "linux", architecture: "arm64" });
    const armManifest = parseManifestDocument((await client.getManifest("multi", arm.digest)).bytes, arm.mediaType);
    if (armManifest.kind !== "manifest") throw new Error("expected a manifest");
    const cfg = parseImageConfig(await bytesOf((await client.getBlob("multi", armManifest.config.digest)).body));
    expect(cfg.architecture).toBe("arm64");
    let miss: unknown;
    try {
      selectManifest(index, { os: "linux", architecture: "s390x" });
    } catch (e) {
      miss = e;
    }
    expectOneLine(miss as Error, /no image for platform linux\/s390x.*linux\/amd64, linux\/arm64\/v8/);
  });

  test("config and layer blobs, and a resumed download with Range", async () => {
    const full = await client.getBlob("busybox", muslLayer.digest);
    expect(full.offset).toBe(0);
    expect(full.size).toBe(muslLayer.size);
    expect(await bytesOf(full.body)).toEqual(muslLayerBytes);
    const cut = 123_457;
    const rest = await client.getBlob("busybox", muslLayer.digest, { offset: cut });
    expect(rest.offset).toBe(cut);
    expect(rest.size).toBe(muslLayer.size);
    const tail = await bytesOf(rest.body);
    expect(`sha256:${sha256(Buffer.concat([muslLayerBytes.subarray(0, cut), tail]))}`).toBe(muslLayer.digest);
  });

  test("404s name what is missing", async () => {
    expectOneLine(await errorOf(client.getManifest("busybox", "nope")), new RegExp(`^manifest unknown: busybox:nope not found in ${reg.host}$`));
    expectOneLine(await errorOf(client.getManifest("nothing/here", "latest")), /manifest unknown/);
    expectOneLine(await errorOf(client.getBlob("busybox", `sha256:${"0".repeat(64)}`)), /blob unknown: sha256:0+ not found in busybox on 127/);
  });

  test("unknown and malformed digest references", async () => {
    expectOneLine(await errorOf(client.getManifest("busybox", `sha256:${"1".repeat(64)}`)), /manifest unknown/);
    expectOneLine(await errorOf(client.getManifest("busybox", "sha256:short")), /digest/);
  });
});

describe.if(hasRegistry)("registry client, htpasswd Basic auth", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "htpasswd" });
    await reg.push(`oci:${BUSYBOX_LAYOUTS.musl}`, "private/busybox:1");
  }, 120_000);
  afterAll(() => reg?.stop());

  test("good credentials pull", async () => {
    const c = new RegistryClient(reg.host, { username: TEST_USER, password: TEST_PASSWORD });
    const m = await c.getManifest("private/busybox", "1");
    expect(m.digest).toBe(muslManifestDigest);
    expect(await bytesOf((await c.getBlob("private/busybox", muslLayer.digest)).body)).toEqual(muslLayerBytes);
  });

  test("a wrong password and no credentials are one-line errors", async () => {
    const wrong = new RegistryClient(reg.host, { username: TEST_USER, password: "wrong" });
    expectOneLine(await errorOf(wrong.getManifest("private/busybox", "1")), new RegExp(`authentication failed: ${reg.host} refused the credentials of ${TEST_USER}; run bunker login ${reg.host}`));
    const dir = mkdtempSync(join(tmpdir(), "bunker-noauth-"));
    const saved = { ...process.env };
    try {
      // No credentials anywhere: point every credentials file at an empty dir.
      process.env.DOCKER_CONFIG = dir;
      delete process.env.REGISTRY_AUTH_FILE;
      expectOneLine(await errorOf(new RegistryClient(reg.host).getManifest("private/busybox", "1")), new RegExp(`authentication required: run bunker login ${reg.host}`));
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("credentials from $REGISTRY_AUTH_FILE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunker-auth-"));
    const saved = process.env.REGISTRY_AUTH_FILE;
    try {
      const file = join(dir, "auth.json");
      writeFileSync(file, JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString("base64") } } }));
      process.env.REGISTRY_AUTH_FILE = file;
      expect((await new RegistryClient(reg.host).getManifest("private/busybox", "1")).digest).toBe(muslManifestDigest);
    } finally {
      if (saved === undefined) delete process.env.REGISTRY_AUTH_FILE;
      else process.env.REGISTRY_AUTH_FILE = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a redirect to another host does not carry Authorization", async () => {
    // The registry's blob answer is replaced by a 307 to a second server on another origin
    // ("localhost" vs "127.0.0.1"), which records what it was sent and serves the blob.
    let seenAuth: string | null | undefined;
    const cdn = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        seenAuth = req.headers.get("authorization");
        return new Response(muslLayerBytes);
      },
    });
    const front = faultProxy(reg, (req) => {
      if (new URL(req.url).pathname.includes("/blobs/") && req.headers.get("authorization"))
        return new Response(null, { status: 307, headers: { location: `http://localhost:${cdn.port}/blob` } });
      return undefined;
    });
    try {
      const c = new RegistryClient(front.host, { username: TEST_USER, password: TEST_PASSWORD });
      const got = await bytesOf((await c.getBlob("private/busybox", muslLayer.digest)).body);
      expect(got).toEqual(muslLayerBytes);
      expect(seenAuth).toBeNull();
      expect(front.sawAuthorization()).toBe(true);
    } finally {
      front.stop();
      cdn.stop(true);
    }
  });
});

describe.if(hasRegistry)("registry client, token auth end to end", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "token" });
    await reg.push(`oci:${BUSYBOX_LAYOUTS.musl}`, "team/busybox:1");
  }, 120_000);
  afterAll(() => reg?.stop());

  test("Bearer tokens are fetched with Basic credentials and reused", async () => {
    resetRegistryState();
    const c = new RegistryClient(reg.host, { username: TEST_USER, password: TEST_PASSWORD });
    const before = reg.tokensIssued?.() ?? 0;
    const m = await c.getManifest("team/busybox", "1");
    expect(m.digest).toBe(muslManifestDigest);
    const doc = parseManifestDocument(m.bytes, m.mediaType);
    if (doc.kind !== "manifest") throw new Error("expected a manifest");
    await bytesOf((await c.getBlob("team/busybox", doc.config.digest)).body);
    await c.getManifest("team/busybox", "1");
    // One token for the repository's pull scope, shared by every later request.
    expect((reg.tokensIssued?.() ?? 0) - before).toBe(1);
  });

  test("a token the registry refuses is renewed once", async () => {
    resetRegistryState();
    // The challenge the real registry gives, replayed by a proxy that refuses the first Bearer
    // token it sees, the way a registry answers a token that expired or was revoked.
    const challenge = (await fetch(`${reg.url}/v2/team/busybox/manifests/1`)).headers.get("www-authenticate") ?? "";
    expect(challenge).toStartWith("Bearer realm=");
    let refused = 0;
    let armed = false;
    const front = faultProxy(reg, (req) => {
      if (armed && refused === 0 && req.headers.get("authorization")?.startsWith("Bearer ")) {
        refused++;
        return new Response(null, { status: 401, headers: { "www-authenticate": challenge } });
      }
      return undefined;
    });
    try {
      const c = new RegistryClient(front.host, { username: TEST_USER, password: TEST_PASSWORD });
      const before = reg.tokensIssued?.() ?? 0;
      await c.getManifest("team/busybox", "1"); // anonymous → challenge → token #1, cached
      expect((reg.tokensIssued?.() ?? 0) - before).toBe(1);
      armed = true;
      await c.getManifest("team/busybox", "1"); // cached token refused → token #2 → accepted
      expect(refused).toBe(1);
      expect((reg.tokensIssued?.() ?? 0) - before).toBe(2);
      await c.getManifest("team/busybox", "1"); // token #2 is cached and still good
      expect((reg.tokensIssued?.() ?? 0) - before).toBe(2);
    } finally {
      front.stop();
    }
  });

  test("a cached token that reaches its expiry is replaced by a new one before the registry refuses it", async () => {
    resetRegistryState();
    let refusals = 0;
    const front = faultProxy(reg, () => undefined, (res) => {
      if (res.status === 401) refusals++;
    });
    reg.setTokenLifetime?.(1);
    try {
      const c = new RegistryClient(front.host, { username: TEST_USER, password: TEST_PASSWORD });
      const before = reg.tokensIssued?.() ?? 0;
      await c.getManifest("team/busybox", "1"); // anonymous → challenge → token #1 (1 s: renewed after 0.5 s)
      expect([(reg.tokensIssued?.() ?? 0) - before, refusals]).toEqual([1, 1]);
      await Bun.sleep(600);
      await c.getManifest("team/busybox", "1"); // token #1 is due: token #2 first, then the request
      expect([(reg.tokensIssued?.() ?? 0) - before, refusals]).toEqual([2, 1]);
    } finally {
      reg.setTokenLifetime?.(300);
      front.stop();
    }
  });

  test("wrong credentials: one line from the token server's refusal", async () => {
    resetRegistryState();
    const c = new RegistryClient(reg.host, { username: TEST_USER, password: "nope" });
    expectOneLine(await errorOf(c.getManifest("team/busybox", "1")), /authentication failed: .* refused the credentials of bunker; run bunker login/);
  });
});

/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of a real registry: `inject` may answer a
 * request itself; otherwise it is forwarded unchanged, and `answered` sees the registry's answer.
 */
function faultProxy(
  reg: TestRegistry,
  inject: (req: Request) => Response | undefined | Promise<Response | undefined>,
  answered: (res: Response) => void = () => {},
) {
  let sawAuth = false;
  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (req.headers.get("authorization")) sawAuth = true;
      const injected = await inject(req);
      if (injected) return injected;
      const u = new URL(req.url);
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(`${reg.url}${u.pathname}${u.search}`, {
        method: req.method,
        headers,
        body: req.body,
        redirect: "manual",
        decompress: false,
      } as RequestInit);
      answered(res);
      const out = new Headers(res.headers);
      // Rewrite a challenge or a Location naming the real registry so clients stay on the proxy.
      const loc = out.get("location");
      if (loc?.startsWith(reg.url)) out.set("location", `http://127.0.0.1:${server.port}${loc.slice(reg.url.length)}`);
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
    },
  });
  return {
    host: `127.0.0.1:${server.port}`,
    sawAuthorization: () => sawAuth,
    stop: () => server.stop(true),
  };
}

describe.if(hasRegistry)("registry client, faults", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await standardRegistry();
  }, 180_000);

  test("5xx answers are retried, then succeed", async () => {
    let failures = 2;
    const front = faultProxy(reg, () => (failures-- > 0 ? new Response("busy", { status: 503 }) : undefined));
    try {
      const m = await new RegistryClient(front.host, { retryDelayMs: 10 }).getManifest("busybox", "musl");
      expect(m.digest).toBe(muslManifestDigest);
      expect(failures).toBe(-1);
    } finally {
      front.stop();
    }
  });

  test("500 every time: one line after 4 tries", async () => {
    let calls = 0;
    const front = faultProxy(reg, () => {
      calls++;
      return Response.json({ errors: [{ code: "UNKNOWN", message: "disk on fire" }] }, { status: 500 });
    });
    try {
      const e = await errorOf(new RegistryClient(front.host, { retryDelayMs: 10 }).getManifest("busybox", "musl"));
      expectOneLine(e, /answered 500 .*disk on fire.* 4 times; giving up/);
      expect(calls).toBe(4); // the HTTPS probe never reaches an HTTP handler
    } finally {
      front.stop();
    }
  });

  test("garbage instead of a manifest", async () => {
    const front = faultProxy(reg, (req) =>
      new URL(req.url).pathname.includes("/manifests/")
        ? new Response("<html>502 Bad Gateway</html>", { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } })
        : undefined,
    );
    try {
      const m = await new RegistryClient(front.host).getManifest("busybox", "musl");
      let err: unknown;
      try {
        parseManifestDocument(m.bytes, m.mediaType);
      } catch (e) {
        err = e;
      }
      expectOneLine(err as Error, /the manifest is not JSON \(starts with "<html>/);
    } finally {
      front.stop();
    }
  });

  test("a manifest whose bytes don't match the registry's digest header", async () => {
    const real = await new RegistryClient(reg.host).getManifest("busybox", "musl");
    const front = faultProxy(reg, (req) =>
      new URL(req.url).pathname.includes("/manifests/")
        ? new Response(`${new TextDecoder().decode(real.bytes)} `, {
            headers: { "content-type": real.mediaType, "docker-content-digest": real.digest },
          })
        : undefined,
    );
    try {
      expectOneLine(await errorOf(new RegistryClient(front.host).getManifest("busybox", "musl")), /digest mismatch/);
      expectOneLine(await errorOf(new RegistryClient(front.host).getManifest("busybox", real.digest)), /digest mismatch/);
    } finally {
      front.stop();
    }
  });

  test("dropped connections are retried", async () => {
    // A TCP proxy that hangs up on the first two connections, then relays to the registry.
    let drops = 3; // the HTTPS probe takes the first, so two real requests are dropped
    const port = Number(reg.host.split(":")[1]);
    const listener: TCPSocketListener<{ upstream?: Promise<import("bun").Socket<undefined>>; pending: Uint8Array[] }> = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(sock) {
          sock.data = { pending: [] };
          if (drops-- > 0) {
            sock.end();
            return;
          }
          sock.data.upstream = Bun.connect({
            hostname: "127.0.0.1",
            port,
            socket: {
              data: (_up, chunk) => {
                sock.write(chunk);
              },
              close: () => {
                sock.end();
              },
            },
          });
        },
        async data(sock, chunk) {
          const up = await sock.data.upstream;
          up?.write(chunk);
        },
        async close(sock) {
          (await sock.data.upstream)?.end();
        },
      },
    });
    try {
      const m = await new RegistryClient(`127.0.0.1:${listener.port}`, { retryDelayMs: 10 }).getManifest("busybox", "musl");
      expect(m.digest).toBe(muslManifestDigest);
      expect(drops).toBeLessThan(0);
    } finally {
      listener.stop(true);
    }
  });

  test("nothing listening: one line after the retries", async () => {
    const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = l.port;
    l.stop(true);
    expectOneLine(await errorOf(new RegistryClient(`127.0.0.1:${port}`, { retryDelayMs: 10 }).getManifest("x", "y")), /cannot reach 127\.0\.0\.1:\d+: .*tried 4 times/);
  });
});

describe.if(hasRegistry)("registry client, TLS", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ tls: true });
    await reg.push(`oci:${BUSYBOX_LAYOUTS.musl}`, "tls/busybox:1");
  }, 120_000);
  afterAll(() => reg?.stop());

  test("a loopback registry with a self-signed certificate is reached over HTTPS", async () => {
    expect(reg.url).toStartWith("https://");
    // distribution refuses plain HTTP on a TLS port, so success means the client chose HTTPS.
    expect((await new RegistryClient(reg.host).getManifest("tls/busybox", "1")).digest).toBe(muslManifestDigest);
  });

  test.skipIf(ownName === undefined)("by a name that isn't loopback, the certificate is verified unless tlsVerify is false", async () => {
    const host = `${ownName}:${reg.host.split(":")[1]}`;
    expectOneLine(await errorOf(new RegistryClient(host, { retryDelayMs: 10 }).getManifest("tls/busybox", "1")), new RegExp(`the TLS certificate of ${host} is not trusted`));
    expect((await new RegistryClient(host, { tlsVerify: false }).getManifest("tls/busybox", "1")).digest).toBe(muslManifestDigest);
  });

  test("a host the registry redirects to is verified: an untrusted certificate fails at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunker-cdn-"));
    const [cert, key] = await selfSignedCert(dir);
    let cdnHits = 0;
    const cdn = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: Bun.file(cert), key: Bun.file(key) },
      fetch() {
        cdnHits++;
        return new Response(muslLayerBytes);
      },
    });
    const std = await standardRegistry();
    const front = faultProxy(std, (req) =>
      new URL(req.url).pathname.includes("/blobs/") ? new Response(null, { status: 307, headers: { location: `https://localhost:${cdn.port}/blob` } }) : undefined,
    );
    try {
      const e = await errorOf(new RegistryClient(front.host, { retryDelayMs: 10 }).getBlob("busybox", muslLayer.digest));
      expectOneLine(e, new RegExp(`the TLS certificate of localhost:${cdn.port} is not trusted .*--tls-verify=false`));
      expect(cdnHits).toBe(0);
    } finally {
      front.stop();
      cdn.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
