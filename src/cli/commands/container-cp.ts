// Hidden: `bunker container-cp ROOT REQUEST`, a `bunker cp` run by cp itself in a container's user
// namespace, for a root only processes in there may use (src/container/cp.ts, copyWithRoot).
import { defineCommand } from "citty";
import { copyAtRoot, type CpRequest } from "../../container/cp";

export default defineCommand({
  meta: { name: "container-cp", description: "internal: a cp on a container's root, run in its user namespace" },
  args: {
    root: { type: "positional", required: true },
    request: { type: "positional", required: true },
  },
  run({ args }) {
    copyAtRoot(args.root, JSON.parse(args.request) as CpRequest);
  },
});
