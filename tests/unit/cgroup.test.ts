import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  blkioWeightToIoWeight,
  type CgroupHost,
  cgroupPathOf,
  cgroupReport,
  cleanupStaleCgroups,
  cpuMax,
  cpuSharesToWeight,
  createContainerCgroup,
  dockerResources,
  detectCgroupSetup,
  hasLimits,
  limitWrites,
  parseBytes,
  parseCgroupMode,
  parseResourceFlags,
  readStats,
  transientScopeCommand,
} from "../../src/cgroup";
import { binarySize, humanSize } from "../../src/cli/output";
import { BunkerError } from "../../src/errors";

const uid = process.getuid!();

function expectUserError(fn: () => unknown, text: string) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BunkerError);
    expect((e as BunkerError).exitCode).toBe(125);
    expect((e as Error).message).toContain(text);
    expect((e as Error).message).not.toContain("\n");
    return;
  }
  throw new Error(`expected a BunkerError containing "${text}"`);
}

describe("resource flags (docker units and rules)", () => {
  test("memory sizes use docker's binary units", () => {
    expect(parseBytes("memory", "512m")).toBe(512 * 1024 * 1024);
    expect(parseBytes("memory", "1g")).toBe(1024 ** 3);
    expect(parseBytes("memory", "1.5G")).toBe(1.5 * 1024 ** 3);
    expect(parseBytes("memory", "64MiB")).toBe(64 * 1024 ** 2);
    expect(parseBytes("memory", "100kb")).toBe(102400);
    expect(parseBytes("memory", "7000000")).toBe(7000000);
  });
  test("bad values are one-line errors naming the flag", () => {
    expectUserError(() => parseResourceFlags({ memory: "lots" }), "--memory");
    expectUserError(() => parseResourceFlags({ memory: "1m" }), "6MB");
    expectUserError(() => parseResourceFlags({ cpus: "abc" }), "--cpus");
    expectUserError(() => parseResourceFlags({ cpus: "3" }, 2), "range of CPUs is from 0.01 to 2.00");
    expectUserError(() => parseResourceFlags({ "pids-limit": "x" }), "--pids-limit");
    expectUserError(() => parseResourceFlags({ "blkio-weight": "5" }), "from 10 to 1000");
    expectUserError(() => parseResourceFlags({ "cpuset-cpus": "3-1" }), "--cpuset-cpus");
    expectUserError(() => parseResourceFlags({ "cpu-shares": "-3" }), "--cpu-shares");
  });
  test("memory-swap follows docker's rules", () => {
    expectUserError(() => parseResourceFlags({ "memory-swap": "1g" }), "--memory");
    expectUserError(() => parseResourceFlags({ memory: "512m", "memory-swap": "256m" }), "larger than memory");
    expectUserError(() => parseResourceFlags({ memory: "64m", "memory-reservation": "128m" }), "reservation");
    expect(parseResourceFlags({ memory: "512m", "memory-swap": "-1" }).memorySwap).toBe(-1);
  });
  test("a full set parses", () => {
    const l = parseResourceFlags(
      { memory: "512m", "memory-swap": "1g", "memory-reservation": "256m", cpus: "0.5", "cpu-shares": "512", "cpuset-cpus": "0", "cpuset-mems": "0", "pids-limit": "64", "blkio-weight": "300" },
      2,
    );
    expect(l).toEqual({
      memory: 512 * 1024 ** 2,
      memorySwap: 1024 ** 3,
      memoryReservation: 256 * 1024 ** 2,
      cpus: 0.5,
      cpuShares: 512,
      cpusetCpus: "0",
      cpusetMems: "0",
      pidsLimit: 64,
      blkioWeight: 300,
    });
    expect(hasLimits(l)).toBe(true);
  });
  test("zero and -1 mean unlimited, as in docker; no flags means no limits", () => {
    const l = parseResourceFlags({ memory: "0", "pids-limit": "-1", cpus: "0", "blkio-weight": "0", "cpu-shares": "0" });
    expect(l).toEqual({});
    expect(hasLimits(l)).toBe(false);
    expect(hasLimits(parseResourceFlags({}))).toBe(false);
  });
  test("--cgroups takes enabled or disabled", () => {
    expect(parseCgroupMode(undefined)).toBe("enabled");
    expect(parseCgroupMode("disabled")).toBe("disabled");
    expectUserError(() => parseCgroupMode("split"), "--cgroups");
  });
});

