// The VM lane: boots Debian's kernel under qemu with bunker, busybox, a test rootfs and image, and
// the guest checks (tests/vm/guest), and returns each check's result line.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunkerBin, imagesSrc } from "../support/bunker";
import { buildInitramfs, findKernel } from "./initramfs";
import { bootVm, qemuPath } from "./qemu";

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

/** A systemd user manager and the user's D-Bus, for the transient-scope checks (systemd-scope.sh). */
const SYSTEMD_PROGRAMS = ["/lib/systemd/systemd", "/usr/bin/busctl", "/usr/bin/dbus-daemon"];
const DBUS_SESSION_CONF = "/usr/share/dbus-1/session.conf";

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
    readFileSync(path, { flag: "r" }).subarray(0, 1);
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

export async function runVmLane(opts: { timeoutMs: number; onLine?: (line: string) => void }): Promise<VmLaneResult> {
  const kernel = findKernel();
  if ("missing" in kernel) throw new Error(kernel.missing);
  for (const need of [...SYSTEMD_PROGRAMS, DBUS_SESSION_CONF])
    if (!readable(need)) throw new Error(`the VM lane needs ${need} on the host (Debian: systemd, dbus-daemon; scripts/test.sh installs them)`);
  const work = mkdtempSync(join(tmpdir(), "bunker-vm-"));
  try {
    const rootfs = join(work, "rootfs");
    unpackBusybox(rootfs);
    const files: Record<string, { host: string; mode?: number }> = {};
    for (const f of readdirSync(GUEST_DIR)) if (f !== "init.sh") files[`vmtests/${f}`] = { host: join(GUEST_DIR, f), mode: 0o644 };
    files[DBUS_SESSION_CONF.slice(1)] = { host: DBUS_SESSION_CONF, mode: 0o644 };
    const initrd = join(work, "initrd.cpio");
    buildInitramfs({
      out: initrd,
      kernel,
      bunkerBin,
      busybox: readable("/usr/bin/busybox") ? "/usr/bin/busybox" : "/bin/busybox",
      init: readFileSync(join(GUEST_DIR, "init.sh"), "utf8"),
      files,
      trees: { "rootfs/busybox": { host: rootfs, uid: 1000 }, "images/busybox": { host: BUSYBOX_LAYOUT, uid: 0 } },
      programs: SYSTEMD_PROGRAMS,
    });
    const boot = await bootVm({ vmlinuz: kernel.vmlinuz, initrd, timeoutMs: opts.timeoutMs, onLine: opts.onLine });
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
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
