// The runtime's pure parts: docker's flag grammar, the spawn program's bytes, capability sets,
// users and the environment, and the steps a spec turns into.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capMask, DEFAULT_CAPS, effectiveCaps } from "../../src/runtime/caps";
import { parseRunFlags, RUN_FLAGS, str } from "../../src/runtime/flags";
import { encodeProgram, Op } from "../../src/runtime/program";
import type { ContainerSpec } from "../../src/runtime/spec";
import { chooseRootfsDriver, fallbackNotice, rootfsDriver } from "../../src/runtime/rootfs";
import { defaultSeccompFilter } from "../../src/runtime/seccomp";
import { dockerDevices, parseDevice } from "../../src/runtime/device";
import { startFailure } from "../../src/runtime/process";
import { buildSteps, canMountEarly, processSteps } from "../../src/runtime/steps";
import { parseSysctls } from "../../src/runtime/sysctl";
import { dockerUlimits, parseUlimit, parseUlimits } from "../../src/runtime/ulimit";
import { buildEnv, readRootFile, resolveUser } from "../../src/runtime/user";
import { bunkerErrorOf } from "../support/errors";

const parse = (argv: string[]) => parseRunFlags(argv, RUN_FLAGS, (f) => str(f, "rootfs") === undefined);

describe("run flags", () => {
  test("everything after IMAGE belongs to the container, -c and --help included", () => {
    const p = parse(["--rm", "-e", "A=1", "alpine", "sh", "-c", "echo --help", "--rm"]);
    expect(p.image).toBe("alpine");
    expect(p.command).toEqual(["sh", "-c", "echo --help", "--rm"]);
    expect(p.flags.rm).toBe(true);
    expect(p.flags.env).toEqual(["A=1"]);
  });

  test("combined short flags and attached values, as docker's", () => {
    const p = parse(["-itd", "-eX=1", "-p8080:80", "-w=/srv", "--name=web", "img"]);
    expect(p.flags.interactive).toBe(true);
    expect(p.flags.tty).toBe(true);
    expect(p.flags.detach).toBe(true);
    expect(p.flags.env).toEqual(["X=1"]);
    expect(p.flags.publish).toEqual(["8080:80"]);
    expect(p.flags.workdir).toBe("/srv");
    expect(p.flags.name).toBe("web");
    expect(p.image).toBe("img");
  });

  test("--rootfs takes no IMAGE: every positional word is the command", () => {
    const p = parse(["--rootfs", "/r", "echo", "hi"]);
    expect(p.image).toBeUndefined();
    expect(p.command).toEqual(["echo", "hi"]);
  });

  test("--ulimit, --device and --sysctl repeat", () => {
    const p = parse(["--ulimit", "nofile=1", "--ulimit=core=0", "--device", "/dev/fuse", "--sysctl", "a.b=1", "--sysctl=c.d=2", "img"]);
    expect(p.flags.ulimit).toEqual(["nofile=1", "core=0"]);
    expect(p.flags.device).toEqual(["/dev/fuse"]);
    expect(p.flags.sysctl).toEqual(["a.b=1", "c.d=2"]);
  });

  test("boolean values and bad input", () => {
    expect(parse(["--rm=false", "x"]).flags.rm).toBe(false);
    expect(() => parse(["--rm=maybe", "x"])).toThrow("invalid value");
    expect(() => parse(["--bogus", "x"])).toThrow("unknown flag: --bogus");
    expect(() => parse(["-Z", "x"])).toThrow("unknown shorthand flag");
    expect(() => parse(["--name"])).toThrow("flag needs an argument: --name");
  });
});

