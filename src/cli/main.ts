// The entry point of dist/bunker: bunker's global flags, then the bundle that has the command, and
// the one place where errors become a message on stderr and an exit code. Which bundles there are,
// and why: src/cli/bundles.ts.
import { EXIT_BUNKER, isBunkerError, BunkerError } from "../errors";
import { mark } from "../runtime/trace";
import { loadBundle } from "./bundles";

const GLOBAL_VALUE_FLAGS: Record<string, string> = {
  "--root": "BUNKER_ROOT",
  "--runroot": "BUNKER_RUNTIME_DIR",
  "--log-level": "BUNKER_LOG_LEVEL",
};

/** Takes bunker's global flags off the front of argv and applies them through the environment. */
function applyGlobalFlags(argv: string[]): string[] {
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (name in GLOBAL_VALUE_FLAGS) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[i + 1];
      if (value === undefined || value === "") throw new BunkerError(`${name} needs a value`);
      process.env[GLOBAL_VALUE_FLAGS[name]] = value;
      i += eq > 0 ? 1 : 2;
    } else if (arg === "--debug" || arg === "-D") {
      process.env.BUNKER_LOG_LEVEL = "debug";
      i += 1;
    } else break;
  }
  return argv.slice(i);
}

export async function main(argv: string[]): Promise<number> {
  mark("main");
  const args = applyGlobalFlags(argv);
  // docker's `container run` is run
  const runArgs = args[0] === "run" ? args.slice(1) : args[0] === "container" && args[1] === "run" ? args.slice(2) : undefined;
  // each bundle's main runs the command in args (global flags applied) and returns bunker's exit code
  return runArgs ? loadBundle("run-entry").main(runArgs) : loadBundle("app").main(args);
}

function reportAndExit(e: unknown): never {
  // isBunkerError, not instanceof: the error may come from the other bundle's copy of the class
  if (isBunkerError(e)) {
    process.stderr.write(`Error: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  // citty's own errors (missing argument, unknown option) are usage errors.
  if (e instanceof Error && (e as { code?: string }).code?.startsWith("E_")) {
    process.stderr.write(`Error: ${e.message}. See 'bunker --help'.\n`);
    process.exit(EXIT_BUNKER);
  }
  // A system call that failed on something of the user's (a store they can't write, a full disk)
  // is not a bug: node's one line names the call, the path and the errno.
  const hint = e instanceof Error && systemErrorHint(e);
  if (hint !== false) {
    process.stderr.write(`Error: ${(e as Error).message}${hint}\n`);
    process.exit(EXIT_BUNKER);
  }
  process.stderr.write(`Error: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(EXIT_BUNKER);
}

const SYSTEM_ERROR_HINTS: Record<string, string> = {
  EACCES: "; check that path's owner and mode (the store is --root or BUNKER_ROOT, the runtime dir --runroot or BUNKER_RUNTIME_DIR)",
  EROFS: "; the file system is read-only: point --root or --runroot elsewhere",
  ENOSPC: "; the disk is full: free space, or run 'bunker system prune'",
  EDQUOT: "; the disk quota is used up: free space, or run 'bunker system prune'",
};

/** For an error of a failed system call (node's fs shape: code and syscall), what to add to its message; false otherwise. */
function systemErrorHint(e: Error): string | false {
  const { code, syscall } = e as { code?: unknown; syscall?: unknown };
  if (typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code) || typeof syscall !== "string") return false;
  return SYSTEM_ERROR_HINTS[code] ?? "";
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => process.exit(code), reportAndExit);
}