describe("conversions to cgroup v2 files (runc/crun arithmetic)", () => {
  test("cpu shares → cpu.weight", () => {
    expect(cpuSharesToWeight(2)).toBe(1);
    expect(cpuSharesToWeight(1024)).toBe(39);
    expect(cpuSharesToWeight(262144)).toBe(10000);
  });
  test("blkio weight → io.weight", () => {
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(500)).toBe(4950);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
  });
  test("cpus → cpu.max with a 100 ms period", () => {
    expect(cpuMax(0.5)).toBe("50000 100000");
    expect(cpuMax(0.2)).toBe("20000 100000");
    expect(cpuMax(1.5)).toBe("150000 100000");
  });
  test("memory-swap is a total: swap.max = memswap - memory; unset gives swap = memory; -1 is max", () => {
    const m = 512 * 1024 ** 2;
    const files = (l: Parameters<typeof limitWrites>[0]) => Object.fromEntries(limitWrites(l).map((w) => [w.file, w.value]));
    expect(files({ memory: m, memorySwap: 1024 ** 3 })["memory.swap.max"]).toBe(String(1024 ** 3 - m));
    expect(files({ memory: m })["memory.swap.max"]).toBe(String(m));
    expect(files({ memory: m, memorySwap: -1 })["memory.swap.max"]).toBe("max");
    expect(files({ memory: m, memoryReservation: 1024 })).toMatchObject({ "memory.max": String(m), "memory.low": "1024" });
    expect(files({ pidsLimit: 10, cpuShares: 1024, blkioWeight: 500, cpusetCpus: "0-1" })).toEqual({
      "pids.max": "10",
      "cpu.weight": "39",
      "io.weight": "4950",
      "cpuset.cpus": "0-1",
    });
  });
});

// Fake /proc/self and cgroup trees: mountinfo + cgroup files, directories owned by us or not.
const base = mkdtempSync(join(tmpdir(), "bunker-cgroup-unit-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

interface FakeHost {
  host: CgroupHost;
  mount: string;
  dir(rel: string, controllers?: string, subtree?: string): string;
}

function fakeHost(mountinfo: (mount: string) => string, cgroupLine: string, opts: { uid?: number; runtimeDir?: string } = {}): FakeHost {
  const root = join(base, String(n++));
  const proc = join(root, "proc");
  const mount = join(root, "sys/fs/cgroup");
  mkdirSync(proc, { recursive: true });
  mkdirSync(mount, { recursive: true });
  writeFileSync(join(proc, "mountinfo"), mountinfo(mount));
  writeFileSync(join(proc, "cgroup"), cgroupLine);
  return {
    mount,
    host: { procSelf: proc, uid: opts.uid ?? uid, runtimeDir: opts.runtimeDir, hasProgram: () => true },
    dir(rel, controllers = "cpuset cpu io memory pids", subtree = "") {
      const d = join(mount, rel);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "cgroup.controllers"), `${controllers}\n`);
      writeFileSync(join(d, "cgroup.subtree_control"), subtree ? `${subtree}\n` : "");
      writeFileSync(join(d, "cgroup.procs"), "");
      writeFileSync(join(d, "cpuset.cpus.effective"), "0-1\n");
      writeFileSync(join(d, "cpuset.mems.effective"), "0\n");
      return d;
    },
  };
}

/**
 * Not delegated, under a systemd user manager: our uid owns user@UID.service (as systemd delegates
 * it) but not user-UID.slice, the parent of the session scope bunker runs in.
 */
function userManagerHost(o: { bus?: boolean } = {}): FakeHost {
  const runtimeDir = join(base, `rt${n}`);
  mkdirSync(runtimeDir, { recursive: true });
  if (o.bus !== false) writeFileSync(join(runtimeDir, "bus"), "");
  const f = fakeHost(unified, `0::/user.slice/user-${uid}.slice/session-3.scope\n`, { runtimeDir });
  f.dir(`user.slice/user-${uid}.slice/session-3.scope`);
  f.dir(`user.slice/user-${uid}.slice/user@${uid}.service`, "cpu memory pids");
  return f;
}

const unified = (m: string) => `30 1 0:26 / ${m} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n`;
const hybrid = (m: string) =>
  [
    `30 1 0:26 / ${m} rw shared:4 - tmpfs tmpfs rw,mode=755`,
    `31 30 0:27 / ${m}/unified rw shared:5 - cgroup2 cgroup2 rw`,
    `32 30 0:28 / ${m}/memory rw shared:6 - cgroup cgroup rw,memory`,
    `33 30 0:29 / ${m}/cpu,cpuacct rw shared:7 - cgroup cgroup rw,cpu,cpuacct`,
    `34 30 0:30 / ${m}/pids rw shared:8 - cgroup cgroup rw,pids`,
  ].join("\n");
