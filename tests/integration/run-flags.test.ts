// docker run's other flags that scripts use, as a real unprivileged user: /etc/hosts and
// /etc/resolv.conf entries, supplementary groups, /dev/shm's size, labels from a file, the cidfile,
// --stop-timeout and -q. Each bad value is one line, exit 125, and leaves no container.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectOneLineError } from "../support/errors";
import { rootfsSandbox } from "../support/rootfs";

const { sb, rootfs } = rootfsSandbox();

const sh = (flags: string[], script: string) => sb.run(["run", "--rm", "--network", "none", ...flags, "--rootfs", rootfs, "sh", "-c", script]);
const field = async (name: string, template: string) => (await sb.run(["inspect", "-f", template, name])).stdout.trim();
const containerIds = () => (existsSync(join(sb.root, "containers")) ? readdirSync(join(sb.root, "containers")).filter((n) => /^[0-9a-f]{64}$/.test(n)) : []);

describe("/etc/hosts and /etc/resolv.conf", () => {
  test("--add-host lines come before the container's own; --dns, --dns-search and --dns-option replace the resolver's", async () => {
    const r = await sh(["--hostname", "box", "--add-host", "db:10.0.0.5", "--add-host", "v6=::1", "--dns", "10.0.0.53", "--dns-search", "a.test", "--dns-option", "ndots:3"], "tail -3 /etc/hosts; cat /etc/resolv.conf");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("10.0.0.5\tdb\n::1\tv6\n127.0.1.1\tbox\nnameserver 10.0.0.53\nsearch a.test\noptions ndots:3\n");
    expect(r.code).toBe(0);
  });

  test("with the host's network: the host's files, with the entries added", async () => {
    const r = await sb.run(["run", "--rm", "--network", "host", "--add-host", "db:10.0.0.5", "--dns", "10.0.0.53", "--rootfs", rootfs, "sh", "-c", "grep -c . /etc/hosts; grep db /etc/hosts; grep nameserver /etc/resolv.conf"]);
    expect(r.code).toBe(0);
    const [count, db, ns] = r.stdout.trim().split("\n");
    expect(Number(count)).toBeGreaterThan(1); // the host's own lines are still there
    expect(db).toBe("10.0.0.5\tdb");
    expect(ns).toBe("nameserver 10.0.0.53");
  });

  test("sandbox takes them too", async () => {
    const r = await sb.run(["sandbox", "--cwd", "none", "--add-host", "db:10.0.0.5", "--dns", "10.0.0.53", "--", "sh", "-c", "grep -w db /etc/hosts; grep nameserver /etc/resolv.conf"]);
    expect(r.stdout).toBe("10.0.0.5\tdb\nnameserver 10.0.0.53\n");
    expect(r.code).toBe(0);
  });

  test("inspect shows them in docker's fields", async () => {
    const r = await sb.run(["run", "--name", "dnsrec", "--network", "none", "--add-host", "db:10.0.0.5", "--dns", "10.0.0.53", "--dns-search", "a.test", "--dns-option", "ndots:3", "--rootfs", rootfs, "true"]);
    expect(r.code).toBe(0);
    expect(await field("dnsrec", "{{json .HostConfig.ExtraHosts}} {{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} {{json .HostConfig.DnsOptions}}")).toBe('["db:10.0.0.5"] ["10.0.0.53"] ["a.test"] ["ndots:3"]');
    await sb.run(["rm", "dnsrec"]);
  });
});

describe("identity and /dev/shm", () => {
  test("--group-add adds groups by name or gid, also with -u, and for exec", async () => {
    const r = await sh(["--group-add", "wheel", "--group-add", "4242", "-u", "nobody"], "id -G");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split(" ").map(Number).sort((a, b) => a - b)).toEqual([10, 4242, 65534]);
    const d = await sb.run(["run", "-d", "--name", "grouped", "--network", "none", "--group-add", "wheel", "--rootfs", rootfs, "sleep", "600"]);
    expect(d.code).toBe(0);
    expect((await sb.run(["exec", "grouped", "id", "-G"])).stdout.trim().split(" ")).toContain("10");
    expect((await sb.run(["exec", "-u", "nobody", "grouped", "id", "-G"])).stdout.trim().split(" ").sort()).toEqual(["10", "65534"]);
    expect(await field("grouped", "{{json .HostConfig.GroupAdd}}")).toBe('["wheel"]');
    await sb.run(["rm", "-f", "grouped"]);
  });

  test("--shm-size sizes /dev/shm (docker's 64m by default)", async () => {
    expect((await sh([], "df -k /dev/shm | tail -1")).stdout).toMatch(/^shm\s+65536\s/);
    expect((await sh(["--shm-size", "2m"], "df -k /dev/shm | tail -1")).stdout).toMatch(/^shm\s+2048\s/);
  });
});

