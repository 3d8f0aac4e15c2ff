// The VM lane: boots Debian's kernel under qemu with bunker, busybox, a test rootfs and image, and
// the guest checks (tests/vm/guest), and returns each check's result line.
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunkerBin, imagesSrc } from "../support/bunker";
import { buildInitramfs, findKernel, type InitramfsParts } from "./initramfs";
import { type BootOptions, bootVm, qemuPath } from "./qemu";

export interface VmCheck {
  pass: boolean;
  detail: string;
}

export interface VmLaneResult {
  checks: Map<string, VmCheck>;
  /** the guest ran every script to the end */
  finished: boolean;
  timedOut: boolean;
  /** the console's last lines, for failure messages */
  tail: string;
}

const GUEST_DIR = join(import.meta.dir, "guest");
const BUSYBOX_LAYOUT = join(imagesSrc, "busybox-1.38.0-musl-amd64-oci");

const SYSTEMD_DIR = join(import.meta.dir, "systemd");
/** What the systemd guest boots from the host's root: systemd, logind's PAM module, the user's D-Bus. */
const SYSTEMD_PROGRAMS = [
  "/lib/systemd/systemd",
  "/lib/systemd/systemd-logind",
  "/usr/bin/busctl",
  "/usr/bin/dbus-daemon",
  "/usr/lib/systemd/user/dbus.socket",
  "/lib/x86_64-linux-gnu/security/pam_systemd.so",
];

/** Why the lane can't run on this machine (then it is skipped, loudly), or undefined. */
export function vmLaneUnavailable(): string | undefined {
  if (!qemuPath()) return "qemu-system-x86_64 is not installed (Debian: qemu-system-x86)";
  const k = findKernel();
  if ("missing" in k) return k.missing;
  for (const b of ["/usr/bin/busybox", "/bin/busybox"]) if (readable(b)) return undefined;
  return "busybox is not installed (Debian: busybox-static)";
}

function readable(path: string): boolean {
  try {
    closeSync(openSync(path, "r"));
    return true;
  } catch {
    return false;
  }
}

/** The busybox image's single layer, unpacked as the current user, for --rootfs. */
function unpackBusybox(into: string): void {
  const index = JSON.parse(readFileSync(join(BUSYBOX_LAYOUT, "index.json"), "utf8"));
  const blob = (d: string) => join(BUSYBOX_LAYOUT, "blobs/sha256", d.replace("sha256:", ""));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
  mkdirSync(into, { recursive: true });
  for (const layer of manifest.layers) {
    const r = Bun.spawnSync(["tar", "-xzf", blob(layer.digest), "-C", into, "--no-same-owner", "--no-same-permissions"], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`unpacking the busybox layer failed: ${r.stderr}`);
  }
}

/** The console's VMTEST lines as checks, and whether the guest got to the end. */
function results(boot: { output: string; timedOut: boolean }): VmLaneResult {
  const checks = new Map<string, VmCheck>();
  for (const line of boot.output.split("\n")) {
    const m = /^VMTEST (\S+) (PASS|FAIL) ?(.*)$/.exec(line.trim());
    if (m) checks.set(m[1], { pass: m[2] === "PASS", detail: m[3] });
  }
  return {
    checks,
    finished: /^VMTEST-END$/m.test(boot.output),
    timedOut: boot.timedOut,
    tail: boot.output.trim().split("\n").slice(-40).join("\n"),
  };
}

/** The guest scripts (tests/vm/guest) a guest runs, as initramfs files under `at`. */
function guestScripts(names: string[], at: string): Record<string, { host: string; mode: number }> {
  return Object.fromEntries(names.map((f) => [`${at}/${f}`, { host: join(GUEST_DIR, f), mode: 0o644 }]));
}

const busyboxPath = () => (readable("/usr/bin/busybox") ? "/usr/bin/busybox" : "/bin/busybox");

export interface LaneOptions {
  timeoutMs: number;
  /** each console line as it arrives */
  onLine?: (line: string) => void;
}

/**
 * Builds a guest's initramfs in a temp dir, with the busybox image's rootfs unpacked there for
 * `build` to put in, boots it and reads its checks from the console.
 */
