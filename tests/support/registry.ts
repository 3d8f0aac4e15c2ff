// A real registry for the tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 at a
// free port, with no auth, htpasswd Basic auth, or token auth backed by a token issuer served here
// and signed with a key generated per run. Images are pushed into it with skopeo, in every shape
// bunker must read. No mock registry: the only thing faked is the token issuer, which is the
// registry operator's own component in real deployments too.
//
//   startRegistry({ auth, tls, redirectBlobsTo }) a fresh registry; auth "none" | "htpasswd" | "token"
//                            (user TEST_USER / TEST_PASSWORD), tls: HTTPS with a self-signed certificate,
//                            redirectBlobsTo: blob GETs answer with a redirect to BASEURL/<storage path>
//                            (distribution's own `redirect` storage middleware; serve from dataDir).
//                            Token mode counts the tokens issued and can shorten their lifetime.
//                            It dies with the test process (parent-death signal) if stop() isn't called.
//   selfSignedCert(dir)      [cert, key] for 127.0.0.1 and localhost
//   loopbackHostName()       this machine's name when it resolves only to loopback, else undefined
//   credentialSandbox()      a bunker sandbox that reads and writes credentials only in its own dir
//   BUSYBOX_LAYOUTS, alpineLayout(dir), helloWorldLayout(dir), multiArchLayout(dir): OCI layouts
//   standardRegistry()       one shared no-auth registry per test process with the standard images:
//     busybox:musl busybox:glibc busybox:uclibc busybox:latest(=musl)  (OCI, gzip)
//     alpine:3.20.3 alpine:latest     (from the minirootfs, Cmd ["/bin/sh"])
//     hello-world:latest              (one layer with /hello, Cmd ["/hello"])
//     multi:latest                    (OCI index: linux/amd64 busybox musl + linux/arm64/v8 hello-world)
//     busybox-v2s2:latest             (Docker schema 2 manifest)
//     busybox-zstd:latest             (OCI manifest with a zstd layer)
import { createPrivateKey, sign as cryptoSign } from "node:crypto";
import { closeSync, copyFileSync, mkdirSync, openSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { bunkerSandbox, imagesSrc, type Sandbox } from "./bunker";
import { sha256, writeOciLayout } from "./oci";

export type RegistryAuth = "none" | "htpasswd" | "token";

export interface TestRegistry {
  /** "127.0.0.1:PORT" */
  host: string;
  /** "http://127.0.0.1:PORT" ("https://…" with tls) */
  url: string;
  /** the storage root: a redirected blob's path (/docker/registry/v2/…) is a file under it */
  dataDir: string;
  auth: RegistryAuth;
  username?: string;
  password?: string;
  /** Token mode only: how many tokens the issuer has handed out (to test caching and renewal). */
  tokensIssued?: () => number;
  /** Token mode only: the lifetime (expires_in and the JWT's exp) of the tokens issued from now on; 300 s at first. */
  setTokenLifetime?: (seconds: number) => void;
  stop(): Promise<void>;
  /** skopeo copy into this registry; src like "oci:/path/to/layout" or "oci:/path:tag" or "docker-archive:/x.tar" */
  push(src: string, repoTag: string, opts?: { format?: "oci" | "v2s2"; compress?: "gzip" | "zstd" }): Promise<void>;
}

export const TEST_USER = "bunker";
export const TEST_PASSWORD = "s3cret-pass";
const TOKEN_SERVICE = "bunker-test-registry";
const TOKEN_ISSUER = "bunker-test-issuer";

const live = new Set<() => void>();
process.on("exit", () => {
  for (const stop of live) stop();
});

async function run(cmd: string[], what: string, stdin?: string): Promise<string> {
  const p = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${what} failed (exit ${code}): ${err.trim() || out.trim()}`);
  return out;
}

/** A port nobody is listening on right now (the registry binds it a moment later). */
function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

async function waitUntilServing(url: string, child: Subprocess, logFile: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${tail(logFile)}`);
    try {
      await fetch(`${url}/v2/`, { tls: { rejectUnauthorized: false } });
      return; // any HTTP answer (200 or 401) means it serves
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`docker-registry did not start at ${url}: ${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-5).join("\n");
  } catch {
    return "(no log)";
  }
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString("base64url");

/**
 * The token issuer of the registry's `token` auth mode: checks Basic credentials and signs a JWT
 * (ES256) granting the requested scopes. distribution 2.8 trusts a token whose `x5c` header chains
 * to its rootcertbundle, so the issuer's self-signed certificate is both.
 */
async function startTokenIssuer(dir: string, username: string, password: string) {
  const keyFile = join(dir, "issuer.key");
  const certFile = join(dir, "issuer.crt");
  await run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile], "openssl ecparam");
  await run(
    ["openssl", "req", "-new", "-x509", "-key", keyFile, "-out", certFile, "-days", "2", "-subj", `/CN=${TOKEN_ISSUER}`],
    "openssl req",
  );
  const key = createPrivateKey(readFileSync(keyFile));
  const certDer = Buffer.from(
    readFileSync(certFile, "utf8")
      .replace(/-----(BEGIN|END) CERTIFICATE-----/g, "")
      .replace(/\s+/g, ""),
    "base64",
  );
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  let issued = 0;
  let lifetime = 300;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const u = new URL(req.url);
      if (req.headers.get("authorization") !== expected)
        return Response.json({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }, { status: 401 });
      const access = u.searchParams.getAll("scope").flatMap((scope) => {
        // scope = type:name:actions, where name may itself hold a ':' (host:port) — split at the ends
        const first = scope.indexOf(":");
        const last = scope.lastIndexOf(":");
        if (first < 0 || last <= first) return [];
        return [{ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(",") }];
      });
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: "ES256", typ: "JWT", x5c: [certDer.toString("base64")] };
      const claims = {
        iss: TOKEN_ISSUER,
        sub: username,
        aud: u.searchParams.get("service") ?? TOKEN_SERVICE,
        exp: now + lifetime,
        nbf: now - 10,
        iat: now,
        jti: crypto.randomUUID(),
        access,
      };
      const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const signature = cryptoSign("sha256", Buffer.from(signingInput), { key, dsaEncoding: "ieee-p1363" });
      issued++;
      return Response.json({ token: `${signingInput}.${b64url(signature)}`, expires_in: lifetime, issued_at: new Date().toISOString() });
    },
  });
  return {
    realm: `http://127.0.0.1:${server.port}/token`,
    certFile,
    server,
    issued: () => issued,
    setLifetime: (seconds: number) => {
      lifetime = seconds;
    },
  };
}

