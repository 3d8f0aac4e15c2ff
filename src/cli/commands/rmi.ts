import { defineCommand } from "citty";
import { removeImage } from "../../store/images";

export default defineCommand({
  meta: { name: "rmi", description: "Remove one or more images" },
  args: {
    image: { type: "positional", description: "IMAGE [IMAGE...]", required: true },
    force: { type: "boolean", alias: "f", description: "Remove even if a container uses the image or it has several tags" },
  },
  async run({ args }) {
    for (const name of args._ as string[]) {
      const out = await removeImage(name, Boolean(args.force));
      for (const t of out.untagged) process.stdout.write(`Untagged: ${t}\n`);
      for (const id of out.deleted) process.stdout.write(`Deleted: ${id}\n`);
    }
  },
});
