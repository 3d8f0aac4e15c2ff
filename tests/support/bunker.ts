// Runs the built dist/bunker, the artifact users get, with a private store and runtime dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repoRoot = join(import.meta.dir, "../..");
/** BUNKER_BIN lets parallel work test its own build without racing on dist/bunker. */
export const bunkerBin = process.env.BUNKER_BIN ?? join(repoRoot, "dist/bunker");
export const sharedDir = join(repoRoot, "../shared");
export const imagesSrc = join(sharedDir, "images-src");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Sandbox {
  root: string;
  runroot: string;
  env: Record<string, string>;
  run(args: string[], opts?: { stdin?: string | Uint8Array; env?: Record<string, string>; cwd?: string }): Promise<RunResult>;
  cleanup(): void;
}

/** A private BUNKER_ROOT and runtime dir, so tests never share or touch the user's store. */
export function bunkerSandbox(): Sandbox {
  const base = mkdtempSync(join(tmpdir(), "bunker-test-"));
  const root = join(base, "store");
  const runroot = join(base, "run");
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    BUNKER_ROOT: root,
    BUNKER_RUNTIME_DIR: runroot,
    NO_COLOR: "1",
  };
  return {
    root,
    runroot,
    env,
    async run(args, opts = {}) {
      const p = Bun.spawn([bunkerBin, ...args], {
        env: { ...env, ...opts.env },
        cwd: opts.cwd,
        stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, stdout, stderr };
    },
    cleanup() {
      // Files unpacked with subordinate ids may not be removable by us directly.
      Bun.spawnSync([bunkerBin, "system", "reset", "--force"], { env, stdout: "ignore", stderr: "ignore" });
      rmSync(base, { recursive: true, force: true });
    },
  };
}
