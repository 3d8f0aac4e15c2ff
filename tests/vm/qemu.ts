// Boots the VM lane's kernel + initramfs under qemu (TCG: nested KVM doesn't work on the CI
// machines), with no network, and returns what the guest printed on its serial console.
import { existsSync } from "node:fs";

export const QEMU = "qemu-system-x86_64";

export function qemuPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) if (existsSync(`${dir}/${QEMU}`)) return `${dir}/${QEMU}`;
  return undefined;
}

export interface BootOptions {
  vmlinuz: string;
  initrd: string;
  memoryMB?: number;
  cpus?: number;
  /** the guest is killed after this long; its output so far is returned */
  timeoutMs: number;
  /** each console line as it arrives (for progress on stderr) */
  onLine?: (line: string) => void;
  /** the kernel command line (default: the busybox guest's, init = the initramfs' /init) */
  append?: string;
  /** more qemu arguments (a 9p share) */
  extraArgs?: string[];
}

export interface BootResult {
  output: string;
  exitCode: number | null;
  timedOut: boolean;
}

export async function bootVm(o: BootOptions): Promise<BootResult> {
  const qemu = qemuPath();
  if (!qemu) throw new Error(`${QEMU} not found (install qemu-system-x86)`);
  const proc = Bun.spawn(
    [
      qemu,
      "-accel", "tcg",
      "-cpu", "max",
      "-smp", String(o.cpus ?? 2),
      "-m", String(o.memoryMB ?? 1536),
      "-nographic",
      "-no-reboot",
      "-nic", "none",
      "-kernel", o.vmlinuz,
      "-initrd", o.initrd,
      "-append", o.append ?? "console=ttyS0 panic=-1 loglevel=3 rdinit=/init",
      ...(o.extraArgs ?? []),
    ],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, o.timeoutMs);
  let output = "";
  let partial = "";
  const decoder = new TextDecoder();
  const stderr = new Response(proc.stderr).text();
  for await (const chunk of proc.stdout) {
    const text = decoder.decode(chunk, { stream: true }).replaceAll("\r", "");
    output += text;
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) o.onLine?.(line);
  }
  const exitCode = await proc.exited;
  clearTimeout(timer);
  output += await stderr;
  return { output, exitCode, timedOut };
}
