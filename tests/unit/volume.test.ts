import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bunkerErrorOf } from "../support/errors";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVolume, listVolumes, parseMountFlags, parseSize, prepareVolumes } from "../../src/volume";
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from "../../src/volume/spec";

let base: string;
let hostDir: string;
const savedRoot = process.env.BUNKER_ROOT;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "bunker-volume-unit-"));
  process.env.BUNKER_ROOT = join(base, "store");
  hostDir = join(base, "data");
  mkdirSync(hostDir);
  symlinkSync(hostDir, join(base, "link"));
});
afterAll(() => {
  if (savedRoot === undefined) delete process.env.BUNKER_ROOT;
  else process.env.BUNKER_ROOT = savedRoot;
  rmSync(base, { recursive: true, force: true });
});


describe("-v", () => {
  test("HOST:CTR binds the resolved host path recursively, read-write", () => {
    const m = parseVolumeFlag(`${join(base, "link")}:/data/`);
    expect(m).toEqual({ kind: "bind", source: hostDir, target: "/data", readonly: false, options: ["rbind", "rprivate"] });
  });
  test("HOST:CTR:ro is read-only; z/Z are accepted; propagation is kept", () => {
    expect(parseVolumeFlag(`${hostDir}:/d:ro,Z`).readonly).toBe(true);
    expect(parseVolumeFlag(`${hostDir}:/d:rw,rslave`)).toMatchObject({ readonly: false, options: ["rbind", "rslave"] });
  });
  test("NAME:CTR is a named volume under the store", () => {
    const m = parseVolumeFlag("cache:/var/cache");
    expect(m).toMatchObject({ kind: "bind", volumeName: "cache", target: "/var/cache", source: join(base, "store/volumes/cache/_data") });
    expect(m.anonymous).toBeUndefined();
  });
  test("/CTR alone (and /CTR:ro) is an anonymous volume with a random 64-hex name", () => {
    const a = parseVolumeFlag("/scratch");
    expect(a.anonymous).toBe(true);
    expect(a.volumeName).toMatch(/^[0-9a-f]{64}$/);
    expect(parseVolumeFlag("/scratch:ro")).toMatchObject({ anonymous: true, readonly: true, target: "/scratch" });
  });
  test("'..' in the target cannot climb out of the container", () => {
    expect(parseVolumeFlag(`${hostDir}:/a/../../etc`).target).toBe("/etc");
  });
  test("bad specs say what was wrong in one line", () => {
    expect(bunkerErrorOf(() => parseVolumeFlag("/nonexistent-bunker-dir:/x"))).toContain("bind source path does not exist: /nonexistent-bunker-dir");
    expect(bunkerErrorOf(() => parseVolumeFlag("./rel:/x"))).toContain("use absolute path");
    expect(bunkerErrorOf(() => parseVolumeFlag(`${hostDir}:rel`))).toContain("mount path must be absolute");
    expect(bunkerErrorOf(() => parseVolumeFlag(`${hostDir}:/x:rx`))).toContain("invalid mode: rx");
    expect(bunkerErrorOf(() => parseVolumeFlag(`${hostDir}:/x:ro:extra`))).toContain("invalid volume specification");
    expect(bunkerErrorOf(() => parseVolumeFlag(`${hostDir}:/`))).toContain("destination can't be '/'");
    expect(bunkerErrorOf(() => parseVolumeFlag("rel"))).toContain("mount path must be absolute");
  });
});

