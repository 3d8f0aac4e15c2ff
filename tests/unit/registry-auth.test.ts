import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BunkerError } from "../../src/errors";
import { parseChallenges, parseTokenResponse, TokenCache } from "../../src/registry/auth";
import { isLoopbackHost, RegistryClient } from "../../src/registry/client";
import { credentialFiles, findCredentials } from "../../src/registry/credentials";

describe("WWW-Authenticate challenges", () => {
  test("Docker Hub's Bearer challenge", () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"')).toEqual([
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/alpine:pull" } },
    ]);
  });
  test("Basic, several challenges, unquoted values, escapes, commas inside quotes", () => {
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: "basic", params: { realm: "Registry Realm" } }]);
    expect(parseChallenges('Basic realm="a, b", Bearer realm="https://t/x",scope="repository:a:pull,push" , error=insufficient_scope')).toEqual([
      { scheme: "basic", params: { realm: "a, b" } },
      { scheme: "bearer", params: { realm: "https://t/x", scope: "repository:a:pull,push", error: "insufficient_scope" } },
    ]);
    expect(parseChallenges('Bearer realm="q\\"uote"')[0].params.realm).toBe('q"uote');
    expect(parseChallenges("")).toEqual([]);
    expect(parseChallenges("Negotiate")).toEqual([{ scheme: "negotiate", params: {} }]);
  });
  test("token responses", () => {
    expect(parseTokenResponse({ token: "t", expires_in: 300 })).toEqual({ token: "t", expiresIn: 300 });
    expect(parseTokenResponse({ access_token: "a" })).toEqual({ token: "a", expiresIn: 60 });
    expect(parseTokenResponse({ token: "", access_token: "a" })?.token).toBe("a");
    expect(parseTokenResponse({})).toBeUndefined();
    expect(parseTokenResponse("x")).toBeUndefined();
  });
  test("tokens are reused until shortly before they expire", () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    cache.set("k", "t1", 300);
    now += 260_000;
    expect(cache.get("k")).toBe("t1");
    now += 15_000; // 275 s: inside the 30 s renewal margin
    expect(cache.get("k")).toBeUndefined();
    cache.set("short", "t2", 10); // renewed at half of a short life
    now += 4_000;
    expect(cache.get("short")).toBe("t2");
    now += 2_000;
    expect(cache.get("short")).toBeUndefined();
    cache.set("k", "t3", 60);
    cache.drop("k");
    expect(cache.get("k")).toBeUndefined();
  });
  test("names that would escape the URL path are refused before any request", async () => {
    const c = new RegistryClient("127.0.0.1:9"); // nothing listens on the discard port
    for (const [repo, ref] of [["../x", "latest"], ["a/../../b", "latest"], ["a?b", "latest"], ["ok", "../../v2"], ["ok", "a/b"]]) {
      await expect(c.getManifest(repo, ref)).rejects.toThrow(/invalid (repository name|tag)/);
    }
    await expect(c.getBlob("../x", `sha256:${"a".repeat(64)}`)).rejects.toThrow(/invalid repository name/);
    await expect(c.getBlob("x", "sha256:../../etc")).rejects.toThrow(BunkerError);
  });

  test("plain HTTP only for loopback", () => {
    for (const h of ["localhost", "localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"]) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["docker.io", "registry-1.docker.io", "10.0.0.1:5000", "localhost.example.com", "127.0.0.1.nip.io", "[::2]:5000"]) expect(isLoopbackHost(h)).toBe(false);
  });
});

