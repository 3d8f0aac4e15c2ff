import { defineCommand } from "citty";
import { renderTemplate } from "../../container/view";
import { inspectImage } from "../../image/inspect";
import { printJson } from "../output";

const inspect = defineCommand({
  meta: { name: "inspect", description: "Show details of one or more images as JSON" },
  args: {
    image: { type: "positional", description: "IMAGE [IMAGE...]", required: true },
    format: { type: "string", alias: "f", description: "Output format: json (the default) or a Go template like '{{.Id}}'" },
  },
  run({ args }) {
    const images = (args._ as string[]).map(inspectImage);
    if (!args.format || args.format === "json") return printJson(images);
    process.stdout.write(`${images.map((i) => renderTemplate(args.format!, i)).join("\n")}\n`);
  },
});

export default defineCommand({
  meta: { name: "image", description: "Manage images" },
  subCommands: {
    inspect,
    ls: () => import("./images").then((m) => m.default),
    list: () => import("./images").then((m) => m.default),
    rm: () => import("./rmi").then((m) => m.default),
    tag: () => import("./tag").then((m) => m.default),
    pull: () => import("./pull").then((m) => m.default),
    load: () => import("./load").then((m) => m.default),
    save: () => import("./save").then((m) => m.default),
  },
});
