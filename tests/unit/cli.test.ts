import { describe, expect, test } from "bun:test";
import { bunkerSandbox } from "../support/bunker";

describe("cli basics", () => {
  const sb = bunkerSandbox();
  test("version prints bunker, Bun, kernel and store on stdout", async () => {
    const r = await sb.run(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("bunker version");
    expect(r.stdout).toContain(`Bun version:    ${Bun.version}`);
    expect(r.stdout).toContain(sb.root);
  });
  test("version --format json is data", async () => {
    const r = await sb.run(["version", "--format", "json"]);
    expect(JSON.parse(r.stdout).Store).toBe(sb.root);
  });
  test("unknown command exits 125 with one line", async () => {
    const r = await sb.run(["frobnicate"]);
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("frobnicate");
  });
  test("--help lists commands on stdout", async () => {
    const r = await sb.run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("version");
  });
});
