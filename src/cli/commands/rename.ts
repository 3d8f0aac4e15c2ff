import { defineCommand } from "citty";
import { renameContainer } from "../../container";

export default defineCommand({
  meta: { name: "rename", description: "Rename a container" },
  args: {
    container: { type: "positional", description: "CONTAINER", required: true },
    name: { type: "positional", description: "NEW_NAME", required: true },
  },
  async run({ args }) {
    await renameContainer(args.container, args.name);
  },
});