const v1only = (m: string) => `32 30 0:28 / ${m}/memory rw shared:6 - cgroup cgroup rw,memory\n`;
const SERVICE = "user.slice/user-1000.slice/user@1000.service";

describe("detecting the host's case", () => {
  test("hybrid layout (like the CI machines) → none, says why and how to fix", () => {
    const f = fakeHost(hybrid, "4:memory:/x\n0::/\n");
    const s = detectCgroupSetup(f.host);
    expect(s.kind).toBe("none");
    if (s.kind !== "none") return;
    expect(s.layout).toBe("hybrid");
    expect(s.reason).toContain("memory");
    expect(s.fix).toContain("systemd.unified_cgroup_hierarchy=1");
    expect(s.fix).toContain("--cgroups=disabled");
  });
  test("cgroup v1 only → none", () => {
    const s = detectCgroupSetup(fakeHost(v1only, "4:memory:/\n").host);
    expect(s.kind === "none" && s.layout).toBe("v1");
  });
  test("the real host here is detected as not usable for limits (hybrid)", () => {
    const s = detectCgroupSetup();
    const mounts = readFileSync("/proc/self/mountinfo", "utf8");
    if (mounts.includes(" - cgroup cgroup ") && / - cgroup2 /.test(mounts)) expect(s.kind === "none" && s.layout).toBe("hybrid");
  });
  test("delegated v2: containers go beside bunker's own cgroup, in the delegated parent", () => {
    const f = fakeHost(unified, `0::/${SERVICE}/app.slice/term.scope\n`);
    f.dir(SERVICE);
    const parent = f.dir(`${SERVICE}/app.slice`, "cpu memory pids");
    f.dir(`${SERVICE}/app.slice/term.scope`, "cpu memory pids");
    const s = detectCgroupSetup(f.host);
    expect(s.kind).toBe("delegated");
    if (s.kind !== "delegated") return;
    expect(s.parent).toBe(parent);
    expect(s.own).toBe(join(parent, "term.scope"));
    expect(s.controllers).toEqual(["cpu", "memory", "pids"]);
  });
  test("a cgroup owned by someone else is not delegated; no user manager → none with a fix", () => {
    const f = fakeHost(unified, "0::/user.slice/user-1000.slice/session-1.scope\n", { uid: uid + 4242 });
    f.dir("user.slice/user-1000.slice/session-1.scope");
    const s = detectCgroupSetup(f.host);
    expect(s.kind).toBe("none");
    if (s.kind !== "none") return;
    expect(s.layout).toBe("unified");
    expect(s.reason).toContain("not delegated");
    expect(s.fix).toContain("Delegate=yes");
  });
  test("not delegated, but a systemd user manager runs → transient scopes", () => {
    const s = detectCgroupSetup(userManagerHost().host);
    expect(s.kind).toBe("systemd-scope");
    if (s.kind === "systemd-scope") {
      expect(s.manager).toEndWith(`user.slice/user-${uid}.slice/user@${uid}.service`);
      expect(s.controllers).toEqual(["cpu", "memory", "pids"]);
    }
  });
  test("a user manager without the user's D-Bus (no dbus-user-session) or without busctl can't make scopes → none", () => {
    const noBus = detectCgroupSetup(userManagerHost({ bus: false }).host);
    expect(noBus.kind).toBe("none");
    if (noBus.kind === "none") expect(noBus.reason).toContain("D-Bus");
    const f = userManagerHost();
    expect(detectCgroupSetup({ ...f.host, hasProgram: (p) => p !== "busctl" }).kind).toBe("none");
  });
  test("bunker in the root cgroup of its namespace: containers are its children", () => {
    const f = fakeHost(unified, "0::/\n");
    f.dir("");
    const s = detectCgroupSetup(f.host);
    expect(s.kind === "delegated" && s.parent).toBe(f.mount);
  });
});

