// docker's `run` flags, parsed by hand: everything after IMAGE belongs to the container, and a
// generic parser would take the command's own -c or --help (see NOTES). `sandbox` reuses this.
import { BunkerError } from "../errors";

type Kind = "bool" | "value" | "list";
interface FlagDef {
  names: string[];
  key: string;
  kind: Kind;
}

const flag = (kind: Kind, key: string, ...names: string[]): FlagDef => ({ names, key, kind });

export const RUN_FLAGS: FlagDef[] = [
  flag("bool", "rm", "--rm"),
  flag("bool", "interactive", "-i", "--interactive"),
  flag("bool", "tty", "-t", "--tty"),
  flag("bool", "detach", "-d", "--detach"),
  flag("value", "name", "--name"),
  flag("list", "env", "-e", "--env"),
  flag("list", "envFile", "--env-file"),
  flag("value", "workdir", "-w", "--workdir"),
  flag("value", "user", "-u", "--user"),
  flag("value", "entrypoint", "--entrypoint"),
  flag("value", "hostname", "-h", "--hostname"),
  flag("bool", "init", "--init"),
  flag("list", "capAdd", "--cap-add"),
  flag("list", "capDrop", "--cap-drop"),
  flag("bool", "privileged", "--privileged"),
  flag("list", "securityOpt", "--security-opt"),
  flag("value", "userns", "--userns"),
  flag("value", "pull", "--pull"),
  flag("value", "platform", "--platform"),
  flag("value", "rootfs", "--rootfs"),
  flag("bool", "readOnly", "--read-only"),
  flag("list", "volume", "-v", "--volume"),
  flag("list", "mount", "--mount"),
  flag("list", "tmpfs", "--tmpfs"),
  flag("list", "volumesFrom", "--volumes-from"),
  flag("value", "network", "--network", "--net"),
  flag("list", "publish", "-p", "--publish"),
  flag("value", "tlsVerify", "--tls-verify"),
  flag("list", "label", "-l", "--label"),
  flag("value", "restart", "--restart"),
  flag("list", "logOpt", "--log-opt"),
  flag("value", "stopSignal", "--stop-signal"),
  flag("value", "stopTimeout", "--stop-timeout"),
  flag("list", "labelFile", "--label-file"),
  flag("list", "addHost", "--add-host"),
  flag("list", "dns", "--dns"),
  flag("list", "dnsSearch", "--dns-search"),
  flag("list", "dnsOption", "--dns-option"),
  flag("list", "groupAdd", "--group-add"),
  flag("value", "shmSize", "--shm-size"),
  flag("value", "cidfile", "--cidfile"),
  flag("bool", "quiet", "-q", "--quiet"),
  flag("value", "cgroups", "--cgroups"),
  flag("list", "ulimit", "--ulimit"),
  flag("list", "device", "--device"),
  flag("list", "sysctl", "--sysctl"),
  // resources (src/cgroup parses the values)
  flag("value", "memory", "-m", "--memory"),
  flag("value", "memory-swap", "--memory-swap"),
  flag("value", "memory-reservation", "--memory-reservation"),
  flag("value", "cpus", "--cpus"),
  flag("value", "cpu-shares", "-c", "--cpu-shares"),
  flag("value", "cpuset-cpus", "--cpuset-cpus"),
  flag("value", "cpuset-mems", "--cpuset-mems"),
  flag("value", "pids-limit", "--pids-limit"),
  flag("value", "blkio-weight", "--blkio-weight"),
];

export type ParsedFlags = Record<string, string | boolean | string[] | undefined>;

export interface ParsedRun {
  flags: ParsedFlags;
  /** the first positional word (IMAGE), unless the command has no image (--rootfs, sandbox) */
  image?: string;
  command: string[];
}

function boolValue(name: string, v: string): boolean {
  if (v === "true") return true;
  if (v === "false") return false;
  throw new BunkerError(`invalid value "${v}" for flag ${name}: use true or false`);
}

/**
 * Parses flags up to the first positional word. With takesImage, that word is IMAGE and the rest
 * the command; without (sandbox, --rootfs), every positional word is the command.
 */
export function parseRunFlags(argv: string[], defs: FlagDef[], takesImage: (f: ParsedFlags) => boolean): ParsedRun {
  const byName = new Map<string, FlagDef>();
  for (const d of defs) for (const n of d.names) byName.set(n, d);
  const flags: ParsedFlags = {};
  const set = (d: FlagDef, name: string, value: string | undefined) => {
    if (d.kind === "bool") flags[d.key] = value === undefined ? true : boolValue(name, value);
    else if (d.kind === "value") flags[d.key] = value;
    else ((flags[d.key] ??= []) as string[]).push(value!);
  };
  let i = 0;
  const next = (name: string) => {
    if (i + 1 >= argv.length) throw new BunkerError(`flag needs an argument: ${name}`);
    return argv[++i];
  };
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq > 0 ? arg.slice(0, eq) : arg;
      const d = byName.get(name);
      if (!d) throw new BunkerError(`unknown flag: ${name}. See 'bunker run --help'.`);
      set(d, name, eq > 0 ? arg.slice(eq + 1) : d.kind === "bool" ? undefined : next(name));
      continue;
    }
    // Short flags combine as docker's do: -it, -itd, -e=A, -eA=1, -p8080:80.
    for (let j = 1; j < arg.length; j++) {
      const name = `-${arg[j]}`;
      const d = byName.get(name);
      if (!d) throw new BunkerError(`unknown shorthand flag: '${arg[j]}' in ${arg}. See 'bunker run --help'.`);
      if (d.kind === "bool") {
        if (arg[j + 1] === "=") {
          set(d, name, arg.slice(j + 2));
          break;
        }
        set(d, name, undefined);
        continue;
      }
      const rest = arg.slice(j + 1);
      set(d, name, rest === "" ? next(name) : rest.startsWith("=") ? rest.slice(1) : rest);
      break;
    }
  }
  const positional = argv.slice(i);
  if (!takesImage(flags)) return { flags, command: positional };
  return { flags, image: positional[0], command: positional.slice(1) };
}

export const str = (f: ParsedFlags, k: string) => f[k] as string | undefined;
export const list = (f: ParsedFlags, k: string) => (f[k] as string[] | undefined) ?? [];
export const bool = (f: ParsedFlags, k: string) => f[k] === true;
