// Connects a container's new network namespace to the outside through a user-mode network stack.
// Called by the runtime after clone and the id mapping, before the child is released (pasta and
// slirp4netns join the namespaces of the child's pid, which needs its uid_map written).
//
// pasta daemonizes once the namespace is configured, so its exit code says "ready"; it does NOT
// quit when the namespace goes away (it holds it), so stop() must be called when the container
// ends. slirp4netns is our child, tied to this process by --exit-fd: if bunker dies, it goes too.
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

export async function attachNetwork(plan: NetworkPlan, pid: number): Promise<NetworkAttachment> {
  if (plan.mode === "none" || plan.mode === "host") return NOTHING;
  const ports = await Promise.all(plan.ports.map(async (p) => (p.hostPort ? p : { ...p, hostPort: await freePort(p) })));
  const dir = join(runtimeRoot(), "net");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return plan.mode === "pasta" ? attachPasta(pid, ports, dir) : attachSlirp(pid, ports, dir);
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

async function attachPasta(pid: number, ports: PortMapping[], dir: string): Promise<NetworkAttachment> {
  const pidFile = join(dir, `pasta-${pid}.pid`);
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
    String(pid),
  ];
  const child = Bun.spawn([findExecutable("pasta") ?? "pasta", ...args], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const code = await child.exited;
  if (code !== 0) {
    const why = firstLine(await new Response(child.stderr).text());
    throw new BunkerError(`pasta could not set up the network (exit ${code}): ${why || "no message"}; try --network none`);
  }
  let pastaPid = 0;
  try {
    pastaPid = Number(readFileSync(pidFile, "utf8").trim());
  } finally {
    rmSync(pidFile, { force: true });
  }
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

async function attachSlirp(pid: number, ports: PortMapping[], dir: string): Promise<NetworkAttachment> {
  const apiSocket = join(dir, `slirp-${pid}.sock`);
  rmSync(apiSocket, { force: true });
  const args = [
    "--configure",
    "--mtu=65520",
    "--disable-host-loopback",
    // "1" on stdout once configured; EOF on stdin (our pipe: stop() or our death) ends it
    "--ready-fd=1",
    "--exit-fd=0",
    ...(ports.length > 0 ? ["--api-socket", apiSocket] : []),
    String(pid),
    "tap0",
  ];
  const child = Bun.spawn([findExecutable("slirp4netns") ?? "slirp4netns", ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const stop = () => {
    try {
      child.stdin.end();
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
