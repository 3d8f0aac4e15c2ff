import { defineCommand } from "citty";
import { filterViews, listContainers, PS_HEADERS, psJson, psRow, viewOf } from "../../container";
import { printTable } from "../output";

/** Every value of a flag that may be repeated (citty keeps only the last). */
function repeated(raw: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i];
    const eq = a.indexOf("=");
    if (eq > 0 && names.includes(a.slice(0, eq))) out.push(a.slice(eq + 1));
    else if (names.includes(a) && i + 1 < raw.length) out.push(raw[++i]);
  }
  return out;
}

export default defineCommand({
  meta: { name: "ps", description: "List containers" },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    quiet: { type: "boolean", alias: "q", description: "Only display container IDs" },
    format: { type: "string", description: "Output format: json (one object per line) or table" },
    filter: { type: "string", alias: "f", description: "Filter: name=, id=, status=, label=, exited= (repeatable)" },
    trunc: { type: "boolean", default: true, description: "Truncate ids and commands (--no-trunc: don't)" },
    latest: { type: "boolean", alias: "l", description: "Show the latest created container" },
  },
  async run({ args, rawArgs }) {
    const filters = repeated(rawArgs, ["--filter", "-f"]);
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
    printTable(PS_HEADERS, views.map((v) => psRow(v, !args.trunc)));
  },
});
