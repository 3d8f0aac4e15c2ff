// bunker login / logout / pull with stored credentials, through dist/bunker, against the real
// docker-registry in htpasswd and token auth modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunkerBin, bunkerSandbox } from "../support/bunker";
import { BUSYBOX_LAYOUTS, credentialSandbox, startRegistry, type TestRegistry, TEST_PASSWORD, TEST_USER } from "../support/registry";

const hasRegistry = Bun.which("docker-registry") !== null && Bun.which("skopeo") !== null;

for (const auth of ["htpasswd", "token"] as const) {
  describe.if(hasRegistry)(`login/logout with ${auth} auth`, () => {
    let reg: TestRegistry;
    let sb: ReturnType<typeof credentialSandbox>;
    let configDir: string;
    beforeAll(async () => {
      reg = await startRegistry({ auth });
      await reg.push(`oci:${BUSYBOX_LAYOUTS.musl}`, "private/busybox:1");
      sb = credentialSandbox();
      configDir = sb.configDir;
    }, 120_000);
    afterAll(async () => {
      sb?.cleanup();
      await reg?.stop();
    });

    test("pull without credentials: one line, exit 125", async () => {
      const r = await sb.run(["pull", "-q", `${reg.host}/private/busybox:1`]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`Error: authentication required: run bunker login ${reg.host}`);
      expect(r.stdout).toBe("");
    });

    test("a wrong password is refused and nothing is written", async () => {
      const r = await sb.run(["login", "-u", TEST_USER, "--password-stdin", reg.host], { stdin: "wrong\n" });
      expect(r.code).toBe(125);
      expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("Error:"))).toHaveLength(1);
      expect(r.stderr).toContain(`Error: login to ${reg.host} failed: it refused the credentials of ${TEST_USER}\n`);
      expect(existsSync(join(configDir, "config.json"))).toBe(false);
    });

    test("login stores the credentials (0600), pull uses them, logout removes them", async () => {
      const r = await sb.run(["login", "-u", TEST_USER, "--password-stdin", `http://${reg.host}`], { stdin: `${TEST_PASSWORD}\n` });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("Login Succeeded\n");
      const file = join(configDir, "config.json");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const doc = JSON.parse(readFileSync(file, "utf8"));
      expect(Buffer.from(doc.auths[reg.host].auth, "base64").toString()).toBe(`${TEST_USER}:${TEST_PASSWORD}`);

      const pull = await sb.run(["pull", "-q", `${reg.host}/private/busybox:1`]);
      expect(pull.stderr).toBe("");
      expect(pull.code).toBe(0);
      expect(pull.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);

      const out = await sb.run(["logout", reg.host]);
      expect(out.code).toBe(0);
      expect(out.stdout).toBe(`Removed login credentials for ${reg.host}\n`);
      expect(JSON.parse(readFileSync(file, "utf8")).auths[reg.host]).toBeUndefined();
      const again = await sb.run(["logout", reg.host]);
      expect(again.stdout).toBe(`Not logged in to ${reg.host}\n`);
    });

    test("with credsStore set, the secret goes to the helper, never into the file", async () => {
      // A file-backed docker-credential helper speaking the real protocol (store/get/erase).
      const bin = join(configDir, "..", "helper-bin");
      const vault = join(configDir, "..", "vault");
      mkdirSync(bin, { recursive: true });
      mkdirSync(vault, { recursive: true });
      writeFileSync(
        join(bin, "docker-credential-vault"),
        `#!/bin/sh
input=$(cat)
case "$1" in
  store) server=$(printf '%s' "$input" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/'); printf '%s' "$input" > "${vault}/$(printf '%s' "$server" | tr -c 'a-zA-Z0-9' _)" ;;
  get) f="${vault}/$(printf '%s' "$input" | tr -c 'a-zA-Z0-9' _)"; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) f="${vault}/$(printf '%s' "$input" | tr -c 'a-zA-Z0-9' _)"; if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
esac
`,
      );
      chmodSync(join(bin, "docker-credential-vault"), 0o755);
      const file = join(configDir, "config.json");
      mkdirSync(configDir, { recursive: true });
      writeFileSync(file, JSON.stringify({ credsStore: "vault", auths: {} }));
      const env = { PATH: `${bin}:${sb.env.PATH}` };
      const r = await sb.run(["login", "-u", TEST_USER, "--password-stdin", reg.host], { stdin: TEST_PASSWORD, env });
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("Login Succeeded\n");
      expect(readFileSync(file, "utf8")).not.toContain(Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString("base64"));
      expect(readdirSync(vault)).toHaveLength(1);
      // pull asks the helper
      const pull = await sb.run(["pull", "-q", `${reg.host}/private/busybox:1`], { env });
      expect(pull.stderr).toBe("");
      expect(pull.code).toBe(0);
      const out = await sb.run(["logout", reg.host], { env });
      expect(out.stdout).toBe(`Removed login credentials for ${reg.host}\n`);
      expect(readdirSync(vault)).toHaveLength(0);
      rmSync(file);
    });

    test.skipIf(!Bun.which("script"))("on a terminal it asks for the username, then the password without echo", async () => {
      // `script` gives bunker a real pty; each answer is typed once its question has appeared.
      const p = Bun.spawn(["script", "-qec", `${bunkerBin} login ${reg.host}`, "/dev/null"], {
        env: sb.env,
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
      });
      const reader = p.stdout.getReader();
      let seen = "";
      const waitFor = async (text: string) => {
        while (!seen.includes(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`bunker ended before asking "${text}": ${seen}`);
          seen += new TextDecoder().decode(value);
        }
      };
      await waitFor("Username: ");
      p.stdin.write(`${TEST_USER}\r`);
      await p.stdin.flush();
      await waitFor("Password: ");
      p.stdin.write(`${TEST_PASSWORD}\r`);
      await p.stdin.flush();
      await waitFor("Login Succeeded");
      p.stdin.end();
      expect(await p.exited).toBe(0);
      expect(seen).not.toContain(TEST_PASSWORD);
      expect(JSON.parse(readFileSync(join(configDir, "config.json"), "utf8")).auths[reg.host]).toBeDefined();
      await sb.run(["logout", reg.host]);
    });
  });
}

describe("login input errors", () => {
  test("bad server and conflicting flags", async () => {
    const sb = bunkerSandbox();
    try {
      const bad = await sb.run(["login", "-u", "x", "-p", "y", "not a host"]);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toContain(`Error: "not a host" is not a registry host`);
      const both = await sb.run(["login", "-u", "x", "-p", "y", "--password-stdin", "127.0.0.1:1"], { stdin: "z" });
      expect(both.code).toBe(125);
      expect(both.stderr).toContain("mutually exclusive");
      const noTty = await sb.run(["login", "127.0.0.1:1"]);
      expect(noTty.code).toBe(125);
      expect(noTty.stderr).toContain("stdin is not a terminal");
    } finally {
      sb.cleanup();
    }
  });
});
