// How `bunker exec` joins a running container's cgroup: by itself in a delegated cgroup, through
// the user's systemd manager (AttachProcessesToUnit) in a transient scope. The real move is
// checked against a real systemd in the VM lane (tests/vm/guest/systemd-scope.sh); here, the
// D-Bus call's shape and what bunker does when the manager fails or doesn't move the process.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachProcessesCommand, execCgroupOf } from "../../src/cgroup";
import { BunkerError } from "../../src/errors";

const base = mkdtempSync(join(tmpdir(), "bunker-cgroup-exec-unit-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

/**
 * A runtime dir whose cgroup record says the container `id` is in `cgroupDir` (made under a fake
 * mount), and a busctl on PATH that records its arguments and answers with `busctl`'s script.
 */
async function withContainer(id: string, cgroupDir: string, busctl: string, fn: (argsFile: string, path: string) => Promise<void>): Promise<void> {
  const dir = join(base, `case${n++}`);
  const path = join(dir, "cgroup", cgroupDir);
  mkdirSync(path, { recursive: true });
  mkdirSync(join(dir, "run", "cgroups"), { recursive: true });
  writeFileSync(join(dir, "run", "cgroups", `${id}.json`), JSON.stringify({ path, creatorPid: process.pid, creatorStart: "" }));
  mkdirSync(join(dir, "bin"));
  const argsFile = join(dir, "args");
  writeFileSync(join(dir, "bin", "busctl"), `#!/bin/sh\nprintf '%s\\n' "$@" >${argsFile}\n${busctl}\n`, { mode: 0o755 });
  const saved = { path: process.env.PATH, runtime: process.env.BUNKER_RUNTIME_DIR };
  process.env.PATH = `${join(dir, "bin")}:${saved.path}`;
  process.env.BUNKER_RUNTIME_DIR = join(dir, "run");
  try {
    await fn(argsFile, path);
  } finally {
    process.env.PATH = saved.path;
    if (saved.runtime === undefined) delete process.env.BUNKER_RUNTIME_DIR;
    else process.env.BUNKER_RUNTIME_DIR = saved.runtime;
  }
}

const SCOPE = "user.slice/user-1000.slice/user@1000.service/app.slice/bunker-c1.scope";

describe("exec into a container in a transient systemd scope", () => {
  test("the D-Bus call asks the user manager to move the pids into a sub-cgroup of the unit", () => {
    expect(attachProcessesCommand("bunker-abc.scope", "/container", [4242])).toEqual([
      "busctl", "--user", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "AttachProcessesToUnit",
      "ssau", "bunker-abc.scope", "/container", "1", "4242",
    ]);
  });

  test("a delegated cgroup is joined by the process itself; a container without a cgroup joins none", async () => {
    await withContainer("d1", "user.slice/user-1000.slice/user@1000.service/bunker-d1", "exit 1", async (_args, path) => {
      expect(execCgroupOf("d1")).toEqual({ path });
      expect(execCgroupOf("nothing")).toBeUndefined();
    });
  });

  test("a detached container's scope: the manager is asked for SCOPE/container, the leaf its process runs in", async () => {
    await withContainer("c1", `${SCOPE}/container`, "exit 1", async (argsFile, path) => {
      const cg = execCgroupOf("c1")!;
      expect(cg.path).toBe(path);
      const err = await cg.attach!(process.pid).catch((e) => e);
      expect((await Bun.file(argsFile).text()).split("\n").slice(0, -1)).toEqual(attachProcessesCommand("bunker-c1.scope", "/container", [process.pid]).slice(1));
      expect(err).toBeInstanceOf(BunkerError);
    });
  });

  test("a container whose cgroup is the scope itself: the manager is asked for the unit's own cgroup", async () => {
    await withContainer("c1", SCOPE, "exit 1", async (argsFile) => {
      await execCgroupOf("c1")!.attach!(process.pid).catch(() => {});
      expect((await Bun.file(argsFile).text()).split("\n").slice(0, -1)).toEqual(attachProcessesCommand("bunker-c1.scope", "", [process.pid]).slice(1));
    });
  });

  test("a manager that refuses: one line with its words (exec kills the held process and exits 125)", async () => {
    await withContainer("c1", `${SCOPE}/container`, `echo "Call failed: Access denied" >&2\nexit 1`, async () => {
      const err = await execCgroupOf("c1")!.attach!(process.pid).catch((e) => e);
      expect(err).toBeInstanceOf(BunkerError);
      expect(err.exitCode).toBe(125);
      expect(err.message).toBe("systemd could not move the process into bunker-c1.scope/container: Call failed: Access denied");
    });
  });

  test("a manager that answers but did not move it: refused too, the process must not run outside", async () => {
    await withContainer("c1", `${SCOPE}/container`, "exit 0", async () => {
      const err = await execCgroupOf("c1")!.attach!(process.pid).catch((e) => e);
      expect(err).toBeInstanceOf(BunkerError);
      expect(err.message).toStartWith("systemd did not move the process into bunker-c1.scope/container (it is in ");
      expect(err.message).not.toContain("\n");
    });
  });
});
