// npm run build: native code first, then one self-contained executable, dist/bunker.
// `bun scripts/build.ts --outfile dist/bunker-x` builds elsewhere (for parallel work and tests).
import { join } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dir, "..");
const bun = process.execPath;
const { values } = parseArgs({ options: { outfile: { type: "string", default: "dist/bunker" } } });

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) process.exit(r.exitCode ?? 1);
}

run([bun, "scripts/build-native.ts"]);
run([
  bun,
  "build",
  "--compile",
  "--minify",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  "--outfile",
  values.outfile!,
  "src/cli/main.ts",
]);
