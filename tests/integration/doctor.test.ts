// `bunker doctor` on this host, as the unprivileged test user: the probes really start containers.
import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { bunkerSandbox } from "../support/bunker";
import { expectOneLineError } from "../support/errors";

const sb = bunkerSandbox();
afterAll(() => sb.cleanup());

const NAMES = ["kernel", "user namespaces", "subordinate ids", "overlay", "fuse-overlayfs", "network", "cgroups"];

test("doctor --format json: every check with a status, ok and exit code agree", async () => {
  const r = await sb.run(["doctor", "--format", "json"]);
  const report = JSON.parse(r.stdout);
  expect(report.checks.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(NAMES));
  for (const c of report.checks) {
    expect(["ok", "warn", "fail"]).toContain(c.status);
    expect(c.message.length).toBeGreaterThan(0);
    if (c.status !== "ok") expect(c.fix?.length).toBeGreaterThan(0);
  }
  const failed = report.checks.some((c: { status: string }) => c.status === "fail");
  expect(report.ok).toBe(!failed);
  expect(r.code).toBe(failed ? 1 : 0);
  // This host is set up for rootless containers (see NOTES): the probes must succeed here.
  const byName = Object.fromEntries(report.checks.map((c: { name: string; status: string }) => [c.name, c.status]));
  expect(byName["user namespaces"]).toBe("ok");
  expect(byName.overlay).toBe("ok");
  expect(byName.kernel).toBe("ok");
}, 30_000);

test("doctor: one line per check on stdout, fixes under warnings, no probe left behind", async () => {
  const r = await sb.run(["doctor"]);
  const lines = r.stdout.trim().split("\n");
  for (const name of NAMES) expect(lines.some((l) => new RegExp(`^(ok|warn|FAIL)\\s+${name}\\s`).test(l))).toBe(true);
  for (const l of lines) expect(l).toMatch(/^(ok|warn|FAIL)\s|^\s+fix: /);
  expect(readdirSync(sb.runroot).flatMap((d) => (d === "sandbox" ? readdirSync(`${sb.runroot}/sandbox`) : []))).toEqual([]);
}, 30_000);

test("doctor --format yaml is a one-line error", async () => {
  expectOneLineError(await sb.run(["doctor", "--format", "yaml"]), 'unknown --format "yaml"');
});
