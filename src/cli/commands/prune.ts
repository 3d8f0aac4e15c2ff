// `bunker container prune` (reached through `bunker container`): removes stopped containers.
import { defineCommand } from "citty";
import { pruneContainers } from "../../container";
import { confirmed } from "../confirm";

export default defineCommand({
  meta: { name: "prune", description: "Remove all stopped containers" },
  args: { force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" } },
  async run({ args }) {
    if (!args.force && !(await confirmed("WARNING! This will remove all stopped containers."))) return;
    const removed = await pruneContainers();
    if (removed.length) process.stdout.write(`Deleted Containers:\n${removed.map((id) => `${id}\n`).join("")}`);
  },
});
