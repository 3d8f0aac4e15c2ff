// Every top-level command, loaded lazily so that `bunker run` pays only for `run`.
// The description lives here too, so `bunker --help` needn't import every command.
import type { CommandDef } from "citty";

export interface CommandEntry {
  description: string;
  load: () => Promise<BunkerCommand>;
  hidden?: boolean;
}

/**
 * A citty command, or one that parses its own argv (docker's `run`-style commands, where everything
 * after IMAGE belongs to the container and citty would steal `-c` or `--help`).
 */
// biome-ignore lint/suspicious/noExplicitAny: citty's arg types are per-command
export type BunkerCommand = CommandDef<any> | RawCommand;

export interface RawCommand {
  raw: true;
  usage: string;
  run: (argv: string[]) => Promise<void> | void;
}

export const commands: Record<string, CommandEntry> = {
  version: { description: "Show bunker's version, Bun's, the kernel and the store path", load: () => import("./commands/version").then((m) => m.default) },
  pull: { description: "Download an image from a registry", load: () => import("./commands/pull").then((m) => m.default) },
  login: { description: "Log in to a registry", load: () => import("./commands/login").then((m) => m.default) },
  logout: { description: "Log out from a registry", load: () => import("./commands/logout").then((m) => m.default) },
  push: { description: "Upload an image to a registry", load: () => import("./commands/push").then((m) => m.default) },
  images: { description: "List images in the store", load: () => import("./commands/images").then((m) => m.default) },
  image: { description: "Manage images (ls, inspect, rm, tag, pull, load, save, prune)", load: () => import("./commands/image").then((m) => m.default) },
  rmi: { description: "Remove one or more images", load: () => import("./commands/rmi").then((m) => m.default) },
  tag: { description: "Create a tag that refers to an image", load: () => import("./commands/tag").then((m) => m.default) },
  load: { description: "Load images from a docker-save archive or an OCI layout", load: () => import("./commands/load").then((m) => m.default) },
  save: { description: "Save images to a docker-save archive", load: () => import("./commands/save").then((m) => m.default) },
  system: { description: "Manage the store (reset, df, prune)", load: () => import("./commands/system").then((m) => m.default) },
  run: { description: "Create and run a new container from an image", load: () => import("./commands/run").then((m) => m.default) },
  volume: { description: "Manage volumes (create, ls, rm, inspect, prune)", load: () => import("./commands/volume").then((m) => m.default) },
  sandbox: { description: "Run a command in a throwaway sandbox of this machine (no image, no network)", load: () => import("./commands/sandbox").then((m) => m.default) },
  doctor: { description: "Check that this host can run rootless containers, and how to fix what is missing", load: () => import("./commands/doctor").then((m) => m.default) },
  stats: { description: "Show containers' CPU, memory, pids and block I/O usage", load: () => import("./commands/stats").then((m) => m.default) },
  ps: { description: "List containers", load: () => import("./commands/ps").then((m) => m.default) },
  logs: { description: "Fetch the logs of a container", load: () => import("./commands/logs").then((m) => m.default) },
  stop: { description: "Stop one or more running containers", load: () => import("./commands/stop").then((m) => m.default) },
  kill: { description: "Send a signal to one or more running containers", load: () => import("./commands/kill").then((m) => m.default) },
  start: { description: "Start one or more stopped containers", load: () => import("./commands/start").then((m) => m.default) },
  restart: { description: "Restart one or more containers", load: () => import("./commands/restart").then((m) => m.default) },
  rm: { description: "Remove one or more containers", load: () => import("./commands/rm").then((m) => m.default) },
  wait: { description: "Block until containers stop, then print their exit codes", load: () => import("./commands/wait").then((m) => m.default) },
  rename: { description: "Rename a container", load: () => import("./commands/rename").then((m) => m.default) },
  port: { description: "List port mappings of a container", load: () => import("./commands/port").then((m) => m.default) },
  top: { description: "Display the running processes of a container", load: () => import("./commands/top").then((m) => m.default) },
  inspect: { description: "Show low-level information on containers or images", load: () => import("./commands/inspect").then((m) => m.default) },
  container: { description: "Manage containers (ls, rm, stop, start, logs, prune, ...)", load: () => import("./commands/container").then((m) => m.default) },
  generate: { description: "Generate a systemd user unit for a container", load: () => import("./commands/generate").then((m) => m.default) },
  exec: { description: "Execute a command in a running container", load: () => import("./commands/exec").then((m) => m.default) },
  cp: { description: "Copy files between a container and the host", load: () => import("./commands/cp").then((m) => m.default) },
  "container-setup": { description: "internal", hidden: true, load: () => import("./commands/container-setup").then((m) => m.default) },
  "rootfs-copy": { description: "internal", hidden: true, load: () => import("./commands/rootfs-copy").then((m) => m.default) },
  "container-cp": { description: "internal", hidden: true, load: () => import("./commands/container-cp").then((m) => m.default) },
};

/** docker-compatible aliases */
export const aliases: Record<string, string> = {};
