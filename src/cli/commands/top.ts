import { defineCommand } from "citty";
import { containerPids, getContainer, isRunning, readState } from "../../container";
import { BunkerError } from "../../errors";

export default defineCommand({
  meta: { name: "top", description: "Display the running processes of a container" },
  args: {
    container: { type: "positional", description: "CONTAINER [ps OPTIONS]", required: true },
  },
  async run({ args }) {
    const rec = await getContainer(args.container);
    const state = await readState(rec.Id);
    if (!isRunning(state)) throw new BunkerError(`container ${rec.Name} is not running`);
    const psArgs = (args._ as string[]).slice(1);
    const pids = containerPids(state.Pid);
    // docker runs the host's ps with the user's options ("-ef" by default) over the container's pids.
    const r = Bun.spawnSync(["ps", ...(psArgs.length ? psArgs : ["-f"]), "-p", pids.join(",")], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0 && r.stdout.length === 0) throw new BunkerError(`ps failed: ${r.stderr.toString().trim()}`);
    process.stdout.write(r.stdout);
  },
});
