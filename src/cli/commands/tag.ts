import { defineCommand } from "citty";
import { tagImage } from "../../store/images";

export default defineCommand({
  meta: { name: "tag", description: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE" },
  args: {
    source: { type: "positional", description: "SOURCE_IMAGE[:TAG]", required: true },
    target: { type: "positional", description: "TARGET_IMAGE[:TAG]", required: true },
  },
  async run({ args }) {
    await tagImage(args.source, args.target);
  },
});
