import { defineCommand } from "citty";
import { BunkerError } from "../../errors";
import { exitCodeOf, runChecks } from "../../doctor";
import { printJson } from "../output";

const MARK = { ok: "ok  ", warn: "warn", fail: "FAIL" } as const;

export default defineCommand({
  meta: { name: "doctor", description: "Check that this host can run rootless containers, and say how to fix what's missing" },
  args: { format: { type: "string", alias: "f", description: "Output format: json" } },
  async run({ args }) {
    if (args.format !== undefined && args.format !== "json") throw new BunkerError(`unknown --format "${args.format}": use json`);
    const checks = await runChecks();
    const code = exitCodeOf(checks);
    if (args.format === "json") printJson({ ok: code === 0, checks });
    else {
      const width = Math.max(...checks.map((c) => c.name.length));
      const lines = checks.flatMap((c) => [
        `${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.message}`,
        ...(c.fix && c.status !== "ok" ? [`      ${"".padEnd(width)}  fix: ${c.fix}`] : []),
      ]);
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    process.exitCode = code;
  },
});
