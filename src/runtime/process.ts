// Starts a container from a ContainerSpec: clone through the native interpreter, map the ids,
// run the caller's set-up (network, cgroup), release the child, and learn whether its execve
// succeeded. Then waiting, signal forwarding and the pty for foreground runs.
import { closeSync, openSync, readSync, writeSync, constants as fsc } from "../fs";
import { errnoMessageOf, errnoNameOf } from "../../native/errno";
import { errnoName, helperMemfd, native } from "../../native/ffi";
import { BunkerError, EXIT_BUNKER, EXIT_CANNOT_EXEC, EXIT_NOT_FOUND } from "../errors";
import { applyIdMapping, type IdMapping, type StartedTool } from "../userns/idmap";
import { holdMountNamespace } from "./linger";
import { prepareRootfs } from "./rootfs";
import { mark } from "./trace";
// waiting for a process lives below the runtime (the id mapping waits for newuidmap too)
export { exitCodeOf, waitForExit } from "../wait";
import { waitForExit } from "../wait";
import { encodeProgram, Op, type ProgramHeader, type Step } from "./program";
import type { ContainerSpec } from "./spec";
import { AWAIT_REST, buildSteps, canMountEarly, mountSteps, startSteps, type Stdio } from "./steps";

// <linux/sched.h>
const CLONE_NEWNS = 0x00020000n;
const CLONE_NEWCGROUP = 0x02000000n;
const CLONE_NEWUTS = 0x04000000n;
const CLONE_NEWIPC = 0x08000000n;
const CLONE_NEWUSER = 0x10000000n;
const CLONE_NEWPID = 0x20000000n;
const CLONE_NEWNET = 0x40000000n;
const EPIPE = 32;

/** "not a directory (ENOTDIR)": the message and the name of a positive errno. */
export function errnoMessage(errno: number): string {
  const name = errnoNameOf(errno);
  return name ? `${errnoMessageOf(errno)} (${name})` : errnoName(-errno);
}

/** A pipe, both ends close-on-exec: [read, write]. */
export function pipe(): [number, number] {
  const fds = new Int32Array(2);
  const rc = native().bk_pipe2(fds);
  if (rc < 0) throw new BunkerError(`pipe2 failed: ${errnoMessage(-rc)}`);
  return [fds[0], fds[1]];
}

/** Work the caller does between clone and release: network, cgroup... (id mapping is done here). */
export type SetupHook = (pid: number) => Promise<void> | void;

export interface StartOptions {
  /** fd of the container's cgroup directory: the child is cloned straight into it */
  cgroupFd?: number;
  /** the container's process, cloned early (prestart): its program is sent when it is released */
  prestarted?: Prestarted;
  setup?: SetupHook;
  /** stdio of the container; default: bunker's own (stdin /dev/null unless spec.stdin) */
  stdio?: Stdio;
  /** called as soon as the child exists, before it is released (to forward signals at once) */
  onCloned?: (pid: number) => void;
  /** see SpawnRequest.released */
  released?: (pid: number) => void;
}

export interface Started {
  pid: number;
}

/** "what the step does: the errno's message (ENAME)", and the step's advice for that errno if it has one. */
export function stepFailureText(step: Step | undefined, errno: number): string {
  const advice = step?.advice?.[errnoNameOf(errno) ?? ""];
  return `${step?.what ?? "set-up"}: ${errnoMessage(errno)}${advice ? `: ${advice}` : ""}`;
}

