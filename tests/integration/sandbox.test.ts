// `bunker sandbox` as an unprivileged user: the host's system read-only, fresh /tmp and $HOME,
// the current directory ro/rw/none, no network by default, the user's own identity, exit codes.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { whyUnusable } from "../../src/net";
import { bunkerBin, bunkerSandbox } from "../support/bunker";
import { expectOneLineError } from "../support/errors";

const sb = bunkerSandbox();
const base = mkdtempSync(join(tmpdir(), "bunker-sandbox-"));
const work = join(base, "project");
mkdirSync(work);
writeFileSync(join(work, "input.txt"), "from the host\n");
writeFileSync(join(base, "outside.txt"), "not for the sandbox\n");
afterAll(() => {
  sb.cleanup();
  rmSync(base, { recursive: true, force: true });
});

const sandbox = (args: string[], opts: { env?: Record<string, string> } = {}) => sb.run(["sandbox", ...args], { cwd: work, ...opts });
const sh = (script: string, ...flags: string[]) => sandbox([...flags, "--", "sh", "-c", script]);


describe("bunker sandbox", () => {
  test("sees the host's /usr and /etc but cannot write them", async () => {
    const r = await sh("test -x /usr/bin/env && grep -q '^root:' /etc/passwd && echo seen; touch /usr/bunker-x 2>&1; touch /etc/bunker-x 2>&1; touch /bunker-x 2>&1; true");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("seen");
    expect(r.stdout.match(/Read-only file system/g)?.length).toBe(3);
  });
  test("runs as the invoking user, in its own hostname", async () => {
    const r = await sh("id -u; id -g; hostname");
    expect(r.stdout).toBe(`${process.getuid!()}\n${process.getgid!()}\nsandbox\n`);
    expect((await sh("hostname", "--hostname", "box")).stdout).toBe("box\n");
  });
  test("/tmp and $HOME are fresh and empty; the host's other files are out of sight", async () => {
    const r = await sh(`ls -A "$HOME" | wc -l; ls -A /tmp; test -e ${join(base, "outside.txt")} && echo LEAK; echo x > "$HOME/f" && echo x > /tmp/f && echo writable`);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("LEAK");
    // /tmp is empty but for the path down to the bound current directory, when that is under /tmp
    const underTmp = work.startsWith("/tmp/") ? `${work.split("/")[2]}\n` : "";
    expect(r.stdout).toBe(`0\n${underTmp}writable\n`);
  });
  test("the current directory is read-only by default", async () => {
    const r = await sh("pwd; cat input.txt; echo new > output.txt 2>&1 || echo refused");
    expect(r.stdout).toBe(`${work}\nfrom the host\nrefused\n`);
  });
  test("--cwd rw lets it write, and the file is the user's on the host", async () => {
    const r = await sh("echo made > output.txt", "--cwd", "rw");
    expect(r.code).toBe(0);
    expect(readFileSync(join(work, "output.txt"), "utf8")).toBe("made\n");
    expect(statSync(join(work, "output.txt")).uid).toBe(process.getuid!());
  });
  test("--cwd none hides it and starts in $HOME", async () => {
    const r = await sh(`pwd; test -e ${work} && echo LEAK; true`, "--cwd", "none");
    expect(r.stdout).toBe(`${process.env.HOME}\n`);
  });
  test("no network by default: loopback only, and it is up", async () => {
    const r = await sh("cat /proc/net/dev; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags");
    const ifaces = r.stdout.split("\n").filter((l) => l.includes(":")).map((l) => l.split(":")[0].trim()).filter((n) => !n.startsWith("Inter") && n !== "face");
    expect(ifaces).toEqual(["lo"]);
    expect(Number(r.stdout.trim().split("\n").at(-1)) & 1).toBe(1); // IFF_UP
  });
  test("--network host shows the host's interfaces", async () => {
    const host = readFileSync("/proc/net/dev", "utf8").split("\n").slice(2).filter(Boolean).map((l) => l.split(":")[0].trim()).sort();
    const r = await sh("tail -n +3 /proc/net/dev | cut -d: -f1", "--network", "host");
    expect(r.stdout.split("\n").filter(Boolean).map((s) => s.trim()).sort()).toEqual(host);
  });
  test.if(whyUnusable("pasta") === undefined)("--network pasta: a private interface besides lo, and pasta's resolver", async () => {
    const r = await sh("tail -n +3 /proc/net/dev | cut -d: -f1 | wc -l; cat /etc/resolv.conf", "--network", "pasta");
    expect(r.stdout).toStartWith("2\nnameserver 169.254.1.1\n");
  });
  test("only harmless variables pass through; -e adds more", async () => {
    const r = await sh('echo "${SECRET_TOKEN:-none} $EXTRA $PATH"', "-e", "EXTRA=given");
    expect(r.stdout).toBe(`none given ${process.env.PATH}\n`);
  });
  test("-v binds like run", async () => {
    const r = await sh("cat /data/outside.txt; echo x > /data/y 2>&1 || echo refused", "-v", `${base}:/data:ro`);
    expect(r.stdout).toBe("not for the sandbox\nrefused\n");
  });
  test("exit codes: the command's, 127 not found, 126 not executable, 128+N on a signal", async () => {
    expect((await sh("exit 7")).code).toBe(7);
    const nf = await sandbox(["--", "no-such-command-bunker"]);
    expect(nf.code).toBe(127);
    expect(nf.stderr).toContain("executable file not found");
    expect((await sandbox(["--", "/etc/passwd"])).code).toBe(126);
    // (as PID 1 the shell would ignore its own SIGTERM: --init makes it an ordinary process)
    expect((await sh("kill -TERM $$", "--init")).code).toBe(128 + 15);
  });
  test("the host's /usr, /bin, /lib* and /etc are read-only binds", async () => {
    const r = await sh("grep -E ' /(usr|bin|lib[0-9]*|etc) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1 | sort");
    const expected = ["/bin", "/etc", "/usr", ...["/lib", "/lib32", "/lib64", "/libx32"].filter((d) => existsSync(d))]
      .sort()
      .map((d) => `${d} ro`);
    expect(r.stdout.trim().split("\n")).toEqual(expected);
  });
  test("run's flags: -i, -w, -u, --env-file, --cap-add/--cap-drop, --tmpfs and --mount type=tmpfs", async () => {
    expect((await sb.run(["sandbox", "-i", "--", "tr", "a-z", "A-Z"], { cwd: work, stdin: "piped\n" })).stdout).toBe("PIPED\n");
    expect((await sh("pwd", "-w", "/usr")).stdout).toBe("/usr\n");
    expect((await sh("id -u; grep CapEff /proc/self/status", "-u", "0")).stdout).toBe("0\nCapEff:\t00000000a80425fb\n");
    expect((await sh("id -un", "-u", "nobody")).stdout).toBe("nobody\n");
    // the invoking user has no capabilities, as outside; the bounding set is docker's, or what the flags say
    expect((await sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status")).stdout).toBe("CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n");
    expect((await sh("grep CapBnd /proc/self/status", "--cap-drop", "ALL", "--cap-add", "NET_RAW")).stdout).toBe("CapBnd:\t0000000000002000\n");
    writeFileSync(join(base, "env.list"), "FROM_FILE=yes\n");
    expect((await sh("echo $FROM_FILE", "--env-file", join(base, "env.list"))).stdout).toBe("yes\n");
    const t = await sh("touch /scratch/a /t2/b && grep -E ' /(scratch|t2) ' /proc/mounts | cut -d' ' -f2 | sort", "--tmpfs", "/scratch:size=1m", "--mount", "type=tmpfs,target=/t2");
    expect(t.stdout).toBe("/scratch\n/t2\n");
  });
  test("--ulimit and --device as in run; --sysctl is not a sandbox flag", async () => {
    expect((await sh("ulimit -n; ulimit -Hn", "--ulimit", "nofile=100:200")).stdout).toBe("100\n200\n");
    const tun = await sh("test -c /dev/net/tun && exec 3<>/dev/net/tun && echo opened", "--device", "/dev/net/tun");
    expect(tun.stdout).toBe("opened\n");
    expectOneLineError(await sandbox(["--ulimit", "nofile=2:1", "true"]), 'invalid --ulimit "nofile=2:1"');
    expectOneLineError(await sandbox(["--device", "/etc/passwd", "true"]), 'invalid --device "/etc/passwd"');
    expectOneLineError(await sandbox(["--sysctl", "net.ipv4.ip_forward=1", "true"]), "unknown flag: --sysctl");
  });

  test("-t gives a pty of the sandbox's own devpts (through script(1)); --rm is accepted", async () => {
    const p = Bun.spawn(["script", "-qec", `${bunkerBin} sandbox -t --rm -- sh -c 'test -t 0 && echo is-a-tty; tty'`, "/dev/null"], { cwd: work, env: sb.env, stdout: "pipe", stderr: "pipe" });
    const out = (await new Response(p.stdout).text()).replaceAll("\r", "");
    expect(out).toContain("is-a-tty");
    expect(out).toMatch(/^\/dev\/pts\/\d+$/m); // ttyname() finds it in the sandbox's /dev/pts
    expect(await p.exited).toBe(0);
  });
  test.if(whyUnusable("pasta") === undefined)("-p with --network pasta publishes on 127.0.0.1", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const p = Bun.spawn([bunkerBin, "sandbox", "--network", "pasta", "--init", "-p", `127.0.0.1:${port}:8080`, "--", "busybox", "httpd", "-f", "-p", "8080", "-h", work], { cwd: work, env: sb.env, stdout: "pipe", stderr: "pipe" });
    let body = "";
    for (let i = 0; i < 200 && body === ""; i++) {
      body = await fetch(`http://127.0.0.1:${port}/input.txt`).then((r) => r.text(), () => "");
      if (body === "") await Bun.sleep(25); // still starting
    }
    p.kill("SIGTERM");
    await p.exited;
    expect(body).toBe("from the host\n");
  }, 30_000);
  test("bad flags and no command are one-line errors with 125", async () => {
    expectOneLineError(await sandbox(["--cwd", "bogus", "true"]), 'invalid --cwd "bogus"');
    expectOneLineError(await sandbox([]), "requires a command");
    expectOneLineError(await sandbox(["-v", "/no/such/dir:/x", "true"]), "bind source path does not exist: /no/such/dir");
    expectOneLineError(await sandbox(["--network", "nope", "true"]), "network nope not found");
    expectOneLineError(await sb.run(["sandbox", "--", "true"], { cwd: "/" }), "the current directory is /");
  });
});
