// bunker push through dist/bunker, against the real docker-registry: the pulled image goes back
// byte for byte (same manifest digest), an image loaded from a docker-save archive gets an OCI
// manifest that skopeo and bunker read back, auth is required where the registry wants it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunkerSandbox, imagesSrc, type Sandbox } from "../support/bunker";
import { BUSYBOX_LAYOUTS, credentialSandbox, standardRegistry, startRegistry, type TestRegistry, TEST_PASSWORD, TEST_USER } from "../support/registry";

const hasRegistry = Bun.which("docker-registry") !== null && Bun.which("skopeo") !== null;
const muslIndex = JSON.parse(readFileSync(join(BUSYBOX_LAYOUTS.musl, "index.json"), "utf8"));

async function ok(sb: Sandbox, args: string[], stdin?: string) {
  const r = await sb.run(args, stdin === undefined ? {} : { stdin });
  if (r.code !== 0) throw new Error(`bunker ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r;
}

describe.if(hasRegistry)("push", () => {
  let std: TestRegistry;
  let priv: TestRegistry;
  let sb: Sandbox;
  beforeAll(async () => {
    std = await standardRegistry();
    priv = await startRegistry({ auth: "htpasswd" });
    sb = credentialSandbox();
  }, 180_000);
  afterAll(async () => {
    sb?.cleanup();
    await priv?.stop();
  });

  test("a pulled image goes to an authenticated registry unchanged", async () => {
    await ok(sb, ["pull", "-q", `${std.host}/busybox:musl`]);
    const denied = await sb.run(["push", `${std.host}/busybox:musl`, `${priv.host}/team/bb:v1`]);
    expect(denied.code).toBe(125);
    expect(denied.stderr).toContain(`Error: authentication required: run bunker login ${priv.host}`);

    await ok(sb, ["login", "-u", TEST_USER, "--password-stdin", priv.host], TEST_PASSWORD);
    const r = await ok(sb, ["push", `${std.host}/busybox:musl`, `${priv.host}/team/bb:v1`]);
    const original = muslIndex.manifests[0];
    expect(r.stdout).toBe(`v1: digest: ${original.digest} size: ${original.size}\n`);
    // Pushing again uploads nothing new and gives the same digest.
    const digestFile = join(sb.root, "..", "digest");
    const again = await ok(sb, ["push", "--digestfile", digestFile, `${std.host}/busybox:musl`, `${priv.host}/team/bb:v1`]);
    expect(again.stdout).toBe(r.stdout);
    expect(readFileSync(digestFile, "utf8")).toBe(original.digest);
    expect(again.stderr).toContain("already exists");

    // skopeo reads it back with the same digest.
    const inspect = Bun.spawnSync([
      "skopeo",
      "inspect",
      "--tls-verify=false",
      "--creds",
      `${TEST_USER}:${TEST_PASSWORD}`,
      `docker://${priv.host}/team/bb:v1`,
    ]);
    expect(inspect.exitCode).toBe(0);
    expect(JSON.parse(inspect.stdout.toString()).Digest).toBe(original.digest);
  });

  test("to a token registry: the Bearer token is asked for with push in its scope", async () => {
    const tok = await startRegistry({ auth: "token" });
    try {
      const dest = `${tok.host}/team/bb:v1`;
      const denied = await sb.run(["push", `${std.host}/busybox:musl`, dest]);
      expect(denied.code).toBe(125);
      expect(denied.stderr).toContain(`Error: authentication required: run bunker login ${tok.host}`);
      const authFile = join(sb.root, "..", "token-auth.json");
      writeFileSync(authFile, JSON.stringify({ auths: { [tok.host]: { auth: Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString("base64") } } }));
      // The issuer grants what the scope asks: a token scoped to pull only would make the registry refuse the upload.
      const r = await ok(sb, ["push", "-q", "--authfile", authFile, `${std.host}/busybox:musl`, dest]);
      const original = muslIndex.manifests[0];
      expect(r.stdout).toBe(`v1: digest: ${original.digest} size: ${original.size}\n`);
      const fresh = bunkerSandbox();
      try {
        const back = await fresh.run(["pull", "-q", "--authfile", authFile, dest]);
        expect([back.code, back.stderr]).toEqual([0, ""]);
      } finally {
        fresh.cleanup();
      }
    } finally {
      await tok.stop();
    }
  }, 120_000);

  test("an image loaded from a docker-save archive is pushed with an OCI manifest and pulls back identical", async () => {
    const loaded = await ok(sb, ["load", "-i", join(imagesSrc, "ggcr-testdata/whiteout_image.tar")]);
    expect(loaded.code).toBe(0);
    const id = (await ok(sb, ["images", "-q", "--no-trunc"])).stdout.split("\n").filter(Boolean);
    const before = JSON.parse((await ok(sb, ["image", "inspect", ...id])).stdout) as { Id: string; RootFS: { Layers: string[] } }[];
    const whiteout = before.find((i) => i.RootFS.Layers.length === 3);
    if (!whiteout) throw new Error("the loaded image is missing");
    const dest = `${std.host}/pushed/whiteout:latest`;
    const r = await ok(sb, ["push", "-q", whiteout.Id, dest]);
    expect(r.stdout).toMatch(/^latest: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
    expect(r.stderr).toBe("");
    const raw = Bun.spawnSync(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${dest}`]);
    expect(raw.exitCode).toBe(0);
    const manifest = JSON.parse(raw.stdout.toString());
    expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifest.config.digest).toBe(whiteout.Id);
    expect(manifest.layers).toHaveLength(3);

    const fresh = bunkerSandbox();
    try {
      const pulled = await ok(fresh, ["pull", "-q", dest]);
      expect(pulled.stdout.trim()).toBe(whiteout.Id);
      const after = JSON.parse((await ok(fresh, ["image", "inspect", dest])).stdout)[0];
      expect(after.RootFS.Layers).toEqual(whiteout.RootFS.Layers);
    } finally {
      fresh.cleanup();
    }
  });

  test("bad pushes are one-line errors", async () => {
    const none = await sb.run(["push", "no/such:image"]);
    expect(none.code).toBe(125);
    expect(none.stderr).toContain("Error: no such image: no/such:image");
    const id = (await ok(sb, ["images", "-q"])).stdout.split("\n")[0];
    const noDest = await sb.run(["push", id]);
    expect(noDest.code).toBe(125);
    expect(noDest.stderr).toContain("needs a destination name");
    const toDigest = await sb.run(["push", `${std.host}/busybox:musl`, `${std.host}/x@sha256:${"a".repeat(64)}`]);
    expect(toDigest.code).toBe(125);
    expect(toDigest.stderr).toContain("cannot push to a digest reference");
    const badName = await sb.run(["push", `${std.host}/busybox:musl`, `${std.host}/UPPER`]);
    expect(badName.code).toBe(125);
    expect(badName.stderr).toContain("repository name must be lowercase");
  });
});