describe("creating a container's cgroup (fake delegated tree)", () => {
  const setupFor = () => {
    const f = fakeHost(unified, `0::/${SERVICE}/session.scope\n`);
    const parent = f.dir(SERVICE, "cpuset cpu io memory pids");
    f.dir(`${SERVICE}/session.scope`);
    return { f, parent, setup: detectCgroupSetup(f.host) };
  };
  test("writes the limits into <parent>/bunker-<id> and enables the controllers", async () => {
    const { parent, setup } = setupFor();
    const saved = process.env.BUNKER_RUNTIME_DIR;
    process.env.BUNKER_RUNTIME_DIR = join(base, "run");
    const limits = parseResourceFlags({ memory: "64m", cpus: "0.2", "pids-limit": "20" }, 2);
    const cg = await createContainerCgroup("c0ffee", limits, "enabled", setup).finally(() => {
      if (saved === undefined) delete process.env.BUNKER_RUNTIME_DIR;
      else process.env.BUNKER_RUNTIME_DIR = saved;
    });
    expect(cg).toBeDefined();
    expect(cg!.path).toBe(join(parent, "bunker-c0ffee"));
    expect(cg!.dirFd).toBeGreaterThanOrEqual(0);
    expect(readFileSync(join(cg!.path, "memory.max"), "utf8")).toBe(String(64 * 1024 ** 2));
    expect(readFileSync(join(cg!.path, "cpu.max"), "utf8")).toBe("20000 100000");
    expect(readFileSync(join(cg!.path, "pids.max"), "utf8")).toBe("20");
    // a plain file stands in for subtree_control: the last "+controller" written stays
    expect(readFileSync(join(parent, "cgroup.subtree_control"), "utf8")).toStartWith("+");
    expect(readFileSync(join(base, "run/cgroups/c0ffee.json"), "utf8")).toContain(cg!.path);
  });
  test("cpuset outside what the parent has is refused like docker", async () => {
    const { setup } = setupFor();
    const limits = parseResourceFlags({ "cpuset-cpus": "0-5" }, 8);
    await expect(createContainerCgroup("c1", limits, "enabled", setup)).rejects.toThrow("requested 0-5, available: 0-1");
  });
  test("a limit whose controller isn't delegated is refused with a fix", async () => {
    const f = fakeHost(unified, `0::/${SERVICE}/session.scope\n`);
    f.dir(SERVICE, "pids");
    f.dir(`${SERVICE}/session.scope`, "pids");
    const p = createContainerCgroup("c2", parseResourceFlags({ memory: "64m" }), "enabled", detectCgroupSetup(f.host));
    await expect(p).rejects.toThrow("memory controller is not delegated");
  });
  test("no delegation: a limit is refused (125, one line); no limit needs no cgroup; --cgroups=disabled skips", async () => {
    const setup = detectCgroupSetup(fakeHost(hybrid, "0::/\n").host);
    const err = await createContainerCgroup("c3", parseResourceFlags({ memory: "64m" }), "enabled", setup).catch((e) => e);
    expect(err).toBeInstanceOf(BunkerError);
    expect(err.exitCode).toBe(125);
    expect(err.message).toContain("cannot enforce --memory");
    expect(err.message).toContain("hybrid");
    expect(err.message).toContain("--cgroups=disabled");
    expect(await createContainerCgroup("c3", {}, "enabled", setup)).toBeUndefined();
    expect(await createContainerCgroup("c3", parseResourceFlags({ memory: "64m" }), "disabled", setup)).toBeUndefined();
  });
});

