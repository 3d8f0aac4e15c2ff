import { defineCommand } from "citty";
import { loadArchive } from "../../image/archive";

export default defineCommand({
  meta: { name: "load", description: "Load images from a docker-save archive or an OCI layout (tar or directory)" },
  args: {
    input: { type: "string", alias: "i", description: "Read from this file or directory instead of stdin" },
    quiet: { type: "boolean", alias: "q", description: "Suppress progress output" },
  },
  async run({ args }) {
    const lines = await loadArchive(args.input ?? "-");
    process.stdout.write(`${lines.join("\n")}\n`);
  },
});
