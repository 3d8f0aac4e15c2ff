import { defineCommand } from "citty";
import { copyIn, copyOut, getContainer, splitCpArg } from "../../container";
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
    if (from) await copyOut(await getContainer(from.container), from.path, args.dest);
    else await copyIn(await getContainer(to!.container), args.src, to!.path);
  },
});