/** Removes the data dirs of registries whose test process died without cleaning up. */
function removeStaleDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith("bunker-registry-")) continue;
    const dir = join(tmpdir(), name);
    try {
      const owner = Number(readFileSync(join(dir, "owner.pid"), "utf8"));
      process.kill(owner, 0);
    } catch (e) {
      // ESRCH: the owner is gone. No owner.pid yet (being created) or EPERM (another user's): leave it.
      if ((e as { code?: string }).code === "ESRCH") rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * This machine's own name when it resolves only to loopback (Debian's /etc/hosts does that): a
 * registry name that is not a loopback literal, so bunker must treat it as a remote host, yet
 * reachable without leaving the machine. undefined where the name resolves elsewhere.
 */
export async function loopbackHostName(): Promise<string | undefined> {
  const name = hostname().toLowerCase();
  if (!/^[a-z0-9-]+$/.test(name) || name === "localhost") return undefined;
  const addrs = await lookup(name, { all: true }).catch(() => []);
  return addrs.length > 0 && addrs.every((a) => a.address.startsWith("127.") || a.address === "::1") ? name : undefined;
}

/** A self-signed certificate for 127.0.0.1 and localhost, in dir; returns [certFile, keyFile]. */
export async function selfSignedCert(dir: string, name = "server"): Promise<[string, string]> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run(
    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    "openssl req (server certificate)",
  );
  return [cert, key];
}

