import { defineCommand } from "citty";
import { filterViews, listContainers, PS_HEADERS, psJson, psRow, renderTemplate, viewOf } from "../../container";
import { printTable } from "../output";
import { repeatedFlag } from "../repeated-flag";

/** docker's column titles for `ps --format 'table {{.Field}}...'` */
const TITLES: Record<string, string> = {
  ID: "CONTAINER ID",
  Image: "IMAGE",
  Command: "COMMAND",
  CreatedAt: "CREATED AT",
  RunningFor: "CREATED",
  Ports: "PORTS",
  State: "STATE",
  Status: "STATUS",
  Names: "NAMES",
  Labels: "LABELS",
  Mounts: "MOUNTS",
  Networks: "NETWORKS",
};

export default defineCommand({
  meta: { name: "ps", description: "List containers" },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    quiet: { type: "boolean", alias: "q", description: "Only display container IDs" },
    format: { type: "string", description: "Output format: json (one object per line), table, or a Go template like '{{.Names}}' ('table {{.ID}}\\t{{.Names}}' adds titles)" },
    filter: { type: "string", alias: "f", description: "Filter: name=, id=, status=, label=, exited= (repeatable)" },
    trunc: { type: "boolean", default: true, description: "Truncate ids and commands (--no-trunc: don't)" },
    latest: { type: "boolean", alias: "l", description: "Show the latest created container" },
  },
  async run({ args, rawArgs }) {
    const filters = repeatedFlag(rawArgs, "--filter", "-f");
    let views = await Promise.all((await listContainers()).map(viewOf));
    // docker lists the newest first; without -a only running ones (a status filter implies -a).
    views.reverse();
    if (!args.all && !args.latest && !filters.some((f) => f.startsWith("status=") || f.startsWith("exited=")))
      views = views.filter((v) => v.state.Status === "running" || v.state.Status === "restarting");
    views = filterViews(views, filters);
    if (args.latest) views = views.slice(0, 1);
    if (args.quiet) {
      for (const v of views) process.stdout.write(`${args.trunc ? v.rec.Id.slice(0, 12) : v.rec.Id}\n`);
      return;
    }
    if (args.format === "json") {
      for (const v of views) process.stdout.write(`${JSON.stringify(psJson(v))}\n`);
      return;
    }
    if (args.format && args.format !== "table") {
      // docker's Go templates: {{.Names}}, "table {{.ID}}\t{{.Status}}" (titles, \t as a tab)
      const table = args.format.startsWith("table ");
      const template = (table ? args.format.slice(6) : args.format).replaceAll("\\t", "\t");
      const lines = views.map((v) => renderTemplate(template, { ...psJson(v), ...(args.trunc ? {} : { ID: v.rec.Id }) }));
      if (table) lines.unshift(template.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, f: string) => TITLES[f] ?? f.toUpperCase()));
      if (lines.length) process.stdout.write(`${lines.join("\n")}\n`);
      return;
    }
    printTable(PS_HEADERS, views.map((v) => psRow(v, !args.trunc)));
  },
});
