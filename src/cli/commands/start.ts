import { defineCommand } from "citty";
import { attachOutput, getContainer } from "../../container";
import { BunkerError } from "../../errors";
import { forEachName } from "../each-name";

export default defineCommand({
  meta: { name: "start", description: "Start one or more stopped containers (on the same writable layer)" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    attach: { type: "boolean", alias: "a", description: "Print the container's output until it exits, and exit with its code" },
  },
  async run({ args }) {
    const names = args._ as string[];
    const { startExisting } = await import("../../runtime/detached");
    if (!args.attach) return forEachName(names, async (name) => startExisting(await getContainer(name)));
    if (names.length > 1) throw new BunkerError("you cannot start and attach multiple containers at once");
    const rec = await getContainer(names[0]);
    const since = Date.now();
    await startExisting(rec);
    process.exitCode = await attachOutput(rec, since);
  },
});
