// Connects a container's new network namespace to the outside through a user-mode network stack.
// Called by the runtime after clone and the id mapping, before the child is released (pasta and
// slirp4netns join the namespaces of the child's pid, which needs its uid_map written).
//
// Neither pasta nor slirp4netns quits by itself when the container ends (they hold its network
// namespace), so bunker ties them to the container's life: see launchHelper.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, createConnection } from "node:net";
import { createSocket } from "node:dgram";
import { join } from "../posix-path";
import { BunkerError } from "../errors";
import { runtimeRoot } from "../paths";
import { PASTA_DNS } from "./etc";
import { findExecutable, type NetworkPlan } from "./plan";
import type { PortMapping } from "./ports";

export interface NetworkAttachment {
  /** the helper processes serving the namespace (pasta/slirp4netns); they end with the container */
  pids: number[];
  /** the mappings with every "any port" (0) replaced by the port chosen: record these (bunker port) */
  ports: PortMapping[];
  /** Stops the network helpers; safe to call twice. */
  stop(): void;
}

export interface AttachOptions {
  /**
   * The container outlives this bunker process (run -d): its network helpers must not die with
   * us; they end when the container's pid does (or at stop()).
   */
  outliveBunker?: boolean;
}

/** pasta or slirp4netns for the namespace of pid (src/net/index.ts's attachNetwork decides). */
export async function attachUserModeNetwork(plan: NetworkPlan, pid: number, opts: AttachOptions = {}): Promise<NetworkAttachment> {
  const ports = await Promise.all(plan.ports.map(async (p) => (p.hostPort ? p : { ...p, hostPort: await freePort(p) })));
  const dir = join(runtimeRoot(), "net");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const attached = await (plan.mode === "pasta" ? attachPasta : attachSlirp)(pid, ports, dir, opts.outliveBunker === true);
  try {
    return { ...attached, ports: (await Promise.all(attached.ports.map(listeningAddresses))).flat() };
  } catch (e) {
    attached.stop();
    throw e;
  }
}

/**
 * What a mapping on every address really listens on, as docker lists it (0.0.0.0 and [::] when
 * both families are bound): pasta binds one dual-stack socket where the host has IPv6, slirp4netns
 * binds IPv4 only. A wildcard bind of each family that fails with EADDRINUSE shows the helper
 * holds that family's port (it was free before the helper started).
 */
async function listeningAddresses(p: PortMapping): Promise<PortMapping[]> {
  if (p.hostIp !== "") return [p];
  const held: PortMapping[] = [];
  for (const address of ["0.0.0.0", "::"]) if (await portInUse(address, p.hostPort, p.protocol)) held.push({ ...p, hostIp: address });
  return held.length > 0 ? held : [p];
}

