import { defineCommand } from "citty";
import { getContainer } from "../../container";
import { BunkerError } from "../../errors";
import { forEachName } from "../each-name";

export default defineCommand({
  meta: { name: "start", description: "Start one or more stopped containers (on the same writable layer)" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    attach: { type: "boolean", alias: "a", description: "Attach stdout/stderr (not supported yet: use 'bunker logs -f')" },
  },
  async run({ args }) {
    if (args.attach) throw new BunkerError("start -a is not supported: start the container, then follow it with 'bunker logs -f'");
    await forEachName(args._ as string[], async (name) => (await import("../../runtime/detached")).startExisting(await getContainer(name)));
  },
});
