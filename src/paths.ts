// Where bunker keeps things. The store is durable (images, layers, container config, volumes);
// the runtime dir is cleared at reboot (pids, sockets, live state), as podman does.
import { join } from "./posix-path";

export function storeRoot(): string {
  if (process.env.BUNKER_ROOT) return process.env.BUNKER_ROOT;
  const dataHome = process.env.XDG_DATA_HOME || join(process.env.HOME || homeDir(), ".local/share");
  return join(dataHome, "bunker");
}

export function runtimeRoot(): string {
  if (process.env.BUNKER_RUNTIME_DIR) return process.env.BUNKER_RUNTIME_DIR;
  if (process.env.XDG_RUNTIME_DIR) return join(process.env.XDG_RUNTIME_DIR, "bunker");
  return `/tmp/bunker-run-${process.getuid!()}`;
}

/** The user's home from the password database: node:os is loaded only when $HOME is unset (~0.3 ms of start-up). */
function homeDir(): string {
  return (require("node:os") as typeof import("node:os")).homedir();
}