function portInUse(address: string, port: number, protocol: "tcp" | "udp"): Promise<boolean> {
  return new Promise((resolve) => {
    const failed = (e: NodeJS.ErrnoException) => resolve(e.code === "EADDRINUSE"); // else: no such family here
    if (protocol === "udp") {
      const s = createSocket({ type: address === "::" ? "udp6" : "udp4", ipv6Only: true });
      s.once("error", failed);
      s.bind({ port, address, exclusive: true }, () => s.close(() => resolve(false)));
      return;
    }
    const server = createServer();
    server.once("error", failed);
    server.listen({ port, host: address, exclusive: true, ipv6Only: true }, () => server.close(() => resolve(false)));
  });
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

/**
 * Starts a network helper (pasta, slirp4netns) tied to the container's life through a tiny sh,
 * because neither quits by itself while it holds the container's network namespace:
 * - the sh waits for the container's pid to go (tail --pid), then ends the helper;
 * - tied to bunker (foreground runs), the sh also runs under setpriv's PR_SET_PDEATHSIG(TERM), so
 *   bunker's death, even by kill -9, ends the helper at once; outliving bunker (run -d), the sh
 *   runs in a session of its own instead.
 * pasta runs as a daemon: it forks once the namespace is configured (its foreground mode reports
 * readiness some 40 ms later). slirp4netns writes "1" to --ready-fd=3 once configured.
 */
const LAUNCHER = `cpid=$1 kind=$2 ready=$3 err=$4 pidf=$5; shift 5
trap 'kill $(cat "$pidf" 2>/dev/null) 2>/dev/null; rm -f "$pidf"; exit 0' TERM HUP INT
if [ "$kind" = daemon ]; then
  "$@" 2>"$err" >/dev/null </dev/null || exit 1
  echo 1 >>"$ready"
else
  "$@" 3>>"$ready" 2>"$err" >/dev/null </dev/null &
  echo $! >"$pidf"
fi
tail -s 0.2 --pid="$cpid" -f /dev/null >/dev/null 2>&1 </dev/null &
wait $!
kill $(cat "$pidf" 2>/dev/null) 2>/dev/null
rm -f "$pidf"`;

interface Helper {
  pid: number;
  stop(): void;
}

/** The files of one launch; pidFile is the helper's (pasta writes it itself: --pid). */
function launchFiles(name: string, containerPid: number, dir: string) {
  const base = join(dir, `${name}-${containerPid}`);
  return { ready: `${base}.ready`, err: `${base}.err`, pidFile: `${base}.pid` };
}

async function launchHelper(name: string, kind: "daemon" | "child", argv: string[], containerPid: number, dir: string, outlive: boolean): Promise<Helper> {
  const files = launchFiles(name, containerPid, dir);
  const clean = () => {
    for (const f of Object.values(files)) rmSync(f, { force: true });
  };
  clean();
  const sh = findExecutable("sh") ?? "/bin/sh";
  const launcher = [sh, "-c", LAUNCHER, "bunker-net", String(containerPid), kind, files.ready, files.err, files.pidFile, ...argv];
  const wrapper = outlive ? findExecutable("setsid") : findExecutable("setpriv");
  const wrap = wrapper === undefined ? [] : outlive ? [wrapper] : [wrapper, "--pdeathsig", "TERM", "--"];
  const child = Bun.spawn([...wrap, ...launcher], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  if (outlive) child.unref();
  while (readText(files.ready) === "") {
    const helperPid = Number(readText(files.pidFile).trim()) || 0;
    if (!running(child.pid) || (helperPid !== 0 && !running(helperPid))) {
      const why = firstLine(readText(files.err));
      clean();
      throw new BunkerError(`${name} could not set up the network: ${why || "no message"}; try --network none`);
    }
    await Bun.sleep(1);
  }
  const pid = Number(readText(files.pidFile).trim()) || 0;
  rmSync(files.ready, { force: true });
  rmSync(files.err, { force: true });
  let stopped = false;
  return {
    pid,
    // The launcher ends the helper (and removes nothing we still need: the pid file goes with it).
    stop() {
      if (stopped) return;
      stopped = true;
      for (const target of [pid, child.pid])
        try {
          if (target > 0) process.kill(target, "SIGTERM");
        } catch {
          // already gone
        }
      rmSync(files.pidFile, { force: true });
    },
  };
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** Alive and not a zombie (a dead child of ours or of the launcher that no one reaped yet). */
function running(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === "") return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

async function attachPasta(pid: number, ports: PortMapping[], dir: string, outlive: boolean): Promise<NetworkAttachment> {
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
    launchFiles("pasta", pid, dir).pidFile,
    String(pid),
  ];
  const helper = await launchHelper("pasta", "daemon", [findExecutable("pasta") ?? "pasta", ...args], pid, dir, outlive);
  return { pids: [helper.pid], ports, stop: helper.stop };
}

async function attachSlirp(pid: number, ports: PortMapping[], dir: string, outlive: boolean): Promise<NetworkAttachment> {
  const apiSocket = join(dir, `slirp-${pid}.sock`);
  rmSync(apiSocket, { force: true });
  const args = ["--configure", "--mtu=65520", "--disable-host-loopback", "--ready-fd=3", ...(ports.length > 0 ? ["--api-socket", apiSocket] : []), String(pid), "tap0"];
  const helper = await launchHelper("slirp4netns", "child", [findExecutable("slirp4netns") ?? "slirp4netns", ...args], pid, dir, outlive);
  const stop = () => {
    helper.stop();
    rmSync(apiSocket, { force: true });
  };
  try {
    for (const p of ports) await slirpForward(apiSocket, p);
  } catch (e) {
    stop();
    throw e;
  }
  return { pids: [helper.pid], ports, stop };
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
