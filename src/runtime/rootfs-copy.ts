// The copy fallback of the container's root (src/runtime/rootfs.ts), run by `bunker rootfs-copy`
// in the container's user namespace. Apart from rootfs.ts so that a run, which never copies,
// doesn't load node:fs for it.
import {
  chmodSync,
  copyFileSync,
  constants as fsConstants,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  type Stats,
  symlinkSync,
} from "node:fs";
import { join } from "node:path";
import { BunkerError, errnoCode } from "../errors";

// The copy fallback builds the merged tree overlayfs would show, top layer first: in each
// directory the topmost layer that has a name decides it (a whiteout, a 0/0 character device,
// removes it; a non-directory hides what lower layers have there), and a directory merges the
// same directory of the layers below it down to the first one that is opaque (user.overlay.opaque,
// as the unpacker records .wh..wh..opq) or isn't a directory. It runs as root of the container's
// user namespace (`bunker rootfs-copy`, so owners are kept) and never follows a symlink: layers
// are read only through directories lstat'ed as such, and every entry is created anew, by name,
// in a directory this copy made, with O_EXCL. The tree is built beside its final name and renamed
// into place when complete, so an interrupted copy is redone, never used half-made.

const OPAQUE_XATTR = "user.overlay.opaque";
/** overlayfs's own attributes, which describe a layer and have no place in a merged tree */
const OVERLAY_XATTR_PREFIXES = ["user.overlay.", "trusted.overlay."];

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

function isOpaque(dir: string, getXattr: (path: string, name: string) => Buffer | undefined): boolean {
  return getXattr(dir, OPAQUE_XATTR)?.toString() === "y";
}

/** Copies the layers' merged tree (lowerDirsTopFirst, as overlayfs's lowerdir) into dest, which must not exist. */
export async function copyLayers(dest: string, lowerDirsTopFirst: string[]): Promise<void> {
  const { getXattr, listXattrs, setXattr } = await import("../../native/ffi");
  const { log } = await import("../log");
  const partial = `${dest}.partial`;
  rmSync(partial, { recursive: true, force: true });
  /** dest path of the first copy of each multiply-linked file, by its layer inode */
  const copiedInodes = new Map<string, string>();

  const setAttributes = (path: string, from: string, st: Stats) => {
    try {
      lchownSync(path, st.uid, st.gid);
    } catch (e) {
      // an id outside this namespace's mapping (a single-id one): overlayfs would show it as nobody
      if (errnoCode(e) !== "EINVAL") throw e;
    }
    for (const name of listXattrs(from))
      if (!OVERLAY_XATTR_PREFIXES.some((p) => name.startsWith(p))) {
        const value = getXattr(from, name);
        if (value && !setXattr(path, name, value)) log.debug(`rootfs copy: ${path}: could not set ${name}`);
      }
    // chown dropped set-id bits and capabilities are set: the mode goes after both
    if (!st.isSymbolicLink()) chmodSync(path, st.mode & 0o7777);
    lutimesSync(path, st.atime, st.mtime);
  };

  const copyEntry = (from: string, to: string, st: Stats) => {
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else if (st.isFile()) {
      const inode = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? copiedInodes.get(inode) : undefined;
      if (first) return void linkSync(first, to); // a hard link: its attributes are the first's
      copyFileSync(from, to, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE);
      if (st.nlink > 1) copiedInodes.set(inode, to);
    } else if (st.isFIFO()) {
      const r = Bun.spawnSync(["mkfifo", to], { stderr: "pipe" });
      if (r.exitCode !== 0) throw new BunkerError(`copying the image: mkfifo ${to}: ${r.stderr.toString().trim()}`);
    } else return void log.debug(`rootfs copy: skipping ${from}: not a file, directory, symlink or fifo`);
    setAttributes(to, from, st);
  };

  /** Fills destDir with the merge of rel in layers (top first), each of which has rel as a directory. */
  const mergeDir = (destDir: string, rel: string, layers: string[]) => {
    const decided = new Set<string>();
    for (const [i, layer] of layers.entries())
      for (const name of readdirSync(join(layer, rel))) {
        if (decided.has(name)) continue;
        decided.add(name);
        const from = join(layer, rel, name);
        const to = join(destDir, name);
        const st = lstatSync(from);
        if (isWhiteout(st)) continue;
        if (!st.isDirectory()) {
          copyEntry(from, to, st);
          continue;
        }
        const merged = [layer];
        if (!isOpaque(from, getXattr))
          for (const lower of layers.slice(i + 1)) {
            const below = lstatSync(join(lower, rel, name), { throwIfNoEntry: false });
            if (!below) continue;
            if (!below.isDirectory()) break; // a whiteout or a non-directory hides everything lower
            merged.push(lower);
            if (isOpaque(join(lower, rel, name), getXattr)) break;
          }
        mkdirSync(to, { mode: 0o700 });
        mergeDir(to, join(rel, name), merged);
        setAttributes(to, from, st);
      }
  };

  mkdirSync(partial, { mode: 0o700 });
  const roots = lowerDirsTopFirst.filter((l) => lstatSync(l).isDirectory());
  mergeDir(partial, "", roots);
  if (roots.length) setAttributes(partial, roots[0], lstatSync(roots[0]));
  renameSync(partial, dest);
}
