// The container commands as a real unprivileged user: stop/kill/wait/start/restart/rm, names and
// id prefixes, ps filters and formats, inspect, rename, logs, prune, generate systemd.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunkerBin, bunkerSandbox, imagesSrc } from "../support/bunker";
import { gzipLayer, writeOciLayout } from "../support/oci";
import { rootfsSandbox } from "../support/rootfs";

const { sb, rootfs } = rootfsSandbox();
afterAll(() => {
  rmSync(layouts, { recursive: true, force: true });
});

const layouts = mkdtempSync(join(tmpdir(), "bunker-layouts-"));
const imageSb = bunkerSandbox();
afterAll(() => imageSb.cleanup());

/**
 * Loads busybox's files as an image named ref with this image config into imageSb (a sandbox of
 * its own, so the tests that count images see only theirs); returns its id.
 */
async function loadBusyboxAs(ref: string, config: Record<string, unknown>): Promise<string> {
  const src = join(imagesSrc, "busybox-1.38.0-musl-amd64-oci");
  const index = JSON.parse(readFileSync(join(src, "index.json"), "utf8"));
  const manifest = JSON.parse(readFileSync(join(src, "blobs/sha256", index.manifests[0].digest.slice(7)), "utf8"));
  const layer = new Uint8Array(readFileSync(join(src, "blobs/sha256", manifest.layers[0].digest.slice(7))));
  const dir = mkdtempSync(join(layouts, "img-"));
  writeOciLayout(dir, { layers: [gzipLayer(Bun.gunzipSync(layer))], config: { Env: ["PATH=/bin"], ...config }, refName: ref });
  const r = await imageSb.run(["load", "-q", "-i", dir]);
  expect(r.code).toBe(0);
  return (await imageSb.run(["image", "inspect", "-f", "{{.Id}}", ref])).stdout.trim();
}

async function detached(name: string, ...cmd: string[]): Promise<string> {
  const r = await sb.run(["run", "-d", "--network", "none", "--name", name, "--rootfs", rootfs, ...cmd]);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

const field = async (name: string, template: string) => (await sb.run(["inspect", "-f", template, name])).stdout.trim();

function oneLineError(r: { code: number; stderr: string }, text: string) {
  expect(r.code).toBe(125);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toContain(text);
}

describe("stop, kill, wait", () => {
  test("stop sends SIGTERM, then SIGKILL after -t; wait prints the exit code", async () => {
    await detached("polite", "sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.05; done");
    await detached("stubborn", "sleep", "600"); // PID 1 ignores SIGTERM unless it asks for it
    const t0 = Date.now();
    expect((await sb.run(["stop", "polite"])).stdout).toBe("polite\n");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await sb.run(["wait", "polite"])).stdout).toBe("42\n");
    expect((await sb.run(["stop", "-t", "1", "stubborn"])).code).toBe(0);
    expect((await sb.run(["wait", "stubborn"])).stdout).toBe("137\n");
    expect(await field("stubborn", "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}")).toBe("exited 137 0");
  });

  test("--stop-signal is used by stop", async () => {
    await detached("usr1", "--stop-signal", "USR1", "sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.05; done");
    expect((await sb.run(["stop", "-t", "5", "usr1"])).code).toBe(0);
    expect((await sb.run(["wait", "usr1"])).stdout).toBe("7\n");
  });

  test("stop uses the image's StopSignal; --stop-signal overrides it", async () => {
    const handler = "trap 'exit 7' USR1; trap 'exit 8' USR2; trap 'exit 15' TERM; while true; do sleep 0.05; done";
    await loadBusyboxAs("stopper:1", { StopSignal: "SIGUSR1", Cmd: ["sh", "-c", handler] });
    const isb = imageSb;
    expect((await isb.run(["run", "-d", "--network", "none", "--name", "fromimage", "stopper:1"])).code).toBe(0);
    expect((await isb.run(["run", "-d", "--network", "none", "--name", "overridden", "--stop-signal", "USR2", "stopper:1"])).code).toBe(0);
    expect((await isb.run(["inspect", "-f", "{{.Config.StopSignal}}", "fromimage"])).stdout).toBe("SIGUSR1\n");
    await Bun.sleep(200); // the traps are set
    expect((await isb.run(["stop", "-t", "5", "fromimage", "overridden"])).code).toBe(0);
    expect((await isb.run(["wait", "fromimage", "overridden"])).stdout).toBe("7\n8\n");
    await isb.run(["rm", "fromimage", "overridden"]);
  });

  test("kill -s sends the signal; kill of a stopped container is an error", async () => {
    await detached("target", "sh", "-c", "trap 'echo got-hup' HUP; while true; do sleep 0.05; done");
    await Bun.sleep(200);
    expect((await sb.run(["kill", "-s", "HUP", "target"])).code).toBe(0);
    await Bun.sleep(300);
    expect((await sb.run(["logs", "target"])).stdout).toBe("got-hup\n");
    expect((await sb.run(["kill", "target"])).code).toBe(0);
    expect((await sb.run(["wait", "target"])).stdout).toBe("137\n");
    oneLineError(await sb.run(["kill", "target"]), "is not running");
    oneLineError(await sb.run(["kill", "-s", "NOPE", "target"]), "invalid signal");
  });
});

