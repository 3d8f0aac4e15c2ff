// Networks through `bunker run`: none has only lo (up), host has the host's interfaces, the
// default is a private pasta network with its own resolver, and -p is reachable on 127.0.0.1;
// without pasta a run falls back to slirp4netns, then to loopback only, saying so.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { whyUnusable } from "../../src/net";
import { bunkerBin } from "../support/bunker";
import { expectOneLineError } from "../support/errors";
import { rootfsSandbox } from "../support/rootfs";

const { sb, rootfs } = rootfsSandbox();

const run = (flags: string[], script: string) => sb.run(["run", "--rm", ...flags, "--rootfs", rootfs, "sh", "-c", script]);

/** Interface names from /proc/net/dev text. */
const interfaces = (text: string) =>
  text
    .split("\n")
    .slice(2)
    .filter((l) => l.includes(":"))
    .map((l) => l.split(":")[0].trim())
    .sort();

/** The host has IPv6 on loopback (pasta then binds both families). */
const hostHasIpv6 = (() => {
  try {
    return readFileSync("/proc/net/if_inet6", "utf8").split("\n").some((l) => l.startsWith("00000000000000000000000000000001 "));
  } catch {
    return false;
  }
})();

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test("--network none: only lo, and it is up", async () => {
  const r = await run(["--network", "none"], "cat /proc/net/dev; cat /sys/class/net/lo/flags; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok");
  expect(interfaces(r.stdout)).toEqual(["lo"]);
  expect(r.stdout).toContain("ping-ok");
});

test("--network host: the host's interfaces, the host's resolv.conf", async () => {
  const r = await run(["--network", "host"], "cat /proc/net/dev; echo ---; cat /etc/resolv.conf");
  const [dev, resolv] = r.stdout.split("---\n");
  expect(interfaces(dev)).toEqual(interfaces(readFileSync("/proc/net/dev", "utf8")));
  let hostResolv = "";
  try {
    hostResolv = readFileSync("/etc/resolv.conf", "utf8");
  } catch {}
  expect(resolv).toBe(hostResolv);
});

test("-p with --network host is discarded with docker's warning, and the run goes on", async () => {
  const r = await run(["--network", "host", "-p", "8080:80"], "echo ran");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("ran\n");
  expect(r.stderr).toContain("Published ports are discarded when using host network mode");
});

test("bad -p and unknown networks: one line, 125", async () => {
  for (const [flags, text] of [
    [["-p", "80:http"], "invalid containerPort: http"],
    [["--network", "mynet"], "network mynet not found"],
  ] as const) {
    expectOneLineError(await run([...flags], "true"), text);
  }
});

/** The body of url, retried while the container starts (no timing assumed: a bounded retry). */
async function fetchWhenUp(url: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const body = await fetch(url).then((r) => r.text(), () => "");
    if (body) return body;
    await Bun.sleep(25);
  }
  return "";
}

