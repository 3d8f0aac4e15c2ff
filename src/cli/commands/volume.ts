import { defineCommand } from "citty";
import { BunkerError } from "../../errors";
import { createVolume, filterVolumes, getVolume, inspectVolume, listVolumes, pruneVolumes, readVolume, removeVolume, type VolumeInspect } from "../../volume";
import { confirmed } from "../confirm";
import { forEachName } from "../each-name";
import { humanSize, printInspected, printTable } from "../output";
import { repeatedFlag } from "../repeated-flag";

function labelsOf(rawArgs: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of repeatedFlag(rawArgs, "--label", "-l")) {
    const eq = value.indexOf("=");
    labels[eq < 0 ? value : value.slice(0, eq)] = eq < 0 ? "" : value.slice(eq + 1);
  }
  return labels;
}

function names(args: { _: string[] }, what: string): string[] {
  if (args._.length === 0) throw new BunkerError(`"bunker volume ${what}" requires at least 1 argument: bunker volume ${what} VOLUME [VOLUME...]`);
  return args._;
}

/** The fields docker's `volume ls --format` knows, as strings. */
function lsFields(name: string) {
  const v = inspectVolume(getVolume(name));
  const labels = Object.entries(v.Labels).map(([k, val]) => `${k}=${val}`).join(",");
  return { Availability: "N/A", Driver: v.Driver, Group: "N/A", Labels: labels, Links: "N/A", Mountpoint: v.Mountpoint, Name: v.Name, Scope: v.Scope, Size: "N/A", Status: "N/A" };
}

/** `--format json` (one object per line, as docker) or a Go-style template of {{.Field}}s. */
function formatLine(format: string, fields: Record<string, string>): string {
  if (format === "json") return JSON.stringify(fields);
  return format.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, key: string) => {
    if (!(key in fields)) throw new BunkerError(`template: can't evaluate field ${key}; known: ${Object.keys(fields).join(", ")}`);
    return fields[key];
  });
}

const create = defineCommand({
  meta: { name: "create", description: "Create a volume (a random name when none is given)" },
  args: {
    name: { type: "positional", required: false, description: "Volume name" },
    driver: { type: "string", alias: "d", description: "Volume driver (only local)" },
    label: { type: "string", alias: "l", description: "Set a label KEY=VALUE (repeatable)" },
  },
  run({ args, rawArgs }) {
    if (args.driver !== undefined && args.driver !== "local") throw new BunkerError(`volume driver "${args.driver}" is not supported: bunker has the "local" driver only`);
    const v = createVolume(args.name || undefined, labelsOf(rawArgs), false);
    process.stdout.write(`${v.Name}\n`);
  },
});

const ls = defineCommand({
  meta: { name: "ls", description: "List volumes" },
  args: {
    quiet: { type: "boolean", alias: "q", description: "Only display volume names" },
    format: { type: "string", description: "json, or a template like '{{.Name}}'" },
    filter: { type: "string", alias: "f", description: "dangling=true|false, name=, label=KEY[=VALUE], driver= (repeatable)" },
  },
  async run({ args, rawArgs }) {
    const vols = await filterVolumes(listVolumes(), repeatedFlag(rawArgs, "--filter", "-f"));
    if (args.quiet) {
      process.stdout.write(vols.map((v) => `${v.Name}\n`).join(""));
      return;
    }
    if (args.format) {
      const lines = vols.map((v) => formatLine(args.format!, lsFields(v.Name)));
      process.stdout.write(lines.map((l) => `${l}\n`).join(""));
      return;
    }
    printTable(["DRIVER", "VOLUME NAME"], vols.map((v) => ["local", v.Name]));
  },
});

const rm = defineCommand({
  meta: { name: "rm", description: "Remove one or more volumes (refused while a container uses one, unless -f)" },
  args: { force: { type: "boolean", alias: "f", description: "Remove even if a container uses it; no error if missing" } },
  async run({ args }) {
    await forEachName(names(args, "rm"), (name) => removeVolume(name, args.force === true), {
      // docker: -f ignores missing
      ignore: (e) => args.force === true && e instanceof BunkerError && e.message.endsWith("no such volume"),
    });
  },
});

const inspect = defineCommand({
  meta: { name: "inspect", description: "Display detailed information on one or more volumes" },
  args: { format: { type: "string", alias: "f", description: "json (default) or a template like '{{.Mountpoint}}'" } },
  run({ args }) {
    const found: VolumeInspect[] = [];
    const missing: string[] = [];
    for (const name of names(args, "inspect")) {
      const v = readVolume(name);
      if (v) found.push(inspectVolume(v));
      else missing.push(`get ${name}: no such volume`);
    }
    const format = args.format && args.format !== "json" ? args.format : undefined;
    const render = (item: unknown) => {
      const v = item as VolumeInspect;
      return formatLine(format!, { ...v, Labels: JSON.stringify(v.Labels), Options: JSON.stringify(v.Options) } as Record<string, string>);
    };
    printInspected(found, missing, format ? render : undefined);
  },
});

const prune = defineCommand({
  meta: { name: "prune", description: "Remove unused anonymous volumes (-a: every unused volume)" },
  args: {
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
    all: { type: "boolean", alias: "a", description: "Remove named volumes too, not only anonymous ones" },
  },
  async run({ args }) {
    const which = args.all ? "all local volumes" : "anonymous local volumes";
    if (!args.force && !(await confirmed(`WARNING! This will remove ${which} not used by at least one container.`))) return;
    const { removed, bytes } = await pruneVolumes(args.all === true);
    const list = removed.length > 0 ? `Deleted Volumes:\n${removed.map((n) => `${n}\n`).join("")}\n` : "";
    process.stdout.write(`${list}Total reclaimed space: ${humanSize(bytes)}\n`);
  },
});

export default defineCommand({
  meta: { name: "volume", description: "Manage volumes" },
  subCommands: { create, ls, list: ls, rm, remove: rm, inspect, prune },
});
