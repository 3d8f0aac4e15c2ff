import { defineCommand } from "citty";
import { containerPids, getContainer, isRunning, readState } from "../../container";
import { BunkerError } from "../../errors";

export default defineCommand({
  meta: { name: "top", description: "Display the running processes of a container" },
  args: {
    container: { type: "positional", description: "CONTAINER [ps OPTIONS]", required: true },
  },
  async run({ args, rawArgs }) {
    const rec = await getContainer(args.container);
    const state = await readState(rec.Id);
    if (!isRunning(state)) throw new BunkerError(`container ${rec.Name} is not running`);
    // everything after CONTAINER is ps's, flags included (citty would take "-o pid" as its own)
    const given = rawArgs.slice(rawArgs.indexOf(args.container) + 1);
    const psArgs = given.length ? given : ["-ef"];
    // docker's way: the host's ps with the user's options, then only the rows of the container's
    // pids (ps's own selection would not do: "aux" selects every process whatever -p says)
    const r = Bun.spawnSync(["ps", ...psArgs], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new BunkerError(`ps ${psArgs.join(" ")} failed: ${r.stderr.toString().trim().split("\n")[0]}`);
    const [header, ...rows] = r.stdout.toString().split("\n").filter((l) => l.trim() !== "");
    const pidColumn = header.trim().split(/\s+/).indexOf("PID");
    if (pidColumn < 0) throw new BunkerError(`ps ${psArgs.join(" ")} shows no PID column: add one (-o pid,...) so bunker can pick the container's processes`);
    const pids = new Set(containerPids(state.Pid).map(String));
    const mine = rows.filter((row) => pids.has(row.trim().split(/\s+/)[pidColumn]));
    process.stdout.write(`${[header, ...mine].join("\n")}\n`);
  },
});
