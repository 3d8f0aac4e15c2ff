import { defineCommand } from "citty";
import { getContainer, stopContainer } from "../../container";
import { BunkerError } from "../../errors";
import { forEachName } from "../each-name";

/** The seconds of `stop -t`/`restart -t` (-1: wait for ever); undefined: the container's --stop-timeout, else 10. */
export function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new BunkerError(`invalid --time "${value}": use a whole number of seconds (-1: wait for ever)`);
  return Number(value);
}

export default defineCommand({
  meta: { name: "stop", description: "Stop one or more running containers" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    time: { type: "string", alias: "t", description: "Seconds to wait before killing the container (default: its --stop-timeout, else 10)" },
  },
  async run({ args }) {
    const timeout = parseTimeout(args.time);
    await forEachName(args._ as string[], async (name) => stopContainer(await getContainer(name), timeout), { parallel: true });
  },
});
