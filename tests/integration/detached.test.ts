// Detached containers as a real unprivileged user: the monitor (C, from a memfd, ≤ 1 MB), a
// container that outlives the terminal that started it, monitor death, restart policies, log
// rotation, and 50 concurrent run -d / rm -f that leave nothing behind.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { whyUnusable } from "../../src/net";
import { bunkerBin, bunkerSandbox, imagesSrc } from "../support/bunker";
import { rootfsSandbox } from "../support/rootfs";

const { sb, rootfs } = rootfsSandbox();

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

function oneLineError(r: { code: number; stderr: string }, text: string) {
  expect(r.code).toBe(125);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toContain(text);
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].startsWith("Z");

/** Resident set of a process, from /proc. */
function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

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
    expect(rssKb(s.MonitorPid)).toBeGreaterThan(0);
    expect(rssKb(s.MonitorPid)).toBeLessThanOrEqual(1024);
    const ps = await sb.run(["ps"]);
    expect(ps.stdout.split("\n")[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(ps.stdout).toContain(id.slice(0, 12));
    expect(ps.stdout).toMatch(/Up .*svc/);
    expect(await inspect("svc", "{{.State.Status}} {{.State.Running}} {{.State.Pid}}")).toBe(`running true ${s.Pid}`);
    const rm = await sb.run(["rm", "-f", "svc"]);
    expect(rm.code).toBe(0);
    await until("the container and its monitor to go", () => !alive(s.Pid) && !alive(s.MonitorPid));
  });

  test("the container outlives the session that started it: SIGHUP to the whole session kills nothing of it", async () => {
    // A login session of its own (setsid): its leader's pid is the session and process group id.
    const cmd = `${bunkerBin} run -d --network none --name orphan --rootfs ${rootfs} sleep 600 > /dev/null && echo started; exec sleep 600`;
    const session = Bun.spawn(["setsid", "sh", "-c", cmd], { env: sb.env, stdout: "pipe", stderr: "inherit" });
    const reader = (session.stdout as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("started\n");
    const sid = session.pid;
    expect(sessionOf(sid)).toBe(sid);
    const s = liveState((await sb.run(["inspect", "-f", "{{.Id}}", "orphan"])).stdout.trim());
    // neither the monitor nor the container is in that session
    expect(sessionOf(s.MonitorPid)).toBe(s.MonitorPid);
    expect(sessionOf(s.Pid)).not.toBe(sid);
    // what a hang-up does: SIGHUP to the session's process group, then to anything left in it
    process.kill(-sid, "SIGHUP");
    for (const p of readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number))
      if (alive(p) && sessionOf(p) === sid) process.kill(p, "SIGHUP");
    expect(await session.exited).toBe(128 + 1);
    await Bun.sleep(200);
    expect(alive(s.Pid)).toBe(true);
    expect(alive(s.MonitorPid)).toBe(true);
    expect(await inspect("orphan", "{{.State.Status}} {{.State.Pid}}")).toBe(`running ${s.Pid}`);
    await sb.run(["rm", "-f", "orphan"]);
  });

  test("the container outlives the terminal that started it (a pty that hangs up)", async () => {
    // script gives the shell a pty of its own; `kill -HUP 0` hangs its whole process group up,
    // and the pty hangs up when the shell is gone.
    const cmd = `${bunkerBin} run -d --network none --name orphan2 --rootfs ${rootfs} sleep 600 > /dev/null; echo $$; kill -HUP 0`;
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { env: sb.env, stdout: "pipe", stderr: "pipe" });
    const shellPid = Number(r.stdout.toString().trim().split("\n").pop());
    expect(shellPid).toBeGreaterThan(0);
    expect(alive(shellPid)).toBe(false);
    await Bun.sleep(200);
    const id = (await sb.run(["inspect", "-f", "{{.Id}}", "orphan2"])).stdout.trim();
    const s = liveState(id);
    expect(alive(s.Pid)).toBe(true);
    expect(alive(s.MonitorPid)).toBe(true);
    expect(sessionOf(s.MonitorPid)).toBe(s.MonitorPid); // a session of its own
    expect((await sb.run(["ps", "--filter", "name=orphan2", "--format", "json"])).stdout).toContain('"State":"running"');
    await sb.run(["rm", "-f", "orphan2"]);
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
    expect((await sb.run(["wait", "victim"])).stdout).toBe("-1\n");
    oneLineError(await sb.run(["exec", "victim", "true"]), "is not running");
    expect((await sb.run(["ps", "-q"])).stdout).not.toContain(id.slice(0, 12));
    // it can be started again, under a new monitor
    expect((await sb.run(["start", "victim"])).code).toBe(0);
    const again = liveState(id);
    expect(again.MonitorPid).not.toBe(s.MonitorPid);
    expect(await inspect("victim", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}")).toBe("running 0");
    expect((await sb.run(["rm", "-f", "victim"])).code).toBe(0);
  });

  test("SIGTERM to the monitor (systemd stopping the unit) stops the container like bunker stop: its exit is recorded, no restart", async () => {
    const id = await detached(["--name", "termed", "--restart", "always"], "sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.05; done");
    await Bun.sleep(100); // the trap is set
    const s = liveState(id);
    process.kill(s.MonitorPid, "SIGTERM");
    await until("the monitor to finish", () => !alive(s.MonitorPid) && !alive(s.Pid));
    expect(await inspect("termed", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}} {{.State.Error}}")).toBe("exited 42 0");
    expect((await sb.run(["rm", "termed"])).code).toBe(0);
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

  for (const policy of ["always", "unless-stopped"])
    test(`--restart ${policy} restarts after any exit until stopped; stop is final`, async () => {
      // exit 0 too: only on-failure looks at the code
      await detached(["--name", "phoenix", "--restart", policy], "sh", "-c", "sleep 0.1; exit 0");
      await until("two restarts", async () => Number(await inspect("phoenix", "{{.RestartCount}}")) >= 2);
      // restarts (each one ran bunker container-setup) cost the monitor nothing lasting
      expect(rssKb(liveState(await inspect("phoenix", "{{.Id}}")).MonitorPid)).toBeLessThanOrEqual(1024);
      const stop = await sb.run(["stop", "-t", "1", "phoenix"]);
      expect(stop.code).toBe(0);
      expect(stop.stdout).toBe("phoenix\n");
      const count = await inspect("phoenix", "{{.RestartCount}}");
      await Bun.sleep(500);
      expect(await inspect("phoenix", "{{.State.Status}} {{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}")).toBe(`exited ${count} ${policy}`);
      await sb.run(["rm", "phoenix"]);
    });

  test.skipIf(!Bun.which("python3"))("the monitor is bunker's only orphan and exits with the container's code (what systemd sees for Restart=on-failure)", async () => {
    // A child subreaper (as systemd is) inherits whatever bunker leaves behind once it has
    // returned, and reaps it: with --network none, that must be the monitor alone.
    const reaper = `
import ctypes, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    print(os.waitstatus_to_exitcode(status), flush=True)
`;
    for (const [name, flags] of [["reaped", []], ["reaped-rm", ["--rm"]]] as const) {
      const r = Bun.spawnSync(["python3", "-c", reaper, bunkerBin, "run", "-d", ...flags, "--network", "none", "--name", name, "--rootfs", rootfs, "sh", "-c", "exit 7"], {
        env: sb.env,
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(r.stderr.toString()).toBe("");
      expect(r.stdout.toString()).toBe("7\n");
    }
    expect(await inspect("reaped", "{{.State.ExitCode}}")).toBe("7");
    await sb.run(["rm", "reaped"]);
    // --rm: the monitor's child removed it before the monitor exited
    expect((await sb.run(["ps", "-aq"])).stdout).toBe("");
  });

  test("the monitor records the exit: code, signal (128+N), start and finish times", async () => {
    const before = new Date().toISOString();
    await detached(["--name", "timed"], "sleep", "600");
    await Bun.sleep(100);
    // PID 1 ignores signals it has no handler for, except SIGKILL: the exit is by signal 9
    expect((await sb.run(["kill", "timed"])).code).toBe(0);
    expect((await sb.run(["wait", "timed"])).stdout).toBe(`${128 + 9}\n`);
    const [started, finished, code, oom] = (await inspect("timed", "{{.State.StartedAt}} {{.State.FinishedAt}} {{.State.ExitCode}} {{.State.OOMKilled}}")).split(" ");
    expect(started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(finished).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(started.slice(0, 23) >= before.slice(0, 23)).toBe(true);
    expect(finished > started).toBe(true);
    expect(finished.slice(0, 23) <= new Date().toISOString().slice(0, 23)).toBe(true);
    expect([code, oom]).toEqual(["137", "false"]);
    // the durable copy beside config.json says the same (ps -a after a reboot reads it)
    const id = await inspect("timed", "{{.Id}}");
    const durable = JSON.parse(readFileSync(join(sb.root, "containers", id, "state.json"), "utf8"));
    expect([durable.Status, durable.ExitCode, durable.FinishedAt]).toEqual(["exited", 137, finished]);
    await sb.run(["rm", "timed"]);
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
    for (const n of ["tty", "stdin"]) expect(rssKb(liveState(await inspect(n, "{{.Id}}")).MonitorPid)).toBeLessThanOrEqual(1024);
    expect((await sb.run(["stop", "-t", "1", "tty", "stdin"])).code).toBe(0);
    expect(await inspect("stdin", "{{.State.Status}}")).toBe("exited");
    await sb.run(["rm", "tty", "stdin"]);
  });

  test("-dt: each start's pty comes from the container's own devpts (tty names it); the monitor logs from it", async () => {
    const script = 'echo "tty=$(tty) pts=$(ls /dev/pts | tr "\\n" ,)"; exit 3';
    await detached(["--name", "named-tty", "-t", "--restart", "on-failure:2"], "sh", "-c", script);
    await until("the restarts to end", async () => (await inspect("named-tty", "{{.State.Status}} {{.RestartCount}}")) === "exited 2");
    expect(await inspect("named-tty", "{{.State.ExitCode}}")).toBe("3");
    // a new devpts instance per start: pts/0 each time, with its ptmx
    const lines = (await sb.run(["logs", "named-tty"])).stdout.replaceAll("\r", "").trim().split("\n");
    expect(lines).toEqual(Array(3).fill("tty=/dev/pts/0 pts=0,ptmx,"));
    await sb.run(["rm", "named-tty"]);
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
    // k8s-file records: "<RFC 3339 time> <stream> F|P <text>"
    expect(readFileSync(join(dir, "ctr.log"), "utf8").trim().split("\n").at(-1)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F line-299$/);
    const lines = (await sb.run(["logs", "chatty"])).stdout.trim().split("\n");
    // the oldest lines were rotated away; what is left is in order and ends with the last line
    expect(lines.at(-1)).toBe("line-299");
    expect(lines.length).toBeLessThan(300);
    const n = lines.map((l) => Number(l.slice(5)));
    expect(n).toEqual(n.map((_, i) => n[0] + i));
    await sb.run(["rm", "chatty"]);
  });
});

describe("state", () => {
  test("runtime state lives under $XDG_RUNTIME_DIR/bunker; config and logs in the store", async () => {
    const xdg = mkdtempSync(join(tmpdir(), "bunker-xdg-"));
    const env = { BUNKER_RUNTIME_DIR: "", XDG_RUNTIME_DIR: xdg };
    try {
      const r = await sb.run(["run", "-d", "--network", "none", "--name", "xdg", "--rootfs", rootfs, "sh", "-c", "echo hi; sleep 600"], { env });
      expect(r.code).toBe(0);
      const id = r.stdout.trim();
      const live = JSON.parse(readFileSync(join(xdg, "bunker/containers", id, "state.json"), "utf8"));
      expect(live.Status).toBe("running");
      expect(existsSync(join(sb.runroot, "containers", id))).toBe(false);
      expect(existsSync(join(sb.root, "containers", id, "config.json"))).toBe(true);
      expect(readdirSync(join(sb.root, "containers", id))).toContain("ctr.log");
      expect((await sb.run(["ps", "-q"], { env })).stdout.trim()).toBe(id.slice(0, 12));
      expect((await sb.run(["rm", "-f", "xdg"], { env })).code).toBe(0);
      expect(existsSync(join(xdg, "bunker/containers", id))).toBe(false);
    } finally {
      rmSync(xdg, { recursive: true, force: true });
    }
  });

  test("after a reboot (runtime state gone, processes gone) a running container shows exited (-1)", async () => {
    const id = await detached(["--name", "rebooted"], "sleep", "600");
    const s = liveState(id);
    // what a reboot does to a detached container: everything dies, the tmpfs runtime dir is emptied
    process.kill(s.MonitorPid, "SIGKILL");
    process.kill(s.Pid, "SIGKILL");
    await until("the container to die", () => !alive(s.Pid) && !alive(s.MonitorPid));
    rmSync(join(sb.runroot, "containers", id), { recursive: true });
    expect((await sb.run(["ps", "-q"])).stdout).toBe("");
    expect((await sb.run(["ps", "-a", "--filter", "name=rebooted"])).stdout).toContain("Exited (-1)");
    expect(await inspect("rebooted", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}")).toBe("exited -1 false");
    expect(await inspect("rebooted", "{{.State.Error}}")).toContain("reboot");
    // and it can be started again, like after a reboot
    expect((await sb.run(["start", "rebooted"])).code).toBe(0);
    expect(await inspect("rebooted", "{{.State.Status}}")).toBe("running");
    expect((await sb.run(["rm", "-f", "rebooted"])).code).toBe(0);
  });
});

/** Pids of the processes whose command line (its arguments) matches. */
function processesWhere(match: (argv: string[]) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (match(readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0"))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Processes whose command line mentions text (a monitor names its container's dirs). */
const processesMentioning = (text: string) => processesWhere((argv) => argv.some((a) => a.includes(text)));

/** Host processes serving a container's network: pasta, its launcher and tail name the container's pid. */
const networkHelpersOf = (pid: number) => processesWhere((argv) => argv.includes(String(pid)) || argv.includes(`--pid=${pid}`));

/** What the network helpers of the container with this pid keep in the runtime dir. */
function netFilesOf(pid: number): string[] {
  const dir = join(sb.runroot, "net");
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.includes(`-${pid}.`)) : [];
}

describe("system reset", () => {
  test("stops the running containers before it removes the store: nothing is orphaned", async () => {
    const own = bunkerSandbox();
    try {
      const ids: string[] = [];
      for (const flags of [[], ["--restart", "always"]]) {
        const r = await own.run(["run", "-d", "--network", "none", ...flags, "--rootfs", rootfs, "sleep", "600"]);
        expect(r.code).toBe(0);
        ids.push(r.stdout.trim());
      }
      const states = ids.map((id) => JSON.parse(readFileSync(join(own.runroot, "containers", id, "state.json"), "utf8")));
      expect((await own.run(["system", "reset", "--force"])).code).toBe(0);
      for (const s of states) {
        expect(alive(s.Pid)).toBe(false);
        expect(alive(s.MonitorPid)).toBe(false);
      }
      expect(existsSync(own.root)).toBe(false);
      expect(existsSync(own.runroot)).toBe(false);
    } finally {
      own.cleanup();
    }
  });
});

describe.if(whyUnusable("pasta") === undefined)("run -d on the default network (pasta)", () => {
  test("-p is reachable after bunker returned; port, ps and inspect show the port chosen; pasta ends with the container", async () => {
    // no --network: the default, a private pasta network
    const r = await sb.run(["run", "-d", "--name", "web", "-p", "127.0.0.1::80", "--rootfs", rootfs, "sh", "-c", "echo published > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const port = (await sb.run(["port", "web", "80"])).stdout.trim();
    expect(port).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await sb.run(["port", "web"])).stdout).toBe(`80/tcp -> ${port}\n`);
    expect((await sb.run(["ps", "--filter", "name=web"])).stdout).toContain(`${port}->80/tcp`);
    expect(await inspect("web", "{{json .NetworkSettings.Ports}}")).toBe(JSON.stringify({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: port.split(":")[1] }] }));
    // docker keeps the request in HostConfig: any port
    expect(await inspect("web", "{{json .HostConfig.PortBindings}}")).toBe(JSON.stringify({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] }));
    let body = "";
    await until("httpd to answer through pasta", async () => {
      body = await fetch(`http://${port}/index.html`).then((r) => r.text(), () => "");
      return body !== "";
    });
    expect(body).toBe("published\n");
    const pid = liveState(id).Pid;
    const helpers = networkHelpersOf(pid);
    expect(helpers.length).toBeGreaterThan(0);
    expect((await sb.run(["stop", "-t", "1", "web"])).code).toBe(0);
    await until("the network helpers to end with the container", () => helpers.every((h) => !alive(h)));
    expect(await fetch(`http://${port}/`).then(() => "open", () => "closed")).toBe("closed");
    // and their runtime files went with them
    await until("the network helpers' files to go", () => netFilesOf(pid).length === 0);
    // a stopped container publishes nothing
    expect((await sb.run(["port", "web"])).stdout).toBe("");
    oneLineError(await sb.run(["port", "web", "80"]), "no public port '80/tcp' published for web");
    expect((await sb.run(["rm", "web"])).code).toBe(0);
  }, 30_000);

  test("a restart (--restart on-failure) sets the network up again: the new port answers", async () => {
    // the first run fails; the restarted one serves
    const script = "if [ -e /restarted-web ]; then echo second > /tmp/index.html; exec httpd -f -p 80 -h /tmp; fi; touch /restarted-web; exit 1";
    const r = await sb.run(["run", "-d", "--name", "reweb", "--restart", "on-failure:1", "-p", "127.0.0.1::80", "--rootfs", rootfs, "sh", "-c", script]);
    expect(r.code).toBe(0);
    await until("the restart", async () => (await inspect("reweb", "{{.State.Status}} {{.RestartCount}}")) === "running 1");
    const port = (await sb.run(["port", "reweb", "80"])).stdout.trim();
    expect(port).toMatch(/^127\.0\.0\.1:\d+$/);
    let body = "";
    await until("httpd to answer through the new pasta", async () => {
      body = await fetch(`http://${port}/index.html`).then((res) => res.text(), () => "");
      return body !== "";
    });
    expect(body).toBe("second\n");
    const pid = liveState(r.stdout.trim()).Pid;
    const helpers = networkHelpersOf(pid);
    expect(helpers.length).toBeGreaterThan(0);
    expect((await sb.run(["rm", "-f", "reweb"])).code).toBe(0);
    await until("the network helpers to end with the container", () => helpers.every((h) => !alive(h)));
    await until("the network helpers' files to go", () => netFilesOf(pid).length === 0);
  }, 30_000);
});

describe("concurrency", () => {
  test("10 run -d --name same at once: one wins, the others are refused with a clear error", async () => {
    const runs = await Promise.all(Array.from({ length: 10 }, () => sb.run(["run", "-d", "--network", "none", "--name", "same", "--rootfs", rootfs, "sleep", "600"])));
    const won = runs.filter((r) => r.code === 0);
    expect(won).toHaveLength(1);
    for (const r of runs.filter((x) => x.code !== 0)) {
      expect(r.code).toBe(125);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain('the container name "same" is already in use');
    }
    expect((await sb.run(["ps", "-aq", "--no-trunc"])).stdout).toBe(won[0].stdout);
    expect((await sb.run(["rm", "-f", "same"])).code).toBe(0);
  });

  test("50 run -d at once, then 50 rm -f at once: unique names, nothing left behind", async () => {
    // half on an image (an overlay and a writable layer each, removed by rm), half on --rootfs
    expect((await sb.run(["load", "-q", "-i", `${imagesSrc}/busybox-1.38.0-musl-amd64-oci`])).code).toBe(0);
    const runs = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        sb.run(["run", "-d", "--network", "none", ...(i % 2 ? ["busybox:1.38.0-musl"] : ["--rootfs", rootfs]), "sleep", "600"]),
      ),
    );
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
    // no record, no writable layer, no removal cut short (.removing-ID), no name claimed (.names)
    expect(readdirSync(join(sb.root, "containers")).filter((n) => n !== ".locks" && n !== ".names")).toEqual([]);
    expect(existsSync(join(sb.root, "containers", ".names")) ? readdirSync(join(sb.root, "containers", ".names")) : []).toEqual([]);
    expect(existsSync(join(sb.runroot, "containers")) ? readdirSync(join(sb.runroot, "containers")) : []).toEqual([]);
    // no container mount survives: each lived in its own mount namespace, gone with its processes
    const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
    expect(mountinfo).not.toContain(rootfs);
    expect(mountinfo).not.toContain(sb.root);
    // no process of ours is left (a monitor or a restart setup names the sandbox's dirs)
    expect(processesMentioning(sb.runroot)).toEqual([]);
    expect(processesMentioning(sb.root)).toEqual([]);
    // per-container locks went with their containers; only the names lock stays
    expect(readdirSync(join(sb.root, "containers", ".locks"))).toEqual(["names.lock"]);
    // a cgroup, where bunker could make one (delegated cgroup v2: the VM lane), was removed by its monitor
    const cgroupDirs = Bun.spawnSync(["find", "/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", "*bunker-*"], { stdout: "pipe", stderr: "ignore" }).stdout.toString();
    for (const id of ids) expect(cgroupDirs).not.toContain(id);
  }, 120_000);
});
