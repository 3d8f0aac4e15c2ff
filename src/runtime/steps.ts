// Turns a ContainerSpec into the ordered steps the native interpreter carries out: the root
// filesystem, /proc, /dev, /sys as docker sets them up, the user's mounts, pivot_root, identity,
// capabilities, stdio and the exec. Paths marked "in root" are resolved by the C inside the
// container's root, so an image's symlinks can never aim a mount or a mkdir at the host.
import { statSync } from "../fs";
import { capMask } from "./caps";
import { defaultSeccompFilter } from "./seccomp";
import { Op, type Step } from "./program";
import { kernelMountOptions, type MountSpec } from "../volume";
import { type ContainerSpec, DEFAULT_SHM_SIZE } from "./spec";
import { sysctlPath } from "./sysctl";
import { RLIMITS, type Ulimit } from "./ulimit";

// <sys/mount.h>
const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MS_BIND = 4096;
const MS_REC = 16384;
const MS_PRIVATE = 1 << 18;
const MS_STRICTATIME = 1 << 24;
const MNT_DETACH = 2;
// <sched.h>
const CLONE_NEWCGROUP = 0x02000000;

const enum Create {
  No = 0,
  Dir = 1,
  File = 2,
}
const enum Optional {
  No = 0,
  IfMissing = 1,
  Always = 2,
}

interface MountArgs {
  source?: string;
  target: string;
  fstype?: string;
  flags?: number;
  data?: string;
  sourceInRoot?: boolean;
  targetInRoot?: boolean;
  create?: Create;
  optional?: Optional;
}

function mount(a: MountArgs): Step {
  return {
    op: Op.Mount,
    ints: [a.flags ?? 0, a.sourceInRoot ? 1 : 0, a.targetInRoot === false ? 0 : 1, a.create ?? Create.No, a.optional ?? Optional.No],
    strs: [a.source ?? "", a.target, a.fstype ?? "", a.data ?? ""],
    what: `mount ${a.fstype ?? a.source ?? ""} on ${a.target}`,
  };
}

function readOnly(path: string, recursive: boolean, optional = Optional.No, inRoot = true): Step {
  return { op: Op.SetattrRo, ints: [recursive ? 1 : 0, inRoot ? 1 : 0, optional], strs: [path], what: `make ${path} read-only` };
}

