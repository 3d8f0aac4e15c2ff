import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const base = mkdtempSync(join(tmpdir(), "bunker-unit-ctr-"));
process.env.BUNKER_ROOT = join(base, "store");
process.env.BUNKER_RUNTIME_DIR = join(base, "run");

const ctr = await import("../../src/container");
type NewContainer = import("../../src/container").NewContainer;

function blank(name?: string): NewContainer {
  return {
    Name: name,
    Image: "",
    ImageName: "/rootfs",
    Path: "sh",
    Args: [],
    Config: { Hostname: "h", User: "", Env: [], Cmd: ["sh"], Entrypoint: null, WorkingDir: "/", Tty: false, OpenStdin: false, Labels: {}, Image: "/rootfs" },
    HostConfig: {
      AutoRemove: false,
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
      LogConfig: { Type: "k8s-file", Config: {} },
      NetworkMode: "none",
      PortBindings: {},
      Privileged: false,
      ReadonlyRootfs: false,
      Init: false,
      CapAdd: [],
      CapDrop: [],
      SecurityOpt: [],
      Binds: [],
    },
    Mounts: [],
  };
}

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("container records", () => {
  test("ids are 64 hex, names are docker-style and unique", async () => {
    const made = await Promise.all(Array.from({ length: 30 }, () => ctr.createContainer(blank())));
    for (const r of made) {
      expect(r.Id).toMatch(/^[0-9a-f]{64}$/);
      expect(r.Name).toMatch(/^[a-z]+_[a-z]+[0-9]?$/);
      expect(existsSync(join(ctr.containerDir(r.Id), "config.json"))).toBe(true);
    }
    expect(new Set(made.map((r) => r.Name)).size).toBe(30);
    expect((await ctr.listContainers()).length).toBe(30);
  });

  test("--name is unique even when many ask for it at once", async () => {
    const tries = await Promise.allSettled(Array.from({ length: 8 }, () => ctr.createContainer(blank("web"))));
    expect(tries.filter((t) => t.status === "fulfilled")).toHaveLength(1);
    const refused = tries.find((t) => t.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(Error);
    expect(String(refused.reason.message)).toContain('"web" is already in use');
  });

  test("bad names are refused", async () => {
    await expect(ctr.createContainer(blank("-x"))).rejects.toThrow("invalid container name");
    await expect(ctr.createContainer(blank("a/b"))).rejects.toThrow("invalid container name");
  });

  test("find by name, full id, unique prefix; ambiguous prefix is an error", async () => {
    const web = (await ctr.findContainer("web"))!;
    expect(web.Name).toBe("web");
    expect((await ctr.findContainer(web.Id))!.Name).toBe("web");
    expect((await ctr.findContainer("/web"))!.Id).toBe(web.Id);
    const ids = (await ctr.listContainers()).map((r) => r.Id);
    // the shortest prefix of web's id that no other id shares
    let n = 1;
    while (ids.filter((i) => i.startsWith(web.Id.slice(0, n))).length > 1) n++;
    expect((await ctr.findContainer(web.Id.slice(0, n)))!.Id).toBe(web.Id);
    // with 31 containers some single hex digit starts two ids
    const digit = "0123456789abcdef".split("").find((d) => ids.filter((i) => i.startsWith(d)).length > 1)!;
    await expect(ctr.findContainer(digit)).rejects.toThrow("multiple containers");
    expect(await ctr.findContainer("nosuch")).toBeUndefined();
    await expect(ctr.getContainer("nosuch")).rejects.toThrow("no such container: nosuch");
  });

  test("rename keeps names unique", async () => {
    const [a] = await ctr.listContainers();
    await expect(ctr.renameContainer(a.Id, "web")).rejects.toThrow("already in use");
    await ctr.renameContainer(a.Id, "renamed");
    expect((await ctr.findContainer("renamed"))!.Id).toBe(a.Id);
  });

  test("a name is free again after rm, after a rename, and when its link is stale", async () => {
    const a = await ctr.createContainer(blank("reused"));
    await ctr.removeContainer(a.Id);
    const b = await ctr.createContainer(blank("reused"));
    expect((await ctr.findContainer("reused"))!.Id).toBe(b.Id);
    await ctr.renameContainer("reused", "moved");
    expect((await ctr.findContainer("moved"))!.Id).toBe(b.Id);
    const c = await ctr.createContainer(blank("reused"));
    expect((await ctr.findContainer("reused"))!.Id).toBe(c.Id);
    // a removal cut short after the record went: the link names an id with no record
    const names = join(ctr.containersRoot(), ".names");
    rmSync(join(names, "ghost"), { force: true });
    symlinkSync("f".repeat(64), join(names, "ghost"));
    expect(await ctr.findContainer("ghost")).toBeUndefined();
    const d = await ctr.createContainer(blank("ghost"));
    expect((await ctr.findContainer("ghost"))!.Id).toBe(d.Id);
    for (const r of [b, c, d]) await ctr.removeContainer(r.Id);
  });

  test("a store from before the name links keeps its names unique", async () => {
    const old = await ctr.createContainer(blank("legacy"));
    rmSync(join(ctr.containersRoot(), ".names"), { recursive: true });
    await expect(ctr.createContainer(blank("legacy"))).rejects.toThrow(`already in use by container ${old.Id.slice(0, 12)}`);
    await ctr.removeContainer(old.Id);
  });

  test("state: created by default, written atomically, a dead owner means exited -1", async () => {
    const r = await ctr.createContainer(blank());
    expect((await ctr.readState(r.Id)).Status).toBe("created");
    // a live owner: this test process
    await ctr.writeState(r.Id, { ...ctr.initialState(), Status: "running", Pid: process.pid, MonitorPid: process.pid, MonitorStartTime: ctr.processStartTime(process.pid)! });
    expect((await ctr.readState(r.Id)).Running).toBe(true);
    // the same pid with another start time is pid reuse: the owner is gone
    await ctr.updateState(r.Id, { MonitorStartTime: 1 });
    const s = await ctr.readState(r.Id);
    expect(s.Status).toBe("exited");
    expect(s.ExitCode).toBe(-1);
    expect(s.Error).toContain("monitor");
    // the repair was written, so every reader agrees
    expect((await ctr.readState(r.Id)).Status).toBe("exited");
    expect(readdirSync(ctr.containerRunDir(r.Id)).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  test("after a reboot (runtime dir gone) a running container shows exited -1", async () => {
    const r = await ctr.createContainer(blank());
    await ctr.writeState(r.Id, { ...ctr.initialState(), Status: "running", MonitorPid: process.pid, MonitorStartTime: ctr.processStartTime(process.pid)! });
    rmSync(ctr.containerRunDir(r.Id), { recursive: true });
    const s = await ctr.readState(r.Id);
    expect(s.Status).toBe("exited");
    expect(s.ExitCode).toBe(-1);
    expect(s.Error).toContain("reboot");
  });

  test("remove deletes record, state and writable layer", async () => {
    const r = await ctr.createContainer(blank());
    await ctr.writeState(r.Id, ctr.initialState());
    writeFileSync(join(ctr.containerDir(r.Id), "file"), "x");
    await ctr.removeContainer(r.Id);
    expect(existsSync(ctr.containerDir(r.Id))).toBe(false);
    expect(existsSync(ctr.containerRunDir(r.Id))).toBe(false);
    expect(await ctr.findContainer(r.Id)).toBeUndefined();
    expect(readdirSync(ctr.containersRoot()).filter((n) => n.startsWith(".removing"))).toEqual([]);
  });
});

describe("published ports", () => {
  test("the ports chosen at start while running, else the request; nothing when stopped", async () => {
    const rec = await ctr.createContainer({ ...blank("ported"), HostConfig: { ...blank().HostConfig, PortBindings: { "80/tcp": [{ HostIp: "", HostPort: "8080" }] } } });
    const state = (s: Partial<import("../../src/container").ContainerState>) => ({ ...ctr.initialState(), ...s });
    // a foreground run with a fixed port records no choice: the request is the truth
    expect(ctr.publishedPorts(rec, true)).toEqual({ "80/tcp": [{ HostIp: "", HostPort: "8080" }] });
    const chosen = { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "40123" }] };
    await ctr.writeState(rec.Id, state({ Status: "exited" })); // makes the runtime dir
    ctr.writePublishedPorts(rec.Id, chosen);
    expect(ctr.publishedPorts(rec, true)).toEqual(chosen);
    expect(ctr.portsText({ rec, state: state({ Status: "running", MonitorPid: process.pid }) })).toBe("127.0.0.1:40123->80/tcp");
    expect(ctr.publishedPorts(rec, false)).toEqual({});
    expect(ctr.portsText({ rec, state: state({ Status: "exited" }) })).toBe("");
    expect(ctr.inspectJson({ rec, state: state({ Status: "exited" }) }).NetworkSettings.Ports).toEqual({});
    await ctr.removeContainer(rec.Id);
  });
});