describe("spawn program encoding", () => {
  test("header and step layout match native/shared/spawn.h", () => {
    const bytes = encodeProgram(
      { cloneFlags: 0x10000000n, cgroupFd: -1, goFd: 3, goWriteFd: 4, errFd: 5, errReadFd: 6, mappedFd: 7, mappedWriteFd: 8 },
      [{ op: Op.Hostname, ints: [7], strs: ["abc"], what: "" }],
    );
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(0, true)).toBe(0x50534b42);
    expect(v.getUint32(4, true)).toBe(2);
    expect(v.getBigUint64(8, true)).toBe(0x10000000n);
    expect([16, 20, 24, 28, 32].map((o) => v.getInt32(o, true))).toEqual([-1, 3, 4, 5, 6]);
    expect(v.getUint32(36, true)).toBe(1);
    expect([40, 44].map((o) => v.getInt32(o, true))).toEqual([7, 8]);
    // step: op, size, nint, nstr, ints, then (len, bytes, NUL) padded to 4, the whole padded to 8
    expect(v.getUint32(48, true)).toBe(Op.Hostname);
    const size = v.getUint32(52, true);
    expect(size % 8).toBe(0);
    expect(bytes.length).toBe(48 + size);
    expect([v.getUint32(56, true), v.getUint32(60, true)]).toEqual([1, 1]);
    expect(v.getBigInt64(64, true)).toBe(7n);
    expect(v.getUint32(72, true)).toBe(3);
    expect(new TextDecoder().decode(bytes.subarray(76, 80))).toBe("abc\0");
  });

  test("no mapped pipe unless given: -1, as the C reads it", () => {
    const v = new DataView(encodeProgram({ cloneFlags: 0n, cgroupFd: -1, goFd: 0, goWriteFd: 0, errFd: 0, errReadFd: 0 }, []).buffer);
    expect([40, 44].map((o) => v.getInt32(o, true))).toEqual([-1, -1]);
  });

  test("every op has the number native/shared/spawn.h gives it", () => {
    const header = readFileSync(join(import.meta.dir, "../../native/shared/spawn.h"), "utf8");
    const inC = Object.fromEntries([...header.matchAll(/^\s*BK_OP_([A-Z_]+) = (\d+),/gm)].map((m) => [m[1], Number(m[2])]));
    const inTs: Record<string, number> = {
      MOUNT: Op.Mount, SET_ROOT: Op.SetRoot, MKDIR: Op.Mkdir, SYMLINK: Op.Symlink, PIVOT_ROOT: Op.PivotRoot, SETATTR_RO: Op.SetattrRo,
      HOSTNAME: Op.Hostname, CHDIR: Op.Chdir, SETID: Op.SetId, CAPBSET: Op.CapBset, CAPSET: Op.CapSet, NO_NEW_PRIVS: Op.NoNewPrivs,
      SECCOMP: Op.Seccomp, RESET_SIGNALS: Op.ResetSignals, STDIO: Op.Stdio, EXEC: Op.Exec, RLIMIT: Op.Rlimit, IFUP_LO: Op.IfupLo,
      UMASK: Op.Umask, UNSHARE: Op.Unshare, PTY: Op.Pty, WRITE_FILE: Op.WriteFile, UMOUNT: Op.Umount, AWAIT: Op.Await, WRITE_EXISTING: Op.WriteExisting,
    };
    expect(inC).toEqual(inTs);
  });

  test("strings may hold any bytes (the seccomp filter is one)", () => {
    const blob = new Uint8Array([0, 1, 0, 255, 0, 0, 0, 0]);
    const bytes = encodeProgram({ cloneFlags: 0n, cgroupFd: -1, goFd: 0, goWriteFd: 0, errFd: 0, errReadFd: 0 }, [
      { op: Op.Seccomp, ints: [], strs: [blob], what: "" },
    ]);
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(64, true)).toBe(8);
    expect([...bytes.subarray(68, 76)]).toEqual([...blob]);
  });
});