/** Why the child failed before its command ran, turned into docker's exit codes. */
export function startFailure(step: Step | undefined, errno: number, spec: ContainerSpec): BunkerError {
  if (step?.op === Op.Exec) {
    const cmd = spec.args[0];
    if (errno === 2 && !cmd.includes("/")) return new BunkerError(`exec: "${cmd}": executable file not found in $PATH`, EXIT_NOT_FOUND);
    return new BunkerError(`exec: "${cmd}": ${errnoMessage(errno)}`, errno === 2 ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
  }
  return new BunkerError(`cannot start the container: ${stepFailureText(step, errno)}`, EXIT_BUNKER);
}

function defaultStdio(stdin: boolean): { stdio: Stdio; close: number[] } {
  if (stdin) return { stdio: { fds: [0, 1, 2], setsid: false, controllingTty: false }, close: [] };
  // docker gives a container without -i an empty stdin.
  const devNull = openSync("/dev/null", fsc.O_RDONLY);
  return { stdio: { fds: [devNull, 1, 2], setsid: false, controllingTty: false }, close: [devNull] };
}

export interface SpawnRequest {
  /** the program, built with header fds from pipes() */
  program: Uint8Array;
  /** a child cloned already (prestart), waiting for this program */
  prestarted?: Prestarted;
  idMapping: IdMapping;
  /** fds of ours the child has its own copy of now: closed once it exists */
  closeAfterClone: number[];
  onCloned?: (pid: number) => void;
  /** after the id mapping, before the child is released */
  setup?: SetupHook;
  /**
   * Called (it must not throw) once the child is released, while it runs its steps: work that
   * overlaps them instead of delaying the command. Its execve may still fail.
   */
  released?: (pid: number) => void;
}

/** The header of a program whose child waits on nothing and reports nothing (a host tool), or of a program's later part (only its steps are read). */
const NO_PIPES: ProgramHeader = { cloneFlags: 0n, cgroupFd: -1, goFd: -1, goWriteFd: -1, errFd: -1, errReadFd: -1 };

/** The child's stack for bk_spawn_vm (its C needs ~20 KB: a few 4 KB path buffers deep). */
const CHILD_STACK_BYTES = 64 * 1024;

/**
 * A stack for a child: not zeroed (allocUnsafe), so that only the pages the child uses are ever
 * touched; zeroing three of them cost ~50 page faults per run.
 */
function childStack(): Uint8Array {
  return Buffer.allocUnsafe(CHILD_STACK_BYTES);
}
/** What a cloned child runs on (its stack) and reads (its program) while it shares our memory. */
interface SharedWithChild {
  stack: Uint8Array;
  program: Uint8Array;
  /** the first part of its program, sent early (Prestarted.releaseMounts) */
  mounts?: Uint8Array;
}
/** Referenced here until the child has exec'd or been reaped, so the garbage collector can't free it. */
const inUseByChildren = new Set<SharedWithChild>();

/** The child no longer shares our memory (exec'd, reaped, or never made). */
function childDone(shared: SharedWithChild): void {
  inUseByChildren.delete(shared);
  // Its uid/gid change cleared our memory's dumpable flag, which guards our /proc/PID files: the
  // helper run from /proc/<our pid>/fd/N afterwards (removal of a --rm layer) would get EACCES.
  native().bk_spawn_vm_done();
}

export interface SyncPipes {
  goRead: number;
  goWrite: number;
  errRead: number;
  errWrite: number;
}

export function syncPipes(): SyncPipes {
  const [goRead, goWrite] = pipe();
  const [errRead, errWrite] = pipe();
  return { goRead, goWrite, errRead, errWrite };
}

/**
 * Clones the child of a program (bk_spawn_vm) and closes the fds it has its own copies of now. The
 * child shares our memory until its execve (no copy of Bun's page tables, no copy-on-write faults
 * after it): it runs on its own stack here and reads the program in place, so both must stay alive
 * and untouched until the error pipe's EOF or its reaping.
 */
function cloneChild(program: Uint8Array, p: SyncPipes, closeAfterClone: number[]): { pid: number; sharedWithChild: SharedWithChild } {
  const sharedWithChild = { stack: childStack(), program };
  inUseByChildren.add(sharedWithChild);
  const pid = native().bk_spawn_vm(program, program.length, sharedWithChild.stack, CHILD_STACK_BYTES);
  mark("clone");
  closeSync(p.goRead);
  closeSync(p.errWrite);
  for (const fd of closeAfterClone) closeSync(fd);
  if (pid < 0) {
    childDone(sharedWithChild);
    closeSync(p.goWrite);
    closeSync(p.errRead);
    throw new BunkerError(`cannot create the container's namespaces: ${errnoMessage(-pid)}; run 'bunker doctor'`);
  }
  holdMountNamespace(pid);
  return { pid, sharedWithChild };
}

/**
 * Starts newuidmap/newgidmap for a prestarted container the way the container itself is cloned
 * (bk_spawn_vm: our memory shared until its execve, a program of three steps, no go pipe to wait
 * on), so bunker's thread is back to planning at once; posix_spawn would hold it until the setuid
 * execve is done (~0.4 ms per tool). Exec failures show as exit code 125.
 */
async function startToolSharingMemory(path: string, argv: string[], stderrFd: number, stdoutFd = -1): Promise<StartedTool> {
  const program = encodeProgram(NO_PIPES, [
    { op: Op.ResetSignals, ints: [], strs: [], what: "reset signal handling" },
    { op: Op.Stdio, ints: [-1, stdoutFd, stderrFd, 0, 0, 0], strs: [], what: "stdout and stderr" },
    // argv[0] has no slash: the C looks it up in the "PATH" of its directory
    { op: Op.Exec, ints: [argv.length, 0, -1], strs: [path.slice(0, path.lastIndexOf("/")) || "/", ...argv], what: `exec ${path}` },
  ]);
  const shared = { stack: childStack(), program };
  inUseByChildren.add(shared);
  const pid = native().bk_spawn_vm(program, program.length, shared.stack, CHILD_STACK_BYTES);
  if (pid < 0) {
    inUseByChildren.delete(shared);
    throw new BunkerError(`cannot run ${path}: ${errnoMessage(-pid)}`);
  }
  // its stack and program stay ours until it has exec'd; its exit is the one moment we learn of
  const exited = waitForExit(pid);
  exited.finally(() => inUseByChildren.delete(shared));
  return { pid, exited };
}

/** What a prestarted container needs decided before its clone; the rest may come later. */
export interface PrestartPlan {
  newNetNs: boolean;
  /**
   * The network namespace (with the IPC and UTS ones) is made by the child, not its clone: right
   * after its ids are mapped, while bunker still plans. Only where nothing attaches to it
   * (--network none): the kernel's ~0.6 ms for a new one (the costliest namespace by far) then
   * leaves bunker's own path.
   */
  netnsInChild?: boolean;
  idMapping: IdMapping;
  /** -i: the container reads bunker's stdin (else /dev/null) */
  stdin: boolean;
  /** --init: the init's memfd must exist before the clone, which copies our fd table */
  init: boolean;
}

/** A container's process cloned before its program is known, waiting for it (see prestart). */
export interface Prestarted {
  readonly pid: number;
  readonly pipes: SyncPipes;
  readonly stdio: Stdio;
  readonly plan: PrestartPlan;
  /**
   * Sends the child its mounts (mountSteps of spec's program), to make as soon as its ids are
   * mapped, while bunker still writes the record and builds the rest (startSteps, sent when it is
   * taken); a no-op where canMountEarly says no.
   */
  releaseMounts(spec: ContainerSpec): void;
  /** the steps sent so far (the child's own network namespace, the mounts), which the rest follows */
  sentSteps(): Step[];
  /** whether releaseMounts sent the mounts: the rest is then startSteps only */
  mountsSent(): boolean;
  /** hands the child to spawnAndRelease, once */
  take(): { pid: number; sharedWithChild: SharedWithChild; idMapped: Promise<void> };
  /** when not taken: the child exits without running anything, and is reaped */
  abort(): void;
}

/**
 * Clones a container's process with an empty program and starts mapping its ids at once, before
 * the image lookup and the planning that decide its program: newuidmap and newgidmap (setuid, ~2.5
 * ms) then run beside that work instead of after it. Only the namespaces, the id mapping and the fds
 * the program will name are fixed this early; startContainer({ prestarted }) sends the rest. The
 * child is cloned into bunker's own cgroup (its cgroup, if any, is made later) and moved into the
 * container's before it is released, as for a systemd scope. Undefined where the clone fails: the
 * normal start then reports why, after the planning's own errors.
 */
export function prestart(plan: PrestartPlan): Prestarted | undefined {
  if (plan.init) helperMemfd();
  const pipes = syncPipes();
  const own = defaultStdio(plan.stdin);
  // The child runs no step before every writer of this pipe is gone: the id-mapping tools, which
  // get it as their stdout, and bunker, until it has started them (see releaseMounts).
  const [mappedRead, mappedWrite] = pipe();
  const netnsInChild = plan.newNetNs && plan.netnsInChild === true;
  let sent: Step[] = netnsInChild ? [UNSHARE_LATE, AWAIT_REST] : [];
  const header = encodeProgram(
    {
      cloneFlags: netnsInChild ? cloneFlags(true) & ~MADE_BY_CHILD : cloneFlags(plan.newNetNs),
      cgroupFd: -1,
      goFd: pipes.goRead,
      goWriteFd: pipes.goWrite,
      errFd: pipes.errWrite,
      errReadFd: pipes.errRead,
      mappedFd: mappedRead,
      mappedWriteFd: mappedWrite,
    },
    sent,
  );
  let cloned: ReturnType<typeof cloneChild>;
  try {
    cloned = cloneChild(header, pipes, [...own.close, mappedRead]);
  } catch {
    closeSync(mappedWrite);
    return undefined;
  }
  const idMapped = applyIdMapping(cloned.pid, plan.idMapping, startToolSharingMemory, mappedWrite);
  idMapped.catch(() => {}); // awaited when taken; an abort makes its failure moot
  // Go at once: the child makes its network namespace as soon as its ids are mapped, then awaits
  // the rest (a failure shows when the rest is sent: it has reported and exited). Sent as a
  // program message naming its own first program, not a one-byte go: every message on the go pipe
  // is then BK_GO_MSG bytes, and one read can't take the start of the next.
  if (netnsInChild && native().bk_release_program(pipes.goWrite, header, header.length) < 0) {
    abortChild(cloned, pipes, true);
    return undefined;
  }
  let state: "waiting" | "taken" | "aborted" = "waiting";
  let mountsSent = false;
  return {
    pid: cloned.pid,
    pipes,
    stdio: own.stdio,
    plan,
    releaseMounts(spec) {
      if (state !== "waiting" || mountsSent || !canMountEarly(spec)) return;
      const steps = [...mountSteps(spec), AWAIT_REST];
      const program = encodeProgram(NO_PIPES, steps);
      // The child runs it once its ids are mapped (the mapped pipe). A step that fails shows when
      // the rest is sent: the child has reported it and exited.
      if (native().bk_release_program(pipes.goWrite, program, program.length) < 0) return;
      cloned.sharedWithChild.mounts = program;
      sent = [...sent, ...steps];
      mountsSent = true;
    },
    take() {
      if (state !== "waiting") throw new Error(`prestarted container ${state}`);
      state = "taken";
      return { ...cloned, idMapped };
    },
    sentSteps: () => sent,
    mountsSent: () => mountsSent,
    abort() {
      if (state !== "waiting") return;
      state = "aborted";
      abortChild(cloned, pipes, netnsInChild);
    },
  };
}

/**
 * Ends a prestarted child that was never taken. Closing the go pipe makes one that has not started
 * exit without running anything; one told to go already (`started`) may be waiting for its id
 * mapping, which our own event loop would have to finish while reapNow blocks it: it is killed.
 */
function abortChild(cloned: { pid: number; sharedWithChild: SharedWithChild }, pipes: SyncPipes, started: boolean): void {
  closeSync(pipes.goWrite);
  closeSync(pipes.errRead);
  if (started) {
    try {
      process.kill(cloned.pid, "SIGKILL");
    } catch {
      // exited already (a failed step): reaped below
    }
  }
  reapNow(cloned.pid);
  childDone(cloned.sharedWithChild);
}

/**
 * Clones a spawn program's child, maps its ids, runs the set-up, releases it, and tells whether
 * it reached its execve: the pid, or the index of the step that failed and its errno.
 */
export async function spawnAndRelease(req: SpawnRequest, p: SyncPipes): Promise<{ pid: number; failed?: { index: number; errno: number } }> {
  mark("program");
  let pid: number;
  let sharedWithChild: SharedWithChild;
  let idMapped: Promise<void>;
  if (req.prestarted) {
    ({ pid, sharedWithChild, idMapped } = req.prestarted.take());
    sharedWithChild.program = req.program;
  } else {
    const cloned = cloneChild(req.program, p, req.closeAfterClone);
    ({ pid, sharedWithChild } = cloned);
    idMapped = applyIdMapping(pid, req.idMapping);
  }
  // Closing the go pipe unwritten makes the child exit without running anything more; once it is
  // reaped, what it reported before (a step sent early that failed) is in the error pipe.
  const giveUp = () => {
    closeSync(p.goWrite);
    reapNow(pid);
    childDone(sharedWithChild);
    return readFailure(p.errRead);
  };
  try {
    req.onCloned?.(pid);
    await idMapped;
    mark("idmap");
  } catch (e) {
    giveUp();
    throw e;
  }
  try {
    await req.setup?.(pid);
    mark("setup");
    if (req.prestarted) {
      const rc = native().bk_release_program(p.goWrite, req.program, req.program.length);
      // EPIPE: a step sent early failed, and the child has reported which (read below)
      if (rc < 0 && rc !== -EPIPE) throw new BunkerError(`cannot start the container: sending its program: ${errnoMessage(-rc)}`);
    } else writeSync(p.goWrite, new Uint8Array([1]));
  } catch (e) {
    // A step the child ran early failed first (the set-up, joining its network, found it gone):
    // that step is the reason.
    const failed = giveUp();
    if (failed) return { pid, failed };
    throw e;
  }
  closeSync(p.goWrite);
  req.released?.(pid);
  // The error pipe closes at a successful execve (O_CLOEXEC): EOF means the command runs.
  // The steps take a few milliseconds, so a blocking read here costs nothing.
  const failed = readFailure(p.errRead);
  mark("steps+exec");
  if (!failed) {
    childDone(sharedWithChild); // it has exec'd: its memory is its own now
    return { pid };
  }
  reapNow(pid);
  childDone(sharedWithChild);
  return { pid, failed };
}

/** Reads the error pipe to its end and closes it: the step that failed and its errno, if one did. */
function readFailure(errRead: number): { index: number; errno: number } | undefined {
  const report = new Uint8Array(8);
  let got = 0;
  while (got < 8) {
    const n = readSync(errRead, report, got, 8 - got, null);
    if (n === 0) break;
    got += n;
  }
  closeSync(errRead);
  if (got < 8) return undefined;
  const view = new DataView(report.buffer);
  return { index: view.getUint32(0, true), errno: view.getInt32(4, true) };
}

/**
 * Clones the container's first process and returns once its command is running (execve
 * succeeded); throws a BunkerError with exit code 125/126/127 otherwise, after reaping it.
 */
export async function startContainer(spec: ContainerSpec, opts: StartOptions = {}): Promise<Started> {
  const early = opts.prestarted;
  if (early && (early.plan.newNetNs !== spec.newNetNs || early.plan.stdin !== spec.stdin || early.plan.init !== spec.init || early.plan.idMapping !== spec.idMapping || opts.stdio || opts.cgroupFd !== undefined))
    throw new Error("the prestarted container does not match its spec");
  const pipes = early?.pipes ?? syncPipes();
  const own = early ? { stdio: early.stdio, close: [] } : opts.stdio ? { stdio: opts.stdio, close: [] as number[] } : defaultStdio(spec.stdin);
  const { program, steps } = spawnProgram(
    spec,
    own.stdio,
    { cgroupFd: opts.cgroupFd ?? -1, goFd: pipes.goRead, goWriteFd: pipes.goWrite, errFd: pipes.errWrite, errReadFd: pipes.errRead },
    early?.sentSteps(),
    early?.mountsSent() ?? false,
  );
  const result = await spawnAndRelease(
    {
      program,
      prestarted: early,
      idMapping: spec.idMapping,
      closeAfterClone: own.close,
      onCloned: opts.onCloned,
      released: opts.released,
      setup: async (pid) => {
        await prepareRootfs(spec, pid);
        await opts.setup?.(pid);
      },
    },
    pipes,
  );
  if (result.failed) throw startFailure(steps[result.failed.index], result.failed.errno, spec);
  return { pid: result.pid };
}

/**
 * The encoded spawn program of a container and its steps (for error messages). The detached path
 * (src/runtime/detached.ts) gives it to the monitor, which fills in its own sync pipes.
 */
export function spawnProgram(
  spec: ContainerSpec,
  stdio: Stdio,
  fds: Omit<ProgramHeader, "cloneFlags">,
  sent: Step[] = [],
  mountsSent = false,
): { program: Uint8Array; steps: Step[]; execFd: number } {
  const exec = spec.init
    ? { path: "", args: ["bunker-init", "init", "--", ...spec.args], env: spec.env, execFd: helperMemfd() }
    : { path: pathOf(spec.env), args: spec.args, env: spec.env, execFd: -1 };
  // After mounts sent early, the rest only; the child numbers its steps on from those sent.
  const steps = mountsSent ? startSteps(spec, exec, stdio) : buildSteps(spec, exec, stdio);
  return { program: encodeProgram({ cloneFlags: cloneFlags(spec.newNetNs), ...fds }, steps), steps: [...sent, ...steps], execFd: exec.execFd };
}

/**
 * What a prestarted child makes itself (PrestartPlan.netnsInChild): the network namespace, the
 * costliest, and the IPC and UTS ones (~0.1 ms more), which nothing of bunker's touches either.
 */
const MADE_BY_CHILD = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
const UNSHARE_LATE: Step = { op: Op.Unshare, ints: [Number(MADE_BY_CHILD)], strs: [], what: "make the network, IPC and UTS namespaces" };

function cloneFlags(newNetNs: boolean): bigint {
  const flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
  return newNetNs ? flags | CLONE_NEWNET : flags;
}

function pathOf(env: string[]): string {
  for (let i = env.length - 1; i >= 0; i--) if (env[i].startsWith("PATH=")) return env[i].slice(5);
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/** Reaps a child that has exited or is about to (it failed a step); never leaves a zombie. */
function reapNow(pid: number): void {
  const status = new Int32Array(1);
  for (let i = 0; i < 5000; i++) {
    const rc = native().bk_waitpid(pid, status);
    if (rc !== 0) return;
    Bun.sleepSync(1);
  }
  process.kill(pid, "SIGKILL");
}

export const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;

/** Sends the signals bunker receives to pid until the returned function is called. */
export function forwardSignals(pid: number): () => void {
  const handlers = FORWARDED_SIGNALS.map((sig) => {
    const h = () => {
      try {
        process.kill(pid, sig);
      } catch {
        // it has just exited
      }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}
