// Mounts through `bunker run`: bind ownership with and without --userns=keep-id, :ro, named and
// anonymous volumes, --read-only with --tmpfs, and bad specs that leave nothing behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bunkerSandbox, type Sandbox } from "../support/bunker";
import { expectOneLineError } from "../support/errors";
import { busyboxRootfs } from "../support/rootfs";

let sb: Sandbox;
let rootfs: string;
let host: string;
const uid = process.getuid!();
const gid = process.getgid!();

beforeAll(() => {
  sb = bunkerSandbox();
  rootfs = busyboxRootfs();
  host = mkdtempSync(join(tmpdir(), "bunker-binds-"));
  writeFileSync(join(host, "mine.txt"), "host data\n");
});
afterAll(() => {
  sb.cleanup();
  rmSync(dirname(rootfs), { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

const run = (flags: string[], script: string) => sb.run(["run", "--rm", ...flags, "--rootfs", rootfs, "sh", "-c", script]);

function containerIds(): string[] {
  const dir = join(sb.root, "containers");
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
}

describe("bind mounts", () => {
  test("without keep-id: your files are root's inside, and what root writes is yours outside", async () => {
    const r = await run(["-v", `${host}:/data`], "stat -c '%u:%g' /data/mine.txt; echo made > /data/from-root.txt");
    expect(r.stdout).toBe("0:0\n");
    expect(statSync(join(host, "from-root.txt")).uid).toBe(uid);
  });
  test("with --userns=keep-id: your ids are the same inside, and so are the new file's", async () => {
    const r = await run(["--userns=keep-id", "-v", `${host}:/data`], "id -u; stat -c '%u:%g' /data/mine.txt; echo made > /data/from-me.txt");
    expect(r.stdout).toBe(`${uid}\n${uid}:${gid}\n`);
    const st = statSync(join(host, "from-me.txt"));
    expect([st.uid, st.gid]).toEqual([uid, gid]);
  });
  test(":ro is read-only, even for root inside", async () => {
    const r = await run(["-v", `${host}:/data:ro`], "cat /data/mine.txt; { echo x > /data/nope.txt; } 2>&1; echo code=$?");
    expect(r.stdout).toContain("host data\n");
    expect(r.stdout).toContain("Read-only file system");
    expect(r.stdout).toContain("code=1");
    expect(existsSync(join(host, "nope.txt"))).toBe(false);
  });
  test("--mount type=bind,readonly is the same as :ro", async () => {
    const r = await run(["--mount", `type=bind,source=${host},target=/data,readonly`], "touch /data/nope 2>&1 || echo refused");
    expect(r.stdout).toContain("refused");
  });
});

describe("volumes", () => {
  test("a named volume is created on first use and outlives its container", async () => {
    expect((await run(["-v", "keepme:/vol"], "echo persisted > /vol/f")).code).toBe(0);
    expect((await sb.run(["volume", "ls", "-q"])).stdout).toBe("keepme\n");
    const again = await run(["--mount", "source=keepme,target=/other"], "cat /other/f");
    expect(again.stdout).toBe("persisted\n");
  });
  test("a volume used by a container is kept by rm unless -f", async () => {
    const kept = await sb.run(["run", "-v", "busy:/vol", "--rootfs", rootfs, "true"]);
    expect(kept.code).toBe(0);
    const refused = await sb.run(["volume", "rm", "busy"]);
    expectOneLineError(refused, "volume is in use");
    expect((await sb.run(["volume", "ls", "-q", "-f", "dangling=false"])).stdout).toBe("busy\n");
    expect((await sb.run(["volume", "rm", "-f", "busy"])).stdout).toBe("busy\n");
  });
  test("a volume holding files of subordinate owners is removed whole", async () => {
    const r = await run(["-v", "owned:/v"], "mkdir /v/d && touch /v/d/x && chown -R 1000:1000 /v/d && chmod 700 /v/d && echo ok");
    expect(r.stdout).toBe("ok\n");
    const rm = await sb.run(["volume", "rm", "owned"]);
    expect(rm.code).toBe(0);
    expect(existsSync(join(sb.root, "volumes/owned"))).toBe(false);
    expect(readdirSync(join(sb.root, "volumes")).filter((n) => n.startsWith(".tmp"))).toEqual([]);
  });
  test("run --rm removes the container's anonymous volume, not named ones", async () => {
    const before = (await sb.run(["volume", "ls", "-q"])).stdout;
    expect((await run(["-v", "/anon"], "echo x > /anon/f")).code).toBe(0);
    expect((await sb.run(["volume", "ls", "-q"])).stdout).toBe(before);
  });
  test("run -d --rm removes its anonymous volume too, once it exits (its monitor runs rm -v)", async () => {
    const before = (await sb.run(["volume", "ls", "-q"])).stdout;
    const d = await sb.run(["run", "-d", "--rm", "--network", "none", "-v", "/anon", "-v", "kept-named:/named", "--rootfs", rootfs, "sh", "-c", "echo x > /anon/f"]);
    expect(d.code).toBe(0);
    const id = d.stdout.trim();
    for (let i = 0; i < 500 && existsSync(join(sb.root, "containers", id)); i++) await Bun.sleep(20);
    expect(existsSync(join(sb.root, "containers", id))).toBe(false);
    expect((await sb.run(["volume", "ls", "-q"])).stdout.split("\n").sort()).toEqual([...before.split("\n"), "kept-named"].sort());
    expect((await sb.run(["volume", "rm", "kept-named"])).code).toBe(0);
  });
});

describe("--volumes-from", () => {
  test("another container's volumes and binds at the same places, in its mode unless :ro; -v wins at the same place", async () => {
    const src = await sb.run(["run", "--name", "datasrc", "--network", "none", "-v", "/data", "-v", "shared-named:/named", "-v", `${host}:/hostdir:ro`, "--tmpfs", "/scratch", "--rootfs", rootfs, "sh", "-c", "echo anon > /data/f; echo named > /named/f"]);
    expect(src.code).toBe(0);
    const r = await run(["--network", "none", "--volumes-from", "datasrc"], "cat /data/f /named/f /hostdir/mine.txt; echo more >> /data/f && echo rw; touch /hostdir/x 2>/dev/null || echo hostdir-ro; grep -c ' /scratch ' /proc/mounts");
    expect(r.stdout).toBe("anon\nnamed\nhost data\nrw\nhostdir-ro\n0\n");
    const ro = await run(["--network", "none", "--volumes-from", "datasrc:ro"], "touch /data/g 2>/dev/null || echo data-ro; cat /data/f");
    expect(ro.stdout).toBe("data-ro\nanon\nmore\n");
    const over = await run(["--network", "none", "--volumes-from", "datasrc", "-v", `${host}:/data`], "cat /data/mine.txt");
    expect(over.stdout).toBe("host data\n");
    expect((await sb.run(["inspect", "-f", "{{json .HostConfig.VolumesFrom}}", "datasrc"])).code).toBe(0);
  });

  test("the other container's anonymous volume outlives a --rm or rm -v of the one that borrowed it, and goes with its own rm -v", async () => {
    const anon = JSON.parse((await sb.run(["inspect", "-f", "{{json .Mounts}}", "datasrc"])).stdout).find((m: { Destination: string }) => m.Destination === "/data").Name;
    expect(anon).toMatch(/^[0-9a-f]{64}$/);
    expect((await run(["--network", "none", "--volumes-from", "datasrc"], "true")).code).toBe(0);
    const borrower = await sb.run(["run", "--name", "borrower", "--network", "none", "--volumes-from", "datasrc", "--rootfs", rootfs, "true"]);
    expect(borrower.code).toBe(0);
    expect((await sb.run(["rm", "-v", "borrower"])).code).toBe(0);
    expect((await sb.run(["volume", "ls", "-q"])).stdout.split("\n")).toContain(anon);
    expect((await sb.run(["rm", "-v", "datasrc"])).code).toBe(0);
    expect((await sb.run(["volume", "ls", "-q"])).stdout.split("\n")).not.toContain(anon);
    expect((await sb.run(["volume", "rm", "shared-named"])).code).toBe(0);
  });

  test("bad values: one line, 125, no container", async () => {
    const before = containerIds().length;
    expectOneLineError(await run(["--volumes-from", "no-such-ctr"], "true"), "--volumes-from no-such-ctr: no such container");
    expectOneLineError(await run(["--volumes-from", "x:rwx"], "true"), 'invalid --volumes-from "x:rwx": use CONTAINER, CONTAINER:ro or CONTAINER:rw');
    expect(containerIds().length).toBe(before);
  });
});

test("inspect's Mounts in docker's shape: Driver and Name for volumes, Mode as given to -v (z for a volume), Propagation rprivate for binds", async () => {
  const r = await sb.run([
    "run", "--name", "mounts-shape", "--rootfs", rootfs,
    "-v", "shape-named:/named", "-v", "/anon", "-v", `${host}:/bind:ro`, "-v", `${host}/:/bind2/`,
    "--mount", "type=volume,src=shape-mount,dst=/mvol,readonly", "--mount", `type=bind,src=${host},dst=/mbind`, "--mount", "type=tmpfs,dst=/mtmp",
    "true",
  ]);
  expect(r.code).toBe(0);
  try {
    const mounts = JSON.parse((await sb.run(["inspect", "-f", "{{json .Mounts}}", "mounts-shape"])).stdout);
    const anon = mounts[1].Name;
    expect(anon).toMatch(/^[0-9a-f]{64}$/);
    const data = (name: string) => join(sb.root, "volumes", name, "_data");
    // JSON text, so that the key order is docker's too
    expect(JSON.stringify(mounts)).toBe(
      JSON.stringify([
        { Type: "volume", Name: "shape-named", Source: data("shape-named"), Destination: "/named", Driver: "local", Mode: "z", RW: true, Propagation: "" },
        { Type: "volume", Name: anon, Source: data(anon), Destination: "/anon", Driver: "local", Mode: "z", RW: true, Propagation: "" },
        { Type: "bind", Source: host, Destination: "/bind", Mode: "ro", RW: false, Propagation: "rprivate" },
        { Type: "bind", Source: host, Destination: "/bind2", Mode: "", RW: true, Propagation: "rprivate" },
        { Type: "volume", Name: "shape-mount", Source: data("shape-mount"), Destination: "/mvol", Driver: "local", Mode: "", RW: false, Propagation: "" },
        { Type: "bind", Source: host, Destination: "/mbind", Mode: "", RW: true, Propagation: "rprivate" },
        { Type: "tmpfs", Source: "", Destination: "/mtmp", Mode: "", RW: true, Propagation: "" },
      ]),
    );
  } finally {
    await sb.run(["rm", "-v", "mounts-shape"]);
  }
});

test("--read-only with --tmpfs: the root refuses writes, the tmpfs takes them (noexec, nosuid, nodev)", async () => {
  const r = await run(["--read-only", "--tmpfs", "/scratch:size=1m"], "touch /x 2>&1; touch /scratch/y && echo tmp-ok; grep ' /scratch ' /proc/mounts");
  expect(r.stdout).toContain("Read-only file system");
  expect(r.stdout).toContain("tmp-ok\n");
  const line = r.stdout.trim().split("\n").at(-1)!;
  for (const opt of ["nosuid", "nodev", "noexec", "size=1024k"]) expect(line).toContain(opt);
});

describe("bad specs: one line, exit 125, no container left", () => {
  const cases: [string[], string][] = [
    [["-v", "/no/such/bunker/dir:/x"], "bind source path does not exist: /no/such/bunker/dir"],
    [["-v", "relative/dir:/x"], "use absolute path"],
    [["--mount", "type=nfs,target=/x"], 'unknown mount type "nfs"'],
    [["--mount", `type=bind,source=${"/"}tmp`], "field Target must not be empty"],
    [["--tmpfs", "relative"], "mount path must be absolute"],
    [["-v", "/tmp:/x:bogus"], "invalid mode: bogus"],
  ];
  for (const [flags, message] of cases)
    test(flags.join(" "), async () => {
      const before = containerIds().length;
      const r = await run(flags, "true");
      expectOneLineError(r, message);
      expect(containerIds().length).toBe(before);
    });
});
