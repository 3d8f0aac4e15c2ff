// Exploded root filesystems for `run --rootfs` tests, unpacked from the shared images with tar as
// the test user (owners are not kept: every file belongs to the user, container root inside).
import { afterAll } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bunkerSandbox, imagesSrc, type Sandbox } from "./bunker";

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

/**
 * What a `run --rootfs` test file starts with: a private store and a fresh busybox rootfs, made
 * now and removed after the file's last test.
 */
export function rootfsSandbox(): { sb: Sandbox; rootfs: string } {
  const sb = bunkerSandbox();
  const rootfs = busyboxRootfs();
  afterAll(() => {
    sb.cleanup();
    rmSync(dirname(rootfs), { recursive: true, force: true });
  });
  return { sb, rootfs };
}

/** A fresh Alpine minirootfs in a new temp dir. */
export function alpineRootfs(): string {
  const dir = join(mkdtempSync(join(tmpdir(), "bunker-rootfs-")), "alpine");
  untar(join(imagesSrc, "alpine-3.20.3-x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz"), dir);
  return dir;
}
