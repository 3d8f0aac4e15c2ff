// Detached containers as a real unprivileged user: the monitor (C, from a memfd, ≤ 1 MB), a
// container that outlives the terminal that started it, monitor death, restart policies, log
// rotation, and 50 concurrent run -d / rm -f that leave nothing behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { bunkerBin, bunkerSandbox, type Sandbox } from "../support/bunker";
import { busyboxRootfs } from "../support/rootfs";

let sb: Sandbox;
let rootfs: string;

beforeAll(() => {
  sb = bunkerSandbox();
  rootfs = busyboxRootfs();
});
afterAll(() => {
  sb.cleanup();
  rmSync(dirname(rootfs), { recursive: true, force: true });
});

/** run -d on the busybox rootfs, no network (the network has its own tests); returns the id. */
async function detached(flags: string[], ...cmd: string[]): Promise<string> {
  const r = await sb.run(["run", "-d", "--network", "none", ...flags, "--rootfs", rootfs, ...cmd]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

function liveState(id: string): { MonitorPid: number; Pid: number; Status: string } {
  return JSON.parse(readFileSync(join(sb.runroot, "containers", id, "state.json"), "utf8"));
}

async function inspect(name: string, template: string): Promise<string> {
  const r = await sb.run(["inspect", "-f", template, name]);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].startsWith("Z");

function sessionOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[3]);
}