describe("capabilities", () => {
  test("docker's default set is a80425fb", () => {
    expect(capMask(effectiveCaps({ privileged: false, add: [], drop: [] }))).toBe(0xa80425fbn);
    expect(DEFAULT_CAPS).toHaveLength(14);
  });

  test("add, drop, ALL and CAP_ prefixes", () => {
    expect(effectiveCaps({ privileged: false, add: ["cap_net_admin"], drop: ["ALL"] })).toEqual(["NET_ADMIN"]);
    expect(effectiveCaps({ privileged: false, add: [], drop: ["chown,kill"] })).not.toContain("CHOWN");
    expect(effectiveCaps({ privileged: true, add: [], drop: [] })).toHaveLength(41);
    expect(() => effectiveCaps({ privileged: false, add: ["FLY"], drop: [] })).toThrow("unknown capability");
  });
});

describe("users and environment", () => {
  const base = mkdtempSync(join(tmpdir(), "bunker-user-"));
  const lower = join(base, "lower");
  const upper = join(base, "upper");
  mkdirSync(join(lower, "etc"), { recursive: true });
  mkdirSync(join(upper, "etc"), { recursive: true });
  writeFileSync(join(lower, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nold:x:5:5::/old:/bin/sh\n");
  writeFileSync(join(upper, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
  writeFileSync(join(lower, "etc/group"), "root:x:0:\nstaff:x:50:app,other\nadm:x:4:app\napp:x:1000:\n");
  const roots = [upper, lower];

  test("the top layer's file wins; names, groups and home as docker", () => {
    expect(resolveUser("app", roots)).toEqual({ uid: 1000, gid: 1000, groups: [1000, 50, 4], home: "/home/app" });
    expect(resolveUser("0", roots)).toEqual({ uid: 0, gid: 0, groups: [0], home: "/root" });
    expect(resolveUser("1234:7", roots)).toEqual({ uid: 1234, gid: 7, groups: [7], home: "/" });
    expect(resolveUser("app:staff", roots).gid).toBe(50);
    expect(() => resolveUser("old", roots)).toThrow("unable to find user old");
    expect(() => resolveUser("app:nogroup", roots)).toThrow("unable to find group nogroup");
  });

  test("symlinks and whiteouts are not followed out of the image", () => {
    const evil = join(base, "evil");
    mkdirSync(evil);
    symlinkSync("/etc", join(evil, "etc"));
    expect(readRootFile([evil], "/etc/passwd")).toBeUndefined();
  });

  test("environment order: defaults, image, env files, -e; KEY alone comes from bunker's", () => {
    const file = join(base, "env");
    writeFileSync(file, "# c\nB=file\nC=file\n");
    process.env.BUNKER_TEST_PASS = "through";
    const env = buildEnv({ image: ["PATH=/img", "A=img", "B=img"], flags: ["C=flag", "BUNKER_TEST_PASS", "UNSET_ONE"], envFiles: [file], hostname: "h", home: "/root", tty: true });
    expect(env).toEqual(["PATH=/img", "HOSTNAME=h", "A=img", "B=file", "C=flag", "BUNKER_TEST_PASS=through", "TERM=xterm", "HOME=/root"]);
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));
});

function spec(over: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    id: "c".repeat(64),
    rootfs: { kind: "bind", dir: "/r" },
    readOnly: false,
    hostname: "h",
    args: ["sh"],
    env: ["PATH=/bin"],
    cwd: "/",
    uid: 0,
    gid: 0,
    groups: [0],
    idMapping: { kind: "single", uids: [{ inside: 0, outside: 1000, count: 1 }], gids: [{ inside: 0, outside: 1000, count: 1 }] },
    caps: DEFAULT_CAPS,
    noNewPrivs: true,
    privileged: false,
    mounts: [],
    etcFiles: {},
    newNetNs: true,
    network: { mode: "none", newNetNs: true, ports: [] },
    tty: false,
    stdin: false,
    init: false,
    resources: {},
    cgroupMode: "enabled",
    ...over,
  };
}

describe("seccomp", () => {
  test("x86_64 only, a deny list, clone checked for namespace flags unless SYS_ADMIN", () => {
    const insns = (b: Uint8Array) => Array.from({ length: b.length / 8 }, (_, i) => new DataView(b.buffer).getUint32(i * 8 + 4, true));
    const plain = insns(defaultSeccompFilter(DEFAULT_CAPS));
    expect(plain[1]).toBe(0xc000003e); // AUDIT_ARCH_X86_64
    expect(plain).toContain(250); // keyctl
    expect(plain).toContain(272); // unshare
    expect(plain).toContain(0x7e020080); // clone's namespace flags
    expect(plain.at(-1)).toBe(0x7fff0000); // default: allow
    const admin = insns(defaultSeccompFilter([...DEFAULT_CAPS, "SYS_ADMIN"]));
    expect(admin).not.toContain(272);
    expect(admin).toContain(250);
  });
});

describe("steps", () => {
  const exec = { path: "/bin", args: ["sh"], env: [], execFd: -1 };
  const stdio = { fds: [0, 1, 2] as [number, number, number], setsid: false, controllingTty: false };
  const ops = (s: ContainerSpec) => buildSteps(s, exec, stdio);

  test("proc is mounted before pivot_root; identity after; exec last", () => {
    const steps = ops(spec());
    const idx = (pred: (x: (typeof steps)[number]) => boolean) => steps.findIndex(pred);
    const proc = idx((s) => s.op === Op.Mount && s.strs[2] === "proc");
    const pivot = idx((s) => s.op === Op.PivotRoot);
    expect(proc).toBeGreaterThan(0);
    expect(pivot).toBeGreaterThan(proc);
    expect(idx((s) => s.op === Op.SetId)).toBeGreaterThan(pivot);
    expect(idx((s) => s.op === Op.CapBset)).toBeLessThan(idx((s) => s.op === Op.SetId));
    expect(steps.at(-1)!.op).toBe(Op.Exec);
  });

  test("container paths are resolved inside the root; only the root mount uses a host path", () => {
    for (const s of ops(spec()).filter((x) => x.op === Op.Mount)) {
      const targetInRoot = s.ints[2] === 1;
      const hostTarget = s.strs[1] === "/" || s.strs[1] === "/r";
      expect(targetInRoot || hostTarget).toBe(true);
    }
  });

  test("masked paths only without --privileged; sysfs or a read-only bind by network", () => {
    const masked = (s: ContainerSpec) => ops(s).some((x) => x.op === Op.Mount && x.strs[1] === "/proc/kcore");
    expect(masked(spec())).toBe(true);
    expect(masked(spec({ privileged: true }))).toBe(false);
    const sys = (s: ContainerSpec) => ops(s).find((x) => x.op === Op.Mount && x.strs[1] === "/sys")!;
    expect(sys(spec()).strs[2]).toBe("sysfs");
    expect(sys(spec({ newNetNs: false })).strs[0]).toBe("/sys");
  });

  test("-t: the pty is made after pivot_root and the switch to the user; the stdio step then keeps 0-2", () => {
    const steps = buildSteps(spec(), exec, { pty: { socket: 9, rows: 24, cols: 80 } });
    const idx = (op: Op) => steps.findIndex((s) => s.op === op);
    expect(idx(Op.Pty)).toBeGreaterThan(idx(Op.PivotRoot));
    expect(idx(Op.Pty)).toBeGreaterThan(idx(Op.SetId));
    expect(idx(Op.Stdio)).toBe(idx(Op.Pty) + 1);
    expect(steps[idx(Op.Pty)].ints).toEqual([9, 24, 80]);
    expect(steps[idx(Op.Stdio)].ints).toEqual([-1, -1, -1, 0, 0, 1]); // no second setsid, no dup2
    expect(ops(spec()).some((s) => s.op === Op.Pty)).toBe(false);
  });

  test("--sysctl: written right after /proc is mounted, in the container's root, before /proc/sys is made read-only", () => {
    const steps = ops(spec({ sysctls: { "net.ipv4.ip_forward": "1", "kernel.shmmni": "1000" } }));
    const proc = steps.findIndex((s) => s.op === Op.Mount && s.strs[2] === "proc");
    expect(steps.slice(proc + 1, proc + 3).map((s) => [s.op, s.ints, s.strs])).toEqual([
      [Op.WriteExisting, [1], ["/proc/sys/net/ipv4/ip_forward", "1"]],
      [Op.WriteExisting, [1], ["/proc/sys/kernel/shmmni", "1000"]],
    ]);
    expect(steps.findIndex((s) => s.op === Op.SetattrRo && s.strs[0] === "/proc/sys")).toBeGreaterThan(proc + 2);
    expect(steps[proc + 1].what).toBe("set sysctl net.ipv4.ip_forward=1");
    // an interface's sysctl needs the network, attached after a prestarted child's early mounts
    expect(canMountEarly(spec({ rootfs: { kind: "bind", dir: "/r" } }))).toBe(true);
    expect(canMountEarly(spec({ rootfs: { kind: "bind", dir: "/r" }, sysctls: { "net.ipv4.ip_forward": "1" } }))).toBe(false);
  });

  test("--device: a bind of the host node onto a file made in the container's /dev, after /dev is set up", () => {
    const steps = ops(spec({ devices: [{ source: "/dev/fuse", target: "/dev/fuse", permissions: "rwm" }] }));
    const dev = steps.findIndex((s) => s.op === Op.Mount && s.strs[0] === "/dev/fuse");
    const MS_BIND = 4096;
    // flags, source in root, target in root, create a file, not optional
    expect(steps[dev].ints).toEqual([MS_BIND, 0, 1, 2, 0]);
    expect(steps[dev].strs[1]).toBe("/dev/fuse");
    for (const target of ["/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"]) expect(steps.findIndex((s) => s.op === Op.Mount && s.strs[1] === target)).toBeLessThan(dev);
    expect(steps.findIndex((s) => s.op === Op.PivotRoot)).toBeGreaterThan(dev);
  });

  test("--ulimit: prlimit steps last before the exec, for the container and for exec into it", () => {
    const ulimits = [{ name: "nofile", soft: 100, hard: 200 }, { name: "core", soft: -1, hard: -1 }];
    const expected = [
      [Op.Rlimit, [7, 100, 200], "set ulimit nofile=100:200"],
      [Op.Rlimit, [4, -1, -1], "set ulimit core=-1:-1"],
      [Op.Exec, [1, 0, -1], "exec sh"],
    ];
    const tail = (steps: ReturnType<typeof ops>) => steps.slice(-3).map((s) => [s.op, s.ints, s.what]);
    expect(tail(ops(spec({ ulimits })))).toEqual(expected);
    const execSteps = processSteps({ cwd: "/", caps: [], uid: 0, gid: 0, groups: [], noNewPrivs: true, idMapping: { kind: "single" }, ulimits }, exec, stdio);
    expect(tail(execSteps)).toEqual(expected);
    expect(ops(spec()).some((s) => s.op === Op.Rlimit)).toBe(false);
  });

  test("a step's advice for its errno follows the failure, in one line", () => {
    const rlimit = ops(spec({ ulimits: [{ name: "nofile", soft: 1, hard: 1 }] })).find((s) => s.op === Op.Rlimit)!;
    expect(startFailure(rlimit, 1, spec()).message).toBe(
      "cannot start the container: set ulimit nofile=1:1: operation not permitted (EPERM): bunker's own hard limit is lower, and a container can't raise it: raise yours (ulimit -H)",
    );
    expect(startFailure(rlimit, 22, spec()).message).toBe("cannot start the container: set ulimit nofile=1:1: invalid argument (EINVAL)");
  });

  test("setgroups is skipped with a single-id mapping, used with a range", () => {
    const setid = (s: ContainerSpec) => ops(s).find((x) => x.op === Op.SetId)!.ints;
    expect(setid(spec())).toEqual([0, 0, -1]);
    const ranged = spec({
      idMapping: { kind: "subid", uids: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }], gids: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }] },
      groups: [0, 10],
    });
    expect(setid(ranged)).toEqual([0, 0, 2, 0, 10]);
  });
});

