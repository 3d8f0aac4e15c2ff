// cgroup v2 limits on a real cgroup v2 kernel: this machine's cgroups are hybrid (every controller
// bound to v1), so the checks run in a qemu guest (tests/vm) and each guest check is one test here.
// A failing or silent guest fails the suite; only a missing qemu or kernel skips it, loudly.
import { beforeAll, describe, expect, test } from "bun:test";
import { runVmLane, type VmLaneResult, vmLaneUnavailable } from "../vm/lane";

/** Every check the guest scripts report (tests/vm/guest/*.sh), in the order they run. */
const CHECKS = [
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
  "scope-user-manager",
  "scope-doctor",
  "scope-no-limit-run",
  "scope-namespace",
  "scope-limits",
  "scope-exec-joins",
  "scope-stats",
  "scope-restart-command",
  "scope-removed",
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

// TCG is slow; the lane takes about a minute here, the limit leaves room for a loaded CI machine.
const VM_TIMEOUT_MS = 10 * 60_000;

describe.skipIf(unavailable !== undefined)("cgroup v2 in a VM (qemu, Debian kernel, delegated subtree)", () => {
  let lane: VmLaneResult;
  beforeAll(async () => {
    lane = await runVmLane({
      timeoutMs: VM_TIMEOUT_MS,
      onLine: process.env.BUNKER_VM_VERBOSE ? (l) => process.stderr.write(`vm| ${l}\n`) : undefined,
    });
  }, VM_TIMEOUT_MS + 60_000);

  test("the guest ran every check to the end", () => {
    if (!lane.finished) throw new Error(`the guest did not finish${lane.timedOut ? " (timed out)" : ""}; console:\n${lane.tail}`);
    expect([...lane.checks.keys()].sort()).toEqual([...CHECKS].sort());
  });

  for (const name of CHECKS)
    test(`guest: ${name}`, () => {
      const c = lane.checks.get(name);
      if (!c) throw new Error(`the guest never reported "${name}"; console:\n${lane.tail}`);
      if (!c.pass) throw new Error(`${name} failed in the guest: ${c.detail}`);
      expect(c.pass).toBe(true);
    });
});
