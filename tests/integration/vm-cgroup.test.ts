// cgroup v2 limits on a real cgroup v2 kernel: this machine's cgroups are hybrid (every controller
// bound to v1), so the checks run in qemu guests (tests/vm) and each guest check is one test here.
// Two guests: a busybox init that delegates a subtree itself, and the host's real systemd as PID 1
// (a login session that isn't delegated: transient scopes). A failing or silent guest fails the
// suite; only a missing qemu or kernel skips it, loudly.
import { beforeAll, describe, expect, test } from "bun:test";
import { runSystemdVmLane, runVmLane, type VmLaneResult, vmLaneUnavailable } from "../vm/lane";

/** Every check the busybox guest reports (tests/vm/guest/{delegated,undelegated}.sh), in the order they run. */
const BUSYBOX_CHECKS = [
  "no-limit-run",
  "limits-read-back",
  "cgroup-namespace",
  "cpuset-io-swap",
  "cpuset-unavailable",
  "oom-exit-137",
  "oom-inspect",
  "pids-limit",
  "cpus-throttle",
  "stats",
  "stats-table",
  "cleanup-after-kill9",
  "image-run-limit",
  "detached-limits",
  "exec-joins-cgroup",
  "detached-oom",
  "detached-restart-limits",
  "concurrent-limits",
  "doctor-delegated",
  "cgroups-gone",
  "undelegated-limit-refused",
  "undelegated-no-limit-runs",
  "undelegated-cgroups-disabled",
  "doctor-undelegated",
];

/**
 * Every check the systemd guest reports (tests/vm/guest/systemd-scope.sh), in the order they run:
 * PID 1 is the host's real systemd, bunker runs in a logind session scope that is root's, and
 * each container gets a transient scope from the user's systemd manager.
 */
const SYSTEMD_CHECKS = [
  "scope-real-session",
  "scope-doctor",
  "scope-no-limit-run",
  "scope-namespace",
  "scope-limits",
  "scope-exec-joins",
  "scope-exec-detached-joins",
  "scope-stats",
  "scope-restart-command",
  "scope-removed",
  "scope-foreground-held",
  "scope-exec-foreground-joins",
  "scope-kill9-gone",
  "scope-oom",
  "scope-oom-inspect",
  "scope-detached-oom",
  "scope-restart-limits",
  "scope-rm-gone",
  "scope-cgroups-gone",
];

const unavailable = vmLaneUnavailable();
if (unavailable)
  process.stderr.write(
    `\n${"!".repeat(78)}\n!! VM LANE SKIPPED: ${unavailable}\n!! cgroup v2 limits are NOT tested by this run.\n${"!".repeat(78)}\n\n`,
  );

// npm test as root (scripts/test.sh) installs qemu and the kernel and makes the kernel readable:
// there, a lane that still can't run is a failure, not a skip.
if (unavailable !== undefined && process.env.BUNKER_TEST_ROOT_SETUP === "1")
  test("the VM lane can run after test.sh's setup", () => {
    throw new Error(`the VM lane can't run although test.sh set the machine up: ${unavailable}`);
  });

// TCG is slow: the two guests boot at once (~75 s together here, ~95 s one after the other; the
// systemd guest reaches its checks ~18 s after power-on). The limit leaves room for a loaded CI machine.
const VM_TIMEOUT_MS = 5 * 60_000;

const onLine = (guest: string) => (process.env.BUNKER_VM_VERBOSE ? (l: string) => process.stderr.write(`vm ${guest}| ${l}\n`) : undefined);
let lanes: Promise<PromiseSettledResult<VmLaneResult>[]> | undefined;
/** Both guests, started together by whichever describe comes first. */
function bootBoth(): Promise<PromiseSettledResult<VmLaneResult>[]> {
  lanes ??= Promise.allSettled([
    runVmLane({ timeoutMs: VM_TIMEOUT_MS, onLine: onLine("busybox") }),
    runSystemdVmLane({ timeoutMs: VM_TIMEOUT_MS, onLine: onLine("systemd") }),
  ]);
  return lanes;
}

/** One test per guest check; a guest that failed to boot, stopped early or skipped a check fails. */
function describeGuest(title: string, which: 0 | 1, checks: string[]): void {
  describe.skipIf(unavailable !== undefined)(title, () => {
    let lane: VmLaneResult;
    let bootError: unknown;
    beforeAll(async () => {
      const settled = (await bootBoth())[which];
      if (settled.status === "fulfilled") lane = settled.value;
      else bootError = settled.reason;
    }, VM_TIMEOUT_MS + 60_000);
    const booted = () => {
      if (bootError !== undefined) throw new Error(`the guest could not be started: ${bootError instanceof Error ? bootError.message : String(bootError)}`);
      return lane;
    };

    test("the guest ran every check to the end", () => {
      const { finished, timedOut, tail, checks: seen } = booted();
      if (!finished) throw new Error(`the guest did not finish${timedOut ? " (timed out)" : ""}; console:\n${tail}`);
      expect([...seen.keys()].sort()).toEqual([...checks].sort());
    });

    for (const name of checks)
      test(`guest: ${name}`, () => {
        const c = booted().checks.get(name);
        if (!c) throw new Error(`the guest never reported "${name}"; console:\n${booted().tail}`);
        if (!c.pass) throw new Error(`${name} failed in the guest: ${c.detail}`);
        expect(c.pass).toBe(true);
      });
  });
}

describeGuest("cgroup v2 in a VM (qemu, Debian kernel, busybox init, delegated subtree)", 0, BUSYBOX_CHECKS);
describeGuest("cgroup v2 in a VM under the real systemd (PID 1, logind session, transient user scopes)", 1, SYSTEMD_CHECKS);