describe("--ulimit", () => {
  test("docker's grammar: TYPE=SOFT[:HARD], HARD defaults to SOFT, -1 is unlimited", () => {
    expect(parseUlimit("nofile=1024:2048")).toEqual({ name: "nofile", soft: 1024, hard: 2048 });
    expect(parseUlimit("nproc=50")).toEqual({ name: "nproc", soft: 50, hard: 50 });
    expect(parseUlimit("core=-1")).toEqual({ name: "core", soft: -1, hard: -1 });
    expect(parseUlimit("core=0:-1")).toEqual({ name: "core", soft: 0, hard: -1 });
    expect(dockerUlimits([parseUlimit("nofile=1:2")])).toEqual([{ Name: "nofile", Soft: 1, Hard: 2 }]);
  });

  test("bad input: one line that names the flag", () => {
    for (const [flag, text] of [
      ["nofile", "use TYPE=SOFT[:HARD]"],
      ["=1", "use TYPE=SOFT[:HARD]"],
      ["nofiles=1", "unknown type nofiles: use one of cpu, fsize"],
      ["nofile=1:2:3", "use TYPE=SOFT[:HARD]"],
      ["nofile=x", "the limits are integers, or -1"],
      ["nofile=1.5", "the limits are integers, or -1"],
      ["nofile=-2", "the limits are integers, or -1"],
      ["nofile=", "the limits are integers, or -1"],
      ["nofile=1:", "the limits are integers, or -1"],
      ["nofile=99999999999999999999", "the limits are integers, or -1"],
      ["nofile=20:10", "the soft limit 20 is above the hard limit 10"],
      ["core=-1:10", "the soft limit -1 is above the hard limit 10"],
    ])
      expect(bunkerErrorOf(() => parseUlimit(flag))).toStartWith(`invalid --ulimit "${flag}": ${text}`);
  });

  test("one per type, the last winning; a hard limit above bunker's own is refused before anything runs", () => {
    expect(parseUlimits(["nofile=10", "core=0", "nofile=20"])).toEqual([
      { name: "core", soft: 0, hard: 0 },
      { name: "nofile", soft: 20, hard: 20 },
    ]);
    const own = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))!.slice(26).trim().split(/\s+/)[1];
    expect(bunkerErrorOf(() => parseUlimits([`nofile=1:-1`]))).toBe(
      `--ulimit nofile: the hard limit unlimited is above bunker's own (${own}), which a container can't raise: ask for at most ${own}, or raise yours first`,
    );
    expect(parseUlimits([`nofile=1:${own}`])).toEqual([{ name: "nofile", soft: 1, hard: Number(own) }]);
  });
});