describe("--mount", () => {
  test("type=bind with src/dst spellings and readonly", () => {
    expect(parseMountFlag(`type=bind,src=${hostDir},dst=/d,readonly`)).toEqual({ kind: "bind", source: hostDir, target: "/d", readonly: true, options: ["rbind", "rprivate"] });
    expect(parseMountFlag(`type=bind,source=${hostDir},destination=/d,ro=false,bind-nonrecursive`)).toMatchObject({ readonly: false, options: ["norbind", "rprivate"] });
  });
  test("type=volume is the default; without source it is anonymous", () => {
    expect(parseMountFlag("source=v1,target=/v")).toMatchObject({ volumeName: "v1", target: "/v" });
    expect(parseMountFlag("type=volume,target=/v").anonymous).toBe(true);
  });
  test("type=tmpfs takes size (human units) and mode after docker's defaults", () => {
    expect(parseMountFlag("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770")).toEqual({
      kind: "tmpfs",
      target: "/t",
      readonly: false,
      options: ["noexec", "nosuid", "nodev", "size=65536k", "mode=1770"],
    });
  });
  test("bad specs: unknown type, missing target, unknown key, missing bind source", () => {
    expect(bunkerErrorOf(() => parseMountFlag("type=nfs,target=/x"))).toContain('unknown mount type "nfs"');
    expect(bunkerErrorOf(() => parseMountFlag(`type=bind,source=${hostDir}`))).toContain("field Target must not be empty");
    expect(bunkerErrorOf(() => parseMountFlag("type=bind,target=/x,colour=red"))).toContain("unexpected key 'colour'");
    expect(bunkerErrorOf(() => parseMountFlag("type=bind,source=/nonexistent-bunker-dir,target=/x"))).toContain("bind source path does not exist: /nonexistent-bunker-dir");
    expect(bunkerErrorOf(() => parseMountFlag("type=bind,target=/x"))).toContain("field Source must not be empty");
    expect(bunkerErrorOf(() => parseMountFlag("type=tmpfs,source=/a,target=/x"))).toContain("Source must not be specified");
    expect(bunkerErrorOf(() => parseMountFlag("type=tmpfs,target=/x,tmpfs-size=lots"))).toContain("invalid tmpfs-size");
  });
});

describe("--tmpfs", () => {
  test("path with options; ro marks it read-only", () => {
    expect(parseTmpfsFlag("/run:rw,size=1m,exec")).toEqual({ kind: "tmpfs", target: "/run", readonly: false, options: ["noexec", "nosuid", "nodev", "rw", "size=1m", "exec"] });
    expect(parseTmpfsFlag("/ro:ro").readonly).toBe(true);
  });
  test("bad options and relative paths are refused", () => {
    expect(bunkerErrorOf(() => parseTmpfsFlag("/x:bogus"))).toContain('unknown option "bogus"');
    expect(bunkerErrorOf(() => parseTmpfsFlag("x"))).toContain("mount path must be absolute");
  });
});

test("duplicate targets across flags are refused", () => {
  expect(bunkerErrorOf(() => parseMountFlags({ volumes: [`${hostDir}:/x`], tmpfs: ["/x"] }))).toBe("Duplicate mount point: /x");
});

test("parseSize: docker's 1024-based units", () => {
  expect(parseSize("64m")).toBe(64 * 1024 * 1024);
  expect(parseSize("1.5k")).toBe(1536);
  expect(parseSize("100")).toBe(100);
  expect(parseSize("1GiB")).toBe(1024 ** 3);
  expect(parseSize("ten")).toBeUndefined();
});

describe("volume store", () => {
  test("prepareVolumes creates named volumes once, keeping the first record", () => {
    const specs = parseMountFlags({ volumes: ["shared:/a"], mounts: ["type=volume,target=/b"] });
    prepareVolumes(specs);
    prepareVolumes(specs);
    const names = listVolumes().map((v) => v.Name);
    expect(names).toContain("shared");
    expect(names).toContain(specs[1].volumeName!);
    expect(existsSync(specs[0].source!)).toBe(true);
    expect(listVolumes().find((v) => v.Name === specs[1].volumeName)!.Anonymous).toBe(true);
    expect(listVolumes().find((v) => v.Name === "shared")!.Anonymous).toBe(false);
    // nothing half-made is left behind
    expect(readdirSync(join(base, "store/volumes")).filter((n) => n.startsWith(".tmp"))).toEqual([]);
  });
  test("create of an existing name returns it unchanged", () => {
    const a = createVolume("again", { x: "1" });
    const b = createVolume("again", { y: "2" });
    expect(b).toEqual(a);
  });
  test("invalid names are refused", () => {
    expect(bunkerErrorOf(() => createVolume("a"))).toContain("invalid characters");
    expect(bunkerErrorOf(() => createVolume("../etc"))).toContain("invalid characters");
  });
});

test("removeIfAnonymous removes only anonymous volumes", async () => {
  const { removeIfAnonymous } = await import("../../src/volume");
  const anon = createVolume(undefined);
  createVolume("named-keep");
  await removeIfAnonymous([anon.Name, "named-keep", "never-existed"]);
  const names = listVolumes().map((v) => v.Name);
  expect(names).not.toContain(anon.Name);
  expect(names).toContain("named-keep");
});
