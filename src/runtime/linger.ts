// The last costs of a run are the kernel's, and none of them needs bunker to wait: tearing down
// bunker's own address space (~1 ms for a Bun process), and the container's mount namespace when
// its last process exits (its ~30 mounts are unmounted behind an RCU grace period, ~1 ms more
// before that exit reaches bunker). So a run holds the container's mount namespace from its clone
// on, and just before exiting hands it, with its address space, to a lingerer (bk_linger): the
// kernel tears both down when that exits, once bunker's own exit has been reported.
import { openSync } from "../fs";
import { nativeIfLoaded } from "../../native/ffi";

let heldNamespace: number | undefined;
let wanted = true;

/** Holds pid's mount namespace until bunker exits; call it while pid lives (after its clone). */
export function holdMountNamespace(pid: number): void {
  if (heldNamespace !== undefined) return;
  try {
    heldNamespace = openSync(`/proc/${pid}/ns/mnt`, "r");
  } catch {
    // gone already: nothing to hold
  }
}

/**
 * No lingerer for this process. `run -d` leaves its monitor as its only orphan: a subreaper that
 * adopts what bunker leaves behind (systemd running a Type=forking unit) must find that one
 * process, whose exit code is the container's, and not a lingerer that ends with 0.
 */
export function forgoLingerer(): void {
  wanted = false;
}

/**
 * The last thing before bunker exits: starts the lingerer (a failure only costs the time it saves).
 * Not where libbunker was never loaded (`run --help`): loading it costs more than a lingerer saves.
 */
export function lingerAfterExit(): void {
  if (wanted) nativeIfLoaded()?.bk_linger(heldNamespace ?? -1);
}
