import { defineCommand } from "citty";
import { BunkerError } from "../../errors";
import { binarySize, humanSize, printTable } from "../output";

export default defineCommand({
  meta: { name: "stats", description: "Show containers' CPU, memory, pids and block I/O usage" },
  args: {
    // citty reads --no-stream as the negation of --stream
    stream: { type: "boolean", default: true, description: "Keep printing readings (--no-stream: print one and exit)" },
    all: { type: "boolean", alias: "a", description: "Show all containers (default: running ones)" },
    format: { type: "string", description: "Output format: table (default) or json" },
    names: { type: "positional", required: false, description: "Containers (default: all running)" },
  },
  async run({ args }) {
    const format = args.format ?? "table";
    if (format !== "table" && format !== "json") throw new BunkerError(`unknown --format "${format}" for stats: use table or json`);
    const { collectStats } = await import("../../cgroup/containers");
    const names = (args._ as string[]) ?? [];
    const print = (rows: Awaited<ReturnType<typeof collectStats>>) => {
      if (format === "json") {
        for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      printTable(
        ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
        rows.map((r) => [r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs]),
      );
    };
    const opts = { names, all: args.all === true, humanSize, binarySize };
    if (args.stream === false) return print(await collectStats(opts));
    // Streaming: a fresh reading every second until interrupted, redrawn in place on a terminal.
    for (;;) {
      const began = Date.now();
      const rows = await collectStats(opts);
      // a reading measures CPU over a second; with nothing running, wait that second anyway
      await Bun.sleep(Math.max(0, 1000 - (Date.now() - began)));
      if (process.stdout.isTTY) process.stdout.write("\x1b[2J\x1b[H");
      print(rows);
    }
  },
});
