// bunker exec as a real unprivileged user: the command joins every namespace of the container,
// with the main process's capabilities and no_new_privs; -i, -t, -e, -w, -u, -d; exit codes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { bunkerBin, bunkerSandbox, type Sandbox } from "../support/bunker";
import { busyboxRootfs } from "../support/rootfs";

let sb: Sandbox;
let rootfs: string;
let mainPid: number;

beforeAll(async () => {
  sb = bunkerSandbox();
  rootfs = busyboxRootfs();
  const r = await sb.run(["run", "-d", "--network", "none", "--name", "box", "--hostname", "boxhost", "--rootfs", rootfs, "sleep", "600"]);
  expect(r.code).toBe(0);
  mainPid = JSON.parse(readFileSync(join(sb.runroot, "containers", r.stdout.trim(), "state.json"), "utf8")).Pid;
});
afterAll(async () => {
  await sb.run(["rm", "-f", "box"]);
  sb.cleanup();
  rmSync(dirname(rootfs), { recursive: true, force: true });
});

const statusField = (text: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(text)![1];

describe("exec", () => {
  test("joins every namespace of the container", async () => {
    const r = await sb.run(["exec", "box", "sh", "-c", "hostname; ps -o pid,args; for n in user mnt pid uts ipc net cgroup; do readlink /proc/self/ns/$n; done"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("boxhost");
    // the container's processes only, its init as PID 1
    expect(r.stdout).toMatch(/^\s*1 sleep 600$/m);
    const nsOut = lines.slice(-7);
    const nsMain = ["user", "mnt", "pid", "uts", "ipc", "net", "cgroup"].map((n) => require("node:fs").readlinkSync(`/proc/${mainPid}/ns/${n}`));
    expect(nsOut).toEqual(nsMain);
  });

  test("same capabilities, ids and no_new_privs as the main process", async () => {
    const main = readFileSync(`/proc/${mainPid}/status`, "utf8");
    const r = await sb.run(["exec", "box", "sh", "-c", "cat /proc/1/status; echo ===; cat /proc/self/status"]);
    const [inMain, inExec] = r.stdout.split("===\n");
    for (const f of ["CapBnd", "CapEff", "CapPrm", "NoNewPrivs", "Seccomp", "Seccomp_filters", "Uid", "Gid"]) expect(statusField(inExec, f)).toBe(statusField(inMain, f));
    for (const f of ["CapBnd", "CapEff", "NoNewPrivs"]) expect(statusField(inExec, f)).toBe(statusField(main, f));
    expect(statusField(inExec, "NoNewPrivs")).toBe("1");
  });

  test("the container's own capability set (--cap-drop/--cap-add), not the default one", async () => {
    const r = await sb.run(["run", "-d", "--network", "none", "--name", "fewcaps", "--cap-drop", "ALL", "--cap-add", "NET_RAW", "--cap-add", "KILL", "--rootfs", rootfs, "sleep", "600"]);
    expect(r.code).toBe(0);
    const out = (await sb.run(["exec", "fewcaps", "sh", "-c", "cat /proc/1/status; echo ===; cat /proc/self/status"])).stdout;
    const [inMain, inExec] = out.split("===\n");
    // NET_RAW (13) and KILL (5) only
    expect(statusField(inMain, "CapEff")).toBe((2 ** 13 + 2 ** 5).toString(16).padStart(16, "0"));
    for (const f of ["CapBnd", "CapEff", "CapPrm", "NoNewPrivs"]) expect(statusField(inExec, f)).toBe(statusField(inMain, f));
    await sb.run(["rm", "-f", "fewcaps"]);
  });

  test("the container's seccomp: none for a --privileged or seccomp=unconfined one, as its main process", async () => {
    for (const [name, flags] of [["privd", ["--privileged"]], ["unconfined", ["--security-opt", "seccomp=unconfined"]]] as const) {
      const r = await sb.run(["run", "-d", "--network", "none", "--name", name, ...flags, "--rootfs", rootfs, "sleep", "600"]);
      expect(r.code).toBe(0);
      const out = (await sb.run(["exec", name, "sh", "-c", "cat /proc/1/status; echo ===; cat /proc/self/status"])).stdout;
      const [inMain, inExec] = out.split("===\n");
      expect(statusField(inMain, "Seccomp")).toBe("0");
      for (const f of ["Seccomp", "Seccomp_filters", "CapEff"]) expect(statusField(inExec, f)).toBe(statusField(inMain, f));
      await sb.run(["rm", "-f", name]);
    }
  });

  test("the container's --ulimit applies to exec too (docker's exec inherits the rlimits); one exec can't raise above its own: one line", async () => {
    const r = await sb.run(["run", "-d", "--network", "none", "--name", "limited", "--ulimit", "nofile=123:456", "--rootfs", rootfs, "sleep", "600"]);
    expect(r.code).toBe(0);
    const inside = await sb.run(["exec", "limited", "sh", "-c", "ulimit -n; ulimit -Hn"]);
    expect(inside.stdout).toBe("123\n456\n");
    // an exec run from a shell whose hard limit is lower than the container's
    const p = Bun.spawn(["sh", "-c", `ulimit -n 300 && exec "$0" exec limited true`, bunkerBin], { env: sb.env, stdout: "pipe", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(126);
    expect(stderr).toBe(
      "Error: cannot exec in container limited: set ulimit nofile=123:456: operation not permitted (EPERM): bunker's own hard limit is lower, and a container can't raise it: raise yours (ulimit -H)\n",
    );
    await sb.run(["rm", "-f", "limited"]);
  });

  test("joins the container's cgroup", async () => {
    const r = await sb.run(["exec", "box", "sh", "-c", "cat /proc/1/cgroup; echo ===; cat /proc/self/cgroup"]);
    const [ofMain, ofExec] = r.stdout.split("===\n");
    expect(ofMain.trim()).not.toBe("");
    expect(ofExec).toBe(ofMain);
  });

  test("exit codes: the command's, 127 not found, 126 not executable, 125 not running", async () => {
    expect((await sb.run(["exec", "box", "sh", "-c", "exit 9"])).code).toBe(9);
    const nf = await sb.run(["exec", "box", "nosuchcmd"]);
    expect(nf.code).toBe(127);
    expect(nf.stderr).toContain("executable file not found");
    expect((await sb.run(["exec", "box", "/etc/passwd"])).code).toBe(126);
    // a working directory that isn't there: docker's 126, one line
    const wd = await sb.run(["exec", "-w", "/nonexistent", "box", "pwd"]);
    expect(wd.code).toBe(126);
    expect(wd.stderr.trim().split("\n")).toHaveLength(1);
    expect(wd.stderr).toContain("cannot exec in container box");
    expect(wd.stderr).toContain("/nonexistent");
    expect((await sb.run(["exec", "box", "sh", "-c", "kill -9 $$"])).code).toBe(137);
    await sb.run(["run", "-d", "--network", "none", "--name", "stopped", "--rootfs", rootfs, "true"]);
    await sb.run(["wait", "stopped"]);
    const r = await sb.run(["exec", "stopped", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("is not running");
    const usage = await sb.run(["exec", "box"]);
    expect(usage.code).toBe(125);
  });

  test("-i passes stdin; without it stdin is empty", async () => {
    expect((await sb.run(["exec", "-i", "box", "tr", "a-z", "A-Z"], { stdin: "hello\n" })).stdout).toBe("HELLO\n");
    expect((await sb.run(["exec", "box", "cat"], { stdin: "ignored\n" })).stdout).toBe("");
  });

  test("-e, -w and -u", async () => {
    const r = await sb.run(["exec", "-e", "GREETING=hi", "-w", "/tmp", "-u", "1000:1000", "box", "sh", "-c", 'echo $GREETING; pwd; id -u; id -g; grep CapEff /proc/self/status']);
    expect(r.stdout).toBe("hi\n/tmp\n1000\n1000\nCapEff:\t0000000000000000\n");
    expect((await sb.run(["exec", "-u", "nobody", "box", "id", "-un"])).stdout).toBe("nobody\n");
    // HOME is the exec user's (busybox's nobody lives in /home; a uid without an entry gets /)
    expect((await sb.run(["exec", "-u", "nobody", "box", "sh", "-c", "echo $HOME"])).stdout).toBe("/home\n");
    expect((await sb.run(["exec", "-u", "4321", "box", "sh", "-c", "echo $HOME"])).stdout).toBe("/\n");
    expect((await sb.run(["exec", "box", "sh", "-c", "echo $HOME"])).stdout).toBe("/root\n");
    expect((await sb.run(["exec", "-u", "nobody", "-e", "HOME=/mine", "box", "sh", "-c", "echo $HOME"])).stdout).toBe("/mine\n");
  });

  test("-t gives a terminal from the container's own devpts", async () => {
    // -t without -i: nothing is copied to the pty from script's stdin, whose EOF script(1) may
    // pass on as a control character that the pty echoes before the output.
    const cmd = `${bunkerBin} exec -t box sh -c 'tty; test -t 0 && test -t 1 && echo both-tty'`;
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { env: sb.env, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString().replaceAll("\r", "");
    expect(out).toMatch(/^\/dev\/pts\/\d+$/m);
    expect(out).toContain("both-tty");
  });

  test("-t: the pty is the command's own, in the container's /dev/pts, owned by its user (-u)", async () => {
    const cmd = `${bunkerBin} exec -t -u 1000 box sh -c 'n=$(tty) && stat -c "owner=%u" "$n" && ls /dev/pts | grep -qx "\${n#/dev/pts/}" && echo listed'`;
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { env: sb.env, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString().replaceAll("\r", "");
    expect(out).toContain("owner=1000\nlisted");
  });

  test("-it carries what is typed through the pty, and the exit code back", async () => {
    const cmd = `${bunkerBin} exec -it box sh -c 'read line; echo "got-$line"; exit 5'`;
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { env: sb.env, stdin: new Blob(["typed\n"]), stdout: "pipe", stderr: "pipe" });
    expect(r.stdout.toString().replaceAll("\r", "")).toContain("got-typed\n");
    expect(r.exitCode).toBe(5);
  });

  test("-d runs the command in the background and returns at once", async () => {
    const r = await sb.run(["exec", "-d", "box", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done > /tmp/bg"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    // bunker returned while the command still waits for us
    expect((await sb.run(["exec", "box", "cat", "/tmp/bg"])).code).not.toBe(0);
    expect((await sb.run(["exec", "box", "touch", "/tmp/go"])).code).toBe(0);
    let out = "";
    for (let i = 0; i < 200 && out !== "done\n"; i++) {
      await Bun.sleep(25);
      out = (await sb.run(["exec", "box", "cat", "/tmp/bg"])).stdout;
    }
    expect(out).toBe("done\n");
  });

  test("docker's management spelling: container exec", async () => {
    const r = await sb.run(["container", "exec", "-e", "X=1", "box", "sh", "-c", "echo $X; hostname"]);
    expect(r.stdout).toBe("1\nboxhost\n");
    expect(r.code).toBe(0);
  });

  test("top lists the container's processes, and only them, with ps options", async () => {
    const r = await sb.run(["top", "box"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(/^UID\s+PID\s+PPID/);
    expect(r.stdout).toContain("sleep 600");
    // ps's own options; "aux" alone would list every process of the host
    for (const opts of [["-o", "pid,comm"], ["aux"]]) {
      const t = await sb.run(["top", "box", ...opts]);
      expect(t.code).toBe(0);
      const lines = t.stdout.trim().split("\n");
      expect(lines[0]).toMatch(/PID/);
      expect(lines.slice(1)).toHaveLength(1); // sleep 600, the container's only process
      expect(lines[1]).toContain(String(mainPid));
    }
    const bad = await sb.run(["top", "box", "-o", "comm"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain("no PID column");
  });
});
