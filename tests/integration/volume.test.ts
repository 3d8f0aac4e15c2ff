// `bunker volume` as a user runs it: docker's output shapes, errors as one line with exit 125.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { bunkerSandbox } from "../support/bunker";
import { expectOneLineError } from "../support/errors";

const sb = bunkerSandbox();
afterAll(() => sb.cleanup());


describe("bunker volume", () => {
  test("create NAME prints the name; ls shows docker's table; -q only names", async () => {
    const c = await sb.run(["volume", "create", "--label", "team=a", "--label", "tier=b", "data1"]);
    expect(c.code).toBe(0);
    expect(c.stdout).toBe("data1\n");
    const ls = await sb.run(["volume", "ls"]);
    expect(ls.stdout.split("\n")[0]).toMatch(/^DRIVER\s+VOLUME NAME$/);
    expect(ls.stdout).toMatch(/\nlocal\s+data1\n/);
    expect((await sb.run(["volume", "ls", "-q"])).stdout).toBe("data1\n");
  });
  test("create without a name makes a 64-hex name; creating an existing name is fine", async () => {
    const c = await sb.run(["volume", "create"]);
    expect(c.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect((await sb.run(["volume", "create", "data1"])).code).toBe(0);
    await sb.run(["volume", "rm", c.stdout.trim()]);
  });
  test("inspect gives docker's JSON; the mountpoint is a directory in the store", async () => {
    const r = await sb.run(["volume", "inspect", "data1"]);
    expect(r.code).toBe(0);
    const [v] = JSON.parse(r.stdout);
    expect(v).toMatchObject({ Name: "data1", Driver: "local", Scope: "local", Labels: { team: "a", tier: "b" }, Options: {} });
    expect(v.Mountpoint).toBe(join(sb.root, "volumes/data1/_data"));
    expect(existsSync(v.Mountpoint)).toBe(true);
    expect(Date.parse(v.CreatedAt)).toBeGreaterThan(0);
    expect((await sb.run(["volume", "inspect", "-f", "{{.Mountpoint}}", "data1"])).stdout).toBe(`${v.Mountpoint}\n`);
  });
  test("ls --format json: one object per line", async () => {
    const r = await sb.run(["volume", "ls", "--format", "json"]);
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.map((x) => x.Name)).toEqual(["data1"]);
    expect(rows[0]).toMatchObject({ Driver: "local", Labels: "team=a,tier=b", Scope: "local" });
  });
  test("ls --filter: name, label, dangling, several at once", async () => {
    await sb.run(["volume", "create", "other"]);
    const q = async (...f: string[]) => (await sb.run(["volume", "ls", "-q", ...f])).stdout;
    expect(await q("--filter", "name=ata")).toBe("data1\n");
    expect(await q("-f", "label=team")).toBe("data1\n");
    expect(await q("-f", "label=team=b")).toBe("");
    expect(await q("-f", "dangling=true")).toBe("data1\nother\n");
    expect(await q("-f", "dangling=true", "-f", "name=oth")).toBe("other\n");
    expectOneLineError(await sb.run(["volume", "ls", "-f", "colour=red"]), "invalid filter 'colour'");
    await sb.run(["volume", "rm", "other"]);
  });
  test("errors: bad name, missing volume, no argument", async () => {
    expectOneLineError(await sb.run(["volume", "create", "./dir"]), "use absolute path");
    // docker: [] on stdout, the error on stderr, exit 1
    expect(await sb.run(["volume", "inspect", "nope"])).toEqual({ code: 1, stdout: "[]\n", stderr: "Error: get nope: no such volume\n" });
    expectOneLineError(await sb.run(["volume", "rm", "nope"]), "no such volume");
    expectOneLineError(await sb.run(["volume", "rm"]), "requires at least 1 argument");
    expect((await sb.run(["volume", "rm", "-f", "nope"])).code).toBe(0);
  });
  test("prune -f removes unused anonymous volumes only; -a removes named ones too", async () => {
    const pr = await sb.run(["volume", "prune", "-f"]);
    expect(pr.code).toBe(0);
    expect(pr.stdout).toContain("Total reclaimed space:");
    expect((await sb.run(["volume", "ls", "-q"])).stdout).toBe("data1\n");
    const all = await sb.run(["volume", "prune", "-f", "-a"]);
    expect(all.stdout).toContain("Deleted Volumes:\ndata1\n");
    expect((await sb.run(["volume", "ls", "-q"])).stdout).toBe("");
  });
  test("prune without -f asks, and does nothing unless answered y", async () => {
    await sb.run(["volume", "create", "kept"]);
    const r = await sb.run(["volume", "prune", "-a"], { stdin: "n\n" });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Are you sure you want to continue?");
    expect((await sb.run(["volume", "ls", "-q"])).stdout).toBe("kept\n");
  });
  test("rm removes the data and leaves nothing behind", async () => {
    const r = await sb.run(["volume", "rm", "kept"]);
    expect(r.stdout).toBe("kept\n");
    expect(readdirSync(join(sb.root, "volumes"))).toEqual([]);
  });
});
