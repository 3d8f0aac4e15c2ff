// Mounts and volumes, for the runtime and the CLI. The runtime's use:
//   const specs = parseMountFlags({ volumes, mounts, tmpfs });   // validates; errors are one line
//   prepareVolumes(specs);                                       // creates named/anonymous volumes
//   kernelMountOptions(spec.options)                             // → mount(2) flags + data
//   removeAnonymousVolumes(specs)                                // after `run --rm`
//   removeIfAnonymous(names)                                     // `rm -v`, a detached --rm container
export { type KernelMountOptions, kernelMountOptions, MS } from "./mountflags";
export { type MountFlags, type MountSpec, parseMountFlags, parseSize, parseVolumesFrom, splitVolumeFlag, volumeFlagPropagation, withVolumesFrom } from "./spec";
export { createVolume, filterVolumes, getVolume, inspectVolume, listVolumes, pruneVolumes, readVolume, removeVolume, type VolumeInspect, type VolumeRecord } from "./store";
import type { MountSpec } from "./spec";
import { containersUsing, createVolume, readVolume, removeVolume } from "./store";

/** Creates, on first use, every volume the specs name (docker creates named volumes implicitly). */
export function prepareVolumes(specs: MountSpec[]): void {
  for (const s of specs) if (s.volumeName) createVolume(s.volumeName, {}, s.anonymous === true);
}

/** `run --rm` removes the container's anonymous volumes, as docker does; named ones stay. */
export async function removeAnonymousVolumes(specs: MountSpec[]): Promise<void> {
  const anonymous: string[] = [];
  for (const s of specs) if (s.anonymous && s.volumeName) anonymous.push(s.volumeName);
  await removeIfAnonymous(anonymous);
}

/**
 * Removes those of the named volumes that are anonymous (made by `-v /ctr`) and that no container
 * uses any more, for `rm -v` and `--rm`: pass the Name of the removed container's record's Mounts
 * of Type "volume". One that another container still mounts (--volumes-from) stays, as in docker.
 */
export async function removeIfAnonymous(names: string[]): Promise<void> {
  const anonymous = names.filter((name) => readVolume(name)?.Anonymous);
  if (anonymous.length === 0) return;
  for (const name of anonymous) if ((await containersUsing(name)).length === 0) await removeVolume(name, true);
}
