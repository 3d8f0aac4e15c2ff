// `bunker sandbox`: the user's own machine, seen read-only, in fresh namespaces, with no image.
//
// What the command sees (decided here, documented in the README):
// - /usr, /bin, /sbin, /lib* and /etc of the host, read-only. On a usrmerge host /bin is a
//   symlink to usr/bin; the sandbox binds the directory it points to at /bin, so paths resolve the
//   same while the root itself stays an empty read-only tmpfs.
// - A fresh /tmp and a fresh, empty $HOME (tmpfs; the host's home with its keys and tokens stays
//   out of sight), /proc, /dev and /sys as in `run`.
// - The current directory, read-only by default (--cwd ro): the command can read the project it
//   is run in, but changing it is a deliberate --cwd rw; --cwd none hides it.
// - The user's own uid/gid (podman's keep-id), so files in the current directory keep their owner.
// - No network (--network none) unless asked; then pasta/slirp4netns/host as in `run`.
// - Only a few host variables (PATH, TERM, locale, TZ, USER...) pass through, never the whole
//   environment: tokens in it would defeat the sandbox. -e/--env-file add more.
import { existsSync, lstatSync, mkdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { BunkerError } from "../errors";
import { log } from "../log";
import { hostsFile, parsePublish, planNetwork, resolvConf } from "../net";
import { runtimeRoot } from "../paths";
import { effectiveCaps } from "../runtime/caps";
import { parseExtraFlags } from "../runtime/extra-flags";
import { bool, list, type ParsedRun, parseRunFlags, RUN_FLAGS, str } from "../runtime/flags";
import { keepIdMapping, runAttached } from "../runtime/run";
import type { ContainerSpec } from "../runtime/spec";
import { buildEnv, resolveUser } from "../runtime/user";
import { hostIdMapping } from "../userns/idmap";
import { type MountSpec, parseMountFlags } from "../volume";

export const SANDBOX_USAGE = `Usage: bunker sandbox [OPTIONS] [--] COMMAND [ARG...]

Run a command in a throwaway sandbox of this machine: no image, no registry. The host's /usr,
/bin, /lib* and /etc are read-only, /tmp and $HOME are fresh and empty, the network is off.

Options:
      --cwd ro|rw|none       Bind the current directory read-only (default), read-write, or not at all
  -i, --interactive          Keep stdin open
  -t, --tty                  Allocate a pseudo-TTY
  -e, --env KEY=VALUE        Set an environment variable (KEY alone: take it from bunker's)
      --env-file FILE        Read environment variables from a file
  -w, --workdir DIR          Working directory (default: the current directory, or $HOME with --cwd none)
  -u, --user USER[:GROUP]    Run as this user (default: you; names from the host's /etc/passwd)
  -h, --hostname NAME        Host name (default: sandbox)
      --init                 Run an init as PID 1 that forwards signals and reaps zombies
      --cap-add CAP          Add a capability        --cap-drop CAP   Drop a capability
  -v, --volume SRC:DST[:ro]  Bind mount or named volume
      --mount SPEC           type=bind|volume|tmpfs,source=...,target=...[,readonly]
      --tmpfs DST[:OPTS]     Mount a tmpfs
      --network MODE         none (default), host, pasta, slirp4netns
  -p, --publish [IP:]HOST:CTR[/PROTO]  Publish a port (with --network pasta or slirp4netns)
      --add-host NAME:IP     Add a line to /etc/hosts
      --dns IP, --dns-search DOMAIN, --dns-option OPT: replace those of /etc/resolv.conf
      --ulimit TYPE=SOFT[:HARD]  A resource limit: nofile, nproc, core, stack... (-1: unlimited)
      --device HOST[:CTR][:rwm]  Bind a host device node into the sandbox
`;

// --rm is accepted out of docker habit: a sandbox never stays anyway. --sysctl is not: what a
// sandbox is for (running a tool against this machine) does not need the kernel tuned.
const RUN_KEYS = new Set([
  ...["rm", "interactive", "tty", "env", "envFile", "workdir", "user", "hostname", "init", "capAdd", "capDrop", "volume", "mount", "tmpfs", "network", "publish"],
  ...["addHost", "dns", "dnsSearch", "dnsOption", "ulimit", "device"],
]);
const SANDBOX_FLAGS = [...RUN_FLAGS.filter((d) => RUN_KEYS.has(d.key)), { names: ["--cwd"], key: "cwd", kind: "value" as const }];

/** The host directories a sandbox sees read-only. */
const HOST_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];
/** Host variables that describe the terminal and locale, not secrets. */
const PASSED_ENV = /^(PATH|TERM|COLORTERM|LANG|LANGUAGE|LC_[A-Z_]+|TZ|USER|LOGNAME|SHELL|NO_COLOR)$/;

function readOnlyBind(source: string, target: string): MountSpec {
  return { kind: "bind", source, target, readonly: true, options: ["rbind", "rprivate"] };
}

/** /usr, /etc... read-only; a usrmerge symlink (/bin → usr/bin) is bound as the directory it names. */
export function hostSystemMounts(dirs: string[] = HOST_DIRS): MountSpec[] {
  const out: MountSpec[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    out.push(readOnlyBind(lstatSync(dir).isSymbolicLink() ? realpathSync(dir) : dir, dir));
  }
  return out;
}

