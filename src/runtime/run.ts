// `bunker run`: from flags and an image (or --rootfs DIR) to a ContainerSpec, then a foreground
// run of it. The detached path (-d) hands the same plan to the lifecycle's monitor.
import { closeSync, existsSync, rmdirSync, statSync, writeFileSync, writeSync } from "../fs";
import { join, normalize, resolve } from "../posix-path";
// The record and state modules only (not ../container): a run must not load the monitor, logs, cp...
import { checkName, type ContainerRecord, containerDir, inReservedContainer, nowTimestamp, registerContainer, removeContainer } from "../container/records";
import { initialState, updateState, writeState } from "../container/state";
import type { ContainerCgroup } from "../cgroup";
import { dockerResources, hasLimits, parseCgroupMode, parseResourceFlags, RESOURCE_FLAGS } from "../cgroup/limits";
import { BunkerError, EXIT_BUNKER } from "../errors";
import type { StoredImage } from "../store";
import { hostIdMapping, type IdMapping } from "../userns/idmap";
import { effectiveCaps } from "./caps";
import { bool, list, type ParsedFlags, type ParsedRun, parseRunFlags, RUN_FLAGS, str } from "./flags";
import { forwardSignals, type Prestarted, prestart, startContainer, waitForExit } from "./process";
import { attachNetwork, hostsFile, type NetworkAttachment, type NetworkPlan, parsePublish, planNetwork, portBindings, publishedBindings, resolvConf } from "../net";
import { parseMountFlags, prepareVolumes, removeAnonymousVolumes, withVolumesFrom } from "../volume";
import type { ContainerSpec, RootfsSpec } from "./spec";
import { mountpointLayer } from "./mountpoints";
import { imageRootfs, stopRootfsHelpers } from "./rootfs";
import { forgoLingerer } from "./linger";
import { mark } from "./trace";
import { buildEnv, resolveUser } from "./user";
import { EXTRA_FLAG_KEYS, NO_EXTRA_FLAGS, parseExtraFlags } from "./extra-flags";

export const RUN_USAGE = `Usage: bunker run [OPTIONS] IMAGE [COMMAND] [ARG...]
       bunker run [OPTIONS] --rootfs DIR COMMAND [ARG...]

Create and run a new container from an image.

Options:
      --rm                   Remove the container when it exits
  -i, --interactive          Keep stdin open
  -t, --tty                  Allocate a pseudo-TTY
  -d, --detach               Run in the background and print the container id
      --name NAME            Assign a name
  -e, --env KEY=VALUE        Set an environment variable (KEY alone: take it from bunker's)
      --env-file FILE        Read environment variables from a file
  -w, --workdir DIR          Working directory inside the container
  -u, --user USER[:GROUP]    Run as this user (name or id, looked up in the container)
      --entrypoint CMD       Override the image's entrypoint
  -h, --hostname NAME        Container host name (default: the short id)
      --init                 Run an init as PID 1 that forwards signals and reaps zombies
      --cap-add CAP          Add a capability        --cap-drop CAP   Drop a capability
      --privileged           Every capability (inside the user namespace only), no masked paths
      --security-opt OPT     no-new-privileges[=true|false]
      --userns keep-id       Map your uid/gid to the same ids inside
      --pull POLICY          missing (default), always, never
      --platform OS/ARCH     Platform of the image to pull
      --rootfs DIR           Run an exploded root filesystem instead of an image
      --read-only            Mount the root filesystem read-only
  -v, --volume SRC:DST[:ro]  Bind mount or named volume
      --volumes-from CTR[:ro|:rw]  Mount the volumes and binds of another container
      --mount SPEC           type=bind|volume|tmpfs,source=...,target=...[,readonly]
      --tmpfs DST[:OPTS]     Mount a tmpfs
      --network MODE         none, host, pasta, slirp4netns
  -p, --publish [IP:]HOST:CTR[/PROTO]  Publish a port
      --ulimit TYPE=SOFT[:HARD]  A resource limit: nofile, nproc, core, stack... (-1: unlimited)
      --device HOST[:CTR][:rwm]  Bind a host device node into the container
      --sysctl NAME=VALUE    A sysctl of the container's own namespaces: net.*, kernel.shm*, fs.mqueue.*...
      --tls-verify=false     Pull over plain HTTP / without certificate checks
  -q, --quiet                Pull without printing progress
      --add-host NAME:IP     Add a line to /etc/hosts
      --dns IP, --dns-search DOMAIN, --dns-option OPT: replace those of /etc/resolv.conf
      --group-add GROUP      Add a supplementary group (name or gid)
      --shm-size SIZE        Size of /dev/shm (default 64m)
  -l, --label KEY=VALUE      Set a label         --label-file FILE   Read labels from a file
      --cidfile FILE         Write the container id to FILE (which must not exist)
      --restart POLICY       no, on-failure[:N], always, unless-stopped (with -d)
      --stop-signal SIG      Signal that stops the container (default SIGTERM)
      --stop-timeout SECS    Seconds stop waits before SIGKILL (default 10)
      --log-opt max-size=SIZE, max-file=N: the log's rotation (with -d)
  -m, --memory, --cpus, --pids-limit, --memory-swap, --cpu-shares, --cpuset-cpus: resource limits
`;

