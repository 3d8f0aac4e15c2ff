// -t: a pty whose slave becomes the container's stdio and controlling terminal, while bunker
// copies between its own terminal and the master. The container's child makes the pty in the
// container's own devpts (the spawn program's pty step) and sends the master back over a socket
// pair (containerPtyChannel / receiveMaster; for run -d, to the monitor), so that `tty` names it
// inside, as with docker. run -t, exec -t and sandbox -t all take this way.
import { closeSync, writeSync } from "node:fs";
import { ReadStream } from "node:tty";
import { native } from "../../native/ffi";
import { BunkerError } from "../errors";
import { errnoMessage } from "./process";
import type { ContainerPty } from "./steps";

/** Gives the pty the size of bunker's terminal (on SIGWINCH, and once its master is here). */
export function copyWindowSize(master: number): void {
  const ws = terminalSize();
  if (ws) native().bk_set_winsize(master, ws.rows, ws.cols);
}

/** The size of bunker's terminal (its stdout, stdin or stderr), if it has one. */
function terminalSize(): { rows: number; cols: number } | undefined {
  for (const fd of [1, 0, 2]) {
    const ws = native().bk_get_winsize(fd);
    if (ws >= 0) return { rows: ws >>> 16, cols: ws & 0xffff };
  }
  return undefined;
}

export interface PtyChannel {
  /** what the spawn program's pty step needs (its socket is the child's end) */
  pty: ContainerPty;
  /** our end, on which the master arrives */
  socket: number;
}

/** The socketpair a -t child sends its pty's master back on, and the size the pty starts with. */
export function containerPtyChannel(): PtyChannel {
  const fds = new Int32Array(2);
  const rc = native().bk_socketpair(fds);
  if (rc < 0) throw new BunkerError(`cannot create a socket pair for the pseudo-terminal: ${errnoMessage(-rc)}`);
  const ws = terminalSize() ?? { rows: 0, cols: 0 };
  return { pty: { socket: fds[1], ...ws }, socket: fds[0] };
}

/**
 * The master the child sent once its command runs (its pty step comes before the exec), then the
 * size again: the terminal may have been resized while the container started.
 */
export function receiveMaster(channel: PtyChannel): number {
  const master = native().bk_recv_fd(channel.socket);
  closeSync(channel.socket);
  if (master < 0) throw new BunkerError(`the container's pseudo-terminal did not arrive: ${errnoMessage(-master)}`);
  copyWindowSize(master);
  return master;
}

export interface TerminalSession {
  /** resolves when the container side of the pty has closed and its output is written out */
  drained: Promise<void>;
  /** puts the host terminal back as it was; safe to call more than once */
  restore(): void;
}

/**
 * Connects bunker's stdio to the pty master: raw mode on the host terminal (restored on every
 * exit path), SIGWINCH → TIOCSWINSZ, stdin → master when interactive, master → stdout.
 */
export function attachTerminal(master: number, interactive: boolean): TerminalSession {
  const raw = interactive && process.stdin.isTTY === true;
  if (raw) process.stdin.setRawMode(true);
  const onWinch = () => copyWindowSize(master);
  process.on("SIGWINCH", onWinch);
  const onInput = (chunk: Buffer) => {
    try {
      writeSync(master, chunk);
    } catch {
      // the container has gone
    }
  };
  if (interactive) {
    process.stdin.on("data", onInput);
    process.stdin.resume();
  }
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off("SIGWINCH", onWinch);
    if (interactive) {
      process.stdin.off("data", onInput);
      process.stdin.pause();
    }
    if (raw) process.stdin.setRawMode(false);
  };
  process.on("exit", restore);
  const output = new ReadStream(master);
  const drained = new Promise<void>((resolve) => {
    output.on("data", (chunk: Buffer) => {
      let off = 0;
      while (off < chunk.length) off += writeSync(1, chunk, off);
    });
    // EIO from the master is how a pty says "every slave fd is closed".
    output.on("error", () => resolve());
    output.on("end", () => resolve());
    output.on("close", () => resolve());
  });
  return {
    drained: drained.then(() => {
      try {
        closeSync(master);
      } catch {
        // already closed by the stream
      }
    }),
    restore,
  };
}
