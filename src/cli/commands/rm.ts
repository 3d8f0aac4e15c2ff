import { defineCommand } from "citty";
import { type ContainerRecord, getContainer, rmContainer } from "../../container";
import { BunkerError } from "../../errors";
import { forEachName } from "../each-name";

/** rm -v: the container's anonymous volumes go with it; named ones stay (docker). */
async function removeAnonymousVolumesOf(rec: ContainerRecord): Promise<void> {
  const names = rec.Mounts.filter((m) => m.Type === "volume" && m.Name).map((m) => m.Name!);
  if (names.length > 0) await (await import("../../volume")).removeIfAnonymous(names);
}

export default defineCommand({
  meta: { name: "rm", description: "Remove one or more containers" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    force: { type: "boolean", alias: "f", description: "Force the removal of a running container (uses SIGKILL)" },
    volumes: { type: "boolean", alias: "v", description: "Remove anonymous volumes associated with the container" },
  },
  async run({ args }) {
    await forEachName(
      args._ as string[],
      async (name) => {
        const rec = await getContainer(name);
        await rmContainer(rec, Boolean(args.force));
        if (args.volumes) await removeAnonymousVolumesOf(rec);
      },
      // docker rm -f of a missing container is not an error
      { ignore: (e) => Boolean(args.force) && e instanceof BunkerError && e.message.startsWith("no such container") },
    );
  },
});
