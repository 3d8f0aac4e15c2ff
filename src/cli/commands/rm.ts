import { defineCommand } from "citty";
import { type ContainerRecord, getContainer, rmContainer } from "../../container";
import { BunkerError } from "../../errors";

/** rm -v: the container's anonymous volumes go with it; named ones stay (docker). */
async function removeAnonymousVolumesOf(rec: ContainerRecord): Promise<void> {
  const names = rec.Mounts.filter((m) => m.Type === "volume" && m.Name).map((m) => m.Name!);
  if (names.length === 0) return;
  const { listVolumes, removeVolume } = await import("../../volume");
  const anonymous = new Set(listVolumes().filter((v) => v.Anonymous).map((v) => v.Name));
  for (const n of names) if (anonymous.has(n)) await removeVolume(n, true);
}

export default defineCommand({
  meta: { name: "rm", description: "Remove one or more containers" },
  args: {
    container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true },
    force: { type: "boolean", alias: "f", description: "Force the removal of a running container (uses SIGKILL)" },
    volumes: { type: "boolean", alias: "v", description: "Remove anonymous volumes associated with the container" },
  },
  async run({ args }) {
    const failures: string[] = [];
    for (const name of args._ as string[]) {
      try {
        const rec = await getContainer(name);
        await rmContainer(rec, Boolean(args.force));
        if (args.volumes) await removeAnonymousVolumesOf(rec);
        process.stdout.write(`${name}\n`);
      } catch (e) {
        // docker rm -f of a missing container is not an error
        if (args.force && e instanceof BunkerError && e.message.startsWith("no such container")) continue;
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    if (failures.length) throw new BunkerError(failures.join("; "));
  },
});