describe("labels, cidfile, stop timeout, quiet", () => {
  test("--label-file lines, then --label; inspect shows them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunker-labels-"));
    try {
      writeFileSync(join(dir, "labels"), "# a comment\nteam=core\ntier=web\n\nflag\n");
      const r = await sb.run(["run", "--name", "labelled", "--network", "none", "--label-file", join(dir, "labels"), "--label", "tier=db", "--rootfs", rootfs, "true"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(await field("labelled", "{{json .Config.Labels}}"))).toEqual({ flag: "", team: "core", tier: "db" });
      await sb.run(["rm", "labelled"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--cidfile gets the id; a file that is there already is refused before anything is made", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunker-cid-"));
    const cid = join(dir, "cid");
    try {
      const r = await sb.run(["run", "-d", "--network", "none", "--cidfile", cid, "--rootfs", rootfs, "sleep", "600"]);
      expect(r.code).toBe(0);
      expect(readFileSync(cid, "utf8")).toBe(r.stdout.trim()); // the id alone, as docker writes it
      const before = containerIds().length;
      const again = await sb.run(["run", "--rm", "--network", "none", "--cidfile", cid, "--rootfs", rootfs, "true"]);
      expectOneLineError(again, `container ID file found, make sure the other container isn't running or delete ${cid}`);
      expect(containerIds().length).toBe(before);
      expect(readFileSync(cid, "utf8")).toBe(r.stdout.trim());
      await sb.run(["rm", "-f", r.stdout.trim()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--stop-timeout is how long stop waits for a container that ignores SIGTERM; stop -t still wins", async () => {
    // PID 1 without a handler ignores SIGTERM: only the SIGKILL after the timeout ends it
    const d = await sb.run(["run", "-d", "--name", "patient", "--network", "none", "--stop-timeout", "2", "--rootfs", rootfs, "sleep", "600"]);
    expect(d.code).toBe(0);
    expect(await field("patient", "{{.Config.StopTimeout}}")).toBe("2");
    const t0 = Date.now();
    expect((await sb.run(["stop", "patient"])).code).toBe(0);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(2000); // it did wait for the timeout...
    expect(waited).toBeLessThan(9000); // ...and not docker's default 10 s
    expect(await field("patient", "{{.State.ExitCode}}")).toBe("137");
    expect((await sb.run(["start", "patient"])).code).toBe(0);
    const t1 = Date.now();
    expect((await sb.run(["stop", "-t", "0", "patient"])).code).toBe(0);
    expect(Date.now() - t1).toBeLessThan(2000); // no wait for the container's 2 s
    await sb.run(["rm", "patient"]);
  }, 30_000);

  test("bad values: one line, exit 125, no container", async () => {
    const before = containerIds().length;
    for (const [flags, text] of [
      [["--add-host", "db"], 'invalid --add-host "db": use NAME:IP'],
      [["--add-host", "gw:host-gateway"], "host-gateway is not available"],
      [["--dns", "dns.example"], 'invalid --dns "dns.example"'],
      [["--dns-search", "bad domain"], 'invalid --dns-search "bad domain"'],
      [["--group-add", "nosuchgroup"], "unable to find group nosuchgroup (--group-add)"],
      [["--shm-size", "0"], 'invalid --shm-size "0"'],
      [["--shm-size", "lots"], 'invalid --shm-size "lots"'],
      [["--stop-timeout", "1.5"], 'invalid --stop-timeout "1.5"'],
      [["--label-file", "/no/such/labels"], "cannot read label file /no/such/labels: "],
    ] as const)
      for (const mode of [["--rm"], ["-d"]]) expectOneLineError(await sb.run(["run", ...mode, "--network", "none", ...flags, "--rootfs", rootfs, "true"]), text);
    expect(containerIds().length).toBe(before);
  });

  test("--restart and --log-opt without -d are refused, not ignored: nothing would carry them out", async () => {
    const before = containerIds().length;
    for (const rm of [["--rm"], []]) {
      expectOneLineError(await sb.run(["run", ...rm, "--network", "none", "--restart", "always", "--rootfs", rootfs, "true"]), "--restart always needs -d");
      expectOneLineError(await sb.run(["run", ...rm, "--network", "none", "--log-opt", "max-size=1m", "--rootfs", rootfs, "true"]), "--log-opt needs -d");
    }
    expect(containerIds().length).toBe(before);
    expect((await sb.run(["run", "--rm", "--network", "none", "--restart", "no", "--rootfs", rootfs, "true"])).code).toBe(0);
  });
});