describe("transient systemd scopes (not delegated, a user manager runs)", () => {
  test("the D-Bus call asks for a delegated scope holding the container's process, collected when it ends", () => {
    const argv = transientScopeCommand("bunker-abc.scope", [4242]);
    expect(argv.slice(0, 7)).toEqual(["busctl", "--user", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "StartTransientUnit"]);
    // the signature's arguments: name, mode, 3 properties (name, type, value...), 0 auxiliary units
    expect(argv.slice(7)).toEqual(["ssa(sv)a(sa(sv))", "bunker-abc.scope", "fail", "3", "PIDs", "au", "1", "4242", "Delegate", "b", "true", "CollectMode", "s", "inactive-or-failed", "0"]);
  });

  test("a detached container's scope holds its monitor too (the scope then lasts across restarts)", () => {
    expect(transientScopeCommand("bunker-abc.scope", [4242, 4243]).slice(10, 16)).toEqual(["3", "PIDs", "au", "2", "4242", "4243"]);
  });

  // A busctl on PATH that records its arguments and fails as it does without the user's bus.
  const withFailingBusctl = async (fn: (argsFile: string) => Promise<void>) => {
    const bin = join(base, `bin${n++}`);
    mkdirSync(bin);
    const argsFile = join(bin, "args");
    writeFileSync(join(bin, "busctl"), `#!/bin/sh\nprintf '%s\\n' "$@" >${argsFile}\necho "Failed to connect to bus: No such file or directory" >&2\nexit 1\n`, { mode: 0o755 });
    const saved = { path: process.env.PATH, runtime: process.env.BUNKER_RUNTIME_DIR };
    process.env.PATH = `${bin}:${saved.path}`;
    process.env.BUNKER_RUNTIME_DIR = join(base, `run-${n++}`);
    try {
      await fn(argsFile);
    } finally {
      process.env.PATH = saved.path;
      if (saved.runtime === undefined) delete process.env.BUNKER_RUNTIME_DIR;
      else process.env.BUNKER_RUNTIME_DIR = saved.runtime;
    }
  };

  test("a manager that fails: a limit is refused (125, one line, the manager's words); a run without limits goes on without a cgroup", async () => {
    await withFailingBusctl(async (argsFile) => {
      const setup = detectCgroupSetup(userManagerHost().host);
      const limited = (await createContainerCgroup("s1", parseResourceFlags({ memory: "64m" }), "enabled", setup))!;
      expect(limited.dirFd).toBe(-1);
      const err = await limited.attach(process.pid).catch((e) => e);
      expect(err).toBeInstanceOf(BunkerError);
      expect(err.exitCode).toBe(125);
      expect(err.message).toContain("cannot enforce --memory: systemd could not make the scope bunker-s1.scope: Failed to connect to bus");
      expect(err.message).toContain("--cgroups=disabled");
      expect(err.message).not.toContain("\n");
      expect(readFileSync(argsFile, "utf8").split("\n").filter(Boolean)).toEqual(transientScopeCommand("bunker-s1.scope", [process.pid]).slice(1));

      const unlimited = (await createContainerCgroup("s2", {}, "enabled", setup))!;
      await unlimited.attach(process.pid);
      expect(unlimited.path).toBe("");
      expect(unlimited.oomKilled()).toBe(false);
      expect(cgroupPathOf("s2")).toBeUndefined();
      await unlimited.remove();
    });
  });
});

describe("transient scopes right after the same container's last run", () => {
  test("while the manager still holds the ended scope ('already loaded'), the call is made again", async () => {
    const bin = join(base, `bin${n++}`);
    mkdirSync(bin);
    const calls = join(bin, "calls");
    // answers as systemd does until it has collected the old unit, then fails some other way
    writeFileSync(
      join(bin, "busctl"),
      `#!/bin/sh\necho x >>${calls}\nif [ $(wc -l <${calls}) -le 2 ]; then echo "Call failed: Unit bunker-s3.scope was already loaded or has a fragment file." >&2; else echo "Call failed: Access denied" >&2; fi\nexit 1\n`,
      { mode: 0o755 },
    );
    const saved = { path: process.env.PATH, runtime: process.env.BUNKER_RUNTIME_DIR };
    process.env.PATH = `${bin}:${saved.path}`;
    process.env.BUNKER_RUNTIME_DIR = join(base, `run-${n++}`);
    try {
      const cg = (await createContainerCgroup("s3", parseResourceFlags({ memory: "64m" }), "enabled", detectCgroupSetup(userManagerHost().host)))!;
      const err = await cg.attach(process.pid, process.ppid).catch((e) => e);
      expect(err).toBeInstanceOf(BunkerError);
      expect(err.message).toContain("systemd could not make the scope bunker-s3.scope: Call failed: Access denied");
      expect(readFileSync(calls, "utf8")).toBe("x\nx\nx\n");
    } finally {
      process.env.PATH = saved.path;
      if (saved.runtime === undefined) delete process.env.BUNKER_RUNTIME_DIR;
      else process.env.BUNKER_RUNTIME_DIR = saved.runtime;
    }
  });
});

