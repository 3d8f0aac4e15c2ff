import { defineCommand } from "citty";
import { saveImages } from "../../image/archive";

export default defineCommand({
  meta: { name: "save", description: "Save images to a docker-save archive (on stdout unless -o)" },
  args: {
    image: { type: "positional", description: "IMAGE [IMAGE...]", required: true },
    output: { type: "string", alias: "o", description: "Write to this file" },
  },
  async run({ args }) {
    await saveImages(args._ as string[], args.output);
  },
});
