import { defineCommand } from "citty";
import { resetStore, storeUsage } from "../../store/system";
import { humanSize, printJson, printTable } from "../output";

const reset = defineCommand({
  meta: { name: "reset", description: "Remove every image, container and volume in the store" },
  args: { force: { type: "boolean", alias: "f", description: "Do not ask for confirmation" } },
  async run({ args }) {
    await resetStore(Boolean(args.force));
  },
});

const df = defineCommand({
  meta: { name: "df", description: "Show the store's disk usage" },
  args: { format: { type: "string", description: "Output format: json" } },
  run({ args }) {
    const usage = storeUsage();
    if (args.format === "json") return printJson(usage);
    printTable(
      ["TYPE", "TOTAL", "SIZE"],
      usage.map((u) => [u.Type, String(u.Total), humanSize(u.Size)]),
    );
  },
});

export default defineCommand({
  meta: { name: "system", description: "Manage the store" },
  subCommands: { reset, df },
});