function cwdMode(value: string | undefined): "ro" | "rw" | "none" {
  const v = value ?? "ro";
  if (v === "ro" || v === "rw" || v === "none") return v;
  throw new BunkerError(`invalid --cwd "${v}": use ro, rw or none`);
}

export interface SandboxPlan {
  spec: ContainerSpec;
  /** the sandbox's private directory (generated /etc files, the root's mount point) */
  dir: string;
}

export async function planSandbox(parsed: ParsedRun): Promise<SandboxPlan> {
  const f = parsed.flags;
  if (parsed.command.length === 0) throw new BunkerError(`"bunker sandbox" requires a command: bunker sandbox [OPTIONS] -- COMMAND [ARG...]`);
  const mode = cwdMode(str(f, "cwd"));
  const network = planNetwork(str(f, "network") ?? "none", parsePublish(list(f, "publish")));
  if (network.note) log.warn(network.note);
  const user = resolveUser(str(f, "user") ?? `${process.getuid!()}:${process.getgid!()}`, ["/"]);
  const hostname = str(f, "hostname") ?? "sandbox";
  const home = user.home === "/" ? "/home/sandbox" : user.home;
  const userMounts = parseMountFlags({ volumes: list(f, "volume"), mounts: list(f, "mount"), tmpfs: list(f, "tmpfs") });
  const { extraHosts, dns, ulimits, devices } = await parseExtraFlags(f, network.newNetNs);

  const id = randomBytes(32).toString("hex");
  const dir = join(runtimeRoot(), "sandbox", id);
  mkdirSync(join(dir, "root"), { recursive: true, mode: 0o700 });
  const etc: MountSpec[] = [];
  const writeEtc = (name: string, text: string) => {
    // Nothing can be created in the read-only /etc: only files the host has are replaced.
    if (!existsSync(`/etc/${name}`)) return;
    writeFileSync(join(dir, name), text);
    etc.push(readOnlyBind(join(dir, name), `/etc/${name}`));
  };
  writeEtc("hostname", `${hostname}\n`);
  writeEtc("hosts", hostsFile(network, hostname, extraHosts));
  // A copy even for host/none: the host's may be a symlink into /run, which the sandbox doesn't show.
  writeEtc("resolv.conf", resolvConf(network, dns));

  const cwd = process.cwd();
  const mounts: MountSpec[] = [
    ...hostSystemMounts(),
    ...etc,
    { kind: "tmpfs", target: "/tmp", readonly: false, options: ["nosuid", "nodev", "mode=1777"] },
    { kind: "tmpfs", target: home, readonly: false, options: ["nosuid", "nodev", "mode=700", `uid=${user.uid}`, `gid=${user.gid}`] },
  ];
  if (mode !== "none") {
    if (cwd === "/") throw new BunkerError("the current directory is /: binding it would show the whole host; cd elsewhere or use --cwd none");
    mounts.push({ kind: "bind", source: cwd, target: cwd, readonly: mode === "ro", options: ["rbind", "rprivate"] });
  }
  // The user's own mounts come last and replace ours at the same place (--tmpfs /tmp:size=1m).
  const userTargets = new Set(userMounts.map((m) => m.target));
  const allMounts = [...mounts.filter((m) => !userTargets.has(m.target)), ...userMounts];

  const passed = Object.entries(process.env)
    .filter(([k, v]) => PASSED_ENV.test(k) && v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const env = buildEnv({ image: [...passed, `HOME=${home}`], flags: list(f, "env"), envFiles: list(f, "envFile"), hostname, home, tty: bool(f, "tty") });
  const workdir = str(f, "workdir") ?? (mode === "none" ? home : cwd);
  if (!workdir.startsWith("/")) throw new BunkerError(`the working directory '${workdir}' is invalid: it needs to be an absolute path`);

  const spec: ContainerSpec = {
    id,
    rootfs: { kind: "tmpfs", mountPoint: join(dir, "root") },
    readOnly: true,
    hostname,
    args: parsed.command,
    env,
    cwd: workdir,
    uid: user.uid,
    gid: user.gid,
    groups: user.groups,
    idMapping: keepIdMapping(hostIdMapping()),
    caps: effectiveCaps({ privileged: false, add: list(f, "capAdd"), drop: list(f, "capDrop") }),
    noNewPrivs: true,
    privileged: false,
    mounts: allMounts,
    etcFiles: {},
    newNetNs: network.newNetNs,
    network,
    tty: bool(f, "tty"),
    stdin: bool(f, "interactive"),
    init: bool(f, "init"),
    resources: {},
    // no limits asked for, so no cgroup to make: start-up stays lean
    cgroupMode: "disabled",
    ulimits,
    devices,
  };
  return { spec, dir };
}

/**
 * Plans and runs a sandbox in the foreground; returns the command's exit code. adjust may change
 * the spec before it starts (doctor's probes put an overlay root under the same mounts).
 */
export async function runSandbox(argv: string[], adjust?: (spec: ContainerSpec) => void): Promise<number> {
  const { spec, dir } = await planSandbox(parseRunFlags(argv, SANDBOX_FLAGS, () => false));
  try {
    adjust?.(spec);
    return await runAttached(spec);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `bunker sandbox ARGV`: returns the exit code for bunker to exit with (the command's). */
export async function sandboxMain(argv: string[]): Promise<number> {
  if (argv[0] === "--help") {
    process.stdout.write(SANDBOX_USAGE);
    return 0;
  }
  return runSandbox(argv);
}