/** auth: none, htpasswd or token; tls: serve HTTPS with a self-signed certificate (url is https://). */
export async function startRegistry(opts: { auth?: RegistryAuth; tls?: boolean; redirectBlobsTo?: string } = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? "none";
  removeStaleDirs();
  const dir = mkdtempSync(join(tmpdir(), "bunker-registry-"));
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  const creds = auth === "none" ? undefined : { username: TEST_USER, password: TEST_PASSWORD };
  let authYaml = "";
  let issuer: Awaited<ReturnType<typeof startTokenIssuer>> | undefined;
  if (auth === "htpasswd") {
    const line = await run(["htpasswd", "-Bbn", TEST_USER, TEST_PASSWORD], "htpasswd");
    writeFileSync(join(dir, "htpasswd"), line);
    authYaml = `auth:\n  htpasswd:\n    realm: bunker-test\n    path: ${join(dir, "htpasswd")}\n`;
  } else if (auth === "token") {
    issuer = await startTokenIssuer(dir, TEST_USER, TEST_PASSWORD);
    authYaml = `auth:\n  token:\n    realm: ${issuer.realm}\n    service: ${TOKEN_SERVICE}\n    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${issuer.certFile}\n`;
  }
  const tlsYaml = opts.tls ? await selfSignedCert(dir).then(([cert, key]) => `  tls:\n    certificate: ${cert}\n    key: ${key}\n`) : "";
  const redirectYaml = opts.redirectBlobsTo ? `middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: ${opts.redirectBlobsTo}\n` : "";
  const logFile = join(dir, "registry.log");
  let lastError: unknown;
  // The free port can be taken between probing and binding; try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const host = `127.0.0.1:${port}`;
    const url = `${opts.tls ? "https" : "http"}://${host}`;
    const configFile = join(dir, "config.yml");
    writeFileSync(
      configFile,
      `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, "data")}
  delete:
    enabled: true
http:
  addr: ${host}
${tlsYaml}${authYaml}${redirectYaml}`,
    );
    const logFd = openSync(logFile, "a");
    // `bun test` runs no exit hooks, and a killed test process runs none either: the kernel's
    // parent-death signal is what reliably takes the registry down with the tests.
    const child = Bun.spawn(["setpriv", "--pdeathsig", "SIGKILL", "--", "docker-registry", "serve", configFile], {
      stdin: "ignore",
      stdout: logFd,
      stderr: logFd,
    });
    closeSync(logFd);
    const kill = () => {
      child.kill("SIGKILL");
      issuer?.server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    };
    live.add(kill);
    try {
      await waitUntilServing(url, child, logFile);
    } catch (e) {
      lastError = e;
      live.delete(kill);
      child.kill("SIGKILL");
      await child.exited;
      continue;
    }
    // Don't hold the process open: the exit hook above kills the registry when the tests end.
    child.unref();
    issuer?.server.unref();
    const registry: TestRegistry = {
      host,
      url,
      dataDir: join(dir, "data"),
      auth,
      ...creds,
      tokensIssued: issuer ? issuer.issued : undefined,
      setTokenLifetime: issuer ? issuer.setLifetime : undefined,
      async stop() {
        live.delete(kill);
        child.kill("SIGTERM");
        await child.exited;
        issuer?.server.stop(true);
        rmSync(dir, { recursive: true, force: true });
      },
      push: (src, repoTag, pushOpts = {}) => skopeoPush(registry, src, repoTag, pushOpts),
    };
    return registry;
  }
  rmSync(dir, { recursive: true, force: true });
  issuer?.server.stop(true);
  throw lastError;
}

