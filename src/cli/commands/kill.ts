import { defineCommand } from "citty";
import { getContainer, killContainer, parseSignal } from "../../container";
import { forEachName } from "../each-name";

export default defineCommand({
  meta: { name: "kill", description: "Send a signal (default SIGKILL) to one or more running containers" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    signal: { type: "string", alias: "s", description: "Signal to send (default KILL)" },
  },
  async run({ args }) {
    const sig = parseSignal(args.signal ?? "KILL");
    await forEachName(args._ as string[], async (name) => killContainer(await getContainer(name), sig));
  },
});
