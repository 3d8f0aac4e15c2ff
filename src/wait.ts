// Waiting for a child process that bun:ffi code started (a container, newuidmap), without
// blocking Bun's event loop, and its exit code as shells and docker report it.
import { native } from "../native/ffi";
import { EXIT_BUNKER } from "./errors";

/** 128+N for a signal N, as shells and docker report it. */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  if (sig === 0) return (status >> 8) & 0xff;
  return 128 + sig;
}

/** Resolves with the exit code when pid exits. Waits without blocking Bun's event loop. */
export function waitForExit(pid: number): Promise<number> {
  return new Promise((resolve) => {
    const status = new Int32Array(1);
    const check = () => {
      const rc = native().bk_waitpid(pid, status);
      if (rc === 0) return;
      process.off("SIGCHLD", check);
      clearInterval(timer);
      resolve(rc === pid ? exitCodeOf(status[0]) : EXIT_BUNKER);
    };
    process.on("SIGCHLD", check);
    // SIGCHLD can coincide with another child's; a slow poll makes sure no exit goes unnoticed.
    const timer = setInterval(check, 500);
    check();
  });
}