describe("--device", () => {
  test("HOST, HOST:CONTAINER, HOST:PERMS, HOST:CONTAINER:PERMS (docker's parseDevice)", () => {
    expect(parseDevice("/dev/null")).toEqual({ source: "/dev/null", target: "/dev/null", permissions: "rwm" });
    expect(parseDevice("/dev/null:/dev/nothing")).toEqual({ source: "/dev/null", target: "/dev/nothing", permissions: "rwm" });
    expect(parseDevice("/dev/null:rw")).toEqual({ source: "/dev/null", target: "/dev/null", permissions: "rw" });
    expect(parseDevice("/dev/null:/x//y/:mrw")).toEqual({ source: "/dev/null", target: "/x/y", permissions: "mrw" });
    expect(dockerDevices([parseDevice("/dev/null:/dev/n")])).toEqual([{ PathOnHost: "/dev/null", PathInContainer: "/dev/n", CgroupPermissions: "rwm" }]);
  });

  test("bad input: one line that names the flag and says why", () => {
    for (const [flag, text] of [
      ["/dev/null:/a:rw:x", "use HOST[:CONTAINER][:PERMS]"],
      [":/dev/null", "use HOST[:CONTAINER][:PERMS]"],
      ["/dev/null:/a:rwx", 'bad permissions "rwx"'],
      ["/dev/null:/a:rr", 'bad permissions "rr"'],
      // a read-only bind does not stop a write-open of a device node: not promised
      ["/dev/null:r", "rootless bunker can't keep a container from writing to a device"],
      ["/dev/null:/a:rm", "rootless bunker can't keep a container from writing to a device"],
      ["/dev/null:w", "rootless bunker can't keep a container from reading a device"],
      ["dev/null", "the host path dev/null must be absolute"],
      ["/dev/null:dev/null", "the container path dev/null must be absolute"],
      ["/dev/null:/", "the container path can't be /"],
      ["/no/such/device", "/no/such/device does not exist on this host"],
      ["/etc/passwd", "/etc/passwd is not a character or block device"],
      ["/dev", "/dev is a directory"],
    ])
      expect(bunkerErrorOf(() => parseDevice(flag))).toStartWith(`invalid --device "${flag}": ${text}`);
  });
});