describe.if(whyUnusable("pasta") === undefined)("default network (pasta)", () => {
  test("a private namespace with its own interface, lo up, and pasta's resolver", async () => {
    const r = await run([], "cat /proc/net/dev; cat /etc/resolv.conf");
    const names = interfaces(r.stdout);
    expect(names).toContain("lo");
    expect(names.length).toBe(2);
    expect(names).not.toEqual(interfaces(readFileSync("/proc/net/dev", "utf8")));
    expect(r.stdout).toContain("nameserver 169.254.1.1");
  });

  test("-p 127.0.0.1:PORT:80 reaches busybox httpd in the container; nothing stays after", async () => {
    const port = await freePort();
    const p = Bun.spawn(
      [bunkerBin, "run", "--rm", "--init", "-p", `127.0.0.1:${port}:80`, "--rootfs", rootfs, "sh", "-c", "echo published > /tmp/index.html; exec httpd -f -p 80 -h /tmp"],
      { env: sb.env, stdout: "pipe", stderr: "pipe" },
    );
    let body = "";
    for (let i = 0; i < 200 && body === ""; i++) {
      try {
        body = await (await fetch(`http://127.0.0.1:${port}/index.html`)).text();
      } catch {
        await Bun.sleep(25); // the container is still starting
      }
    }
    p.kill("SIGTERM");
    const code = await p.exited;
    expect(body).toBe("published\n");
    expect(code).toBe(128 + 15);
    // pasta went with the container: nothing listens on the port any more
    expect(await fetch(`http://127.0.0.1:${port}/`).then(() => "open", () => "closed")).toBe("closed");
  }, 30_000);

  test("-p 80 and -p :81 publish on any free port, on every address; port and PortBindings as docker's", async () => {
    const web = "echo any-port > /tmp/index.html; httpd -p 81 -h /tmp; exec httpd -f -p 80 -h /tmp";
    const r = await sb.run(["run", "-d", "--name", "anyport", "-p", "80", "-p", ":81", "--rootfs", rootfs, "sh", "-c", web]);
    expect(r.code).toBe(0);
    try {
      // pasta's one dual-stack socket: both families where the host has IPv6, as docker lists them
      const lines = (await sb.run(["port", "anyport"])).stdout.trim().split("\n");
      expect(lines).toHaveLength(hostHasIpv6 ? 4 : 2);
      const [p80, p81] = lines.filter((l) => l.includes("0.0.0.0")).map((l) => /^(\d+)\/tcp -> 0\.0\.0\.0:(\d+)$/.exec(l));
      if (hostHasIpv6) expect(lines.filter((l) => l.includes("[::]"))).toEqual([`80/tcp -> [::]:${p80![2]}`, `81/tcp -> [::]:${p81![2]}`]);
      expect(p80?.[1]).toBe("80");
      expect(p81?.[1]).toBe("81");
      expect(Number(p80![2])).toBeGreaterThan(0);
      expect(p80![2]).not.toBe(p81![2]);
      expect((await sb.run(["port", "anyport", "81/tcp"])).stdout).toBe(`0.0.0.0:${p81![2]}\n${hostHasIpv6 ? `[::]:${p81![2]}\n` : ""}`);
      // docker keeps the request (any port) in HostConfig; the port chosen is the start's
      const bindings = (await sb.run(["inspect", "-f", "{{json .HostConfig.PortBindings}}", "anyport"])).stdout.trim();
      expect(JSON.parse(bindings)).toEqual({ "80/tcp": [{ HostIp: "", HostPort: "" }], "81/tcp": [{ HostIp: "", HostPort: "" }] });
      const got = (await sb.run(["inspect", "-f", "{{json .NetworkSettings.Ports}}", "anyport"])).stdout.trim();
      const both = (port: string) => [{ HostIp: "0.0.0.0", HostPort: port }, ...(hostHasIpv6 ? [{ HostIp: "::", HostPort: port }] : [])];
      expect(JSON.parse(got)).toEqual({ "80/tcp": both(p80![2]), "81/tcp": both(p81![2]) });
      expect(await fetchWhenUp(`http://127.0.0.1:${p80![2]}/index.html`)).toBe("any-port\n");
      expect(await fetchWhenUp(`http://127.0.0.1:${p81![2]}/index.html`)).toBe("any-port\n");
    } finally {
      await sb.run(["rm", "-f", "anyport"]);
    }
  }, 30_000);

  test("a foreground run with -p 80: port shows the port it got while it runs", async () => {
    const p = Bun.spawn(
      [bunkerBin, "run", "--rm", "--init", "--name", "fgport", "-p", "80", "--rootfs", rootfs, "sh", "-c", "echo fg > /tmp/index.html; exec httpd -f -p 80 -h /tmp"],
      { env: sb.env, stdout: "pipe", stderr: "pipe" },
    );
    let shown = "";
    for (let i = 0; i < 200 && !/:\d+$/.test(shown); i++) {
      shown = (await sb.run(["port", "fgport", "80"])).stdout.trim().split("\n")[0];
      if (!/:\d+$/.test(shown)) await Bun.sleep(25); // not started yet
    }
    const body = await fetchWhenUp(`http://127.0.0.1:${shown.split(":")[1]}/index.html`);
    p.kill("SIGTERM");
    await p.exited;
    expect(shown).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(body).toBe("fg\n");
  }, 30_000);
});

/**
 * Publishes a fixed host port with no IP (-p PORT:80) with these flags, and returns what port,
 * ps and inspect list, and which loopback addresses answer: the listing must be exactly those.
 */
async function listedAndAnswering(flags: string[]) {
  const port = await freePort();
  const web = "echo dual > /tmp/index.html; exec httpd -f -p 80 -h /tmp";
  const r = await sb.run(["run", "-d", "--name", "dual", ...flags, "-p", `${port}:80`, "--rootfs", rootfs, "sh", "-c", web]);
  expect(r.code).toBe(0);
  try {
    const body = (host: string) => fetchWhenUp(`http://${host}:${port}/index.html`);
    // IPv4 answers first: the container is up, so a refused ::1 afterwards is no start-up delay
    const v4 = await body("127.0.0.1");
    const v6 = await fetch(`http://[::1]:${port}/index.html`).then((res) => res.text(), () => "");
    return {
      port,
      listed: (await sb.run(["port", "dual"])).stdout,
      ps: (await sb.run(["ps", "--filter", "name=dual", "--format", "{{.Ports}}"])).stdout.trim(),
      inspected: JSON.parse((await sb.run(["inspect", "-f", "{{json .NetworkSettings.Ports}}", "dual"])).stdout),
      answering: [...(v4 === "dual\n" ? ["0.0.0.0"] : []), ...(v6 === "dual\n" ? ["::"] : [])],
    };
  } finally {
    await sb.run(["rm", "-f", "dual"]);
  }
}

