import { defineCommand } from "citty";
import { BunkerError } from "../../errors";
import { storeRoot } from "../../paths";
import { resetStore, storeUsage } from "../../store/system";
import { confirmed, listWarning } from "../confirm";
import { humanSize, printJson, printTable } from "../output";

const reset = defineCommand({
  meta: { name: "reset", description: "Remove every image, container and volume in the store" },
  args: { force: { type: "boolean", alias: "f", description: "Do not ask for confirmation" } },
  async run({ args }) {
    if (!args.force) {
      // unlike a prune, nothing of the store survives: off a terminal it takes --force, not a piped answer
      if (!process.stdin.isTTY) throw new BunkerError("system reset removes every image, container and volume: run it with --force");
      if (!(await confirmed(`WARNING! This will remove every image, container and volume in ${storeRoot()}.`))) return;
    }
    // running containers first: deleting their records under them would orphan them for good
    const { removeAllContainers } = await import("../../container/prune");
    await resetStore(removeAllContainers);
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
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
  },
  async run({ args }) {
    const removes = [
      "all stopped containers",
      ...(args.volumes ? ["all anonymous volumes not used by at least one container"] : []),
      args.all ? "all images without at least one container associated to them" : "all dangling images",
    ];
    if (!args.force && !(await confirmed(listWarning(removes)))) return;
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