/** Everything decided about a container before it starts: what `run` and `run -d` both need. */
export interface ContainerPlan {
  record: ContainerRecord;
  spec: ContainerSpec;
  flags: ParsedFlags;
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** --security-opt: no-new-privileges[=true|false] and seccomp=unconfined, docker's spellings. */
function securityOpts(opts: string[]): { noNewPrivs: boolean; seccomp: boolean } {
  const out = { noNewPrivs: true, seccomp: true };
  for (const o of opts) {
    const sep = o.search(/[=:]/);
    const [k, v] = sep < 0 ? [o, undefined] : [o.slice(0, sep), o.slice(sep + 1)];
    if (k === "no-new-privileges" && (v === undefined || v === "true" || v === "false")) out.noNewPrivs = v !== "false";
    else if (k === "seccomp" && v === "unconfined") out.seccomp = false;
    // bunker applies no SELinux label and no AppArmor profile: asking for none is already true
    // (podman users pass these on SELinux hosts); asking for a particular one can't be honoured.
    else if ((k === "label" && v === "disable") || (k === "apparmor" && v === "unconfined")) continue;
    else
      throw new BunkerError(
        `unsupported --security-opt "${o}": bunker knows no-new-privileges[=true|false], seccomp=unconfined, label=disable and apparmor=unconfined (it applies no SELinux label or AppArmor profile)`,
      );
  }
  return out;
}

/**
 * --userns=keep-id, podman's way: the user's own uid/gid are the same inside; container 0.. and
 * the ids above the user's come from the subordinate range.
 */
export function keepIdMapping(base: IdMapping): IdMapping {
  const uid = process.getuid!();
  const gid = process.getgid!();
  const split = (ranges: IdMapping["uids"], id: number) => {
    const self = ranges[0];
    const sub = ranges[1];
    if (!sub) return [{ inside: id, outside: self.outside, count: 1 }];
    const below = Math.min(id, sub.count);
    const out = [];
    if (below > 0) out.push({ inside: 0, outside: sub.outside, count: below });
    out.push({ inside: id, outside: self.outside, count: 1 });
    if (sub.count > below) out.push({ inside: id + 1, outside: sub.outside + below, count: sub.count - below });
    return out;
  };
  if (base.kind === "root") return base;
  return { kind: base.kind, uids: split(base.uids, uid), gids: split(base.gids, gid) };
}

/** --label-file lines (read already) and then --label KEY=VALUE (KEY alone: empty), as docker merges them. */
function labels(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of lines) {
    const eq = l.indexOf("=");
    if (eq < 0) out[l] = "";
    else out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return out;
}

function writeCidFile(path: string, id: string): void {
  try {
    writeFileSync(path, id, { flag: "wx", mode: 0o644 });
  } catch (e) {
    throw new BunkerError(`cannot write the container ID file ${path}: ${(e as Error).message}`);
  }
}

function checkPull(v: string | undefined): "missing" | "always" | "never" {
  if (v === undefined) return "missing";
  if (v === "missing" || v === "always" || v === "never") return v;
  throw new BunkerError(`invalid --pull "${v}": use missing, always or never`);
}

/**
 * src/image/pull's ensureImage, loaded when a run must pull. The caller says how: dist/bunker keeps
 * the puller (registry client, decompressors, tar) in a bundle of its own (src/cli/run-entry.ts).
 */
export type LoadPuller = () => Promise<(typeof import("../image/pull"))["ensureImage"]>;

async function loadImage(ref: string, flags: ParsedFlags, loadPuller: LoadPuller): Promise<StoredImage> {
  const { findImage } = await import("../store");
  const pull = checkPull(str(flags, "pull"));
  if (pull === "never") {
    const image = await findImage(ref);
    if (!image) throw new BunkerError(`image ${ref} is not in the store and --pull=never was given: run 'bunker pull ${ref}'`);
    return image;
  }
  if (pull === "missing") {
    const image = await findImage(ref);
    if (image) return image;
  }
  const ensureImage = await loadPuller();
  const tls = str(flags, "tlsVerify");
  return ensureImage(ref, { pull, platform: str(flags, "platform"), tlsVerify: tls === undefined ? undefined : tls !== "false", quiet: bool(flags, "quiet") });
}

/** The container's namespaces as its flags decide them: all a prestart needs (see runMain). */
export interface NamespacePlan {
  idMapping: IdMapping;
  network: NetworkPlan;
}

export async function planNamespaces(f: ParsedFlags): Promise<NamespacePlan> {
  const userns = str(f, "userns");
  if (userns !== undefined && userns !== "keep-id" && userns !== "" && userns !== "host")
    throw new BunkerError(`unsupported --userns "${userns}": bunker knows keep-id`);
  const idMapping = userns === "keep-id" ? keepIdMapping(hostIdMapping()) : hostIdMapping();
  const network = planNetwork(str(f, "network"), parsePublish(list(f, "publish")));
  if (network.note) (await import("../log")).log.warn(network.note);
  return { idMapping, network };
}

/** Builds the container's record and spec from the parsed command line. */
export async function planContainer(parsed: ParsedRun, loadPuller: LoadPuller, namespaces?: NamespacePlan, prestarted?: Prestarted): Promise<ContainerPlan> {
  const f = parsed.flags;
  const { idMapping, network } = namespaces ?? (await planNamespaces(f));
  const rootfsDir = str(f, "rootfs");
  checkPull(str(f, "pull"));
  let image: StoredImage | undefined;
  if (rootfsDir === undefined) {
    if (!parsed.image) throw new BunkerError(`"bunker run" requires at least 1 argument: bunker run [OPTIONS] IMAGE [COMMAND] [ARG...]`);
    image = await loadImage(parsed.image, f, loadPuller);
    mark("image");
  } else if (!existsSync(rootfsDir) || !statSync(rootfsDir).isDirectory())
    throw new BunkerError(`--rootfs ${rootfsDir}: not a directory`);
  const cfg = image?.config.config ?? {};
  const entrypointFlag = str(f, "entrypoint");
  const entrypoint = entrypointFlag !== undefined ? (entrypointFlag === "" ? [] : [entrypointFlag]) : (cfg.Entrypoint ?? []);
  // docker: --entrypoint drops the image's Cmd; a COMMAND replaces it.
  const cmd = parsed.command.length > 0 ? parsed.command : entrypointFlag !== undefined ? [] : (cfg.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new BunkerError("no command specified: give a COMMAND (the image has no Cmd or Entrypoint)");

  const keepId = str(f, "userns") === "keep-id";
  const rootsTopFirst = image ? [...image.layerDirs].reverse() : [resolve(rootfsDir!)];
  const userSpec = str(f, "user") ?? (keepId ? `${process.getuid!()}:${process.getgid!()}` : cfg.User || "0");
  // inline, not a call: the common run gives none of these (see src/runtime/extra-flags.ts)
  let extraGiven = false;
  for (const k of EXTRA_FLAG_KEYS) if (f[k] !== undefined) extraGiven = true;
  const extras = extraGiven ? await parseExtraFlags(f, network.newNetNs) : NO_EXTRA_FLAGS;
  if (extras.groupAdd.length > 0 && idMapping.kind === "single")
    throw new BunkerError("--group-add needs a range of subordinate group ids: add one for your user to /etc/subgid (see 'bunker doctor')");
  const user = resolveUser(userSpec, rootsTopFirst, extras.groupAdd);

  const security = securityOpts(list(f, "securityOpt"));
  const resourceFlags: Record<string, string | undefined> = {};
  for (const k of RESOURCE_FLAGS) resourceFlags[k] = str(f, k);
  const resources = parseResourceFlags(resourceFlags);
  const cgroupMode = parseCgroupMode(str(f, "cgroups"));
  // A limit that can't be enforced is refused (125) before the container's record exists.
  if (hasLimits(resources)) (await import("../cgroup")).checkCgroupLimits(resources, cgroupMode);
  const privileged = bool(f, "privileged");
  const caps = effectiveCaps({ privileged, add: list(f, "capAdd"), drop: list(f, "capDrop") });
  const workdir = str(f, "workdir") ?? (cfg.WorkingDir || "/");
  if (!workdir.startsWith("/")) throw new BunkerError(`the working directory '${workdir}' is invalid: it needs to be an absolute path`);
  const ownMounts = parseMountFlags({ volumes: list(f, "volume"), mounts: list(f, "mount"), tmpfs: list(f, "tmpfs") });
  const mounts = extras.volumesFrom.length ? withVolumesFrom(ownMounts, extras.volumesFrom) : ownMounts;

  mark("flags");
  const name = str(f, "name");
  if (name !== undefined) checkName(name);
  // Reserved now, a container only once its record is written (registerContainer): whatever fails
  // before then (an env file that can't be read, a name in use) leaves nothing behind.
  return inReservedContainer(async (id) => {
    const dir = containerDir(id);
    const hostname = str(f, "hostname") ?? id.slice(0, 12);
    const env = buildEnv({
      image: cfg.Env ?? [`PATH=${DEFAULT_PATH}`],
      flags: list(f, "env"),
      envFiles: list(f, "envFile"),
      hostname,
      home: user.home,
      tty: bool(f, "tty"),
    });
    const rootfs: RootfsSpec = image
      ? await imageRootfs(dir, [mountpointLayer(image.id, rootsTopFirst), ...rootsTopFirst].filter((d) => d !== undefined))
      : { kind: "bind", dir: resolve(rootfsDir!) };
    const spec: ContainerSpec = {
      id,
      rootfs,
      readOnly: bool(f, "readOnly"),
      hostname,
      args,
      env,
      cwd: normalize(workdir),
      uid: user.uid,
      gid: user.gid,
      groups: user.groups,
      idMapping,
      caps,
      noNewPrivs: security.noNewPrivs,
      seccomp: security.seccomp && !privileged,
      privileged,
      mounts,
      etcFiles: { hosts: hostsFile(network, hostname, extras.extraHosts), hostname: `${hostname}\n`, resolvConf: resolvConf(network, extras.dns) },
      newNetNs: network.newNetNs,
      network,
      tty: bool(f, "tty"),
      stdin: bool(f, "interactive"),
      init: bool(f, "init"),
      shmSize: extras.shmSize,
      resources,
      cgroupMode,
      ulimits: extras.ulimits,
      devices: extras.devices,
      sysctls: extras.sysctls,
    };
    // the child mounts its root while the record is written and the rest is planned
    prestarted?.releaseMounts(spec);
    const record: ContainerRecord = {
      Id: id,
      Name: "",
      Created: nowTimestamp(),
      Image: image?.id ?? "",
      ImageName: image ? parsed.image! : resolve(rootfsDir!),
      Rootfs: rootfsDir === undefined ? undefined : resolve(rootfsDir),
      Path: args[0],
      Args: args.slice(1),
      Config: {
        Hostname: hostname,
        User: str(f, "user") ?? cfg.User ?? "",
        Env: env,
        Cmd: cmd,
        Entrypoint: entrypoint.length ? entrypoint : null,
        WorkingDir: workdir,
        Tty: bool(f, "tty"),
        OpenStdin: bool(f, "interactive"),
        Labels: labels(extras.fileLabels.length ? [...extras.fileLabels, ...list(f, "label")] : list(f, "label")),
        StopSignal: str(f, "stopSignal") ?? cfg.StopSignal,
        StopTimeout: extras.stopTimeout,
        Image: parsed.image ?? rootfsDir!,
      },
      HostConfig: {
        AutoRemove: bool(f, "rm"),
        RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
        LogConfig: { Type: "k8s-file", Config: {} },
        NetworkMode: network.mode,
        PortBindings: portBindings(network.ports),
        Privileged: privileged,
        ReadonlyRootfs: bool(f, "readOnly"),
        Init: bool(f, "init"),
        CapAdd: list(f, "capAdd"),
        CapDrop: list(f, "capDrop"),
        SecurityOpt: list(f, "securityOpt"),
        Binds: list(f, "volume"),
        ...extras.hostConfig,
        // docker's Memory, NanoCpus, PidsLimit... for inspect
        ...dockerResources(resources),
      },
      Mounts: mounts.map((m) => ({
        Type: m.volumeName ? "volume" : m.kind,
        Name: m.volumeName,
        Source: m.source ?? "",
        Destination: m.target,
        Mode: m.readonly ? "ro" : "",
        RW: !m.readonly,
      })),
      RunSpec: spec,
    };
    await registerContainer(record, name);
    // docker's cidfile: the id alone, written once the container exists; never one that is there
    if (extras.cidfile !== undefined) writeCidFile(extras.cidfile, id);
    mark("record");
    return { record, spec, flags: f };
  });
}

/**
 * The container's cgroup, when limits are asked or the host delegates one (src/cgroup decides).
 * The cgroup module is loaded only then: most runs on most hosts need none of it.
 */
export async function containerCgroup(spec: ContainerSpec): Promise<ContainerCgroup | undefined> {
  if (spec.cgroupMode === "disabled" && !hasLimits(spec.resources)) return undefined;
  const { createContainerCgroup } = await import("../cgroup");
  return createContainerCgroup(spec.id, spec.resources, spec.cgroupMode);
}

/** What a foreground run reports to its caller (run keeps the container's state; sandbox has none). */
export interface AttachedHooks {
  /** the child runs its steps (see SpawnRequest.released): must not throw */
  released?: (pid: number) => void;
  started?: (pid: number, net: NetworkAttachment | undefined) => Promise<unknown> | unknown;
  exited?: (code: number, oomKilled: boolean) => Promise<unknown> | unknown;
}

/**
 * Runs a spec in the foreground with bunker's stdio or a pty, its cgroup and network, forwarding
 * signals, and returns its exit code. `run` and `sandbox` both use it.
 */
export async function runAttached(spec: ContainerSpec, hooks: AttachedHooks = {}, prestarted?: Prestarted): Promise<number> {
  prepareVolumes(spec.mounts);
  const tty = spec.tty ? await import("./tty") : undefined;
  // -t: the child makes the pty in the container's devpts and sends its master back here
  const channel = tty?.containerPtyChannel();
  let cgroup: ContainerCgroup | undefined;
  let net: NetworkAttachment | undefined;
  try {
    const stdio = channel ? { pty: channel.pty } : undefined;
    // Signals are forwarded from the moment the child exists: a signal sent while it starts
    // must not kill bunker and orphan the container.
    let stopForwarding = () => {};
    cgroup = await containerCgroup(spec);
    mark("cgroup");
    const started = await startContainer(spec, {
      stdio,
      prestarted,
      // a prestarted process is moved into its cgroup (attach, below) instead
      cgroupFd: prestarted ? undefined : cgroup?.dirFd,
      onCloned: (pid) => (stopForwarding = forwardSignals(pid)),
      released: hooks.released,
      setup: async (pid) => {
        await cgroup?.attach(pid);
        net = await attachNetwork(spec.network, pid);
      },
    })
      .catch((e) => {
        stopForwarding();
        if (channel) closeSync(channel.socket);
        throw e;
      })
      .finally(() => {
        if (channel) closeSync(channel.pty.socket); // the child's end: it has its own copy
      });
    let session: import("./tty").TerminalSession | undefined;
    if (channel) {
      try {
        session = tty!.attachTerminal(tty!.receiveMaster(channel), spec.stdin);
      } catch (e) {
        process.kill(started.pid, "SIGKILL");
        await waitForExit(started.pid);
        stopForwarding();
        throw e;
      }
    }
    mark("started");
    await hooks.started?.(started.pid, net);
    let code = EXIT_BUNKER;
    try {
      code = await waitForExit(started.pid);
      mark("exited");
      await session?.drained;
    } finally {
      session?.restore();
      stopForwarding();
    }
    const oom = cgroup?.oomKilled() ?? false;
    if (oom) process.stderr.write(`bunker: the container was killed because it ran out of memory (its --memory limit)\n`);
    await hooks.exited?.(code, oom);
    return code;
  } finally {
    await stopRootfsHelpers();
    net?.stop();
    await cgroup?.remove();
  }
}

/** Runs a planned container in the foreground and returns its exit code. */
export async function runForeground(plan: ContainerPlan, prestarted?: Prestarted): Promise<number> {
  const { record, spec } = plan;
  // The running state (what `ps` shows) is written while the child mounts its root (~2 ms), not
  // after its execve: a short command would be done before the write. writeState's work is
  // synchronous; the promise carries its outcome.
  let running: Promise<void> | undefined;
  let ran = false;
  try {
    return await runAttached(
      spec,
      {
      released: (pid) => {
        running = (async () => {
          const state = { ...initialState(), Status: "running" as const, Pid: pid, StartedAt: nowTimestamp(), MonitorPid: process.pid };
          await writeState(record.Id, state, record.HostConfig.AutoRemove ? "live" : "both");
        })();
        running.catch(() => {}); // awaited in started; if the start fails first, its error is the one to report
      },
      started: async (pid, net) => {
        ran = true;
        await running;
        // -p without a host port: the port picked now is what port, ps and inspect show (as for run -d)
        if (net?.ports.length) (await import("../container/ports")).writePublishedPorts(record.Id, publishedBindings(net.ports));
      },
      // A --rm container's record goes at once: its exit state would be written only to be deleted.
      exited: (code, oom) =>
        record.HostConfig.AutoRemove
          ? undefined
          : updateState(record.Id, { Status: "exited", Running: false, Pid: 0, ExitCode: code, FinishedAt: nowTimestamp(), OOMKilled: oom }),
      },
      prestarted,
    );
  } catch (e) {
    // its execve failed (or the set-up after it): the container never ran, as docker's "created"
    if (running && !ran && !record.HostConfig.AutoRemove) await writeState(record.Id, initialState());
    throw e;
  } finally {
    if (record.HostConfig.AutoRemove) {
      // overlayfs leaves an empty mode-000 work/work behind; without it the writable layer can
      // usually be removed without the user-namespace helper (see removeTree).
      if (spec.rootfs.kind === "overlay" || spec.rootfs.kind === "fuse-overlay") {
        try {
          rmdirSync(join(spec.rootfs.workDir, "work"));
        } catch {
          // not there, or not empty: removeTree's helper handles it
        }
      }
      await removeContainer(record.Id, record.Name);
      mark("removed");
      await removeAnonymousVolumes(spec.mounts);
    }
  }
}

/** `bunker run ARGV`: returns the exit code for bunker to exit with. */
export async function runMain(argv: string[], loadPuller: LoadPuller): Promise<number> {
  mark("start");
  if (argv[0] === "--help") {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const parsed = parseRunFlags(argv, RUN_FLAGS, (f) => str(f, "rootfs") === undefined);
  const f = parsed.flags;
  const namespaces = await planNamespaces(f);
  // A foreground run clones its container's process now, so that the id mapping (newuidmap and
  // newgidmap, ~2.5 ms) runs beside the image lookup and the planning. Not with -t: the pty's
  // socket would have to exist before the clone too, for a path that waits on a person anyway.
  // BUNKER_PRESTART=0 clones late, as -d does (for A/B benchmarks: scripts/bench-run.ts).
  const detach = bool(f, "detach");
  const early =
    detach || bool(f, "tty") || process.env.BUNKER_PRESTART === "0"
      ? undefined
      : prestart({
          newNetNs: namespaces.network.newNetNs,
          // nothing attaches to a --network none namespace: the child can make it itself
          netnsInChild: namespaces.network.mode === "none",
          idMapping: namespaces.idMapping,
          stdin: bool(f, "interactive"),
          init: bool(f, "init"),
        });
  try {
    const plan = await planContainer(parsed, loadPuller, namespaces, early);
    mark("planned");
    if (detach) {
      const { runDetached } = await import("./detached");
      mark("detached-module");
      forgoLingerer();
      const id = await runDetached(plan);
      // a plain write: creating process.stdout's stream would cost ~1.5 ms more than the id needs
      writeSync(1, `${id}\n`);
      return 0;
    }
    return await runForeground(plan, early);
  } finally {
    early?.abort(); // unless it ran: a run that failed before its start leaves no process
  }
}
