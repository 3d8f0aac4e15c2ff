// `bunker exec`: a new process in a running container. A clone of bunker joins every namespace of
// the container's main process (native/lib/exec.c: user first, the ns fds all opened before the
// first setns), then clones the command with the container's own spawn interpreter, so it lands in
// the container's pid namespace and cgroup with the same capabilities and no_new_privs as the
// main process (processSteps, as for the container itself).
import { closeSync, openSync, readSync, constants as fsc, writeSync } from "node:fs";
import { native } from "../../native/ffi";
import { type ContainerRecord, isRunning, readState } from "../container";
import { BunkerError, EXIT_BUNKER, EXIT_CANNOT_EXEC } from "../errors";
import { errnoMessage, forwardSignals, pipe, startFailure, stepFailureText, syncPipes, waitForExit } from "../runtime/process";
import { encodeProgram } from "../runtime/program";
import type { ContainerSpec } from "../runtime/spec";
import { processSteps, type Stdio } from "../runtime/steps";
import { attachTerminal, containerPtyChannel, receiveMaster } from "../runtime/tty";
import { buildEnv, resolveUser } from "../runtime/user";
import { execCgroupOf } from "../cgroup/manager";

export interface ExecOptions {
  interactive: boolean;
  tty: boolean;
  detach: boolean;
  env: string[];
  envFiles: string[];
  workdir?: string;
  user?: string;
  privileged: boolean;
}

const NAMESPACES = ["user", "mnt", "pid", "uts", "ipc", "net", "cgroup"];

