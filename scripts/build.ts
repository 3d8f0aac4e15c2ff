// npm run build: native code first, then one self-contained executable, dist/bunker.
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const bun = process.execPath;

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
  "dist/bunker",
  "src/cli/main.ts",
]);
