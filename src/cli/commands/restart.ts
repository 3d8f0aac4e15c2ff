import { defineCommand } from "citty";
import { getContainer, stopContainer } from "../../container";
import { forEachName } from "../each-name";
import { parseTimeout } from "./stop";

export default defineCommand({
  meta: { name: "restart", description: "Restart one or more containers" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    time: { type: "string", alias: "t", description: "Seconds to wait before killing the container (default: its --stop-timeout, else 10)" },
  },
  async run({ args }) {
    const timeout = parseTimeout(args.time);
    await forEachName(args._ as string[], async (name) => {
      const rec = await getContainer(name);
      await stopContainer(rec, timeout);
      await (await import("../../runtime/detached")).startExisting(rec);
    });
  },
});
