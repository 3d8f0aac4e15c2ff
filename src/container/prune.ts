// image prune and system prune: what no container uses any more. Which images containers use is
// known here (containers refer to images), so the image side of pruning lives with containers.
import { BunkerError } from "../errors";
import { pruneContainers, rmContainer } from "./lifecycle";
import { listContainers } from "./records";

export interface ImagePruneOutcome {
  untagged: string[];
  deleted: string[];
}

/** docker image prune [-a]: dangling (untagged) images, or with all every image no container uses. */
export async function pruneImages(all: boolean): Promise<ImagePruneOutcome> {
  const { listImageRecords, removeImage, tagsOf } = await import("../store/images");
  const used = new Set((await listContainers()).map((c) => c.Image));
  const out: ImagePruneOutcome = { untagged: [], deleted: [] };
  for (const rec of listImageRecords()) {
    const id = rec.id; // sha256:<config digest>, as a container's Image
    if (used.has(id)) continue;
    if (!all && tagsOf(id).length > 0) continue;
    try {
      // force: several tags naming it are no reason to keep an unused image (containers checked above)
      const r = await removeImage(id, true);
      out.untagged.push(...r.untagged);
      out.deleted.push(...r.deleted);
    } catch (e) {
      if (!(e instanceof BunkerError)) throw e; // removed meanwhile by another command
    }
  }
  return out;
}

/** Kills and removes every container, running ones included (system reset). */
export async function removeAllContainers(): Promise<void> {
  await Promise.all((await listContainers()).map((rec) => rmContainer(rec, true)));
}

/** docker system prune [-a] [--volumes]: stopped containers, then unused images (and volumes). */
export async function systemPrune(o: { all: boolean; volumes: boolean }) {
  const containers = await pruneContainers();
  const images = await pruneImages(o.all);
  let volumes: string[] = [];
  if (o.volumes) volumes = (await (await import("../volume")).pruneVolumes(false)).removed;
  return { containers, images, volumes };
}
