import { defineCommand } from "citty";
import { inspectImage } from "../../image/inspect";
import { printJson } from "../output";

const inspect = defineCommand({
  meta: { name: "inspect", description: "Show details of one or more images as JSON" },
  args: {
    image: { type: "positional", description: "IMAGE [IMAGE...]", required: true },
    format: { type: "string", alias: "f", description: "Output format: json (the default)" },
  },
  run({ args }) {
    printJson((args._ as string[]).map(inspectImage));
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