describe("start, restart, rm", () => {
  test("start re-runs a stopped container on the same files; restart runs it again", async () => {
    // each run counts itself; the next step waits for the count, or a kill could come before it
    const logged = async (text: string) => {
      for (let i = 0; i < 200 && (await sb.run(["logs", "again"])).stdout !== text; i++) await Bun.sleep(25);
      expect((await sb.run(["logs", "again"])).stdout).toBe(text);
    };
    await detached("again", "sh", "-c", "echo run >> /runs; cat /runs | wc -l; sleep 600");
    await logged("1\n");
    expect((await sb.run(["stop", "-t", "0", "again"])).code).toBe(0);
    expect((await sb.run(["start", "again"])).stdout).toBe("again\n");
    expect(await field("again", "{{.State.Status}}")).toBe("running");
    await logged("1\n2\n");
    expect((await sb.run(["restart", "-t", "0", "again"])).code).toBe(0);
    await logged("1\n2\n3\n");
    await sb.run(["rm", "-f", "again"]);
  });

  test("a foreground run's container: exec while it runs, inspect shows its env, start runs it again detached", async () => {
    const base = ["--network", "none", "--rootfs", rootfs, "-e", "FROM_RUN=yes"];
    // exec needs the run's spec while a foreground run is still running
    const running = sb.run(["run", "--name", "fgexec", ...base, "sleep", "600"]);
    for (let i = 0; i < 200 && (await field("fgexec", "{{.State.Status}}")) !== "running"; i++) await Bun.sleep(25);
    const exec = await sb.run(["exec", "fgexec", "sh", "-c", "echo $FROM_RUN"]);
    expect(exec.stderr).toBe("");
    expect(exec.stdout).toBe("yes\n");
    expect((await sb.run(["kill", "fgexec"])).code).toBe(0);
    expect((await running).code).toBe(137);

    // docker starts any stopped container again, detached: its output goes to the log
    const first = await sb.run(["run", "--name", "fgstart", ...base, "sh", "-c", "echo ran $FROM_RUN; exit 3"]);
    expect(first).toMatchObject({ code: 3, stdout: "ran yes\n" });
    expect(await field("fgstart", "{{json .Config.Env}}")).toContain('"FROM_RUN=yes"');
    const start = await sb.run(["start", "fgstart"]);
    expect(start.stderr).toBe("");
    expect(start).toMatchObject({ code: 0, stdout: "fgstart\n" });
    expect((await sb.run(["wait", "fgstart"])).stdout).toBe("3\n");
    expect((await sb.run(["logs", "fgstart"])).stdout).toBe("ran yes\n");
    expect(await field("fgstart", "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 3");
    await sb.run(["rm", "-f", "fgexec", "fgstart"]);
  });

  test("start -a prints this run's output, stdout and stderr apart, exits with its code, and passes signals on", async () => {
    const base = ["--network", "none", "--rootfs", rootfs];
    expect((await sb.run(["run", "--name", "attach", ...base, "sh", "-c", "echo out; echo err >&2; exit 4"])).code).toBe(4);
    // only this run's output: the log holds the plain start's too
    expect((await sb.run(["start", "attach"])).code).toBe(0);
    await sb.run(["wait", "attach"]);
    expect(await sb.run(["start", "-a", "attach"])).toEqual({ code: 4, stdout: "out\n", stderr: "err\n" });
    oneLineError(await sb.run(["start", "-a", "attach", "attach"]), "cannot start and attach multiple containers");

    // a SIGTERM to `bunker start -a` reaches the container, whose exit code it returns
    await sb.run(["run", "-d", "--name", "attach-sig", ...base, "sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.05; done"]);
    await sb.run(["kill", "attach-sig"]);
    await sb.run(["wait", "attach-sig"]);
    const attached = Bun.spawn([bunkerBin, "start", "-a", "attach-sig"], { env: sb.env, stdout: "pipe", stderr: "pipe" });
    const reader = attached.stdout.getReader();
    let out = "";
    while (!out.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    attached.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(await attached.exited).toBe(7);
    expect(out).toBe("ready\ngot TERM\n");
    await sb.run(["rm", "-f", "attach", "attach-sig"]);
  });

  test("rm refuses a running container without -f; rm -f kills it; unknown names fail", async () => {
    await detached("busy", "sleep", "600");
    oneLineError(await sb.run(["rm", "busy"]), "container is running");
    expect(await field("busy", "{{.State.Status}}")).toBe("running");
    expect((await sb.run(["rm", "-f", "busy"])).stdout).toBe("busy\n");
    oneLineError(await sb.run(["rm", "busy"]), "no such container: busy");
    expect((await sb.run(["rm", "-f", "busy"])).code).toBe(0); // docker: rm -f of nothing is fine
  });
});

describe("rm -v", () => {
  test("rm -v removes the container's anonymous volumes, not named ones; rm alone keeps them", async () => {
    const volumes = async () => (await sb.run(["volume", "ls", "-q"])).stdout.trim().split("\n").filter(Boolean).sort();
    const before = await volumes();
    await detached("withvols", "-v", "/anon", "-v", "named-keep:/named", "sh", "-c", "echo x > /anon/f; echo y > /named/f");
    await sb.run(["wait", "withvols"]);
    const made = (await volumes()).filter((v) => !before.includes(v));
    expect(made).toHaveLength(2);
    expect(made).toContain("named-keep");
    const anon = made.find((v) => v !== "named-keep")!;
    expect(anon).toMatch(/^[0-9a-f]{64}$/);
    const mounts = JSON.parse(await field("withvols", "{{json .Mounts}}"));
    expect(mounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Type: "volume", Name: anon, Destination: "/anon", RW: true }),
        expect.objectContaining({ Type: "volume", Name: "named-keep", Destination: "/named", RW: true }),
      ]),
    );
    expect((await sb.run(["rm", "-v", "withvols"])).code).toBe(0);
    expect(await volumes()).toEqual([...before, "named-keep"].sort());
    // without -v the anonymous volume stays, as in docker
    await detached("keepvols", "-v", "/anon", "true");
    await sb.run(["wait", "keepvols"]);
    const kept = (await volumes()).filter((v) => !before.includes(v) && v !== "named-keep");
    expect(kept).toHaveLength(1);
    expect((await sb.run(["rm", "keepvols"])).code).toBe(0);
    expect(await volumes()).toContain(kept[0]);
    await sb.run(["volume", "rm", "named-keep", kept[0]]);
  });
});

