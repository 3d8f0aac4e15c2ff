// Exploded root filesystems for `run --rootfs` tests, unpacked from the shared images with tar as
// the test user (owners are not kept: every file belongs to the user, container root inside).
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imagesSrc } from "./bunker";

function untar(archive: string, into: string): void {
  mkdirSync(into, { recursive: true });
  const r = Bun.spawnSync(["tar", "xzf", archive, "-C", into, "--no-same-owner", "--no-same-permissions"], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tar ${archive}: ${r.stderr.toString()}`);
}

/** The single layer of an OCI layout with one layer (the busybox images). */
function onlyLayer(layout: string): string {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  const manifest = JSON.parse(readFileSync(join(layout, "blobs/sha256", index.manifests[0].digest.slice(7)), "utf8"));
  return join(layout, "blobs/sha256", manifest.layers[0].digest.slice(7));
}

/** A fresh busybox (musl) root filesystem in a new temp dir. */
export function busyboxRootfs(): string {
  const dir = join(mkdtempSync(join(tmpdir(), "bunker-rootfs-")), "busybox");
  untar(onlyLayer(join(imagesSrc, "busybox-1.38.0-musl-amd64-oci")), dir);
  return dir;
}

/** A fresh Alpine minirootfs in a new temp dir. */
export function alpineRootfs(): string {
  const dir = join(mkdtempSync(join(tmpdir(), "bunker-rootfs-")), "alpine");
  untar(join(imagesSrc, "alpine-3.20.3-x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz"), dir);
  return dir;
}
