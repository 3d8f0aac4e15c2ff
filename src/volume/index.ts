// Mounts and volumes, for the runtime and the CLI. The runtime's use:
//   const specs = parseMountFlags({ volumes, mounts, tmpfs });   // validates; errors are one line
//   prepareVolumes(specs);                                       // creates named/anonymous volumes
//   kernelMountOptions(spec.options)                             // → mount(2) flags + data
//   removeAnonymousVolumes(specs)                                // after `run --rm`
export { type KernelMountOptions, kernelMountOptions, MS } from "./mountflags";
export { type MountFlags, type MountSpec, parseMountFlags, parseSize } from "./spec";
export { createVolume, filterVolumes, getVolume, inspectVolume, listVolumes, pruneVolumes, removeVolume, type VolumeInspect, type VolumeRecord } from "./store";
import type { MountSpec } from "./spec";
import { createVolume, removeVolume } from "./store";

/** Creates, on first use, every volume the specs name (docker creates named volumes implicitly). */
export function prepareVolumes(specs: MountSpec[]): void {
  for (const s of specs) if (s.volumeName) createVolume(s.volumeName, {}, s.anonymous === true);
}

/** `run --rm` removes the container's anonymous volumes, as docker does; named ones stay. */
export async function removeAnonymousVolumes(specs: MountSpec[]): Promise<void> {
  for (const s of specs) if (s.anonymous && s.volumeName) await removeVolume(s.volumeName, true);
}
