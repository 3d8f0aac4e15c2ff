import { defineCommand } from "citty";
import { renderTemplate } from "../../container/view";
import { inspectImage } from "../../image/inspect";
import { confirmed } from "../confirm";
import { printInspected } from "../output";

const inspect = defineCommand({
  meta: { name: "inspect", description: "Show details of one or more images as JSON" },
  args: {
    image: { type: "positional", description: "IMAGE [IMAGE...]", required: true },
    format: { type: "string", alias: "f", description: "Output format: json (the default) or a Go template like '{{.Id}}'" },
  },
  run({ args }) {
    const found: unknown[] = [];
    const missing: string[] = [];
    for (const name of args._ as string[]) {
      const image = inspectImage(name);
      if (image) found.push(image);
      else missing.push(`No such image: ${name}`);
    }
    const json = !args.format || args.format === "json";
    printInspected(found, missing, json ? undefined : (i) => renderTemplate(args.format!, i));
  },
});

const prune = defineCommand({
  meta: { name: "prune", description: "Remove dangling images (-a: every image no container uses)" },
  args: {
    all: { type: "boolean", alias: "a", description: "Remove every image no container uses, not just dangling ones" },
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
  },
  async run({ args }) {
    const which = args.all ? "all images without at least one container associated to them" : "all dangling images";
    if (!args.force && !(await confirmed(`WARNING! This will remove ${which}.`))) return;
    const { pruneImages } = await import("../../container/prune");
    const r = await pruneImages(Boolean(args.all));
    const lines = [...r.untagged.map((t) => `untagged: ${t}`), ...r.deleted.map((d) => `deleted: ${d}`)];
    if (lines.length) process.stdout.write(`Deleted Images:\n${lines.join("\n")}\n`);
  },
});

export default defineCommand({
  meta: { name: "image", description: "Manage images" },
  subCommands: {
    inspect,
    prune,
    ls: () => import("./images").then((m) => m.default),
    list: () => import("./images").then((m) => m.default),
    rm: () => import("./rmi").then((m) => m.default),
    tag: () => import("./tag").then((m) => m.default),
    pull: () => import("./pull").then((m) => m.default),
    load: () => import("./load").then((m) => m.default),
    save: () => import("./save").then((m) => m.default),
  },
});
