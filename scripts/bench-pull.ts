// Pull benchmark: a ~210 MB, 4-layer image built from this host's own files (python, perl,
// i18n data: many small files, like a distro image) is pushed to a local docker-registry, then
// pulled into a fresh store by bunker and by rootless `podman pull`, alternating, a few rounds.
// Prints the median wall times, the ratio, and bunker's peak RSS (whole process, /usr/bin/time).
//
//   runuser -u bunkertest -- env HOME=/home/bunkertest TMPDIR=/tmp \
//     node_modules/.bin/bun scripts/bench-pull.ts [--rounds 3] [--bin dist/bunker] [--skip-podman]
//
// --skip-podman pulls with bunker only (no ratio): quicker when iterating on bunker's RSS or speed.
//
// Run it as an unprivileged user with a subordinate id range: that is what both tools are for.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startRegistry } from "../tests/support/registry";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    bin: { type: "string", default: join(import.meta.dir, "../dist/bunker") },
    "skip-podman": { type: "boolean", default: false },
  },
});
const withPodman = !values["skip-podman"];
const rounds = Number(values.rounds);
const LAYERS = [
  ["usr/lib/python3.11"],
  ["usr/lib/python3"],
  ["usr/share/perl", "usr/lib/x86_64-linux-gnu/perl"],
  ["usr/share/i18n", "usr/share/zoneinfo", "usr/share/vim"],
];

function sh(cmd: string[], opts: { env?: Record<string, string> } = {}): { out: string; err: string } {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", env: { ...(process.env as Record<string, string>), ...opts.env } });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  return { out: r.stdout.toString(), err: r.stderr.toString() };
}

async function sha256File(path: string): Promise<{ digest: string; size: number }> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return { digest: `sha256:${h.digest("hex")}`, size: statSync(path).size };
}

const work = mkdtempSync(join(tmpdir(), "bunker-bench-"));
try {
  // 1. The image, as an OCI layout.
  const layout = join(work, "layout");
  const blobs = join(layout, "blobs/sha256");
  mkdirSync(blobs, { recursive: true });
  const layers: { digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  let unpacked = 0;
  for (const [i, dirs] of LAYERS.entries()) {
    const tar = join(work, `layer${i}.tar`);
    // Readable files only: an unprivileged user can't read everything under /usr.
    sh(["tar", "-C", "/", "--ignore-failed-read", "-cf", tar, ...dirs]);
    unpacked += statSync(tar).size;
    diffIds.push((await sha256File(tar)).digest);
    sh(["gzip", "-6", tar]);
    const blob = await sha256File(`${tar}.gz`);
    Bun.spawnSync(["mv", `${tar}.gz`, join(blobs, blob.digest.slice(7))]);
    layers.push(blob);
  }
  const put = (text: string) => {
    const digest = `sha256:${new Bun.CryptoHasher("sha256").update(text).digest("hex")}`;
    writeFileSync(join(blobs, digest.slice(7)), text);
    return { digest, size: Buffer.byteLength(text) };
  };
  const config = put(JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: ["/bin/sh"] }, rootfs: { type: "layers", diff_ids: diffIds } }));
  const manifest = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...l })),
    }),
  );
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": "bench" } }] }),
  );
  const compressed = layers.reduce((s, l) => s + l.size, 0);
  console.log(`image: ${LAYERS.length} layers, ${(unpacked / 1e6).toFixed(0)} MB unpacked, ${(compressed / 1e6).toFixed(0)} MB compressed`);

  // 2. Into a local registry.
  const registry = await startRegistry();
  await registry.push(`oci:${layout}:bench`, "bench:latest");
  const ref = `${registry.host}/bench:latest`;

  // 3. Alternate fresh-store pulls.
  const bunkerTimes: number[] = [];
  const podmanTimes: number[] = [];
  let peakKb = 0;
  for (let r = 0; r < rounds; r++) {
    const store = join(work, `bunker-${r}`);
    const t0 = performance.now();
    const b = sh(["/usr/bin/time", "-f", "%M", values.bin!, "--root", store, "--runroot", join(work, `brun-${r}`), "pull", "-q", ref]);
    bunkerTimes.push(performance.now() - t0);
    peakKb = Math.max(peakKb, Number(b.err.trim().split("\n").pop()));
    Bun.spawnSync([values.bin!, "--root", store, "system", "reset", "--force"]);
    if (!withPodman) continue;

    const proot = join(work, `podman-${r}`);
    const t1 = performance.now();
    sh(["podman", "--root", proot, "--runroot", join(work, `prun-${r}`), "pull", "-q", "--tls-verify=false", ref]);
    podmanTimes.push(performance.now() - t1);
    Bun.spawnSync(["podman", "unshare", "rm", "-rf", proot]);
  }
  await registry.stop();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const bm = median(bunkerTimes);
  console.log(`bunker pull: median ${(bm / 1000).toFixed(2)} s  (${bunkerTimes.map((t) => (t / 1000).toFixed(2)).join(", ")})`);
  if (withPodman) {
    const pm = median(podmanTimes);
    console.log(`podman pull: median ${(pm / 1000).toFixed(2)} s  (${podmanTimes.map((t) => (t / 1000).toFixed(2)).join(", ")})`);
    console.log(`ratio bunker/podman: ${(bm / pm).toFixed(2)}  (goal ≤ 0.5)`);
  }
  console.log(`bunker peak RSS: ${(peakKb / 1024).toFixed(0)} MB  (goal ≤ 100 MB)`);
} finally {
  Bun.spawnSync(["podman", "unshare", "rm", "-rf", work]);
  rmSync(work, { recursive: true, force: true });
}
