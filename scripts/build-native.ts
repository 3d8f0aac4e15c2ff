// Compiles native/ at build time so that dist/bunker runs on hosts with no compiler and no
// /usr/include. Every native/lib/*.c goes into libbunker.so (loaded with bun:ffi); every
// native/helper/*.c into the static bunker-helper executable.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const out = join(root, "native/build");
mkdirSync(out, { recursive: true });

const sources = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith(".c"))
    .sort()
    .map((f) => join(root, dir, f));

function which(cmd: string): boolean {
  return Bun.spawnSync(["sh", "-c", `command -v ${cmd}`]).exitCode === 0;
}

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) {
    console.error(`build-native: failed: ${cmd.join(" ")}`);
    process.exit(1);
  }
}

const warnings = ["-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"];

// native/shared/ (the spawn-program interpreter) goes into both: the monitor in bunker-helper spawns
// detached containers with the same code as a foreground run through libbunker.
run(["cc", "-O2", "-shared", "-fPIC", ...warnings, "-o", join(out, "libbunker.so"), ...sources("native/lib"), ...sources("native/shared")]);
// Its digest names the copy bunker keeps in the runtime dir (native/ffi.ts): one per build.
writeFileSync(join(out, "libbunker.so.sha256"), new Bun.CryptoHasher("sha256").update(readFileSync(join(out, "libbunker.so"))).digest("hex"));

// musl makes the helper a few tens of KB instead of glibc's ~700 KB: it is what each detached
// container's monitor costs in memory. glibc's static libc is the fallback when musl-gcc is absent.
const staticCC = which("musl-gcc") ? "musl-gcc" : "cc";
run([staticCC, "-static", "-Os", "-s", ...warnings, "-o", join(out, "bunker-helper"), ...sources("native/helper"), ...sources("native/shared")]);
if (staticCC === "cc") console.error("build-native: musl-gcc not found (Debian: musl-tools); the helper is linked with glibc and is larger");
