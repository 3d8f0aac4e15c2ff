// Runs a mode of bunker-helper (native/helper/apply.c) inside a user namespace of its own, where
// the invoking user is root and the subordinate ids are mapped, so it can chown files to image
// ids and delete trees the user alone could not. The helper unshares, says 'U' on stdout, waits
// while we write its id maps (newuidmap/newgidmap or /proc/PID/*_map), then reads 'G' on stdin.
// As real root (kind "root") there is nothing to map and the helper skips the namespace.
import type { ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "../fs";
import { errnoName, helperPath } from "../../native/ffi";
import { BunkerError } from "../errors";
import { applyIdMapping, hostIdMapping } from "./idmap";

export const REPLY_ERROR = 1;
export const REPLY_WARN_XATTR = 2;
export const REPLY_DONE = 3;

export interface HelperReply {
  kind: number;
  errno: number;
  step: number;
  path: string;
}

/** A running helper: write requests on stdin, read replies with next(). */
export class HelperProcess {
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;
  readonly exited: Promise<number>;
  private stderrText = "";

  constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (chunk: Buffer) => {
      this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
      this.wake?.();
    });
    child.stdout!.on("end", () => {
      this.ended = true;
      this.wake?.();
    });
    child.stderr!.on("data", (c: Buffer) => {
      if (this.stderrText.length < 4096) this.stderrText += c.toString();
    });
    // A helper that died leaves stdin broken; the exit code and replies say why, not EPIPE.
    child.stdin!.on("error", () => {});
    this.exited = new Promise((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  }

  get stdin() {
    return this.child.stdin!;
  }

  get stderr(): string {
    return this.stderrText.trim();
  }

  /** Waits for n bytes of stdout; undefined when the helper closed it first. */
  private async take(n: number): Promise<Buffer | undefined> {
    while (this.buffered.length < n) {
      if (this.ended) return undefined;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  /** The next reply (struct bk_reply + path), or undefined at the end of stdout. */
  async next(): Promise<HelperReply | undefined> {
    const head = await this.take(16);
    if (!head) return undefined;
    const pathLen = head.readUInt32LE(12);
    const path = pathLen ? await this.take(pathLen) : Buffer.alloc(0);
    return { kind: head.readUInt32LE(0), errno: head.readInt32LE(4), step: head.readUInt32LE(8), path: path?.toString() ?? "" };
  }

  /** Handshake: wait for 'U', write the id maps, answer 'G'. */
  async enterUserns(): Promise<void> {
    const byte = await this.take(1);
    if (!byte || byte[0] !== 0x55) {
      await this.exited;
      throw new BunkerError(`could not create a user namespace for unpacking${this.stderr ? `: ${this.stderr}` : ""}; check that unprivileged user namespaces are enabled`);
    }
    await applyIdMapping(this.child.pid!, hostIdMapping());
    this.stdin.write("G");
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

/** Starts `bunker-helper MODE [--userns] TARGET` and completes the namespace handshake. */
export async function startHelper(mode: "apply" | "rm", target: string): Promise<HelperProcess> {
  const userns = hostIdMapping().kind !== "root";
  // Loaded here, not at start: `run --rm` needs this module for removeTree, which rarely needs a
  // helper, and node:child_process costs ~0.5 ms of every run's start-up.
  const { spawn } = await import("node:child_process");
  const child = spawn(helperPath(), [mode, ...(userns ? ["--userns"] : []), target], {
    argv0: "bunker-helper",
    stdio: ["pipe", "pipe", "pipe"],
  });
  const helper = new HelperProcess(child);
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (e) => reject(new BunkerError(`cannot start bunker-helper: ${e.message}`)));
  });
  if (userns) {
    try {
      await helper.enterUserns();
    } catch (e) {
      helper.kill();
      throw e;
    }
  }
  return helper;
}

/**
 * Removes a tree whose files may belong to subordinate ids (an unpacked layer, a container's
 * rootfs), from inside the user namespace where the user is their owner's root.
 */
export async function removeTree(path: string): Promise<void> {
  if (!existsSync(path)) return;
  // Most trees (a `run --rm` container that wrote as root) hold only the user's own files: plain
  // removal then needs no helper, no user namespace and no newuidmap, which cost ~15 ms.
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch {
    // a file of a subordinate id, or a directory we may not enter: the helper removes the rest
  }
  const helper = await startHelper("rm", path);
  helper.stdin.end();
  const reply = await helper.next();
  const code = await helper.exited;
  if (reply?.kind === REPLY_DONE && code === 0) return;
  const why = reply?.kind === REPLY_ERROR ? `${errnoText(reply.errno)}` : helper.stderr || `exit code ${code}`;
  throw new BunkerError(`cannot remove ${path}: ${why}`);
}

/** "EACCES" from a positive errno number. */
export function errnoText(errno: number): string {
  return errnoName(-errno);
}
