// `bunker container prune` (reached through `bunker container`): removes stopped containers.
import { defineCommand } from "citty";
import { pruneContainers } from "../../container";

export default defineCommand({
  meta: { name: "prune", description: "Remove all stopped containers" },
  args: { force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" } },
  async run() {
    const removed = await pruneContainers();
    if (removed.length) process.stdout.write(`Deleted Containers:\n${removed.map((id) => `${id}\n`).join("")}`);
  },
});