describe("--sysctl", () => {
  test("namespaced ones only, docker's list; the last of a name wins", () => {
    expect(parseSysctls(["net.ipv4.ip_forward=1", "kernel.shmmni=1000", "fs.mqueue.msg_max=20", "kernel.sem=250 32000 100 128", "net.ipv4.ip_forward=0"], true)).toEqual({
      "net.ipv4.ip_forward": "0",
      "kernel.shmmni": "1000",
      "fs.mqueue.msg_max": "20",
      "kernel.sem": "250 32000 100 128",
    });
    expect(parseSysctls(["kernel.msgmax=9000"], false)).toEqual({ "kernel.msgmax": "9000" });
  });

  test("bad input: one line that names the flag and what to do", () => {
    for (const [flag, text, newNetNs] of [
      ["net.ipv4.ip_forward", "invalid --sysctl", true],
      ["net.ipv4.ip_forward=", "invalid --sysctl", true],
      ["=1", "invalid --sysctl", true],
      ["kernel=1", "invalid --sysctl", true],
      ["net.ipv4/../../x=1", "invalid --sysctl", true],
      ["net..x=1", "invalid --sysctl", true],
      ["kernel.hostname=x", "--sysctl kernel.hostname is not allowed: bunker sets the container's UTS names itself (the host name with --hostname)", true],
      ["kernel.domainname=x", "--sysctl kernel.domainname is not allowed", true],
      ["vm.swappiness=1", "--sysctl vm.swappiness is not allowed: only the sysctls of the container's own namespaces", true],
      ["kernel.pid_max=100", "--sysctl kernel.pid_max is not allowed", true],
      ["net.ipv4.ip_forward=1", "--sysctl net.ipv4.ip_forward is not allowed with --network host", false],
    ] as const)
      expect(bunkerErrorOf(() => parseSysctls([flag], newNetNs))).toStartWith(text);
  });
});