describe("removing containers' cgroups", () => {
  const withRuntimeDir = async <T>(fn: () => Promise<T>): Promise<T> => {
    const saved = process.env.BUNKER_RUNTIME_DIR;
    process.env.BUNKER_RUNTIME_DIR = join(base, `run-${n++}`);
    try {
      return await fn();
    } finally {
      if (saved === undefined) delete process.env.BUNKER_RUNTIME_DIR;
      else process.env.BUNKER_RUNTIME_DIR = saved;
    }
  };
  const delegated = () => {
    const f = fakeHost(unified, `0::/${SERVICE}/session.scope\n`);
    f.dir(SERVICE);
    f.dir(`${SERVICE}/session.scope`);
    return detectCgroupSetup(f.host);
  };
  test("remove() deletes the cgroup and its record; a second call is harmless", async () => {
    await withRuntimeDir(async () => {
      const cg = (await createContainerCgroup("r1", {}, "enabled", delegated()))!;
      expect(existsSync(cg.path)).toBe(true);
      expect(cgroupPathOf("r1")).toBe(cg.path);
      await cg.remove();
      await cg.remove();
      expect(existsSync(cg.path)).toBe(false);
      expect(cgroupPathOf("r1")).toBeUndefined();
    });
  });
  test("stale cleanup keeps cgroups whose owner lives and removes those whose owner died", async () => {
    await withRuntimeDir(async () => {
      const setup = delegated();
      const alive = (await createContainerCgroup("alive", {}, "enabled", setup))!;
      alive.release(process.pid);
      const orphan = (await createContainerCgroup("orphan", {}, "enabled", setup))!;
      const dead = Bun.spawnSync(["true"]).pid;
      orphan.release(dead);
      expect(await cleanupStaleCgroups()).toEqual([orphan.path]);
      expect(existsSync(orphan.path)).toBe(false);
      expect(cgroupPathOf("orphan")).toBeUndefined();
      expect(cgroupPathOf("alive")).toBe(alive.path);
      await alive.remove();
    });
  });
});

describe("what inspect shows", () => {
  test("docker's HostConfig resource fields", () => {
    expect(dockerResources(parseResourceFlags({ memory: "64m", cpus: "0.5", "pids-limit": "20" }, 2))).toEqual({
      Memory: 67108864,
      MemoryReservation: 0,
      MemorySwap: 134217728,
      NanoCpus: 500000000,
      CpuShares: 0,
      CpusetCpus: "",
      CpusetMems: "",
      PidsLimit: 20,
      BlkioWeight: 0,
    });
    expect(dockerResources({}).PidsLimit).toBeNull();
  });
});

describe("reading stats", () => {
  test("docker's figures from cgroup files", () => {
    const d = join(base, "stats");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "cpu.stat"), "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnr_throttled 7\n");
    writeFileSync(join(d, "memory.current"), "10485760\n");
    writeFileSync(join(d, "memory.stat"), "anon 4096\ninactive_file 1048576\n");
    writeFileSync(join(d, "memory.max"), "67108864\n");
    writeFileSync(join(d, "memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    writeFileSync(join(d, "pids.current"), "4\n");
    writeFileSync(join(d, "io.stat"), "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n8:16 rbytes=1 wbytes=2 rios=1 wios=1\n");
    expect(readStats(d)).toEqual({ cpuUsageUsec: 123456, memoryUsage: 9437184, memoryLimit: 67108864, pids: 4, ioRead: 4097, ioWrite: 8194, oomKills: 1 });
  });
});

describe("stats' sizes (docker's units)", () => {
  test("memory in binary units with four digits, I/O in decimal with three", () => {
    expect(binarySize(48 * 1024 ** 2)).toBe("48MiB");
    expect(binarySize(1.5 * 1024 ** 2)).toBe("1.5MiB");
    expect(binarySize(124 * 1024)).toBe("124KiB");
    expect(binarySize(0)).toBe("0B");
    expect(humanSize(4096)).toBe("4.1kB");
    expect(humanSize(0)).toBe("0B");
  });
});

describe("doctor report", () => {
  test("hybrid host: a warning with the fix, no usable controllers", () => {
    const r = cgroupReport(fakeHost(hybrid, "0::/\n").host);
    expect(r.ok).toBe(false);
    expect(r.controllers).toEqual([]);
    expect(r.lines[0].status).toBe("warn");
    expect(r.lines[0].fix).toContain("--cgroups=disabled");
  });
  test("delegated host: lists usable controllers, warns about missing ones", () => {
    const f = fakeHost(unified, `0::/${SERVICE}/session.scope\n`);
    f.dir(SERVICE, "memory pids");
    const r = cgroupReport(f.host);
    expect(r.ok).toBe(true);
    expect(r.controllers).toEqual(["memory", "pids"]);
    expect(r.lines.map((l) => l.status)).toEqual(["ok", "warn"]);
    expect(r.lines[1].message).toContain("cpu");
  });
});
