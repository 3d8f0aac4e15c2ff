import { defineCommand } from "citty";
import { pullImage } from "../../image/pull";

export default defineCommand({
  meta: { name: "pull", description: "Download an image from a registry" },
  args: {
    image: { type: "positional", description: "NAME[:TAG|@DIGEST]", required: true },
    quiet: { type: "boolean", alias: "q", description: "Suppress progress output" },
    platform: { type: "string", description: "Pick this platform (os/arch[/variant]) from a multi-platform image" },
    "tls-verify": { type: "string", description: "Verify the registry's TLS certificate (default true)" },
  },
  async run({ args }) {
    const tlsVerify = args["tls-verify"] === undefined ? undefined : !/^(false|0|no)$/i.test(args["tls-verify"]);
    const result = await pullImage(args.image, { platform: args.platform, tlsVerify, quiet: Boolean(args.quiet) });
    process.stdout.write(`${args.quiet ? result.id : result.reference}\n`);
  },
});