describe("credential lookup", () => {
  let dir: string;
  let saved: NodeJS.ProcessEnv;
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "bunker-creds-"));
    saved = { ...process.env };
    delete process.env.REGISTRY_AUTH_FILE;
    delete process.env.DOCKER_CONFIG;
    delete process.env.XDG_RUNTIME_DIR;
    delete process.env.XDG_CONFIG_HOME;
    process.env.HOME = join(dir, "home");
  });
  afterEach(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (path: string, doc: unknown) => {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, JSON.stringify(doc));
    return path;
  };

  test("order: --authfile, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG (instead of ~/.docker)", () => {
    const home = write(join(dir, "home/.docker/config.json"), { auths: { "r.example": { auth: b64("home:1") }, "only-home.example": { auth: b64("h:2") } } });
    const podmanConfig = join(dir, "home/.config/containers/auth.json");
    expect(credentialFiles()).toEqual([podmanConfig, home]);
    expect(findCredentials("r.example")).toEqual({ username: "home", password: "1" });
    const dc = write(join(dir, "dc/config.json"), { auths: { "r.example": { username: "dc", password: "3" } } });
    process.env.DOCKER_CONFIG = join(dir, "dc");
    expect(findCredentials("r.example")).toEqual({ username: "dc", password: "3" });
    expect(findCredentials("only-home.example")).toBeUndefined(); // DOCKER_CONFIG replaces ~/.docker
    const raf = write(join(dir, "auth.json"), { auths: { "r.example": { auth: b64("raf:4") } } });
    process.env.REGISTRY_AUTH_FILE = raf;
    expect(findCredentials("r.example")).toEqual({ username: "raf", password: "4" });
    const explicit = write(join(dir, "explicit.json"), { auths: { "r.example": { auth: b64("cli:5:with:colons") } } });
    expect(findCredentials("r.example", { authFile: explicit })).toEqual({ username: "cli", password: "5:with:colons" });
    expect(credentialFiles(explicit)).toEqual([explicit, raf, podmanConfig, dc]);
    // A file without an entry falls through to the next.
    expect(findCredentials("other.example", { authFile: explicit })).toBeUndefined();
    write(dc, { auths: { "other.example": { auth: b64("dc:6") } } });
    expect(findCredentials("other.example", { authFile: explicit })).toEqual({ username: "dc", password: "6" });
  });

  test("podman's auth.json files come before docker's", () => {
    write(join(dir, "home/.docker/config.json"), { auths: { "r.example": { auth: b64("docker:1") } } });
    write(join(dir, "home/.config/containers/auth.json"), { auths: { "r.example": { auth: b64("podman:2") } } });
    expect(findCredentials("r.example")?.username).toBe("podman");
    process.env.XDG_RUNTIME_DIR = join(dir, "run");
    write(join(dir, "run/containers/auth.json"), { auths: { "r.example": { auth: b64("runtime:3") } } });
    expect(findCredentials("r.example")?.username).toBe("runtime");
  });

  test("Docker Hub's key spellings, URL keys and repository-specific keys", () => {
    write(join(dir, "home/.docker/config.json"), {
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hub:1") },
        "http://127.0.0.1:5000": { auth: b64("local:2") },
        "quay.io/team": { auth: b64("team:3") },
        "quay.io/team/app": { auth: b64("app:4") },
        "quay.io": { auth: b64("quay:5") },
      },
    });
    expect(findCredentials("docker.io")?.username).toBe("hub");
    expect(findCredentials("127.0.0.1:5000")?.username).toBe("local");
    expect(findCredentials("quay.io", { repository: "team/app" })?.username).toBe("app");
    expect(findCredentials("quay.io", { repository: "team/other" })?.username).toBe("team");
    expect(findCredentials("quay.io", { repository: "else/x" })?.username).toBe("quay");
    expect(findCredentials("ghcr.io")).toBeUndefined();
  });

  test("credHelpers and credsStore run docker-credential-NAME get with the server on stdin", () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const log = join(dir, "helper.log");
    // A helper that knows two servers and says "credentials not found" for the rest, as the protocol does.
    writeFileSync(
      join(bin, "docker-credential-fake"),
      `#!/bin/sh
read server
echo "$1 $server" >> ${log}
case "$server" in
  ghcr.io) echo '{"ServerURL":"ghcr.io","Username":"gh-user","Secret":"gh-pat"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"hub-user","Secret":"hub-pat"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`,
    );
    chmodSync(join(bin, "docker-credential-fake"), 0o755);
    writeFileSync(join(bin, "docker-credential-broken"), "#!/bin/sh\necho 'boom: keychain locked' >&2\nexit 3\n");
    chmodSync(join(bin, "docker-credential-broken"), 0o755);
    process.env.PATH = `${bin}:${process.env.PATH}`;
    const cfg = join(dir, "home/.docker/config.json");
    write(cfg, { credHelpers: { "ghcr.io": "fake" }, credsStore: "fake", auths: { "plain.example": { auth: b64("p:1") }, "docker.io": {} } });
    expect(findCredentials("ghcr.io")).toEqual({ username: "gh-user", password: "gh-pat" });
    expect(findCredentials("docker.io")).toEqual({ username: "hub-user", password: "hub-pat" }); // empty auths entry → credsStore
    expect(findCredentials("plain.example")).toEqual({ username: "p", password: "1" }); // auths before credsStore
    expect(findCredentials("nowhere.example")).toBeUndefined();
    expect(require("node:fs").readFileSync(log, "utf8")).toBe("get ghcr.io\nget https://index.docker.io/v1/\nget nowhere.example\n");
    write(cfg, { credHelpers: { "ghcr.io": "broken" } });
    expect(() => findCredentials("ghcr.io")).toThrow(BunkerError);
    expect(() => findCredentials("ghcr.io")).toThrow(/docker-credential-broken failed to get credentials for ghcr.io: boom: keychain locked/);
    write(cfg, { credHelpers: { "ghcr.io": "missing" } });
    expect(() => findCredentials("ghcr.io")).toThrow(/docker-credential-missing is configured but not found in PATH/);
  });

  test("a broken file is a clear error", () => {
    const f = join(dir, "bad.json");
    writeFileSync(f, "{nope");
    expect(() => findCredentials("x.example", { authFile: f })).toThrow(/cannot read credentials file .*bad.json/);
    writeFileSync(f, JSON.stringify({ auths: { "x.example": { auth: b64("no-colon") } } }));
    expect(() => findCredentials("x.example", { authFile: f })).toThrow(/malformed/);
  });
});