describe("names and ids", () => {
  test("an ambiguous id prefix is refused with a clear error by every command", async () => {
    // 17 containers: two of them share a first hex digit
    const ids: string[] = [];
    for (let i = 0; i < 17; i++) ids.push(await detached(`amb${i}`, "sleep", "600"));
    const digit = [..."0123456789abcdef"].find((d) => ids.filter((id) => id.startsWith(d)).length > 1)!;
    const unique = ids.find((id) => ids.filter((o) => o.startsWith(id.slice(0, 1))).length === 1) ?? ids[0];
    for (const cmd of [["inspect"], ["stop"], ["rm", "-f"], ["logs"], ["exec"], ["port"], ["kill"], ["wait"]]) {
      const args = cmd[0] === "exec" ? [...cmd, digit, "true"] : [...cmd, digit];
      oneLineError(await sb.run(args), `multiple containers match the id prefix "${digit}"`);
    }
    // nothing was done to any of them
    for (const id of ids) expect(await field(id, "{{.State.Status}}")).toBe("running");
    // the longest prefixes are unique: they work like the name
    expect(await field(unique.slice(0, 12), "{{.Id}}")).toBe(unique);
    const rm = await sb.run(["rm", "-f", ...ids.map((id) => id.slice(0, 12))]);
    expect(rm.code).toBe(0);
    const left = (await sb.run(["ps", "-aq", "--no-trunc"])).stdout;
    for (const id of ids) expect(left).not.toContain(id);
  });


  test("--name must be unique; a generated name is docker-style; id prefixes work", async () => {
    const id = await detached("unique", "sleep", "600");
    const r = await sb.run(["run", "-d", "--network", "none", "--name", "unique", "--rootfs", rootfs, "true"]);
    oneLineError(r, 'the container name "unique" is already in use');
    const anon = await sb.run(["run", "-d", "--network", "none", "--rootfs", rootfs, "true"]);
    const anonName = await field(anon.stdout.trim(), "{{.Name}}");
    expect(anonName).toMatch(/^\/[a-z]+_[a-z]+\d?$/);
    expect(await field(id.slice(0, 8), "{{.Name}}")).toBe("/unique");
    // docker: what was found on stdout, then an error line per missing name, exit 1
    expect(await sb.run(["inspect", "--type", "container", "nosuchthing"])).toEqual({ code: 1, stdout: "[]\n", stderr: "Error: No such container: nosuchthing\n" });
    expect(await sb.run(["inspect", "nosuchthing"])).toEqual({ code: 1, stdout: "[]\n", stderr: "Error: No such object: nosuchthing\n" });
    const some = await sb.run(["inspect", "nosuchthing", "unique"]);
    expect(some.code).toBe(1);
    expect(JSON.parse(some.stdout).map((c: { Name: string }) => c.Name)).toEqual(["/unique"]);
    expect(some.stderr).toBe("Error: No such object: nosuchthing\n");
    expect(await sb.run(["inspect", "-f", "{{.Name}}", "unique", "nosuchthing"])).toEqual({ code: 1, stdout: "/unique\n", stderr: "Error: No such object: nosuchthing\n" });
  });

  test("rename keeps names unique", async () => {
    expect((await sb.run(["rename", "unique", "renamed"])).code).toBe(0);
    expect(await field("renamed", "{{.State.Status}}")).toBe("running");
    await detached("other", "true");
    oneLineError(await sb.run(["rename", "renamed", "other"]), "already in use");
    await sb.run(["rm", "-f", "renamed", "other"]);
  });
});