/** docker's masked paths: hidden behind /dev/null (files) or an empty read-only tmpfs (dirs). */
const MASKED_FILES = ["/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug"];
const MASKED_DIRS = ["/proc/acpi", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"];
const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
const DEVICES = ["null", "zero", "full", "random", "urandom", "tty"];


/** Escapes a path for overlayfs's comma- and colon-separated options. */
function overlayPath(p: string): string {
  return p.replace(/([\\,:])/g, "\\$1");
}

/** overlayfs's options; userxattr because the kernel's overlay runs in a user namespace. */
export function overlayData(lowerDirsTopFirst: string[], upper: string, work: string, userxattr = true): string {
  const data = `lowerdir=${lowerDirsTopFirst.map(overlayPath).join(":")},upperdir=${overlayPath(upper)},workdir=${overlayPath(work)}`;
  return userxattr ? `${data},userxattr` : data;
}

/** The directory that becomes the container's root (pivot_root's new root). */
function rootDir(spec: ContainerSpec): string {
  const r = spec.rootfs;
  return r.kind === "bind" || r.kind === "copy" ? r.dir : r.mountPoint;
}

/** The mount that makes rootDir the container's root filesystem. */
function rootfsSteps(spec: ContainerSpec): Step[] {
  const r = spec.rootfs;
  switch (r.kind) {
    case "overlay":
      return [mount({ source: "overlay", target: r.mountPoint, fstype: "overlay", data: overlayData(r.lowerDirs, r.upperDir, r.workDir), targetInRoot: false })];
    case "fuse-overlay":
      // mounted already, in the child's mount namespace, by fuse-overlayfs (src/runtime/rootfs.ts)
      return [];
    case "bind":
    case "copy":
      // A bind of the directory onto itself makes it a mount point, which pivot_root requires.
      return [mount({ source: r.dir, target: r.dir, flags: MS_BIND | MS_REC, targetInRoot: false })];
    case "tmpfs":
      return [mount({ source: "tmpfs", target: r.mountPoint, fstype: "tmpfs", data: "mode=755", targetInRoot: false })];
  }
}

/**
 * /etc/hosts, /etc/hostname and /etc/resolv.conf, bind-mounted over the image's as docker does.
 * Their files live in a small tmpfs the child mounts on top of /dev for the time it takes to write
 * and bind them; once it is detached only the binds hold it. Nothing is written to disk for them:
 * on the store's file system three files cost ~1 ms to create and delete for every `run --rm`.
 */
function etcFileSteps(etc: ContainerSpec["etcFiles"]): Step[] {
  const files = ([
    ["hosts", etc.hosts],
    ["hostname", etc.hostname],
    ["resolv.conf", etc.resolvConf],
  ] as const).filter(([, content]) => content !== undefined);
  if (files.length === 0) return [];
  const s = [mount({ source: "tmpfs", target: "/dev", fstype: "tmpfs", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: "mode=755,size=1m" })];
  for (const [name, content] of files)
    s.push(
      { op: Op.WriteFile, ints: [0o644, 1], strs: [`/dev/${name}`, content!], what: `write /etc/${name}` },
      mount({ source: `/dev/${name}`, sourceInRoot: true, target: `/etc/${name}`, flags: MS_BIND, create: Create.File }),
    );
  s.push({ op: Op.Umount, ints: [MNT_DETACH, 1], strs: ["/dev"], what: "detach the tmpfs of the /etc files" });
  return s;
}

function hasMappedId(ranges: { inside: number; count: number }[], id: number): boolean {
  for (const r of ranges) if (id >= r.inside && id < r.inside + r.count) return true;
  return false;
}

function userMountSteps(m: MountSpec): Step[] {
  const k = kernelMountOptions(m.options);
  if (m.kind === "tmpfs")
    return [mount({ source: "tmpfs", target: m.target, fstype: "tmpfs", flags: k.flags | (m.readonly ? MS_RDONLY : 0), data: k.data, create: Create.Dir })];
  const source = m.source!;
  const isDir = statSync(source).isDirectory();
  // rbind unless the user said norbind (docker's default for -v and --mount)
  const recursive = !m.options.includes("norbind");
  const steps = [mount({ source, target: m.target, flags: MS_BIND | (recursive ? MS_REC : 0), create: isDir ? Create.Dir : Create.File })];
  if (m.readonly || (k.flags & MS_RDONLY) !== 0) steps.push(readOnly(m.target, recursive));
  return steps;
}

/**
 * --sysctl values, written as soon as /proc is mounted: /proc/sys is made read-only later
 * (READONLY_PATHS), and no user mount can have covered it yet. /proc/sys shows the sysctls of the
 * writer's own namespaces, which the child is in already.
 */
function sysctlSteps(sysctls: Record<string, string>): Step[] {
  return Object.entries(sysctls).map(([name, value]) => ({
    op: Op.WriteExisting,
    ints: [1],
    strs: [sysctlPath(name), value],
    what: `set sysctl ${name}=${value}`,
    advice: {
      ENOENT: "this kernel has no such sysctl in the container's namespaces",
      EINVAL: "the kernel refused that value",
      EACCES: "the kernel does not let a container's user namespace change it",
      EPERM: "the kernel does not let a container's user namespace change it",
    },
  }));
}

/**
 * --device: each host node bound onto a file made for it (in the container's /dev tmpfs for a
 * /dev path), as podman does rootless: the kernel refuses mknod of a device in a user namespace.
 */
function deviceSteps(devices: NonNullable<ContainerSpec["devices"]>): Step[] {
  return devices.map((d) => mount({ source: d.source, target: d.target, flags: MS_BIND, create: Create.File }));
}

/** --ulimit as prlimit steps (-1 is RLIM_INFINITY once the C reads it as unsigned). */
function rlimitSteps(ulimits: Ulimit[]): Step[] {
  return ulimits.map((u) => ({
    op: Op.Rlimit,
    ints: [RLIMITS[u.name], u.soft, u.hard],
    strs: [],
    what: `set ulimit ${u.name}=${u.soft}:${u.hard}`,
    // run refuses such a limit up front (parseUlimits); exec and start run from a shell of their own
    advice: { EPERM: "bunker's own hard limit is lower, and a container can't raise it: raise yours (ulimit -H)" },
  }));
}

export interface ExecTarget {
  /** PATH searched for args[0] */
  path: string;
  args: string[];
  env: string[];
  /** an fd to execveat (the sealed bunker-helper for --init), or -1 */
  execFd: number;
}

/** The container's stdio: fds of ours (dup'ed onto 0-2), or a pty the child makes (-t). */
export type Stdio = StdioFds | { pty: ContainerPty };

export interface StdioFds {
  fds: [number, number, number];
  setsid: boolean;
  controllingTty: boolean;
}

/**
 * -t: the child makes a pty in the container's own devpts (so the command's terminal has a name
 * inside, as with docker), makes its slave 0-2 and the controlling terminal of a new session, and
 * sends the master back over `socket`.
 */
export interface ContainerPty {
  /** the child's end of a unix socketpair */
  socket: number;
  /** the window size the pty starts with (0: none known) */
  rows: number;
  cols: number;
}

/**
 * Whether mountSteps can run before the rest of the program is known (Prestarted.releaseMounts):
 * the root is a kernel mount of directories that exist already (fuse-overlayfs and a copy are
 * made in the child's set-up, just before it runs), no volume is still to be created, and no
 * --sysctl waits for the network.
 */
export function canMountEarly(spec: ContainerSpec): boolean {
  if (spec.rootfs.kind !== "overlay" && spec.rootfs.kind !== "bind") return false;
  // A sysctl may name an interface (net.ipv4.conf.eth0.*) that the network's set-up makes later.
  // Rare enough that the early start is simply given up for it.
  if (spec.sysctls && Object.keys(spec.sysctls).length > 0) return false;
  for (const m of spec.mounts) if (m.volumeName !== undefined) return false;
  return true;
}

/**
 * The container's mounts: its root, /proc (and the --sysctl values), /dev (and the --device
 * nodes) and /sys as docker sets them up, the /etc files, the user's mounts and the masked paths.
 * They depend on nothing that is decided after the spec (the cgroup comes later; for sysctls see
 * canMountEarly), so a prestarted child can make them while bunker writes the record and builds
 * the rest of the program.
 */
export function mountSteps(spec: ContainerSpec): Step[] {
  const root = rootDir(spec);
  const s: Step[] = [
    // Nothing we mount may propagate back to the host's mount namespace.
    mount({ target: "/", flags: MS_REC | MS_PRIVATE, targetInRoot: false }),
    ...rootfsSteps(spec),
    { op: Op.SetRoot, ints: [], strs: [root], what: `open the root ${root}` },
    mount({ source: "proc", target: "/proc", fstype: "proc", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, create: Create.Dir }),
  ];
  // (the parts few runs have are added only when there: see src/runtime/extra-flags.ts)
  if (spec.sysctls) s.push(...sysctlSteps(spec.sysctls));
  s.push(mount({ source: "tmpfs", target: "/dev", fstype: "tmpfs", flags: MS_NOSUID | MS_STRICTATIME, data: "mode=755,size=65536k", create: Create.Dir }));
  for (const d of DEVICES) s.push(mount({ source: `/dev/${d}`, target: `/dev/${d}`, flags: MS_BIND, create: Create.File }));
  // gid=5 (tty) only when that group exists in the namespace; otherwise devpts refuses the option.
  const ptsGid = hasMappedId(spec.idMapping.gids, 5) ? ",gid=5" : "";
  s.push(
    mount({ source: "devpts", target: "/dev/pts", fstype: "devpts", flags: MS_NOSUID | MS_NOEXEC, data: `newinstance,ptmxmode=0666,mode=0620${ptsGid}`, create: Create.Dir }),
    { op: Op.Symlink, ints: [1], strs: ["pts/ptmx", "/dev/ptmx"], what: "link /dev/ptmx" },
    { op: Op.Symlink, ints: [1], strs: ["/proc/self/fd", "/dev/fd"], what: "link /dev/fd" },
    { op: Op.Symlink, ints: [1], strs: ["/proc/self/fd/0", "/dev/stdin"], what: "link /dev/stdin" },
    { op: Op.Symlink, ints: [1], strs: ["/proc/self/fd/1", "/dev/stdout"], what: "link /dev/stdout" },
    { op: Op.Symlink, ints: [1], strs: ["/proc/self/fd/2", "/dev/stderr"], what: "link /dev/stderr" },
    mount({ source: "shm", target: "/dev/shm", fstype: "tmpfs", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: `mode=1777,size=${spec.shmSize ?? DEFAULT_SHM_SIZE}`, create: Create.Dir }),
    mount({ source: "mqueue", target: "/dev/mqueue", fstype: "mqueue", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, create: Create.Dir }),
  );
  if (spec.devices) s.push(...deviceSteps(spec.devices));
  // sysfs can be mounted only by the owner of the network namespace; with the host's network, bind
  // the host's /sys instead. Either way it is read-only.
  if (spec.newNetNs)
    s.push(mount({ source: "sysfs", target: "/sys", fstype: "sysfs", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, create: Create.Dir }));
  else s.push(mount({ source: "/sys", target: "/sys", flags: MS_BIND | MS_REC, create: Create.Dir }), readOnly("/sys", true));
  s.push(...etcFileSteps(spec.etcFiles));
  for (const m of spec.mounts) s.push(...userMountSteps(m));
  if (!spec.privileged) {
    for (const p of MASKED_FILES) s.push(mount({ source: "/dev/null", target: p, flags: MS_BIND, optional: Optional.IfMissing }));
    for (const p of MASKED_DIRS) s.push(mount({ source: "tmpfs", target: p, fstype: "tmpfs", flags: MS_RDONLY, optional: Optional.IfMissing }));
    for (const p of READONLY_PATHS)
      s.push(mount({ source: p, target: p, flags: MS_BIND | MS_REC, sourceInRoot: true, optional: Optional.IfMissing }), readOnly(p, true, Optional.IfMissing));
  }
  return s;
}

/** Ends a program of mountSteps sent early: the child waits there for the rest (startSteps). */
export const AWAIT_REST: Step = { op: Op.Await, ints: [], strs: [], what: "wait for the rest of the program" };

/** What follows mountSteps: the cgroup namespace, pivot_root, and the process. */
export function startSteps(spec: ContainerSpec, exec: ExecTarget, stdio: Stdio): Step[] {
  const root = rootDir(spec);
  const s: Step[] = [
    // The cgroup namespace is made again here, when the process sits in its final cgroup: a
    // systemd scope moves it only after the clone (src/cgroup), and the namespace made by the
    // clone would stay rooted in bunker's cgroup (/sys/fs/cgroup inside would show that, and exec
    // could not clone into a cgroup outside it).
    { op: Op.Unshare, ints: [CLONE_NEWCGROUP], strs: [], what: "make the cgroup namespace" },
    // The container's own cgroup (the cgroup namespace is rooted at it); not every host allows it.
    mount({ source: "cgroup2", target: "/sys/fs/cgroup", fstype: "cgroup2", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, optional: Optional.Always }),
    { op: Op.PivotRoot, ints: [], strs: [root], what: "pivot_root into the container's root" },
  ];
  if (spec.readOnly) s.push(readOnly("/", false));
  s.push(
    { op: Op.Hostname, ints: [], strs: [spec.hostname], what: "set the hostname" },
    { op: Op.Umask, ints: [0o022], strs: [], what: "set the umask" },
  );
  if (spec.newNetNs) s.push({ op: Op.IfupLo, ints: [], strs: [], what: "bring up the loopback interface" });
  if (spec.cwd !== "/") s.push({ op: Op.Mkdir, ints: [0o755, 1], strs: [spec.cwd], what: `create the working directory ${spec.cwd}` });
  s.push(...processSteps(spec, exec, stdio));
  return s;
}

export function buildSteps(spec: ContainerSpec, exec: ExecTarget, stdio: Stdio): Step[] {
  return [...mountSteps(spec), ...startSteps(spec, exec, stdio)];
}

/** What a process of the container needs: identity and capabilities, stdio, exec. */
export type ProcessSpec = Pick<ContainerSpec, "cwd" | "caps" | "uid" | "gid" | "groups" | "noNewPrivs" | "seccomp" | "ulimits"> & { idMapping: Pick<ContainerSpec["idMapping"], "kind"> };

/**
 * The steps that turn a process already inside the container into its command: also what
 * `bunker exec` runs after joining the namespaces of a running container.
 */
export function processSteps(spec: ProcessSpec, exec: ExecTarget, stdio: Stdio): Step[] {
  const s: Step[] = [{ op: Op.Chdir, ints: [], strs: [spec.cwd], what: `change to the working directory ${spec.cwd}` }];
  const caps = capMask(spec.caps);
  // setgroups is denied in a namespace with a single-id mapping (the kernel requires it).
  const groups = spec.idMapping.kind === "single" ? [-1] : [spec.groups.length, ...spec.groups];
  if (spec.noNewPrivs) s.push({ op: Op.NoNewPrivs, ints: [], strs: [], what: "set no_new_privs" });
  // Before the capabilities are dropped: without no_new_privs, installing a filter takes
  // CAP_SYS_ADMIN, which root of the user namespace has only until then. Nothing the steps after
  // it call is on the deny list.
  if (spec.seccomp !== false) s.push({ op: Op.Seccomp, ints: [], strs: [defaultSeccompFilter(spec.caps)], what: "install the seccomp filter" });
  s.push(
    { op: Op.CapBset, ints: [caps], strs: [], what: "drop capabilities from the bounding set" },
    { op: Op.SetId, ints: [spec.uid, spec.gid, ...groups], strs: [], what: `switch to user ${spec.uid}:${spec.gid}` },
    // A non-root user keeps no capabilities (setresuid cleared them), as in docker.
    { op: Op.CapSet, ints: spec.uid === 0 ? [caps, caps, 0, 0] : [0, 0, 0, 0], strs: [], what: "set capabilities" },
  );
  s.push({ op: Op.ResetSignals, ints: [], strs: [], what: "reset signal handling" });
  // After the switch to the user: the pty's slave belongs to the command's user, as in docker.
  if ("pty" in stdio)
    s.push({ op: Op.Pty, ints: [stdio.pty.socket, stdio.pty.rows, stdio.pty.cols], strs: [], what: "make the container's pty in its /dev/pts" });
  // After a pty step, 0-2 and the session are made: the stdio step keeps them (and clears O_NONBLOCK).
  const own: StdioFds = "pty" in stdio ? { fds: [-1, -1, -1], setsid: false, controllingTty: false } : stdio;
  s.push(
    {
      op: Op.Stdio,
      ints: [...own.fds, own.setsid ? 1 : 0, own.controllingTty ? 1 : 0, 1],
      strs: [],
      what: "set up stdin, stdout and stderr",
    },
  );
  // Last before the exec: a low nofile or as limit must not fail the steps before (the pty's
  // opens, the exec's argv), only the command.
  if (spec.ulimits) s.push(...rlimitSteps(spec.ulimits));
  s.push(
    { op: Op.Exec, ints: [exec.args.length, exec.env.length, exec.execFd], strs: [exec.path, ...exec.args, ...exec.env], what: `exec ${exec.args[0]}` },
  );
  return s;
}
