import { defineCommand } from "citty";
import { getContainer } from "../../container";
import { BunkerError } from "../../errors";
import { forEachName } from "../each-name";

export default defineCommand({
  meta: { name: "start", description: "Start one or more stopped containers (on the same writable layer)" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    attach: { type: "boolean", alias: "a", description: "Print the container's output until it exits, and exit with its code" },
    interactive: { type: "boolean", alias: "i", description: "Attach stdin too (a container made with -i), as -a does the output" },
  },
  async run({ args }) {
    const names = args._ as string[];
    const { startAttached, startExisting } = await import("../../runtime/detached");
    // docker: -i attaches the output too
    if (!args.attach && !args.interactive) return forEachName(names, async (name) => startExisting(await getContainer(name)));
    if (names.length > 1) throw new BunkerError("you cannot start and attach multiple containers at once");
    process.exitCode = await startAttached(await getContainer(names[0]), Boolean(args.interactive));
  },
});
