// `bunker container SUBCOMMAND`: docker's management-command spelling of the container commands.
import { defineCommand } from "citty";

const load = (m: () => Promise<{ default: unknown }>) => () => m().then((x) => x.default as ReturnType<typeof defineCommand>);

export default defineCommand({
  meta: { name: "container", description: "Manage containers" },
  subCommands: {
    ls: load(() => import("./ps")),
    list: load(() => import("./ps")),
    ps: load(() => import("./ps")),
    rm: load(() => import("./rm")),
    stop: load(() => import("./stop")),
    start: load(() => import("./start")),
    restart: load(() => import("./restart")),
    kill: load(() => import("./kill")),
    logs: load(() => import("./logs")),
    inspect: load(() => import("./inspect")),
    prune: load(() => import("./prune")),
    rename: load(() => import("./rename")),
    port: load(() => import("./port")),
    top: load(() => import("./top")),
    wait: load(() => import("./wait")),
    cp: load(() => import("./cp")),
  },
});
