// npm run build: native code first, then one self-contained executable, dist/bunker.
// `bun scripts/build.ts --outfile dist/bunker-x` builds elsewhere (for parallel work and tests).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dir, "..");
const bun = process.execPath;
const { values } = parseArgs({ options: { outfile: { type: "string", default: "dist/bunker" } } });

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) process.exit(r.exitCode ?? 1);
}

// Profiles of the bytecode `run` uses (scripts/bytecode-order.ts writes them): laid out first in
// the executable, a run touches fewer of its pages. Most common start first.
const orderFiles = ["run.txt", "run-detached.txt"].map((f) => join(root, "scripts/bytecode-order", f)).filter((f) => existsSync(f));

run([bun, "scripts/build-native.ts"]);
run([
  bun,
  "build",
  "--compile",
  "--minify",
  // Start-up speed: Bun hoists every node: builtin an ES module imports to the top of the bundle,
  // so each command paid for zlib, net, tty... at start. As CommonJS, modules (and their
  // builtins) load when first used, and bytecode spares the parse: `bunker --help` went from
  // ~50 ms to ~14 ms of CPU. import.meta.env (read by a dependency, never reached under Bun) is
  // the one import.meta use CommonJS bytecode rejects.
  "--format=cjs",
  "--bytecode",
  ...(orderFiles.length ? [`--bytecode-order=${orderFiles.join(",")}`] : []),
  "--define",
  "import.meta.env=undefined",
  // JavaScriptCore's JIT 10x more reluctant at start: a `run` is run-once code, and compiling it
  // cost ~4 ms of CPU on the other core, which the container and newuidmap need (~2.5 ms of wall
  // time on two busy cores). src/cli/main.ts restores the normal JIT for commands that stream data.
  "--compile-jit-policy=10",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  "--outfile",
  values.outfile!,
  // The first is what runs; it loads the others as src/cli/bundles.ts says (and why they are apart).
  "src/cli/main.ts",
  "src/cli/run-entry.ts",
  "src/cli/app.ts",
  "src/cli/pull-entry.ts",
]);
