// attachNetwork against real pasta/slirp4netns, with a namespace made by unshare(1) (no runtime
// needed): -p must be reachable on 127.0.0.1 and stop() must end the helper.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachNetwork, type NetworkPlan, whyUnusable } from "../../src/net";

const base = mkdtempSync(join(tmpdir(), "bunker-net-"));
process.env.BUNKER_RUNTIME_DIR = join(base, "run");
writeFileSync(join(base, "index.html"), "hello from the namespace\n");
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** busybox httpd on port 80 in a new user+network namespace; resolves once the namespace exists. */
async function serverInNamespace() {
  const child = Bun.spawn(["unshare", "-rn", "busybox", "httpd", "-f", "-p", "80", "-h", base], { stdout: "ignore", stderr: "inherit" });
  const ours = readlinkSync("/proc/self/ns/net");
  for (let i = 0; i < 500; i++) {
    try {
      if (readlinkSync(`/proc/${child.pid}/ns/net`) !== ours && readlinkSync(`/proc/${child.pid}/exe`).includes("busybox")) return child;
    } catch {
      // not there yet
    }
    await Bun.sleep(10);
  }
  throw new Error("unshare never made its namespace");
}

async function fetchRetrying(url: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    try {
      return await (await fetch(url)).text();
    } catch (e) {
      last = e; // httpd may not listen yet
      await Bun.sleep(20);
    }
  }
  throw last;
}


for (const mode of ["pasta", "slirp4netns"] as const) {
  describe.if(whyUnusable(mode) === undefined)(mode, () => {
    test("-p 127.0.0.1::80 reaches a server in the namespace; stop() ends the helper", async () => {
      const server = await serverInNamespace();
      const plan: NetworkPlan = { mode, newNetNs: true, ports: [{ hostIp: "127.0.0.1", hostPort: 0, containerPort: 80, protocol: "tcp" }] };
      const net = await attachNetwork(plan, server.pid);
      try {
        expect(net.ports[0].hostPort).toBeGreaterThan(0);
        expect(net.pids.length).toBe(1);
        expect(await fetchRetrying(`http://127.0.0.1:${net.ports[0].hostPort}/index.html`)).toBe("hello from the namespace\n");
      } finally {
        net.stop();
        server.kill();
        await server.exited;
      }
      for (let i = 0; i < 200 && running(net.pids[0]); i++) await Bun.sleep(10);
      expect(running(net.pids[0])).toBe(false);
    }, 20_000);

    /** Attaches from a separate bun process, which the test then kills with -9; returns the helper's pid. */
    async function attachFromAnotherProcess(serverPid: number, outliveBunker: boolean) {
      const script = join(base, `attach-${mode}-${outliveBunker}.ts`);
      writeFileSync(
        script,
        `import { attachNetwork } from ${JSON.stringify(join(import.meta.dir, "../../src/net"))};
const net = await attachNetwork({ mode: ${JSON.stringify(mode)}, newNetNs: true, ports: [] }, ${serverPid}, { outliveBunker: ${outliveBunker} });
console.log(net.pids.join(","));
setInterval(() => {}, 1000);
`,
      );
      const attacher = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit", env: process.env });
      const reader = attacher.stdout.getReader();
      const helper = Number(new TextDecoder().decode((await reader.read()).value).trim());
      expect(helper).toBeGreaterThan(0);
      expect(running(helper)).toBe(true);
      attacher.kill("SIGKILL");
      await attacher.exited;
      return helper;
    }

    async function goneSoon(pid: number): Promise<boolean> {
      for (let i = 0; i < 500 && running(pid); i++) await Bun.sleep(10);
      return !running(pid);
    }

    test("kill -9 of the process that attached the network ends the helper too", async () => {
      const server = await serverInNamespace();
      try {
        expect(await goneSoon(await attachFromAnotherProcess(server.pid, false))).toBe(true);
      } finally {
        server.kill();
        await server.exited;
      }
    }, 20_000);

    test("outliveBunker: the helper survives bunker and ends with the container", async () => {
      const server = await serverInNamespace();
      const helper = await attachFromAnotherProcess(server.pid, true);
      try {
        await Bun.sleep(200); // a helper tied to the attacher would be dead by now
        expect(running(helper)).toBe(true);
      } finally {
        server.kill();
        await server.exited;
      }
      expect(await goneSoon(helper)).toBe(true);
    }, 20_000);
  });
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    return !/^State:\s+[ZX]/m.test(require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}
