// `bunker exec [OPTIONS] CONTAINER COMMAND [ARG...]`: parses its own argv, because everything
// after CONTAINER belongs to the command (citty would take its -c or --help).
import { getContainer } from "../../container";
import { BunkerError } from "../../errors";
import type { ExecOptions } from "../../exec";
import type { RawCommand } from "../registry";

const USAGE = `Usage: bunker exec [OPTIONS] CONTAINER COMMAND [ARG...]

Execute a command in a running container.

Options:
  -d, --detach               Detached mode: run the command in the background
  -e, --env KEY=VALUE        Set an environment variable (KEY alone: take it from bunker's)
      --env-file FILE        Read environment variables from a file
  -i, --interactive          Keep stdin open
      --privileged           Give the command every capability (inside the user namespace)
  -t, --tty                  Allocate a pseudo-TTY
  -u, --user USER[:GROUP]    Run as this user (name or id, looked up in the container)
  -w, --workdir DIR          Working directory inside the container
`;

const BOOLS: Record<string, "interactive" | "tty" | "detach" | "privileged"> = {
  "-i": "interactive",
  "--interactive": "interactive",
  "-t": "tty",
  "--tty": "tty",
  "-d": "detach",
  "--detach": "detach",
  "--privileged": "privileged",
};
const VALUES: Record<string, "env" | "envFiles" | "workdir" | "user"> = {
  "-e": "env",
  "--env": "env",
  "--env-file": "envFiles",
  "-w": "workdir",
  "--workdir": "workdir",
  "-u": "user",
  "--user": "user",
};

/** Splits exec's argv into options, the container and the command. */
export function parseExecArgs(argv: string[]): { o: ExecOptions; container: string; command: string[] } {
  const o: ExecOptions = { interactive: false, tty: false, detach: false, privileged: false, env: [], envFiles: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (name in BOOLS && eq < 0) {
      o[BOOLS[name]] = true;
      continue;
    }
    if (name in VALUES || (!a.startsWith("--") && a.length > 2 && `-${a[1]}` in VALUES)) {
      // -e X, --env=X, -eX
      const key = name in VALUES ? VALUES[name] : VALUES[`-${a[1]}`];
      const value = eq > 0 ? a.slice(eq + 1) : name in VALUES ? argv[++i] : a.slice(2);
      if (value === undefined) throw new BunkerError(`flag needs an argument: ${name}`);
      if (key === "env" || key === "envFiles") o[key].push(value);
      else o[key] = value;
      continue;
    }
    // clusters of short booleans: -it, -dit
    if (!a.startsWith("--") && [...a.slice(1)].every((c) => `-${c}` in BOOLS)) {
      for (const c of a.slice(1)) o[BOOLS[`-${c}`]] = true;
      continue;
    }
    throw new BunkerError(`unknown flag: ${a}. See 'bunker exec --help'.`);
  }
  const container = argv[i];
  if (container === undefined) throw new BunkerError(`"bunker exec" requires at least 2 arguments: bunker exec [OPTIONS] CONTAINER COMMAND [ARG...]`);
  return { o, container, command: argv.slice(i + 1) };
}

const exec: RawCommand = {
  raw: true,
  usage: USAGE,
  async run(argv) {
    if (argv[0] === "--help" || argv[0] === "-h") {
      process.stdout.write(USAGE);
      return;
    }
    const { o, container, command } = parseExecArgs(argv);
    const { execInContainer } = await import("../../exec");
    process.exitCode = await execInContainer(await getContainer(container), command, o);
  },
};

export default exec;
