import { defineCommand } from "citty";
import { getContainer, stopContainer } from "../../container";
import { BunkerError } from "../../errors";

/** The seconds of `stop -t`/`restart -t`. */
export function parseTimeout(value: string | undefined): number {
  if (value === undefined) return 10;
  if (!/^\d+$/.test(value)) throw new BunkerError(`invalid --time "${value}": use a whole number of seconds`);
  return Number(value);
}

export default defineCommand({
  meta: { name: "stop", description: "Stop one or more running containers" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    time: { type: "string", alias: "t", description: "Seconds to wait before killing the container (default 10)" },
  },
  async run({ args }) {
    const timeout = parseTimeout(args.time);
    const failures: string[] = [];
    await Promise.all(
      (args._ as string[]).map(async (name) => {
        try {
          await stopContainer(await getContainer(name), timeout);
          process.stdout.write(`${name}\n`);
        } catch (e) {
          failures.push(e instanceof Error ? e.message : String(e));
        }
      }),
    );
    if (failures.length) throw new BunkerError(failures.join("; "));
  },
});
