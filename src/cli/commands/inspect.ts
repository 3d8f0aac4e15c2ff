import { defineCommand } from "citty";
import { findContainer, inspectJson, renderTemplate, viewOf } from "../../container";
import { BunkerError } from "../../errors";
import { printInspected } from "../output";

/** Containers first, then images (docker's order when --type is not given); undefined: neither. */
async function inspectOne(name: string, type: string | undefined): Promise<unknown> {
  if (type !== "image") {
    const rec = await findContainer(name);
    if (rec) return inspectJson(await viewOf(rec));
    if (type === "container") return undefined;
  }
  const { inspectImage } = await import("../../image/inspect");
  return inspectImage(name);
}

/** docker's words for a name not found, by --type. */
const notFound = { container: "No such container", image: "No such image", any: "No such object" };

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
    const found: unknown[] = [];
    const missing: string[] = [];
    for (const name of args._ as string[]) {
      const result = await inspectOne(name, args.type);
      if (result === undefined) missing.push(`${notFound[args.type ?? "any"]}: ${name}`);
      else found.push(result);
    }
    printInspected(found, missing, args.format ? (r) => renderTemplate(args.format!, r) : undefined);
  },
});
