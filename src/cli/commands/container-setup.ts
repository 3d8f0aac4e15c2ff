// Hidden: `bunker container-setup ID PID`, run by a detached container's monitor when its restart
// policy starts it again: the parent's part of a start (id mapping) for the new process.
import { defineCommand } from "citty";
import { getContainer } from "../../container";
import { BunkerError } from "../../errors";

export default defineCommand({
  meta: { name: "container-setup", description: "internal: set up a restarted container (run by its monitor)" },
  args: {
    id: { type: "positional", required: true },
    pid: { type: "positional", required: true },
  },
  async run({ args }) {
    const pid = Number(args.pid);
    if (!Number.isInteger(pid) || pid <= 0) throw new BunkerError(`invalid pid "${args.pid}"`);
    const { restartSetup } = await import("../../runtime/detached");
    await restartSetup(await getContainer(args.id), pid);
  },
});
