// Connects a container's new network namespace to the outside through a user-mode network stack.
// Called by the runtime after clone and the id mapping, before the child is released (pasta and
// slirp4netns join the namespaces of the child's pid, which needs its uid_map written).
//
// Neither helper may outlive a foreground container, even when bunker is killed with -9: pasta
// (which holds the namespace and never quits by itself) runs under PR_SET_PDEATHSIG, slirp4netns
// watches our end of a pipe (--exit-fd). stop() ends them in the ordinary case.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, createConnection } from "node:net";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { BunkerError } from "../errors";
import { runtimeRoot } from "../paths";
import { PASTA_DNS } from "./etc";
import { findExecutable, type NetworkPlan } from "./plan";
import type { PortMapping } from "./ports";

export interface NetworkAttachment {
  /** host processes serving the namespace (pasta/slirp4netns); whoever outlives bunker kills them */
  pids: number[];
  /** the mappings with every "any port" (0) replaced by the port chosen */
  ports: PortMapping[];
  /** Stops the network helpers; safe to call twice. */
  stop(): void;
}

const NOTHING: NetworkAttachment = { pids: [], ports: [], stop() {} };

export interface AttachOptions {
  /**
   * The container outlives this bunker process (run -d): its network helpers must not die with
   * us. The caller then owns `pids` and kills them when the container ends.
   */
  outliveBunker?: boolean;
}

export async function attachNetwork(plan: NetworkPlan, pid: number, opts: AttachOptions = {}): Promise<NetworkAttachment> {
  if (plan.mode === "none" || plan.mode === "host") return NOTHING;
  const ports = await Promise.all(plan.ports.map(async (p) => (p.hostPort ? p : { ...p, hostPort: await freePort(p) })));
  const dir = join(runtimeRoot(), "net");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return plan.mode === "pasta" ? attachPasta(pid, ports, dir, opts.outliveBunker === true) : attachSlirp(pid, ports, dir, opts.outliveBunker === true);
}