describe("run -d", () => {
  test("prints the full id at once; the container runs under a C monitor from a memfd with RSS ≤ 1 MB", async () => {
    const id = await detached(["--name", "svc"], "sleep", "600");
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const s = liveState(id);
    expect(s.Status).toBe("running");
    expect(alive(s.Pid)).toBe(true);
    // the container's parent is the monitor, not bunker (which has exited)
    expect(Number(readFileSync(`/proc/${s.Pid}/stat`, "utf8").split(") ")[1].split(" ")[1])).toBe(s.MonitorPid);
    expect(readlinkSync(`/proc/${s.MonitorPid}/exe`)).toContain("memfd:bunker-helper");
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.MonitorPid}/status`, "utf8"))![1]);
    expect(rssKb).toBeGreaterThan(0);
    expect(rssKb).toBeLessThanOrEqual(1024);
    const ps = await sb.run(["ps"]);
    expect(ps.stdout.split("\n")[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(ps.stdout).toContain(id.slice(0, 12));
    expect(ps.stdout).toMatch(/Up .*svc/);
    expect(await inspect("svc", "{{.State.Status}} {{.State.Running}} {{.State.Pid}}")).toBe(`running true ${s.Pid}`);
    const rm = await sb.run(["rm", "-f", "svc"]);
    expect(rm.code).toBe(0);
    await until("the container and its monitor to go", () => !alive(s.Pid) && !alive(s.MonitorPid));
  });

  test("the container outlives the terminal session that started it (setsid, no SIGHUP)", async () => {
    // script gives the shell a pty of its own; when the shell ends, the pty hangs up.
    const cmd = `${bunkerBin} run -d --network none --name orphan --rootfs ${rootfs} sleep 600 > /dev/null; echo $$`;
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { env: sb.env, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const shellPid = Number(r.stdout.toString().trim().split("\n").pop());
    await Bun.sleep(300);
    const id = (await sb.run(["inspect", "-f", "{{.Id}}", "orphan"])).stdout.trim();
    const s = liveState(id);
    expect(alive(s.Pid)).toBe(true);
    expect(alive(s.MonitorPid)).toBe(true);
    expect(sessionOf(s.MonitorPid)).toBe(s.MonitorPid); // a session of its own
    expect(sessionOf(s.MonitorPid)).not.toBe(shellPid);
    expect((await sb.run(["ps", "--filter", "name=orphan", "--format", "json"])).stdout).toContain('"State":"running"');
    await sb.run(["rm", "-f", "orphan"]);
  });

  test("kill -9 of the monitor: the container dies with it and shows exited (-1), never running", async () => {
    const id = await detached(["--name", "victim"], "sleep", "600");
    const s = liveState(id);
    process.kill(s.MonitorPid, "SIGKILL");
    await until("the container to die with its monitor", () => !alive(s.Pid));
    const ps = await sb.run(["ps", "-a", "--filter", "name=victim"]);
    expect(ps.stdout).toContain("Exited (-1)");
    expect(await inspect("victim", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}")).toBe("exited -1 false");
    expect(await inspect("victim", "{{.State.Error}}")).toContain("monitor");
    expect((await sb.run(["rm", "victim"])).code).toBe(0);
  });

  test("--restart on-failure:2 gives up after 2 restarts", async () => {
    await detached(["--name", "flaky", "--restart", "on-failure:2"], "sh", "-c", "echo attempt; exit 3");
    const w = await sb.run(["wait", "flaky"]);
    // wait can see the exit between restarts; the final answer comes once the policy gave up
    await until("the restarts to end", async () => (await inspect("flaky", "{{.State.Status}} {{.RestartCount}}")) === "exited 2");
    expect(w.code).toBe(0);
    expect(await inspect("flaky", "{{.State.ExitCode}} {{json .HostConfig.RestartPolicy}}")).toBe('3 {"Name":"on-failure","MaximumRetryCount":2}');
    const logs = await sb.run(["logs", "flaky"]);
    expect(logs.stdout).toBe("attempt\nattempt\nattempt\n");
    await sb.run(["rm", "flaky"]);
  });

  test("--restart always restarts until stopped; stop is final", async () => {
    await detached(["--name", "phoenix", "--restart", "always"], "sh", "-c", "sleep 0.1; exit 0");
    await until("two restarts", async () => Number(await inspect("phoenix", "{{.RestartCount}}")) >= 2);
    const stop = await sb.run(["stop", "-t", "1", "phoenix"]);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe("phoenix\n");
    const count = await inspect("phoenix", "{{.RestartCount}}");
    await Bun.sleep(500);
    expect(await inspect("phoenix", "{{.State.Status}} {{.RestartCount}}")).toBe(`exited ${count}`);
    await sb.run(["rm", "phoenix"]);
  });

  test("-dit keeps a shell on a terminal (logged from the pty); -di keeps stdin open", async () => {
    await detached(["--name", "tty", "-it"], "sh");
    await detached(["--name", "stdin", "-i"], "cat");
    // both wait for input that never comes, instead of ending at once
    expect(await inspect("tty", "{{.State.Status}} {{.Config.Tty}}")).toBe("running true");
    expect(await inspect("stdin", "{{.State.Status}}")).toBe("running");
    const ps = await sb.run(["exec", "tty", "ps", "-o", "pid,tty,args"]);
    expect(ps.stdout).toMatch(/^\s*1\s+\d+,\d+\s+sh$/m); // PID 1 has a controlling terminal
    await until("the prompt in the log", async () => (await sb.run(["logs", "tty"])).stdout.includes("# "));
    expect((await sb.run(["stop", "-t", "1", "tty", "stdin"])).code).toBe(0);
    expect(await inspect("stdin", "{{.State.Status}}")).toBe("exited");
    await sb.run(["rm", "tty", "stdin"]);
  });

  test("run -d --rm: the container is removed when it exits", async () => {
    const id = await detached(["--rm", "--name", "ephemeral"], "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done");
    expect(await inspect("ephemeral", "{{.HostConfig.AutoRemove}}")).toBe("true");
    expect((await sb.run(["exec", "ephemeral", "touch", "/tmp/go"])).code).toBe(0);
    await until("the container to remove itself", () => !existsSync(join(sb.root, "containers", id)));
    expect((await sb.run(["ps", "-aq"])).stdout).not.toContain(id.slice(0, 12));
    expect(existsSync(join(sb.runroot, "containers", id))).toBe(false);
  });

  test("bad --restart and --log-opt values: one line, exit 125, no container left", async () => {
    for (const flags of [["--restart", "sometimes"], ["--restart", "on-failure:x"], ["--log-opt", "max-size=huge"], ["--log-opt", "colour=red"], ["--restart", "always", "--rm"]]) {
      const r = await sb.run(["run", "-d", "--network", "none", ...flags, "--rootfs", rootfs, "true"]);
      expect(r.code).toBe(125);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^Error: /);
    }
    expect((await sb.run(["ps", "-aq"])).stdout).toBe("");
  });

  test("the log rotates at --log-opt max-size, keeping max-file files", async () => {
    const id = await detached(["--name", "chatty", "--log-opt", "max-size=2k", "--log-opt", "max-file=3"], "sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done");
    expect((await sb.run(["wait", "chatty"])).stdout).toBe("0\n");
    const dir = join(sb.root, "containers", id);
    const files = readdirSync(dir).filter((f) => f.startsWith("ctr.log")).sort();
    expect(files).toEqual(["ctr.log", "ctr.log.1", "ctr.log.2"]);
    for (const f of files) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(2048);
    const lines = (await sb.run(["logs", "chatty"])).stdout.trim().split("\n");
    // the oldest lines were rotated away; what is left is in order and ends with the last line
    expect(lines.at(-1)).toBe("line-299");
    expect(lines.length).toBeLessThan(300);
    const n = lines.map((l) => Number(l.slice(5)));
    expect(n).toEqual(n.map((_, i) => n[0] + i));
    await sb.run(["rm", "chatty"]);
  });
});

describe("concurrency", () => {
  test("50 run -d at once, then 50 rm -f at once: unique names, nothing left behind", async () => {
    const runs = await Promise.all(Array.from({ length: 50 }, () => sb.run(["run", "-d", "--network", "none", "--rootfs", rootfs, "sleep", "600"])));
    for (const r of runs) expect(r.code).toBe(0);
    const ids = runs.map((r) => r.stdout.trim());
    const states = ids.map(liveState);
    const names = (await sb.run(["ps", "--format", "json"])).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).Names);
    expect(names).toHaveLength(50);
    expect(new Set(names).size).toBe(50);
    const rms = await Promise.all(ids.map((id) => sb.run(["rm", "-f", id.slice(0, 16)])));
    for (const r of rms) expect(r.code).toBe(0);
    for (const s of states) {
      expect(alive(s.Pid)).toBe(false);
      expect(alive(s.MonitorPid)).toBe(false);
    }
    expect((await sb.run(["ps", "-aq"])).stdout).toBe("");
    expect(readdirSync(join(sb.root, "containers")).filter((n) => !n.startsWith("."))).toEqual([]);
    expect(existsSync(join(sb.runroot, "containers")) ? readdirSync(join(sb.runroot, "containers")) : []).toEqual([]);
    // no container mount survives: each lived in its own mount namespace, gone with its processes
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(rootfs);
  }, 120_000);
});
