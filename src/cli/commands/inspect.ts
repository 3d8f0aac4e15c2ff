import { defineCommand } from "citty";
import { findContainer, inspectJson, renderTemplate, viewOf } from "../../container";
import { BunkerError } from "../../errors";
import { printJson } from "../output";

/** Containers first, then images (docker's order when --type is not given). */
async function inspectOne(name: string, type: string | undefined): Promise<unknown> {
  if (type !== "image") {
    const rec = await findContainer(name);
    if (rec) return inspectJson(await viewOf(rec));
    if (type === "container") throw new BunkerError(`no such container: ${name}`);
  }
  const { inspectImage } = await import("../../image/inspect");
  try {
    return inspectImage(name);
  } catch (e) {
    if (type === "image") throw e;
    throw new BunkerError(`no such object: ${name}`);
  }
}

export default defineCommand({
  meta: { name: "inspect", description: "Show low-level information on containers or images (JSON)" },
  args: {
    name: { type: "positional", description: "NAME|ID [NAME|ID...]", required: true },
    format: { type: "string", alias: "f", description: "Format with a template: {{.State.Status}}, {{json .Config}}" },
    type: { type: "string", description: "Only this type: container or image" },
  },
  async run({ args }) {
    if (args.type !== undefined && args.type !== "container" && args.type !== "image")
      throw new BunkerError(`invalid --type "${args.type}": use container or image`);
    const results = [];
    for (const name of args._ as string[]) results.push(await inspectOne(name, args.type));
    if (args.format) {
      for (const r of results) process.stdout.write(`${renderTemplate(args.format, r)}\n`);
      return;
    }
    printJson(results);
  },
});
