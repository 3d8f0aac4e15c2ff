// Benchmark of `run --rm IMAGE true` (issue 3): bunker against rootless podman (runc) and bwrap
// on the same busybox, median of N runs each, interleaved so that machine noise hits all alike.
// Run it as the unprivileged user the numbers are for:
//   bun scripts/bench-run.ts [--runs 30] [--bin dist/bunker]
// It prints one line per contender (median, p90, ratio to bunker) and bunker's peak RSS, then
// where bunker's time and memory go: the medians of BUNKER_TRACE=1's phases over separate runs
// (so that tracing costs the timed runs nothing). The figures go to docs/benchmarks.md.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  options: { runs: { type: "string", default: "30" }, bin: { type: "string", default: join(root, "dist/bunker") } },
});
const runs = Number(values.runs);
const bunker = values.bin!;
const images = join(root, "../shared/images-src");
const layout = join(images, "busybox-1.38.0-musl-amd64-oci");

const work = mkdtempSync(join(tmpdir(), "bunker-bench-"));
// bunker's runtime dir (live state, the libbunker copy) is $XDG_RUNTIME_DIR/bunker, which a login
// session has on a tmpfs (/run/user/UID). A benchmark user without a session (runuser) has none:
// a directory on /dev/shm, also a tmpfs, stands in for it. One contender keeps it on disk, beside
// the store, to show the difference. podman's runroot is left where podman puts it.
const TMPFS_MAGIC = 0x01021994;
const runtimeDir = statfsSync("/dev/shm").type === TMPFS_MAGIC ? mkdtempSync("/dev/shm/bunker-bench-run-") : join(work, "run");
const env = { ...process.env, BUNKER_ROOT: join(work, "store"), BUNKER_RUNTIME_DIR: runtimeDir, NO_COLOR: "1" } as Record<string, string>;

function sh(cmd: string[], opts: { env?: Record<string, string> } = {}) {
  const r = Bun.spawnSync(cmd, { env: opts.env ?? env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.exitCode}: ${r.stderr.toString().trim()}`);
  return r;
}

function have(tool: string): boolean {
  return Bun.spawnSync(["sh", "-c", `command -v ${tool}`]).exitCode === 0;
}

// The same busybox, unpacked once for --rootfs runs and bwrap.
const rootfs = join(work, "rootfs");
mkdirSync(rootfs);
const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
const manifest = JSON.parse(readFileSync(join(layout, "blobs/sha256", index.manifests[0].digest.slice(7)), "utf8"));
sh(["tar", "xzf", join(layout, "blobs/sha256", manifest.layers[0].digest.slice(7)), "-C", rootfs, "--no-same-owner"]);
sh([bunker, "load", "-i", layout]);
// `load` tags the image with the layout's ref name annotation
const image: string = index.manifests[0].annotations["org.opencontainers.image.ref.name"];

interface Contender {
  name: string;
  cmd: string[];
  env?: Record<string, string>;
  times: number[];
  maxRss: number[];
}
const contenders: Contender[] = [
  { name: "bunker run --rm --network none busybox true", cmd: [bunker, "run", "--rm", "--network", "none", image, "true"], times: [], maxRss: [] },
  {
    name: "  the same, runtime dir on disk (beside the store)",
    cmd: [bunker, "run", "--rm", "--network", "none", image, "true"],
    env: { ...env, BUNKER_RUNTIME_DIR: join(work, "run-on-disk") },
    times: [],
    maxRss: [],
  },
  {
    name: "  the same, cloned after planning (BUNKER_PRESTART=0)",
    cmd: [bunker, "run", "--rm", "--network", "none", image, "true"],
    env: { ...env, BUNKER_PRESTART: "0" },
    times: [],
    maxRss: [],
  },
  { name: "bunker run --rm --network none --rootfs DIR true", cmd: [bunker, "run", "--rm", "--network", "none", "--rootfs", rootfs, "true"], times: [], maxRss: [] },
  { name: "bunker run --rm busybox true (default network)", cmd: [bunker, "run", "--rm", image, "true"], times: [], maxRss: [] },
];
if (have("podman"))
  contenders.push({
    name: "podman --runtime runc run --rm --network none --rootfs DIR true",
    cmd: ["podman", "--runtime", "runc", "run", "--rm", "--network", "none", "--rootfs", rootfs, "true"],
    times: [],
    maxRss: [],
  });
if (have("bwrap"))
  contenders.push({
    name: "bwrap --unshare-all DIR true",
    cmd: ["bwrap", "--unshare-all", "--bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"],
    times: [],
    maxRss: [],
  });

for (const c of contenders) sh(c.cmd, { env: c.env }); // warm-up (and a check that each works)
for (let i = 0; i < runs; i++)
  for (const c of contenders) {
    const t0 = performance.now();
    const r = Bun.spawnSync(c.cmd, { env: c.env ?? env, stdout: "ignore", stderr: "pipe" });
    c.times.push(performance.now() - t0);
    if (r.exitCode !== 0) throw new Error(`${c.name}: exit ${r.exitCode}: ${r.stderr.toString().trim()}`);
    c.maxRss.push(r.resourceUsage?.maxRSS ?? 0);
  }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];
const base = median(contenders[0].times);
console.log(`runs: ${runs} each, interleaved; load average before: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
for (const c of contenders)
  console.log(`${c.name.padEnd(70)} median ${median(c.times).toFixed(1).padStart(6)} ms  p90 ${p90(c.times).toFixed(1).padStart(6)} ms  bunker/this ${(base / median(c.times)).toFixed(2)}`);
const rss = Math.max(...contenders[0].maxRss);
// Bun reports resourceUsage().maxRSS in bytes
console.log(`bunker peak RSS (largest of ${runs} runs): ${(rss / 1024 / 1024).toFixed(1)} MB`);

// BUNKER_TRACE=1 prints "bunker trace (ms): name ms | ..." and "bunker trace (RSS MB): name MB | ...".
const phases = new Map<string, { ms: number[]; rss: number[] }>();
for (let i = 0; i < Math.min(runs, 15); i++) {
  const r = Bun.spawnSync(contenders[0].cmd, { env: { ...env, BUNKER_TRACE: "1" }, stdout: "ignore", stderr: "pipe" });
  for (const line of r.stderr.toString().split("\n")) {
    const m = /^bunker trace \((ms|RSS MB)\): (.*)$/.exec(line);
    if (!m) continue;
    for (const part of m[2].split(" | ")) {
      const at = part.lastIndexOf(" ");
      const name = part.slice(0, at);
      if (!phases.has(name)) phases.set(name, { ms: [], rss: [] });
      phases.get(name)![m[1] === "ms" ? "ms" : "rss"].push(Number(part.slice(at + 1)));
    }
  }
}
console.log(`where bunker's time goes (BUNKER_TRACE=1, medians of ${Math.min(runs, 15)} more runs): ms since the previous mark, RSS at the mark`);
for (const [name, p] of phases) console.log(`  ${name.padEnd(18)} ${median(p.ms).toFixed(1).padStart(6)} ms  ${median(p.rss).toFixed(1).padStart(6)} MB`);

Bun.spawnSync([bunker, "system", "reset", "--force"], { env, stdout: "ignore", stderr: "ignore" });
rmSync(work, { recursive: true, force: true });
rmSync(runtimeDir, { recursive: true, force: true });
