// `bunker run`: parses its own argv (everything after IMAGE belongs to the container).
import type { RawCommand } from "../registry";

const command: RawCommand = {
  raw: true,
  usage: "bunker run [OPTIONS] IMAGE [COMMAND] [ARG...]",
  async run(argv) {
    const { runMain } = await import("../../runtime/run");
    process.exitCode = await runMain(argv, async () => (await import("../../image/pull")).ensureImage);
  },
};
export default command;