describe("ps and inspect", () => {
  test("ps -a, -q, --filter, --format json; inspect is docker-shaped", async () => {
    const up = await detached("up1", "sleep", "600");
    await detached("done1", "sh", "-c", "exit 3");
    await sb.run(["wait", "done1"]);
    const running = await sb.run(["ps", "-q"]);
    expect(running.stdout.split("\n")).toContain(up.slice(0, 12));
    expect(running.stdout).not.toContain((await field("done1", "{{.Id}}")).slice(0, 12));
    const exited = await sb.run(["ps", "-a", "--filter", "status=exited", "--filter", "name=done", "--format", "json"]);
    const rows = exited.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.map((r) => r.Names)).toEqual(["done1"]);
    expect(rows[0].Status).toMatch(/^Exited \(3\) /);
    // --restart no (the default): a failure stays a failure
    expect(await field("done1", "{{.RestartCount}} {{.HostConfig.RestartPolicy.Name}} {{.State.Status}}")).toBe("0 no exited");
    expect((await sb.run(["ps", "-a", "--no-trunc", "-q", "--filter", "name=up1"])).stdout.trim()).toBe(up);
    oneLineError(await sb.run(["ps", "--filter", "colour=red"]), "invalid filter");
    oneLineError(await sb.run(["ps", "--filter", "status=sleepy"]), 'invalid filter "status=sleepy"');
    // docker's Go templates, and table templates with titles
    expect((await sb.run(["ps", "-a", "--filter", "name=done1", "--format", "{{.Names}}: {{.State}}"])).stdout).toBe("done1: exited\n");
    const table = await sb.run(["ps", "--filter", "name=up1", "--format", "table {{.ID}}\\t{{.Names}}"]);
    expect(table.stdout).toBe(`CONTAINER ID\tNAMES\n${up.slice(0, 12)}\tup1\n`);
    const [obj] = JSON.parse((await sb.run(["inspect", "up1"])).stdout);
    expect(obj.Id).toBe(up);
    expect(obj.Name).toBe("/up1");
    expect(Object.keys(obj.State)).toEqual(expect.arrayContaining(["Status", "Running", "Pid", "ExitCode", "StartedAt", "FinishedAt", "OOMKilled"]));
    expect(obj.State.Running).toBe(true);
    expect(obj.Config.Cmd).toEqual(["sleep", "600"]);
    expect(obj.HostConfig.RestartPolicy).toEqual({ Name: "no", MaximumRetryCount: 0 });
    expect(obj.NetworkSettings).toHaveProperty("Ports");
    expect(Array.isArray(obj.Mounts)).toBe(true);
    await sb.run(["rm", "-f", "up1", "done1"]);
  });

  test("docker's management spelling: container run, container ls", async () => {
    const r = await sb.run(["container", "run", "-d", "--network", "none", "--name", "managed", "--rootfs", rootfs, "sleep", "600"]);
    expect(r.code).toBe(0);
    expect((await sb.run(["container", "ls", "-q", "--filter", "name=managed"])).stdout).toBe(`${r.stdout.slice(0, 12)}\n`);
    expect((await sb.run(["container", "rm", "-f", "managed"])).code).toBe(0);
  });

  test("container prune removes stopped containers only", async () => {
    await detached("keep", "sleep", "600");
    await detached("gone", "true");
    await sb.run(["wait", "gone"]);
    const r = await sb.run(["container", "prune", "-f"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Deleted Containers:");
    const left = (await sb.run(["container", "ls", "-a", "--format", "json"])).stdout.trim().split("\n").map((l) => JSON.parse(l).Names);
    expect(left).toContain("keep");
    expect(left).not.toContain("gone");
    await sb.run(["rm", "-f", "keep"]);
  });

  test("container prune finishes a removal that was cut short (kill -9 during rm)", async () => {
    // what removeContainer leaves when killed after its rename: the record's dir, renamed away
    const doomed = `${sb.root}/containers/.removing-${"ab".repeat(32)}`;
    mkdirSync(`${doomed}/upper/etc`, { recursive: true });
    writeFileSync(`${doomed}/upper/etc/passwd`, "root:x:0:0::/root:/bin/sh\n");
    writeFileSync(`${doomed}/config.json`, "{}");
    const r = await sb.run(["container", "prune", "-f"]);
    expect(r.code).toBe(0);
    expect(existsSync(doomed)).toBe(false);
  });
});

describe("logs", () => {
  test("stdout and stderr apart, -t, --tail, --since, and -f until the container exits", async () => {
    // stdout and stderr are two pipes: the pause puts err1 before out2 in the log (--tail counts both)
    await detached("talker", "sh", "-c", "echo out1; echo err1 >&2; sleep 0.2; echo out2; printf partial");
    await sb.run(["wait", "talker"]);
    const all = await sb.run(["logs", "talker"]);
    expect(all.stdout).toBe("out1\nout2\npartial");
    expect(all.stderr).toBe("err1\n");
    expect((await sb.run(["logs", "--tail", "1", "talker"])).stdout).toBe("partial");
    expect((await sb.run(["logs", "--tail", "2", "talker"])).stdout).toBe("out2\npartial");
    expect((await sb.run(["logs", "-t", "talker"])).stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out1\n/);
    expect((await sb.run(["logs", "--since", "2000-01-01T00:00:00Z", "talker"])).stdout).toBe("out1\nout2\npartial");
    expect((await sb.run(["logs", "--since", new Date(Date.now() + 60_000).toISOString(), "talker"])).stdout).toBe("");
    expect((await sb.run(["logs", "--until", "2000-01-01T00:00:00Z", "talker"])).stdout).toBe("");
    oneLineError(await sb.run(["logs", "--since", "yesterday-ish", "talker"]), "invalid --since");

    await detached("ticker", "sh", "-c", "for i in 1 2 3; do echo tick$i; sleep 0.2; done");
    const f = await sb.run(["logs", "-f", "ticker"]);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe("tick1\ntick2\ntick3\n");
  });
});

describe("logs -f", () => {
  test("follows across rotations: every line once, in order", async () => {
    // ~45 bytes a record: 1000 lines rotate the 8k file several times; 10 files keep them all
    const script = "i=0; while [ $i -lt 1000 ]; do echo line-$i; i=$((i+1)); [ $((i % 50)) = 0 ] && sleep 0.03; done; exit 0";
    const r = await sb.run(["run", "-d", "--network", "none", "--name", "rotor", "--log-opt", "max-size=8k", "--log-opt", "max-file=10", "--rootfs", rootfs, "sh", "-c", script]);
    expect(r.code).toBe(0);
    const f = await sb.run(["logs", "-f", "rotor"]);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe(Array.from({ length: 1000 }, (_, i) => `line-${i}\n`).join(""));
    expect(existsSync(`${sb.root}/containers/${r.stdout.trim()}/ctr.log.1`)).toBe(true);
    await sb.run(["rm", "rotor"]);
  });
});

describe("generate systemd", () => {
  test("prints a user unit that starts and stops the container with this bunker", async () => {
    // ends at SIGTERM: the unit's stop waits up to 10 s before SIGKILL
    await detached("unit", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.05; done");
    expect((await sb.run(["stop", "-t", "0", "unit"])).code).toBe(0);
    const r = await sb.run(["generate", "systemd", "unit"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ExecStart=${bunkerBin} start unit`);
    expect(r.stdout).toContain(`ExecStop=${bunkerBin} stop -t 10 unit`);
    expect(r.stdout).toContain(`Environment=BUNKER_ROOT=${sb.root}`);
    expect(r.stdout).toContain("Type=forking");
    expect(r.stdout).toContain("SuccessExitStatus=143");
    expect(r.stdout).toContain("WantedBy=default.target");
    // what systemd would run, with the unit's environment: start, then stop, the container
    const line = (key: string) => r.stdout.split("\n").find((l) => l.startsWith(`${key}=`))!.slice(key.length + 1);
    const [envKey, envValue] = line("Environment").split("=");
    const env = { ...sb.env, [envKey]: envValue };
    const start = Bun.spawnSync(line("ExecStart").split(" "), { env, stdout: "pipe", stderr: "pipe" });
    expect(start.exitCode).toBe(0);
    expect(await field("unit", "{{.State.Status}}")).toBe("running");
    const stop = Bun.spawnSync(line("ExecStop").split(" "), { env, stdout: "pipe", stderr: "pipe" });
    expect(stop.exitCode).toBe(0);
    expect(await field("unit", "{{.State.Status}}")).toBe("exited");
    oneLineError(await sb.run(["generate", "systemd", "nosuch"]), "no such container: nosuch");
  });

  test.skipIf(!Bun.which("systemd-analyze"))("systemd-analyze verify finds nothing wrong in the unit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunker-unit-"));
    try {
      const file = join(dir, "container-unit.service");
      await Bun.write(file, (await sb.run(["generate", "systemd", "unit"])).stdout);
      const v = Bun.spawnSync(["systemd-analyze", "verify", file], { stdout: "pipe", stderr: "pipe" });
      expect(v.stderr.toString()).toBe("");
      expect(v.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("image containers", () => {
  test("start keeps the writable layer of an image container; rm removes it", async () => {
    expect((await sb.run(["load", "-q", "-i", `${imagesSrc}/busybox-1.38.0-musl-amd64-oci`])).code).toBe(0);
    const image = (await sb.run(["images", "-q"])).stdout.trim();
    const r = await sb.run(["run", "-d", "--network", "none", "--name", "layered", image, "sh", "-c", "echo x >> /kept; wc -l < /kept; sleep 600"]);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    await sb.run(["stop", "-t", "0", "layered"]);
    expect((await sb.run(["start", "layered"])).code).toBe(0);
    expect((await sb.run(["exec", "layered", "cat", "/kept"])).stdout).toBe("x\nx\n");
    expect(await field("layered", "{{.Image}}")).toMatch(/^sha256:/);
    expect((await sb.run(["rm", "-f", "layered"])).code).toBe(0);
    expect(existsSync(`${sb.root}/containers/${id}`)).toBe(false);
    await sb.run(["rmi", image]);
  });
});

describe("image prune", () => {
  test("removes dangling images; -a every image no container uses", async () => {
    const old = await loadBusyboxAs("prunable:1", { Cmd: ["sh"], Labels: { v: "1" } });
    const fresh = await loadBusyboxAs("prunable:1", { Cmd: ["sh"], Labels: { v: "2" } }); // the tag moves
    const used = await loadBusyboxAs("inuse:1", { Cmd: ["sleep", "600"] });
    expect(new Set([old, fresh, used]).size).toBe(3);
    expect((await imageSb.run(["run", "-d", "--network", "none", "--name", "imguser", "inuse:1"])).code).toBe(0);
    const short = (id: string) => id.slice(7, 19);
    const ids = async () => (await imageSb.run(["images", "-q"])).stdout;
    const r = await imageSb.run(["image", "prune", "-f"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Deleted Images:\ndeleted: ${old}\n`);
    expect(await ids()).not.toContain(short(old));
    expect(await ids()).toContain(short(fresh));
    const all = await imageSb.run(["image", "prune", "-a", "-f"]);
    expect(all.stdout).toMatch(/^untagged: (docker.io\/library\/)?prunable:1$/m);
    expect(all.stdout).toContain(`deleted: ${fresh}`);
    expect(all.stdout).not.toContain(used);
    expect(await ids()).toContain(short(used));
    expect((await imageSb.run(["image", "prune", "-a", "-f"])).stdout).toBe(""); // nothing left to prune
    await imageSb.run(["rm", "-f", "imguser"]);
  });
});

describe("system prune", () => {
  test("removes stopped containers and images no container uses; keeps what a container uses", async () => {
    expect((await sb.run(["load", "-q", "-i", `${imagesSrc}/busybox-1.38.0-musl-amd64-oci`])).code).toBe(0);
    const short = (await sb.run(["images", "-q"])).stdout.trim();
    const image = (await sb.run(["inspect", "-f", "{{.Id}}", short])).stdout.trim();
    expect(image).toMatch(/^sha256:[0-9a-f]{64}$/);
    const run = await sb.run(["run", "-d", "--network", "none", "--name", "user", image, "sleep", "600"]);
    expect(run.code).toBe(0);
    await detached("leftover", "true");
    await sb.run(["wait", "leftover"]);
    const first = await sb.run(["system", "prune", "-a", "-f"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("Deleted Containers:");
    expect(first.stdout).not.toContain("Deleted Images:");
    expect((await sb.run(["images", "-q"])).stdout.trim()).toBe(short);
    await sb.run(["rm", "-f", "user"]);
    const second = await sb.run(["system", "prune", "-a", "-f"]);
    expect(second.stdout).toContain(`deleted: ${image}`);
    expect((await sb.run(["images", "-q"])).stdout).toBe("");
    expect((await sb.run(["ps", "-aq"])).stdout).toBe("");
  });
});
