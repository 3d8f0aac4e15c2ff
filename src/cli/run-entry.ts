// `bunker run`'s bundle (src/cli/main.ts picks it): the runtime and what it needs, nothing else.
import { lingerAfterExit } from "../runtime/linger";
import { runMain } from "../runtime/run";
import { mark } from "../runtime/trace";
import { loadBundle } from "./bundles";

/** `bunker run ARGS`: the exit code, the container's or bunker's own. */
export async function main(args: string[]): Promise<number> {
  mark("loaded");
  const code = await runMain(args, async () => loadBundle("pull-entry").ensureImage);
  lingerAfterExit();
  return code;
}
