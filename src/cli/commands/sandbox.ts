// `bunker sandbox`: parses its own argv (everything after the flags belongs to the command).
import type { RawCommand } from "../registry";

const command: RawCommand = {
  raw: true,
  usage: "bunker sandbox [OPTIONS] [--] COMMAND [ARG...]",
  async run(argv) {
    const { sandboxMain } = await import("../../sandbox");
    process.exitCode = await sandboxMain(argv);
  },
};
export default command;