/** A port the kernel says is free now (docker picks from the ephemeral range the same way). */
function freePort(p: PortMapping): Promise<number> {
  const host = p.hostIp || undefined;
  return new Promise((resolve, reject) => {
    if (p.protocol === "udp") {
      const s = createSocket(host?.includes(":") ? "udp6" : "udp4");
      s.once("error", reject);
      s.bind(0, host, () => {
        const port = s.address().port;
        s.close(() => resolve(port));
      });
      return;
    }
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** pasta's -t/-u spec: "[ADDR/]HOSTPORT:CTRPORT" */
function pastaSpecs(ports: PortMapping[], protocol: "tcp" | "udp"): string[] {
  const flag = protocol === "tcp" ? "-t" : "-u";
  const mine = ports.filter((p) => p.protocol === protocol);
  if (mine.length === 0) return [flag, "none"];
  return mine.flatMap((p) => [flag, `${p.hostIp ? `${p.hostIp}/` : ""}${p.hostPort}:${p.containerPort}`]);
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

/** Starts pasta; resolves once the namespace is configured. */
async function attachPasta(pid: number, ports: PortMapping[], dir: string, outlive: boolean): Promise<NetworkAttachment> {
  const pidFile = join(dir, `pasta-${pid}.pid`);
  rmSync(pidFile, { force: true });
  const args = [
    "--config-net",
    "--quiet",
    // the host's loopback stays out of reach, as with docker's bridge
    "--no-map-gw",
    "--dns-forward",
    PASTA_DNS,
    ...pastaSpecs(ports, "tcp"),
    ...pastaSpecs(ports, "udp"),
    // nothing from the namespace is forwarded to the host's ports
    "-T",
    "none",
    "-U",
    "none",
    "--pid",
    pidFile,
  ];
  const pasta = findExecutable("pasta") ?? "pasta";
  // pasta never quits on its own while it holds the namespace. Tied to us, it runs in the
  // foreground under setpriv's PR_SET_PDEATHSIG, so even `kill -9` of bunker takes it along; it
  // writes its pid file once the namespace is configured. A container that must outlive bunker
  // (run -d) gets a daemonized pasta instead, whose exit means "configured", and whoever
  // watches the container kills it by pid.
  const setpriv = outlive ? undefined : findExecutable("setpriv");
  const argv = setpriv ? [setpriv, "--pdeathsig", "KILL", "--", pasta, "--foreground", ...args, String(pid)] : [pasta, ...args, String(pid)];
  const child = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const failed = async (code: number) => {
    const why = firstLine(await new Response(child.stderr).text());
    rmSync(pidFile, { force: true });
    return new BunkerError(`pasta could not set up the network (exit ${code}): ${why || "no message"}; try --network none`);
  };
  let pastaPid = 0;
  if (setpriv) {
    let exited: number | undefined;
    child.exited.then((code) => (exited = code));
    while ((pastaPid = readPid(pidFile)) === 0) {
      if (exited !== undefined) throw await failed(exited);
      await Bun.sleep(1);
    }
  } else {
    const code = await child.exited;
    if (code !== 0) throw await failed(code);
    pastaPid = readPid(pidFile);
  }
  rmSync(pidFile, { force: true });
  let stopped = false;
  return {
    pids: pastaPid > 0 ? [pastaPid] : [],
    ports,
    stop() {
      if (stopped || pastaPid <= 0) return;
      stopped = true;
      try {
        process.kill(pastaPid, "SIGTERM");
      } catch {
        // already gone
      }
    },
  };
}

/** The pid in a pid file, or 0 while it is missing or not yet written whole. */
function readPid(file: string): number {
  try {
    const text = readFileSync(file, "utf8");
    return text.endsWith("\n") ? Number(text.trim()) || 0 : 0;
  } catch {
    return 0;
  }
}

async function attachSlirp(pid: number, ports: PortMapping[], dir: string, outlive: boolean): Promise<NetworkAttachment> {
  const apiSocket = join(dir, `slirp-${pid}.sock`);
  rmSync(apiSocket, { force: true });
  const args = [
    "--configure",
    "--mtu=65520",
    "--disable-host-loopback",
    // "1" on stdout once configured; EOF on stdin (our pipe: stop() or our death) ends it
    "--ready-fd=1",
    ...(outlive ? [] : ["--exit-fd=0"]),
    ...(ports.length > 0 ? ["--api-socket", apiSocket] : []),
    String(pid),
    "tap0",
  ];
  const child = Bun.spawn([findExecutable("slirp4netns") ?? "slirp4netns", ...args], { stdin: outlive ? "ignore" : "pipe", stdout: "pipe", stderr: "pipe" });
  const stop = () => {
    try {
      child.stdin?.end();
    } catch {
      // already closed
    }
    child.kill();
    rmSync(apiSocket, { force: true });
  };
  const reader = child.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  if (first.done || !new TextDecoder().decode(first.value).startsWith("1")) {
    stop();
    const why = firstLine(await new Response(child.stderr).text());
    throw new BunkerError(`slirp4netns could not set up the network: ${why || "no message"}; try --network none`);
  }
  try {
    for (const p of ports) await slirpForward(apiSocket, p);
  } catch (e) {
    stop();
    throw e;
  }
  return { pids: [child.pid], ports, stop };
}

/** One request per connection on slirp4netns's API socket. */
function slirpForward(socket: string, p: PortMapping): Promise<void> {
  const request = {
    execute: "add_hostfwd",
    arguments: { proto: p.protocol, host_addr: p.hostIp || "0.0.0.0", host_port: p.hostPort, guest_port: p.containerPort },
  };
  return new Promise((resolve, reject) => {
    const conn = createConnection({ path: socket });
    let answer = "";
    conn.on("connect", () => conn.end(JSON.stringify(request)));
    conn.on("data", (d) => (answer += d.toString()));
    conn.on("error", (e) => reject(new BunkerError(`slirp4netns API: ${e.message}`)));
    conn.on("close", () => {
      const reply = (() => {
        try {
          return JSON.parse(answer) as { error?: { desc?: string } };
        } catch {
          return { error: { desc: answer || "no answer" } };
        }
      })();
      if (reply.error) reject(new BunkerError(`cannot publish ${p.hostPort}/${p.protocol}: ${reply.error.desc ?? "slirp4netns refused"}`));
      else resolve();
    });
  });
}
