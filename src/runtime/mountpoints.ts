// The mount points every container needs that an image may lack (/proc, /sys, /dev, and the files
// /etc/hosts, /etc/hostname and /etc/resolv.conf are bound onto): made once per image, as a layer
// of their own above the image's, like docker's "init layer". Without it each container's child
// creates them in its writable layer (copying /etc up into it) and its removal deletes them again:
// ~0.5 ms of every `run --rm`, in directories the store's file system discards synchronously.
import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync, type Stats, utimesSync, writeFileSync } from "../fs";
import { join } from "../posix-path";
import { errnoCode } from "../errors";
import { store, tmpPath } from "../store/layout";

const DIRS = ["proc", "sys", "dev"];
const ETC_FILES = ["hosts", "hostname", "resolv.conf"];

/** An entry of a layer, undefined when absent; a whiteout (0/0 character device) says "deleted". */
function entry(layer: string, rel: string): Stats | "whiteout" | undefined {
  try {
    const st = lstatSync(join(layer, rel));
    return st.isCharacterDevice() && st.rdev === 0 ? "whiteout" : st;
  } catch {
    return undefined;
  }
}

/** The image's top-level entry `name` as overlayfs shows it: the topmost layer that has it decides. */
function topLevel(layersTopFirst: string[], name: string): { st: Stats; layers: string[] } | undefined {
  for (let i = 0; i < layersTopFirst.length; i++) {
    const e = entry(layersTopFirst[i], name);
    if (e === "whiteout") return undefined;
    if (e) {
      // a directory merges with the same directory of the layers below it (while they have one)
      const layers = [layersTopFirst[i]];
      if (e.isDirectory())
        for (const lower of layersTopFirst.slice(i + 1)) {
          const l = entry(lower, name);
          if (l === undefined) continue;
          if (l === "whiteout" || !l.isDirectory()) break;
          layers.push(lower);
        }
      return { st: e, layers };
    }
  }
  return undefined;
}

/** What the layer holds: missing top-level directories, and the /etc files when /etc can take them. */
function missingEntries(layersTopFirst: string[]): { dirs: string[]; etc?: { files: string[]; like?: Stats } } {
  const dirs = DIRS.filter((d) => topLevel(layersTopFirst, d) === undefined);
  const etc = topLevel(layersTopFirst, "etc");
  if (!etc) return { dirs, etc: { files: ETC_FILES } };
  // /etc's attributes come from the topmost layer that has it: ours would take its place, so it
  // copies the image's mode and time, and only where the owner is the same (container root).
  // Opaque directories are not looked at: they can only hide a file, which is then made in the
  // container's own layer, as without this one.
  if (!etc.st.isDirectory() || etc.st.uid !== process.getuid!()) return { dirs };
  const files = ETC_FILES.filter((f) => {
    for (const layer of etc.layers) {
      const e = entry(layer, `etc/${f}`);
      if (e === "whiteout") return true;
      if (e) return false;
    }
    return true;
  });
  return { dirs, etc: files.length ? { files, like: etc.st } : undefined };
}

/**
 * The image's mount-point layer (a directory to put above its layers), made on first use; undefined
 * when the image has them all. Built beside its final name and renamed into place, so concurrent
 * runs agree and an interrupted build is never used.
 */
export function mountpointLayer(imageId: string, layersTopFirst: string[]): string | undefined {
  const final = store.mountpoints(imageId);
  try {
    return lstatSync(final).isDirectory() ? final : undefined;
  } catch {
    // not made yet
  }
  const { dirs, etc } = missingEntries(layersTopFirst);
  if (dirs.length === 0 && !etc) return undefined;
  const tmp = tmpPath("mountpoints");
  try {
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    // modes set explicitly: not the umask's
    for (const d of dirs) {
      mkdirSync(join(tmp, d));
      chmodSync(join(tmp, d), 0o755);
    }
    if (etc) {
      const etcDir = join(tmp, "etc");
      mkdirSync(etcDir);
      chmodSync(etcDir, 0o755);
      for (const f of etc.files) {
        writeFileSync(join(etcDir, f), "");
        chmodSync(join(etcDir, f), 0o644);
      }
      if (etc.like) {
        chmodSync(etcDir, etc.like.mode & 0o7777);
        utimesSync(etcDir, etc.like.atime, etc.like.mtime);
      }
    }
    chmodSync(tmp, 0o755);
    mkdirSync(join(store.root(), "mountpoints"), { recursive: true, mode: 0o700 });
    renameSync(tmp, final);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // another run made it first
    if (errnoCode(e) !== "EEXIST" && errnoCode(e) !== "ENOTEMPTY") throw e;
  }
  return final;
}
