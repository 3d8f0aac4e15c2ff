// Benchmark of detached containers (issue 4): N `run -d --network none busybox sleep` one after the
// other with bunker and with rootless podman (runc), then what each leaves running besides the
// workloads: bunker's monitors against podman's conmon processes and its pause (catatonit)
// process. Run it as the unprivileged user the numbers are for:
//   bun scripts/bench-detached.ts [--count 100] [--bin dist/bunker]
// It prints wall time and total/per-container RSS for each; the figures go to docs/benchmarks.md.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  options: { count: { type: "string", default: "100" }, bin: { type: "string", default: join(root, "dist/bunker") } },
});
const count = Number(values.count);
const bunker = values.bin!;
const layout = join(root, "../shared/images-src/busybox-1.38.0-musl-amd64-oci");
const work = mkdtempSync(join(tmpdir(), "bunker-bench-detached-"));
const env = { ...process.env, BUNKER_ROOT: join(work, "store"), BUNKER_RUNTIME_DIR: join(work, "run"), NO_COLOR: "1" } as Record<string, string>;

function sh(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.exitCode}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

/** pid → {comm, args, rss kB} of every process of this user. */
function processes(): Map<number, { comm: string; args: string; rssKb: number }> {
  const uid = process.getuid!();
  const out = new Map<number, { comm: string; args: string; rssKb: number }>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const status = readFileSync(`/proc/${e}/status`, "utf8");
      if (Number(/^Uid:\s+(\d+)/m.exec(status)![1]) !== uid) continue;
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
      const args = readFileSync(`/proc/${e}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      out.set(Number(e), { comm: /^Name:\s+(.*)$/m.exec(status)![1], args, rssKb: rss ? Number(rss[1]) : 0 });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Starts count containers one after the other; returns the wall time and what they left running. */
function measure(name: string, start: () => void, ours: (p: { comm: string; args: string }, isNew: boolean) => boolean) {
  const before = processes();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) start();
  const seconds = (performance.now() - t0) / 1000;
  Bun.sleepSync(1000); // let start-up helpers finish exiting
  // Other work of this user (tests, registries) may run meanwhile: count only each tool's own helpers.
  const left = [...processes()].filter(([pid, p]) => pid !== process.pid && ours(p, !before.has(pid)));
  const overheadKb = left.reduce((n, [, p]) => n + p.rssKb, 0);
  const kinds = new Map<string, number>();
  for (const [, p] of left) kinds.set(p.comm, (kinds.get(p.comm) ?? 0) + 1);
  console.log(
    `${name}: ${seconds.toFixed(2)} s for ${count} (${((seconds * 1000) / count).toFixed(1)} ms each); ` +
      `left running besides the workloads: ${(overheadKb / 1024).toFixed(1)} MB RSS in ${left.length} processes ` +
      `(${[...kinds].map(([k, n]) => `${n}× ${k}`).join(", ")}), ${(overheadKb / count).toFixed(0)} kB per container`,
  );
  return { seconds, overheadKb };
}

try {
  sh([bunker, "load", "-q", "-i", layout]);
  const image = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")).manifests[0].annotations["org.opencontainers.image.ref.name"];
  // bunker's monitors name their state files under our private runtime dir
  const b = measure("bunker", () => sh([bunker, "run", "-d", "--network", "none", image, "sleep", "3600"]), (p, isNew) => isNew && p.args.includes(work) && !p.args.startsWith("sleep"));
  sh([bunker, "rm", "-f", ...sh([bunker, "ps", "-aq"]).trim().split("\n")]);

  let p: { seconds: number; overheadKb: number } | undefined;
  if (Bun.spawnSync(["sh", "-c", "command -v podman"]).exitCode === 0) {
    sh(["podman", "pull", "-q", `oci:${layout}`]);
    const podmanImage = sh(["podman", "images", "-q"]).trim().split("\n")[0];
    // conmon per container, and the rootless pause process (catatonit) that holds podman's namespaces
    p = measure("podman", () => sh(["podman", "--runtime", "runc", "run", "-d", "--network", "none", podmanImage, "sleep", "3600"]), (p, isNew) => (isNew && p.comm === "conmon") || p.comm === "catatonit");
    sh(["podman", "--runtime", "runc", "rm", "-f", "-t", "0", "-a"]);
    sh(["podman", "rmi", "-f", podmanImage]);
  }
  if (p) console.log(`ratio bunker/podman: wall time ${(b.seconds / p.seconds).toFixed(3)}, RSS left ${(b.overheadKb / p.overheadKb).toFixed(3)}`);
} finally {
  Bun.spawnSync([bunker, "system", "reset", "--force"], { env });
  rmSync(work, { recursive: true, force: true });
}
