// Whole-store operations: `system reset` and `system df`.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log";
import { runtimeRoot, storeRoot } from "../paths";
import { removeTree } from "../userns/helper-process";
import { listImageRecords } from "./images";
import { store } from "./layout";

/**
 * Removes the whole store and the runtime dir (files owned by subordinate ids included; the
 * command has asked first). beforeRemove runs first: the caller stops what lives on the store
 * (detached containers, which would otherwise outlive their records).
 */
export async function resetStore(beforeRemove?: () => Promise<void>): Promise<void> {
  await beforeRemove?.();
  for (const dir of [storeRoot(), runtimeRoot()]) {
    if (!existsSync(dir)) continue;
    await removeTree(dir);
    log.debug(`removed ${dir}`);
  }
}

function countDir(dir: string): number {
  try {
    // dot entries are bookkeeping (.locks, .names, .removing-*), not containers or volumes
    return readdirSync(dir).filter((n) => !n.startsWith(".")).length;
  } catch {
    return 0;
  }
}

export interface UsageRow {
  Type: string;
  Total: number;
  Size: number;
}

export function storeUsage(): UsageRow[] {
  const images = listImageRecords();
  return [
    { Type: "Images", Total: images.length, Size: images.reduce((s, r) => s + r.size, 0) },
    { Type: "Containers", Total: countDir(store.containers()), Size: 0 },
    { Type: "Local Volumes", Total: countDir(join(storeRoot(), "volumes")), Size: 0 },
  ];
}
