import { defineCommand } from "citty";
import { resetStore, storeUsage } from "../../store/system";
import { humanSize, printJson, printTable } from "../output";

const reset = defineCommand({
  meta: { name: "reset", description: "Remove every image, container and volume in the store" },
  args: { force: { type: "boolean", alias: "f", description: "Do not ask for confirmation" } },
  async run({ args }) {
    // running containers first: deleting their records under them would orphan them for good
    const { removeAllContainers } = await import("../../container/prune");
    await resetStore(Boolean(args.force), removeAllContainers);
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

const prune = defineCommand({
  meta: { name: "prune", description: "Remove stopped containers and dangling images (-a: every unused image)" },
  args: {
    all: { type: "boolean", alias: "a", description: "Remove every image no container uses, not just dangling ones" },
    volumes: { type: "boolean", description: "Prune anonymous volumes no container uses too" },
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation (bunker never prompts)" },
  },
  async run({ args }) {
    const { systemPrune } = await import("../../container/prune");
    const r = await systemPrune({ all: Boolean(args.all), volumes: Boolean(args.volumes) });
    const section = (title: string, lines: string[]) => (lines.length ? `${title}:\n${lines.join("\n")}\n\n` : "");
    process.stdout.write(
      section("Deleted Containers", r.containers) +
        section("Deleted Volumes", r.volumes) +
        section("Deleted Images", [...r.images.untagged.map((t) => `untagged: ${t}`), ...r.images.deleted.map((d) => `deleted: ${d}`)]),
    );
  },
});

export default defineCommand({
  meta: { name: "system", description: "Manage the store" },
  subCommands: { reset, df, prune },
});
