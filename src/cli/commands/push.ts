import { writeFileSync } from "node:fs";
import { defineCommand } from "citty";
import { pushImage } from "../../image/push";

export default defineCommand({
  meta: { name: "push", description: "Upload an image to a registry" },
  args: {
    image: { type: "positional", description: "IMAGE in the store (name or id)", required: true },
    destination: { type: "positional", description: "Where to push it (default: IMAGE's own name)", required: false },
    quiet: { type: "boolean", alias: "q", description: "Suppress progress output" },
    authfile: { type: "string", description: "Credentials file (default $REGISTRY_AUTH_FILE, then docker's config.json)" },
    "digestfile": { type: "string", description: "Write the pushed manifest's digest to this file" },
    "tls-verify": { type: "string", description: "Verify the registry's TLS certificate (default true)" },
  },
  async run({ args }) {
    const tlsVerify = args["tls-verify"] === undefined ? undefined : !/^(false|0|no)$/i.test(args["tls-verify"]);
    const r = await pushImage(args.image, args.destination, { tlsVerify, authFile: args.authfile, quiet: Boolean(args.quiet) });
    if (args.digestfile) writeFileSync(args.digestfile, r.digest);
    // docker's last line of a push, and the one scripts read.
    process.stdout.write(`${r.reference.slice(r.reference.lastIndexOf(":") + 1)}: digest: ${r.digest} size: ${r.size}\n`);
  },
});
