// File locks where two bunker processes can meet (creating names, starting, removing). flock is
// taken non-blocking and polled, because a blocking flock through bun:ffi would freeze the event
// loop. The kernel drops a lock when its holder dies, so a killed bunker never leaves one behind.
import { closeSync, mkdirSync, openSync } from "../fs";
import { dirname } from "../posix-path";
import { native } from "../../native/ffi";
import { BunkerError } from "../errors";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EINTR = 4;

/** Runs fn while holding an exclusive flock on path (created if missing). */
export async function withLock<T>(path: string, fn: () => Promise<T> | T, timeoutMs = 60_000): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, "a", 0o600);
  try {
    const deadline = Date.now() + timeoutMs;
    let wait = 1;
    for (;;) {
      const rc = native().bk_flock(fd, LOCK_EX | LOCK_NB);
      if (rc === 0) break;
      if (rc !== -EWOULDBLOCK && rc !== -EINTR) throw new BunkerError(`cannot lock ${path}: errno ${-rc}`);
      if (Date.now() > deadline) throw new BunkerError(`timed out waiting for the lock ${path}; another bunker command holds it`);
      await Bun.sleep(wait);
      wait = Math.min(wait * 2, 25);
    }
    return await fn();
  } finally {
    closeSync(fd); // closing the last fd releases the flock
  }
}