async function skopeoPush(
  reg: TestRegistry,
  src: string,
  repoTag: string,
  opts: { format?: "oci" | "v2s2"; compress?: "gzip" | "zstd" },
): Promise<void> {
  const base = ["skopeo", "--insecure-policy", "copy", "--quiet"];
  const dest = [
    "--dest-tls-verify=false",
    ...(reg.username ? ["--dest-creds", `${reg.username}:${reg.password}`] : []),
    ...(opts.format ? ["--format", opts.format] : []),
  ];
  const target = `docker://${reg.host}/${repoTag}`;
  // skopeo 1.9 cannot recompress to zstd on the way to a registry: recompress into a dir: first.
  if (opts.compress === "zstd") {
    const tmp = mkdtempSync(join(tmpdir(), "bunker-zstd-"));
    try {
      await run([...base, "--dest-compress", "--dest-compress-format", "zstd", src, `dir:${tmp}`], `skopeo copy ${src} (zstd)`);
      await run([...base, ...dest, `dir:${tmp}`, target], `skopeo copy to ${target}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return;
  }
  const compress = opts.compress === "gzip" ? ["--dest-compress", "--dest-compress-format", "gzip"] : [];
  // --all keeps every entry of an index instead of picking the host's.
  await run([...base, "--all", ...compress, ...dest, src, target], `skopeo copy ${src} to ${target}`);
}

export const BUSYBOX_LAYOUTS = {
  musl: join(imagesSrc, "busybox-1.38.0-musl-amd64-oci"),
  glibc: join(imagesSrc, "busybox-1.38.0-glibc-amd64-oci"),
  uclibc: join(imagesSrc, "busybox-1.38.0-uclibc-amd64-oci"),
};

/** OCI layout of Alpine 3.20.3: the minirootfs tarball as its one layer, as the official Dockerfile does. */
export function alpineLayout(dir: string): string {
  const blob = new Uint8Array(readFileSync(join(imagesSrc, "alpine-3.20.3-x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz")));
  return writeOciLayout(dir, {
    layers: [{ blob, tar: Bun.gunzipSync(blob) }],
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"] },
  });
}

/** OCI layout of hello-world: one gzip layer holding /hello (root-owned, 0755). */
export async function helloWorldLayout(dir: string): Promise<string> {
  const stage = mkdtempSync(join(tmpdir(), "bunker-hello-"));
  try {
    copyFileSync(join(imagesSrc, "hello-world-amd64/hello"), join(stage, "hello"));
    const tar = new Uint8Array(
      Bun.spawnSync(["tar", "-C", stage, "--owner=0", "--group=0", "--numeric-owner", "--mode=0755", "--mtime=@0", "-cf", "-", "hello"])
        .stdout,
    );
    return writeOciLayout(dir, { layers: [{ blob: Bun.gzipSync(tar), tar }], config: { Cmd: ["/hello"] } });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * OCI layout whose "latest" is an image index: linux/amd64 (busybox musl) and linux/arm64/v8 (the
 * real arm64 hello-world layer from the docker v25 save archive).
 */
export function multiArchLayout(dir: string): void {
  const blobs = join(dir, "blobs/sha256");
  // arm64 image first: writeOciLayout writes its own index.json, which is replaced below.
  const armTar = new Uint8Array(
    Bun.spawnSync([
      "tar",
      "-xOf",
      join(imagesSrc, "ggcr-testdata/hello-world-v25.tar"),
      "blobs/sha256/12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43",
    ]).stdout,
  );
  const armDigest = writeOciLayout(dir, {
    layers: [{ blob: armTar, tar: armTar, mediaType: "application/vnd.oci.image.layer.v1.tar" }],
    architecture: "arm64",
    config: { Cmd: ["/hello"] },
  });
  const muslBlobs = join(BUSYBOX_LAYOUTS.musl, "blobs/sha256");
  for (const f of readdirSync(muslBlobs)) copyFileSync(join(muslBlobs, f), join(blobs, f));
  const muslIndex = JSON.parse(readFileSync(join(BUSYBOX_LAYOUTS.musl, "index.json"), "utf8"));
  const amd = muslIndex.manifests[0];
  const size = (digest: string) => readFileSync(join(blobs, digest.slice(7))).length;
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      { mediaType: amd.mediaType, digest: amd.digest, size: amd.size, platform: { architecture: "amd64", os: "linux" } },
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: armDigest,
        size: size(armDigest),
        platform: { architecture: "arm64", os: "linux", variant: "v8" },
      },
    ],
  });
  const indexHex = sha256(index);
  writeFileSync(join(blobs, indexHex), index);
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.index.v1+json",
          digest: `sha256:${indexHex}`,
          size: Buffer.byteLength(index),
          annotations: { "org.opencontainers.image.ref.name": "latest" },
        },
      ],
    }),
  );
}

/**
 * A bunker sandbox whose credentials live only in its own temp dir: docker's config.json in
 * `configDir` ($DOCKER_CONFIG), and no auth.json of podman's or the user's is read.
 */
export function credentialSandbox(): Sandbox & { configDir: string } {
  const sb = bunkerSandbox();
  const configDir = join(sb.root, "..", "docker-config");
  sb.env.DOCKER_CONFIG = configDir;
  sb.env.XDG_CONFIG_HOME = join(sb.root, "..", "xdg-config");
  delete sb.env.REGISTRY_AUTH_FILE;
  delete sb.env.XDG_RUNTIME_DIR;
  return Object.assign(sb, { configDir });
}

let standard: Promise<TestRegistry> | undefined;

/** One lazily started no-auth registry per test process, with the standard images pushed. */
export function standardRegistry(): Promise<TestRegistry> {
  standard ??= (async () => {
    const reg = await startRegistry();
    const work = mkdtempSync(join(tmpdir(), "bunker-images-"));
    try {
      const sub = (name: string) => {
        const d = join(work, name);
        mkdirSync(d);
        return d;
      };
      const alpine = sub("alpine");
      alpineLayout(alpine);
      const hello = sub("hello");
      await helloWorldLayout(hello);
      const multi = sub("multi");
      multiArchLayout(multi);
      // Pushes run one after another: two cores are shared by everyone, and skopeo is CPU-bound.
      await reg.push(`oci:${BUSYBOX_LAYOUTS.musl}`, "busybox:musl");
      await reg.push(`oci:${BUSYBOX_LAYOUTS.musl}`, "busybox:latest");
      await reg.push(`oci:${BUSYBOX_LAYOUTS.glibc}`, "busybox:glibc");
      await reg.push(`oci:${BUSYBOX_LAYOUTS.uclibc}`, "busybox:uclibc");
      await reg.push(`oci:${alpine}`, "alpine:3.20.3");
      await reg.push(`oci:${alpine}`, "alpine:latest");
      await reg.push(`oci:${hello}`, "hello-world:latest");
      await reg.push(`oci:${multi}:latest`, "multi:latest");
      await reg.push(`oci:${BUSYBOX_LAYOUTS.musl}`, "busybox-v2s2:latest", { format: "v2s2" });
      await reg.push(`oci:${BUSYBOX_LAYOUTS.musl}`, "busybox-zstd:latest", { compress: "zstd" });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return reg;
  })();
  return standard;
}
