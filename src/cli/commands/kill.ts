import { defineCommand } from "citty";
import { getContainer, killContainer, parseSignal } from "../../container";
import { BunkerError } from "../../errors";

export default defineCommand({
  meta: { name: "kill", description: "Send a signal (default SIGKILL) to one or more running containers" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    signal: { type: "string", alias: "s", description: "Signal to send (default KILL)" },
  },
  async run({ args }) {
    const sig = parseSignal(args.signal ?? "KILL");
    const failures: string[] = [];
    for (const name of args._ as string[]) {
      try {
        await killContainer(await getContainer(name), sig);
        process.stdout.write(`${name}\n`);
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    if (failures.length) throw new BunkerError(failures.join("; "));
  },
});
