// Records which bytecode `bunker run` uses, for scripts/build.ts's --bytecode-order: Bun then lays
// that bytecode out together at the front of the executable, so a run touches fewer pages of it
// (about 1 ms and 1.5 MB less RSS per `run --rm`, see docs/benchmarks.md). Run it as the
// unprivileged user bunker is for, on a build of the current sources, then copy the files into
// scripts/bytecode-order/ and rebuild:
//   bun scripts/bytecode-order.ts [--bin dist/bunker] [--out DIR]
// The profiles name functions by a hash of their code: one from an older build still applies to
// what didn't change, so refreshing them now and then is enough.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  options: { bin: { type: "string", default: join(root, "dist/bunker") }, out: { type: "string", default: join(root, "scripts/bytecode-order") } },
});
const bunker = values.bin!;
const out = values.out!;
const layout = join(root, "../shared/images-src/busybox-1.38.0-musl-amd64-oci");

const work = mkdtempSync(join(tmpdir(), "bunker-order-"));
const env = { ...process.env, BUNKER_ROOT: join(work, "store"), BUNKER_RUNTIME_DIR: join(work, "run"), NO_COLOR: "1" } as Record<string, string>;

function sh(cmd: string[], orderFile?: string): string {
  const r = Bun.spawnSync(cmd, { env: orderFile ? { ...env, BUN_BYTECODE_ORDER_OUT: orderFile } : env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.exitCode}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().trim();
}

try {
  mkdirSync(out, { recursive: true });
  sh([bunker, "load", "-i", layout]);
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  const image: string = index.manifests[0].annotations["org.opencontainers.image.ref.name"];
  // The most common start first: build.ts passes the files in this order.
  sh([bunker, "run", "--rm", "--network", "none", image, "true"], join(out, "run.txt"));
  const id = sh([bunker, "run", "-d", "--network", "none", image, "sleep", "60"], join(out, "run-detached.txt"));
  sh([bunker, "rm", "-f", id]);
  console.log(`wrote ${join(out, "run.txt")} and ${join(out, "run-detached.txt")}`);
} finally {
  Bun.spawnSync([bunker, "system", "reset", "--force"], { env, stdout: "ignore", stderr: "ignore" });
  rmSync(work, { recursive: true, force: true });
}
