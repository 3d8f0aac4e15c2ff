import { defineCommand } from "citty";
import { copyWithRoot, getContainer, splitCpArg } from "../../container";
import { BunkerError } from "../../errors";

export default defineCommand({
  meta: { name: "cp", description: "Copy files between a container and the host (CONTAINER:PATH)" },
  args: {
    src: { type: "positional", description: "SRC (CONTAINER:PATH or a host path)", required: true },
    dest: { type: "positional", description: "DEST (CONTAINER:PATH or a host path)", required: true },
  },
  async run({ args }) {
    const from = splitCpArg(args.src);
    const to = splitCpArg(args.dest);
    if (from && to) throw new BunkerError("cp: copying between containers is not supported: copy to the host first");
    if (!from && !to) throw new BunkerError("cp: one of SRC and DEST must be CONTAINER:PATH");
    if (args.src === "-" || args.dest === "-") throw new BunkerError("cp: tar streams on stdin/stdout (-) are not supported");
    const rec = await getContainer((from ?? to)!.container);
    // a stopped container's root is put together for the time of the copy
    const { withContainerRoot } = await import("../../runtime/container-root");
    const req = from ? ({ direction: "out", src: from.path, dest: args.dest } as const) : ({ direction: "in", name: rec.Name, src: args.src, dest: to!.path } as const);
    await withContainerRoot(rec, (root) => copyWithRoot(root, req));
  },
});