function expectListingOf(got: Awaited<ReturnType<typeof listedAndAnswering>>, addresses: string[]) {
  const text = (ip: string) => `${ip.includes(":") ? `[${ip}]` : ip}:${got.port}`;
  expect(got.answering).toEqual(addresses);
  expect(got.listed).toBe(addresses.map((ip) => `80/tcp -> ${text(ip)}\n`).join(""));
  expect(got.ps).toBe(addresses.map((ip) => `${text(ip)}->80/tcp`).join(", "));
  expect(got.inspected).toEqual({ "80/tcp": addresses.map((ip) => ({ HostIp: ip, HostPort: String(got.port) })) });
}

describe.if(whyUnusable("pasta") === undefined)("-p with no IP lists what really listens", () => {
  test("pasta: 0.0.0.0 and [::] (one dual-stack socket) where the host has IPv6, as docker; both answer on loopback", async () => {
    expectListingOf(await listedAndAnswering([]), hostHasIpv6 ? ["0.0.0.0", "::"] : ["0.0.0.0"]);
  }, 30_000);

  test.skipIf(whyUnusable("slirp4netns") !== undefined)("slirp4netns binds IPv4 only: 0.0.0.0 alone is listed, ::1 doesn't answer", async () => {
    expectListingOf(await listedAndAnswering(["--network", "slirp4netns"]), ["0.0.0.0"]);
  }, 30_000);
});

/** A run as this user on a host where tools are hidden (bound over by /dev/null in a mount namespace). */
async function runWithout(tools: string[], script: string) {
  const [uid, gid] = [process.getuid!(), process.getgid!()];
  const hide = `for t in ${tools.join(" ")}; do for d in /usr/bin /bin /usr/sbin /sbin /usr/local/bin; do [ -e $d/$t ] && mount --bind /dev/null $d/$t; done; done; true`;
  // the inner namespace has no subordinate range to use: a single-id mapping
  const inner = `env BUNKER_USERNS=single ${bunkerBin} run --rm --rootfs ${rootfs} sh -c '${script}'`;
  const p = Bun.spawn(["unshare", "-rm", "sh", "-c", `${hide} && exec unshare -U --map-user=${uid} --map-group=${gid} ${inner}`], { env: sb.env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

describe.if(whyUnusable("slirp4netns") === undefined)("a run doesn't fail because pasta is missing", () => {
  test("without pasta: slirp4netns, said in one line", async () => {
    const r = await runWithout(["pasta"], "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d \" \" | sort");
    expect(r.stdout).toBe("lo\ntap0\n");
    expect(r.stderr).toBe("[warn] pasta is not installed (Debian: apt-get install passt): using slirp4netns for the network\n");
    expect(r.code).toBe(0);
  });
  test("without pasta and slirp4netns: loopback only, said in one line", async () => {
    const r = await runWithout(["pasta", "slirp4netns"], "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d \" \"");
    expect(r.stdout).toBe("lo\n");
    expect(r.stderr).toContain("the container has loopback only (--network none)");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.code).toBe(0);
  });
  test("--network slirp4netns -p 127.0.0.1:PORT:80 is reachable", async () => {
    const port = await freePort();
    const p = Bun.spawn(
      [bunkerBin, "run", "--rm", "--init", "--network", "slirp4netns", "-p", `127.0.0.1:${port}:80`, "--rootfs", rootfs, "sh", "-c", "echo via-slirp > /tmp/index.html; exec httpd -f -p 80 -h /tmp"],
      { env: sb.env, stdout: "pipe", stderr: "pipe" },
    );
    let body = "";
    for (let i = 0; i < 200 && body === ""; i++) {
      body = await fetch(`http://127.0.0.1:${port}/index.html`).then((r) => r.text(), () => "");
      if (body === "") await Bun.sleep(25); // still starting
    }
    p.kill("SIGTERM");
    expect(await p.exited).toBe(143);
    expect(body).toBe("via-slirp\n");
  }, 30_000);
});
