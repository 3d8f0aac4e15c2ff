// Resource limits on this host. The CI machines have hybrid cgroups (every controller bound to
// v1), so here a limit must be refused loudly (125, why + fix) and a run without limits must work;
// enforcement itself is checked on a cgroup v2 kernel in vm-cgroup.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { detectCgroupSetup } from "../../src/cgroup";
import { bunkerBin, bunkerSandbox, imagesSrc } from "../support/bunker";

const setup = detectCgroupSetup();
const cannotLimit = setup.kind === "none";
const sb = bunkerSandbox();
const rootfs = join(sb.root, "..", "rootfs");

beforeAll(() => {
  const layout = join(imagesSrc, "busybox-1.38.0-musl-amd64-oci");
  const blob = (d: string) => join(layout, "blobs/sha256", d.replace("sha256:", ""));
  const manifest = JSON.parse(readFileSync(blob(JSON.parse(readFileSync(join(layout, "index.json"), "utf8")).manifests[0].digest), "utf8"));
  mkdirSync(rootfs, { recursive: true });
  for (const l of manifest.layers) {
    const r = Bun.spawnSync(["tar", "-xzf", blob(l.digest), "-C", rootfs, "--no-same-owner"], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`unpacking busybox: ${r.stderr}`);
  }
});
afterAll(() => sb.cleanup());

const base = () => ["run", "--rm", "--network", "none", "--rootfs", rootfs];
const containers = () => (existsSync(join(sb.root, "containers")) ? readdirSync(join(sb.root, "containers")).filter((n) => /^[0-9a-f]{64}$/.test(n)) : []);

function expectOneLineError(r: { code: number; stderr: string }, ...parts: string[]) {
  expect(r.code).toBe(125);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("Error: ");
  for (const p of parts) expect(lines[0]).toContain(p);
}

describe("resource limits on this host", () => {
  test("a run that asks for no limit works", async () => {
    const r = await sb.run([...base(), "echo", "ok"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("ok\n");
  });

  test.skipIf(!cannotLimit)("a limit that can't be enforced is refused: 125, why and how to fix, nothing created", async () => {
    if (setup.kind !== "none") return;
    for (const flags of [["--memory", "64m"], ["--cpus", "0.5"], ["--pids-limit", "10"]]) {
      const r = await sb.run(["run", "--network", "none", "--rootfs", rootfs, ...flags, "true"]);
      expectOneLineError(r, `cannot enforce ${flags[0]}`, setup.reason, "--cgroups=disabled");
    }
    expect(containers()).toEqual([]);
  });

  test.skipIf(!cannotLimit || setup.kind !== "none" || setup.layout !== "hybrid")("on a hybrid host the message names the layout and the distro fix", async () => {
    const r = await sb.run([...base(), "-m", "64m", "true"]);
    expectOneLineError(r, "hybrid", "systemd.unified_cgroup_hierarchy=1");
  });

  test("--cgroups=disabled runs without limits deliberately, and says so", async () => {
    const r = await sb.run([...base(), "--cgroups=disabled", "--memory", "64m", "--cpus", "0.5", "echo", "ran"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("ran\n");
    expect(r.stderr).toContain("--memory, --cpus will not be enforced");
  });

  test("bad values are refused before anything is created", async () => {
    const cases: [string[], string][] = [
      [["--memory", "lots"], "--memory"],
      [["--memory", "1m"], "6MB"],
      [["--memory-swap", "1g"], "--memory"],
      [["--cpus", "x"], "--cpus"],
      [["--blkio-weight", "5"], "blkio weight"],
      [["--pids-limit", "many"], "--pids-limit"],
      [["--cgroups=split"], "--cgroups"],
    ];
    for (const [flags, text] of cases) expectOneLineError(await sb.run(["run", "--network", "none", "--rootfs", rootfs, ...flags, "true"]), text);
    expect(containers()).toEqual([]);
  });
});

describe("stats", () => {
  test("no running containers: docker's header alone", async () => {
    const r = await sb.run(["stats", "--no-stream"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("CONTAINER ID   NAME   CPU %   MEM USAGE / LIMIT   MEM %   NET I/O   BLOCK I/O   PIDS\n");
  });
  test("--format json with no containers prints nothing", async () => {
    const r = await sb.run(["stats", "--no-stream", "--format", "json"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
  });
  test("an exited container shows docker's zeros", async () => {
    const made = await sb.run(["run", "--network", "none", "--name", "done", "--rootfs", rootfs, "true"]);
    expect(made.code).toBe(0);
    const r = await sb.run(["stats", "--no-stream", "--format", "json", "done"]);
    expect(r.code).toBe(0);
    const row = JSON.parse(r.stdout);
    expect(row).toMatchObject({ Name: "done", CPUPerc: "0.00%", MemUsage: "0B / 0B", PIDs: "0" });
    expect(row.ID).toHaveLength(12);
  });
  test("without --no-stream it prints a reading every second until stopped", async () => {
    const p = Bun.spawn([bunkerBin, "stats", "-a"], { env: sb.env, stdout: "pipe", stderr: "pipe" });
    const readings: string[] = [];
    let text = "";
    const decoder = new TextDecoder();
    try {
      for await (const chunk of p.stdout) {
        text += decoder.decode(chunk, { stream: true });
        const parts = text.split(/^(?=CONTAINER ID)/m).filter((r) => r.endsWith("\n"));
        if (parts.length >= 2) {
          readings.push(...parts.slice(0, 2));
          break;
        }
      }
    } finally {
      p.kill();
    }
    await p.exited;
    expect(readings).toHaveLength(2);
    // not a terminal: no screen clearing, the header and the stopped container in each reading
    for (const r of readings) {
      expect(r).toStartWith("CONTAINER ID   NAME");
      expect(r).toMatch(/^[0-9a-f]{12} +done +0\.00% +0B \/ 0B /m);
    }
  }, 20_000);
  test("an unknown container is an error", async () => {
    expectOneLineError(await sb.run(["stats", "--no-stream", "nosuchthing"]), "no such container: nosuchthing");
  });
  test("an unknown format is an error", async () => {
    expectOneLineError(await sb.run(["stats", "--no-stream", "--format", "yaml"]), "--format");
  });
});