function pathOf(env: string[]): string {
  const entry = env.findLast((e) => e.startsWith("PATH="));
  return entry ? entry.slice(5) : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/** Runs argv in the container; returns its exit code (0 at once with detach). */
export async function execInContainer(rec: ContainerRecord, argv: string[], o: ExecOptions): Promise<number> {
  if (argv.length === 0) throw new BunkerError(`"bunker exec" requires at least 2 arguments: bunker exec [OPTIONS] CONTAINER COMMAND [ARG...]`);
  const state = await readState(rec.Id);
  if (!isRunning(state) || state.Pid <= 0) throw new BunkerError(`container ${rec.Name} is not running: start it first (bunker start ${rec.Name})`);
  const spec = rec.RunSpec as ContainerSpec | undefined;
  if (!spec) throw new BunkerError(`container ${rec.Name} has no run spec to exec with`);
  // The container's files as its processes see them: through its init's root.
  const root = `/proc/${state.Pid}/root`;
  // the container's --group-add holds for every process of it, as in docker
  const user = o.user ? resolveUser(o.user, [root], rec.HostConfig.GroupAdd) : { uid: spec.uid, gid: spec.gid, groups: spec.groups, home: "/root" };
  // The HOME the run computed for its own user is not -u's: docker computes it per process.
  const runHome = o.user ? resolveUser(rec.Config.User || "0", [root]).home : undefined;
  const base = runHome === undefined ? spec.env : spec.env.filter((kv) => kv !== `HOME=${runHome}`);
  const env = buildEnv({ image: base, flags: o.env, envFiles: o.envFiles, hostname: spec.hostname, home: user.home, tty: o.tty });
  const cwd = o.workdir ?? spec.cwd;
  if (!cwd.startsWith("/")) throw new BunkerError(`the working directory '${cwd}' is invalid: it needs to be an absolute path`);
  const caps = o.privileged ? (await import("../runtime/caps")).effectiveCaps({ privileged: true, add: [], drop: [] }) : spec.caps;

  // -t: the command's process makes the pty in the container's devpts (tty names it there) and
  // sends its master back, as for run -t
  const channel = o.tty && !o.detach ? containerPtyChannel() : undefined;
  const toClose: number[] = [];
  let stdio: Stdio;
  if (channel) {
    stdio = { pty: channel.pty };
    toClose.push(channel.pty.socket);
  } else if (o.detach) {
    const devNull = openSync("/dev/null", fsc.O_RDWR);
    toClose.push(devNull);
    stdio = { fds: [devNull, devNull, devNull], setsid: true, controllingTty: false };
  } else if (o.interactive) stdio = { fds: [0, 1, 2], setsid: false, controllingTty: false };
  else {
    const devNull = openSync("/dev/null", fsc.O_RDONLY);
    toClose.push(devNull);
    stdio = { fds: [devNull, 1, 2], setsid: false, controllingTty: false };
  }
  const steps = processSteps(
    // the container's rlimits and seccomp filter (none for --privileged) too, as docker's exec has them
    { cwd, caps, uid: user.uid, gid: user.gid, groups: user.groups, noNewPrivs: spec.noNewPrivs, seccomp: spec.seccomp, idMapping: spec.idMapping, ulimits: spec.ulimits },
    { path: pathOf(env), args: argv, env, execFd: -1 },
    stdio,
  );
  // The command joins the container's cgroup: the joining process moves into it first, itself, or,
  // for a systemd scope, by the manager while it is held before its first step.
  const cgroup = execCgroupOf(rec.Id);
  const cgroupFd = cgroup && !cgroup.attach ? openSync(cgroup.path, fsc.O_RDONLY | fsc.O_DIRECTORY) : -1;
  if (cgroupFd >= 0) toClose.push(cgroupFd);
  const hold = cgroup?.attach ? pipe() : undefined;
  if (hold) toClose.push(hold[0]);
  const pipes = syncPipes();
  const program = encodeProgram(
    { cloneFlags: 0n, cgroupFd, goFd: pipes.goRead, goWriteFd: pipes.goWrite, errFd: pipes.errWrite, errReadFd: pipes.errRead },
    steps,
  );
  // Nothing to set up from outside: the go byte can wait in the pipe for the command.
  writeSync(pipes.goWrite, new Uint8Array([1]));
  const pid = native().bk_exec_join(state.Pid, program, program.length, pipes.errWrite, o.detach ? 1 : 0, hold ? hold[0] : -1);
  for (const fd of [pipes.goRead, pipes.goWrite, pipes.errWrite, ...toClose]) closeSync(fd);
  const giveUp = () => {
    closeSync(pipes.errRead);
    if (hold) closeSync(hold[1]);
    if (channel) closeSync(channel.socket);
  };
  if (pid < 0) {
    giveUp();
    throw new BunkerError(`cannot exec in container ${rec.Name}: ${errnoMessage(-pid)}`);
  }
  if (hold && cgroup?.attach) {
    try {
      await cgroup.attach(pid);
    } catch (e) {
      process.kill(pid, "SIGKILL");
      await waitForExit(pid);
      giveUp();
      throw new BunkerError(`cannot exec in container ${rec.Name}: join its cgroup: ${(e as Error).message}`);
    }
    writeSync(hold[1], new Uint8Array([1]));
    closeSync(hold[1]);
  }
  const stopForwarding = forwardSignals(pid);
  const report = new Uint8Array(8);
  let got = 0;
  while (got < 8) {
    const n = readSync(pipes.errRead, report, got, 8 - got, null);
    if (n === 0) break;
    got += n;
  }
  closeSync(pipes.errRead);
  if (got === 8) {
    stopForwarding();
    if (channel) closeSync(channel.socket);
    const view = new DataView(report.buffer);
    const index = view.getInt32(0, true);
    const errno = view.getInt32(4, true);
    await waitForExit(pid);
    if (index >= 0) {
      const failure = startFailure(steps[index], errno, { args: argv } as ContainerSpec);
      if (failure.exitCode !== EXIT_BUNKER) throw failure;
      // docker exec: a process that can't be set up (its working directory, its ids) can't be executed
      throw new BunkerError(`cannot exec in container ${rec.Name}: ${stepFailureText(steps[index], errno)}`, EXIT_CANNOT_EXEC);
    }
    const what = index === -100 ? "clone the command" : index === -101 ? "join its cgroup" : `join its ${NAMESPACES[-index - 1]} namespace`;
    throw new BunkerError(`cannot exec in container ${rec.Name}: ${what}: ${errnoMessage(errno)}`);
  }
  if (o.detach) return 0;
  // the pty step came before the command's execve: its master is there
  const session = channel ? attachTerminal(receiveMaster(channel), o.interactive) : undefined;
  let code = EXIT_BUNKER;
  try {
    code = await waitForExit(pid);
    await session?.drained;
  } finally {
    session?.restore();
    stopForwarding();
  }
  return code;
}