describe("rootfs driver", () => {
  const never = () => {
    throw new Error("not consulted");
  };
  test("overlayfs first, then fuse-overlayfs if usable, then a copy", async () => {
    expect(await chooseRootfsDriver(async () => true, never)).toBe("overlay");
    expect(await chooseRootfsDriver(async () => false, () => "/usr/bin/fuse-overlayfs")).toBe("fuse-overlayfs");
    expect(await chooseRootfsDriver(async () => false, () => undefined)).toBe("copy");
  });
  test("one line on a fallback, saying which; nothing on the fast path", () => {
    expect(fallbackNotice("overlay")).toBeUndefined();
    expect(fallbackNotice("fuse-overlayfs")).toContain("using fuse-overlayfs");
    expect(fallbackNotice("copy")).toContain("the image is copied");
    for (const d of ["fuse-overlayfs", "copy"] as const) expect(fallbackNotice(d)).not.toContain("\n");
  });
  test("BUNKER_ROOTFS_DRIVER forces one; the probe's answer is remembered in the runtime dir", async () => {
    const saved = { forced: process.env.BUNKER_ROOTFS_DRIVER, runtime: process.env.BUNKER_RUNTIME_DIR };
    const dir = mkdtempSync(join(tmpdir(), "bunker-driver-"));
    try {
      process.env.BUNKER_ROOTFS_DRIVER = "copy";
      expect(await rootfsDriver()).toBe("copy");
      process.env.BUNKER_ROOTFS_DRIVER = "zfs";
      await expect(rootfsDriver()).rejects.toThrow("BUNKER_ROOTFS_DRIVER=zfs: use overlay, fuse-overlayfs, copy");
      delete process.env.BUNKER_ROOTFS_DRIVER;
      process.env.BUNKER_RUNTIME_DIR = dir;
      writeFileSync(join(dir, "rootfs-driver"), "fuse-overlayfs\n");
      expect(await rootfsDriver()).toBe("fuse-overlayfs"); // no probe: the file answers
    } finally {
      for (const [k, v] of [["BUNKER_ROOTFS_DRIVER", saved.forced], ["BUNKER_RUNTIME_DIR", saved.runtime]] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("id mapping through newuidmap/newgidmap", () => {
  const mapping = {
    kind: "subid" as const,
    uids: [{ inside: 0, outside: 1001, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
    gids: [{ inside: 0, outside: 1001, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
  };
  /** A stand-in for the tools: a shell that says what the real one would, on the stderr it is given. */
  const starter = (stderrText: (tool: string) => string, code: (tool: string) => number) => async (_path: string, argv: string[], stderrFd: number) => {
    const p = Bun.spawn(["sh", "-c", `printf '%s' "$1" >&2; exit $2`, "sh", stderrText(argv[0]), String(code(argv[0]))], { stdin: "ignore", stdout: "ignore", stderr: stderrFd });
    return { pid: p.pid, exited: p.exited };
  };
  const { applyIdMapping, findTool } = require("../../src/userns/idmap") as typeof import("../../src/userns/idmap");
  const tools = findTool(["/usr/bin/newuidmap", "/bin/newuidmap"]) && findTool(["/usr/bin/newgidmap", "/bin/newgidmap"]);

  test.skipIf(!tools)("the tools are given the pid and ranges; both exit 0: done", async () => {
    const seen: string[][] = [];
    await applyIdMapping(4242, mapping, async (path, argv, fd) => {
      seen.push([path.split("/").pop()!, ...argv]);
      return starter(() => "", () => 0)(path, argv, fd);
    });
    expect(seen).toEqual([
      ["newuidmap", "newuidmap", "4242", "0", "1001", "1", "1", "100000", "65536"],
      ["newgidmap", "newgidmap", "4242", "0", "1001", "1", "1", "100000", "65536"],
    ]);
  });

  test.skipIf(!tools)("a tool that fails: one line with what it said and which file to check", async () => {
    const failing = starter((t) => (t === "newgidmap" ? "newgidmap: gid range [1-65537) -> [100000-165536) not allowed\n" : ""), (t) => (t === "newgidmap" ? 1 : 0));
    await expect(applyIdMapping(4242, mapping, failing)).rejects.toThrow(
      "newgidmap failed: newgidmap: gid range [1-65537) -> [100000-165536) not allowed; check /etc/subgid for your user",
    );
  });

  test.skipIf(!tools)("a tool that can't be started: its error, after the other one ended", async () => {
    let calls = 0;
    const broken = async (path: string, argv: string[], fd: number) => {
      if (++calls === 2) throw new Error("cannot run newgidmap: ENOENT");
      return starter(() => "", () => 0)(path, argv, fd);
    };
    await expect(applyIdMapping(4242, mapping, broken)).rejects.toThrow("cannot run newgidmap: ENOENT");
  });
});
