import { defineCommand } from "citty";
import { getContainer, parseTimeArg, printLogs } from "../../container";
import { BunkerError } from "../../errors";

export default defineCommand({
  meta: { name: "logs", description: "Fetch the logs of a container" },
  args: {
    container: { type: "positional", description: "CONTAINER", required: true },
    follow: { type: "boolean", alias: "f", description: "Follow log output" },
    tail: { type: "string", alias: "n", description: 'Number of lines to show from the end of the logs (default "all")' },
    since: { type: "string", description: "Show logs since a timestamp (2013-01-02T13:23:37Z) or relative (42m)" },
    until: { type: "string", description: "Show logs before a timestamp or relative time" },
    timestamps: { type: "boolean", alias: "t", description: "Show timestamps" },
  },
  async run({ args }) {
    const rec = await getContainer(args.container);
    let tail: number | undefined;
    if (args.tail !== undefined && args.tail !== "all") {
      if (!/^\d+$/.test(args.tail)) throw new BunkerError(`invalid --tail "${args.tail}": use a number of lines or "all"`);
      tail = Number(args.tail);
    }
    await printLogs(rec.Id, {
      tail,
      since: args.since ? parseTimeArg("since", args.since) : undefined,
      until: args.until ? parseTimeArg("until", args.until) : undefined,
      timestamps: Boolean(args.timestamps),
      follow: Boolean(args.follow),
    });
  },
});
