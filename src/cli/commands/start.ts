import { defineCommand } from "citty";
import { getContainer } from "../../container";
import { BunkerError } from "../../errors";

export default defineCommand({
  meta: { name: "start", description: "Start one or more stopped containers (on the same writable layer)" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    attach: { type: "boolean", alias: "a", description: "Attach stdout/stderr (not supported yet: use 'bunker logs -f')" },
  },
  async run({ args }) {
    if (args.attach) throw new BunkerError("start -a is not supported: start the container, then follow it with 'bunker logs -f'");
    const failures: string[] = [];
    for (const name of args._ as string[]) {
      try {
        await (await import("../../runtime/detached")).startExisting(await getContainer(name));
        process.stdout.write(`${name}\n`);
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    if (failures.length) throw new BunkerError(failures.join("; "));
  },
});
