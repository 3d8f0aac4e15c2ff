// -t: a pty whose slave becomes the container's stdio and controlling terminal, while bunker
// copies between its own terminal and the master. Bun.Terminal hands out no slave fd (NOTES), so
// the pty comes from posix_openpt through FFI.
import { closeSync, constants as fsc, openSync, writeSync } from "node:fs";
import { ReadStream } from "node:tty";
import { native } from "../../native/ffi";
import { BunkerError } from "../errors";
import { errnoMessage } from "./process";

export interface Pty {
  master: number;
  slave: number;
}

export function openPty(): Pty {
  const name = new Uint8Array(128);
  const master = native().bk_openpt(name, name.length);
  if (master < 0) throw new BunkerError(`cannot open a pseudo-terminal: ${errnoMessage(-master)}`);
  const path = new TextDecoder().decode(name.subarray(0, name.indexOf(0)));
  const slave = openSync(path, fsc.O_RDWR | fsc.O_NOCTTY);
  copyWindowSize(master);
  return { master, slave };
}

/**
 * Gives the pty the size of bunker's terminal. Done as the pty is made, before the container is
 * released: a command that asks at once (stty size) must not see 0x0.
 */
export function copyWindowSize(master: number): void {
  for (const fd of [1, 0, 2]) {
    const ws = native().bk_get_winsize(fd);
    if (ws >= 0) {
      native().bk_set_winsize(master, ws >>> 16, ws & 0xffff);
      return;
    }
  }
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
export function attachTerminal(pty: Pty, interactive: boolean): TerminalSession {
  const raw = interactive && process.stdin.isTTY === true;
  if (raw) process.stdin.setRawMode(true);
  const onWinch = () => copyWindowSize(pty.master);
  process.on("SIGWINCH", onWinch);
  const onInput = (chunk: Buffer) => {
    try {
      writeSync(pty.master, chunk);
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
  const output = new ReadStream(pty.master);
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
        closeSync(pty.master);
      } catch {
        // already closed by the stream
      }
    }),
    restore,
  };
}
