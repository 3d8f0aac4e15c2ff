// `bunker doctor` on this host, as the unprivileged test user: the probes really start containers.
import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { bunkerBin, bunkerSandbox } from "../support/bunker";
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

/**
 * Runs doctor as this user on a host made worse in a mount namespace: an outer user namespace
 * (root inside) changes what it must, then an inner one maps our own id back, as on a real host.
 */
async function doctorOn(worse: string, ...args: string[]) {
  const [uid, gid] = [process.getuid!(), process.getgid!()];
  const script = `${worse} && exec unshare -U --map-user=${uid} --map-group=${gid} ${bunkerBin} doctor ${args.join(" ")}`;
  const p = Bun.spawn(["unshare", "-rm", "sh", "-c", script], { env: sb.env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

test("doctor on a host without subordinate ranges, fuse-overlayfs, pasta or slirp4netns: warnings with the fixes, exit 0", async () => {
  const hide = "for t in pasta slirp4netns fuse-overlayfs; do for d in /usr/bin /bin /usr/sbin /sbin /usr/local/bin; do [ -e $d/$t ] && mount --bind /dev/null $d/$t; done; done; mount --bind /dev/null /etc/subuid && mount --bind /dev/null /etc/subgid";
  const r = await doctorOn(hide, "--format", "json");
  const checks = Object.fromEntries(JSON.parse(r.stdout).checks.map((c: { name: string }) => [c.name, c]));
  expect(checks["subordinate ids"]).toMatchObject({ status: "warn", message: expect.stringContaining("no range for"), fix: expect.stringContaining("usermod --add-subuids") });
  expect(checks["fuse-overlayfs"]).toMatchObject({ status: "warn", message: expect.stringContaining("not installed"), fix: "apt-get install fuse-overlayfs" });
  expect(checks.network).toMatchObject({ status: "warn", message: expect.stringContaining("pasta is not installed"), fix: expect.stringContaining("apt-get install passt") });
  // containers still run: a single-id mapping, overlayfs, loopback only
  expect(checks["user namespaces"].status).toBe("ok");
  expect(checks.overlay.status).toBe("ok");
  expect(r.code).toBe(0);
}, 60_000);

test("doctor where no user namespace can be made: a failure that says how to fix it, exit 1", async () => {
  // user.max_user_namespaces=1 in the outer namespace: the inner one uses it up
  const r = await doctorOn("echo 1 > /proc/sys/user/max_user_namespaces", "--format", "json");
  const report = JSON.parse(r.stdout);
  const userns = report.checks.find((c: { name: string }) => c.name === "user namespaces");
  expect(userns).toMatchObject({ status: "fail", message: expect.stringContaining("cannot start a container"), fix: expect.stringContaining("user.max_user_namespaces") });
  expect(report.ok).toBe(false);
  expect(r.code).toBe(1);
  // the text form says the same: a FAIL line with its fix under it
  const text = await doctorOn("echo 1 > /proc/sys/user/max_user_namespaces");
  expect(text.stdout).toMatch(/^FAIL\s+user namespaces\s+cannot start a container.*\n\s+fix: raise the limit on user namespaces/m);
  expect(text.code).toBe(1);
}, 60_000);
