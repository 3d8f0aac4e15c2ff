import { defineCommand } from "citty";
import { getContainer, stopContainer } from "../../container";
import { BunkerError } from "../../errors";
import { parseTimeout } from "./stop";

export default defineCommand({
  meta: { name: "restart", description: "Restart one or more containers" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    time: { type: "string", alias: "t", description: "Seconds to wait before killing the container (default 10)" },
  },
  async run({ args }) {
    const timeout = parseTimeout(args.time);
    const failures: string[] = [];
    for (const name of args._ as string[]) {
      try {
        const rec = await getContainer(name);
        await stopContainer(rec, timeout);
        await (await import("../../runtime/detached")).startExisting(rec);
        process.stdout.write(`${name}\n`);
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    if (failures.length) throw new BunkerError(failures.join("; "));
  },
});