async function bootGuest(
  name: string,
  opts: LaneOptions,
  build: (rootfs: string) => { parts: Omit<InitramfsParts, "out" | "kernel" | "busybox">; boot?: Pick<BootOptions, "append" | "extraArgs"> },
): Promise<VmLaneResult> {
  const kernel = findKernel();
  if ("missing" in kernel) throw new Error(kernel.missing);
  const work = mkdtempSync(join(tmpdir(), `bunker-vm-${name}-`));
  try {
    const rootfs = join(work, "rootfs");
    unpackBusybox(rootfs);
    const initrd = join(work, "initrd.cpio");
    const { parts, boot } = build(rootfs);
    buildInitramfs({ out: initrd, kernel, busybox: busyboxPath(), ...parts });
    return results(await bootVm({ vmlinuz: kernel.vmlinuz, initrd, timeoutMs: opts.timeoutMs, onLine: opts.onLine, ...boot }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The busybox guest: PID 1 is tests/vm/guest/init.sh, which mounts cgroup2 and delegates a subtree
 * itself; the delegated and undelegated checks.
 */
export async function runVmLane(opts: LaneOptions): Promise<VmLaneResult> {
  return bootGuest("busybox", opts, (rootfs) => ({
    parts: {
      bunkerBin,
      init: readFileSync(join(GUEST_DIR, "init.sh"), "utf8"),
      files: guestScripts(["lib.sh", "delegated.sh", "undelegated.sh"], "vmtests"),
      trees: { "rootfs/busybox": { host: rootfs, uid: 1000 }, "images/busybox": { host: BUSYBOX_LAYOUT, uid: 0 } },
    },
  }));
}

/** The systemd guest's test user (not the host's: its files come from the initramfs). */
const SYSTEMD_GUEST_UID = 1500;
/** Modules for the host root over virtio-9p with a tmpfs overlay, in load order. */
const SYSTEMD_GUEST_MODULES = [
  "kernel/drivers/virtio/virtio_ring.ko",
  "kernel/drivers/virtio/virtio.ko",
  "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
  "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
  "kernel/drivers/virtio/virtio_pci.ko",
  "kernel/fs/netfs/netfs.ko",
  "kernel/fs/fscache/fscache.ko",
  "kernel/net/9p/9pnet.ko",
  "kernel/net/9p/9pnet_virtio.ko",
  "kernel/fs/9p/9p.ko",
  "kernel/fs/overlayfs/overlay.ko",
];

/**
 * The systemd guest: PID 1 is the host's own /lib/systemd/systemd, booted from the host's root
 * filesystem (read-only over virtio-9p, a tmpfs overlay on top; tests/vm/systemd/init.sh builds it).
 * logind starts user@UID.service with the user's D-Bus, and the transient-scope checks
 * (tests/vm/guest/systemd-scope.sh) run as that user in a logind session scope that is root's.
 */
export async function runSystemdVmLane(opts: LaneOptions): Promise<VmLaneResult> {
  for (const need of [...SYSTEMD_PROGRAMS, bunkerBin])
    if (!readable(need)) throw new Error(`the systemd VM guest needs ${need} readable on the host (Debian: systemd, dbus-user-session, libpam-systemd)`);
  return bootGuest("systemd", opts, (rootfs) => ({
    parts: {
      modules: SYSTEMD_GUEST_MODULES,
      init: readFileSync(join(SYSTEMD_DIR, "init.sh"), "utf8"),
      files: {
        ...guestScripts(["lib.sh", "systemd-scope.sh"], "vmfiles/vmtests"),
        "vmfiles/uid": `${SYSTEMD_GUEST_UID}\n`,
        // the guest binds the host's file: a path the guest sees through the 9p share
        "vmfiles/bunker-path": `${realpathSync(bunkerBin)}\n`,
      },
      trees: { "vmfiles/rootfs/busybox": { host: rootfs, uid: SYSTEMD_GUEST_UID }, "vmfiles/images/busybox": { host: BUSYBOX_LAYOUT, uid: 0 } },
    },
    boot: {
      append: "console=ttyS0 panic=-1 loglevel=3 rdinit=/init systemd.unit=bunker-vmtest.target systemd.show_status=error",
      // the host's root, read-only; qemu runs as the suite's user, so the guest sees what it may read
      extraArgs: ["-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"],
    },
  }));
}
