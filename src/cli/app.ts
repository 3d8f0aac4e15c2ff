// Every command but run (src/cli/main.ts picks this bundle): dispatch to a lazily loaded command,
// citty's parsing and help.
import type { CommandDef } from "citty";
import { BunkerError, EXIT_BUNKER } from "../errors";
import { mark } from "../runtime/trace";
import { aliases, type BunkerCommand, commands, type RawCommand } from "./registry";

function isRaw(cmd: BunkerCommand): cmd is RawCommand {
  return (cmd as RawCommand).raw === true;
}

function topUsage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2;
  const lines = Object.entries(commands)
    .filter(([, c]) => !c.hidden)
    .map(([name, c]) => `  ${name.padEnd(width)}${c.description}`);
  return [
    "Usage: bunker [--root DIR] [--runroot DIR] [--log-level LEVEL] COMMAND [ARGS...]",
    "",
    "A rootless, daemonless container runtime.",
    "",
    "Commands:",
    ...lines,
    "",
    "Run 'bunker COMMAND --help' for more information on a command.",
  ].join("\n");
}

const HELP = new Set(["-h", "--help"]);

// dist/bunker starts with JavaScriptCore's JIT 10x more reluctant (scripts/build.ts): most commands
// are run-once code that the JIT would compile for nothing. These stream image or file data through
// hot loops and get the normal JIT back.
const STREAMING_COMMANDS = new Set(["push", "load", "save", "image", "cp", "container"]);

/** Help is asked for when -h/--help comes before `--` (after it, the words belong to the container). */
function wantsHelp(args: string[]): boolean {
  for (const a of args) {
    if (a === "--") return false;
    if (HELP.has(a)) return true;
  }
  return false;
}

// biome-ignore lint/suspicious/noExplicitAny: citty's arg types are per-command
async function resolveSub(cmd: CommandDef<any>, args: string[]): Promise<[CommandDef<any>, string[], string]> {
  let current = cmd;
  let rest = args;
  let path = "";
  while (current.subCommands && rest.length > 0 && !rest[0].startsWith("-")) {
    const subs = typeof current.subCommands === "function" ? await current.subCommands() : await current.subCommands;
    const entry = subs[rest[0]];
    if (!entry) break;
    const resolved = typeof entry === "function" ? await entry() : await entry;
    path += ` ${rest[0]}`;
    current = resolved;
    rest = rest.slice(1);
  }
  return [current, rest, path];
}

/** Runs the command in args (bunker's global flags already applied) and returns its exit code. */
export async function main(args: string[]): Promise<number> {
  const first = args[0];
  if (first === undefined || HELP.has(first) || first === "help") {
    process.stdout.write(`${topUsage()}\n`);
    return first === undefined ? EXIT_BUNKER : 0;
  }
  if (first === "--version" || first === "-v") return main(["version"]);
  const name = aliases[first] ?? first;
  // docker's `container run` and `container exec` are the raw commands run and exec
  if (name === "container" && (args[1] === "run" || args[1] === "exec")) return main(args.slice(1));
  const entry = commands[name];
  if (!entry) throw new BunkerError(`'${first}' is not a bunker command. See 'bunker --help'.`);
  if (STREAMING_COMMANDS.has(name)) Bun.unsafe.setJITPolicy(1);
  const cmd = await entry.load();
  mark("loaded");
  const rest = args.slice(1);
  if (isRaw(cmd)) {
    await cmd.run(rest);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  }
  // citty is loaded only here: a raw command (run) starts ~1 ms sooner without it
  const { renderUsage, runCommand } = await import("citty");
  const [leaf, leafArgs, subPath] = await resolveSub(cmd, rest);
  if (wantsHelp(leafArgs) || (leaf.subCommands && !leaf.run && leafArgs.length === 0)) {
    process.stdout.write(`${plain(await renderUsage(leaf))}\n`);
    return 0;
  }
  if (leaf.subCommands && !leaf.run && leafArgs.length > 0)
    throw new BunkerError(`unknown command "${leafArgs[0]}" for "bunker ${name}${subPath}". See 'bunker ${name} --help'.`);
  await runCommand(leaf, { rawArgs: leafArgs });
  return typeof process.exitCode === "number" ? process.exitCode : 0;
}

/** citty colours its usage text unconditionally; colour is for terminals only, and never with NO_COLOR. */
function plain(text: string): string {
  return process.stdout.isTTY && !process.env.NO_COLOR ? text : Bun.stripANSI(text);
}
