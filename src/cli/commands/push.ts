import { writeFileSync } from "node:fs";
import { defineCommand } from "citty";
import { authfileArg, tlsVerifyArg, tlsVerifyOf } from "../registry-flags";
import { pushImage } from "../../image/push";

export default defineCommand({
  meta: { name: "push", description: "Upload an image to a registry" },
  args: {
    image: { type: "positional", description: "IMAGE in the store (name or id)", required: true },
    destination: { type: "positional", description: "Where to push it (default: IMAGE's own name)", required: false },
    quiet: { type: "boolean", alias: "q", description: "Suppress progress output" },
    authfile: authfileArg,
    "digestfile": { type: "string", description: "Write the pushed manifest's digest to this file" },
    "tls-verify": tlsVerifyArg,
  },
  async run({ args }) {
    const r = await pushImage(args.image, args.destination, { tlsVerify: tlsVerifyOf(args["tls-verify"]), authFile: args.authfile, quiet: Boolean(args.quiet) });
    if (args.digestfile) writeFileSync(args.digestfile, r.digest);
    // docker's last line of a push, and the one scripts read.
    process.stdout.write(`${r.reference.slice(r.reference.lastIndexOf(":") + 1)}: digest: ${r.digest} size: ${r.size}\n`);
  },
});
