import { defineCommand } from "citty";
import { pullImage } from "../../image/pull";
import { authfileArg, tlsVerifyArg, tlsVerifyOf } from "../registry-flags";

export default defineCommand({
  meta: { name: "pull", description: "Download an image from a registry" },
  args: {
    image: { type: "positional", description: "NAME[:TAG|@DIGEST]", required: true },
    quiet: { type: "boolean", alias: "q", description: "Suppress progress output" },
    platform: { type: "string", description: "Pick this platform (os/arch[/variant]) from a multi-platform image" },
    "tls-verify": tlsVerifyArg,
    authfile: authfileArg,
  },
  async run({ args }) {
    const result = await pullImage(args.image, {
      platform: args.platform,
      tlsVerify: tlsVerifyOf(args["tls-verify"]),
      authFile: args.authfile,
      quiet: Boolean(args.quiet),
    });
    process.stdout.write(`${args.quiet ? result.id : result.reference}\n`);
  },
});
