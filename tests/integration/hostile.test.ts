// Crafted hostile layers: each must either fail with one clear line (exit 125, nothing stored)
// or be confined to the layer's own directory, and nothing outside may change (a canary dir).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, rmSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunkerSandbox } from "../support/bunker";
import { expectOneLineError } from "../support/errors";
import { gzipLayer, writeOciLayout } from "../support/oci";
import { makeTar, type TarEntry } from "../support/tar";

// Unpacking real images as the test user takes seconds on a busy 2-core machine.
setDefaultTimeout(60_000);

const sb = bunkerSandbox();
const work = mkdtempSync(join(tmpdir(), "bunker-hostile-"));
const canary = join(work, "canary");
let n = 0;

/** Every path under dir with its size and mode: what must not change. */
function snapshot(dir: string): string {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .sort()
    .map((p) => {
      const st = statSync(join(dir, p));
      return `${p} ${st.size} ${st.mode.toString(8)} ${st.mtimeMs}`;
    })
    .join("\n");
}

let before = "";
beforeAll(() => {
  mkdirSync(join(canary, "sub"), { recursive: true });
  writeFileSync(join(canary, "file"), "canary");
  writeFileSync(join(canary, "sub/inner"), "inner");
  before = snapshot(canary);
});
afterAll(() => {
  sb.cleanup();
  rmSync(work, { recursive: true, force: true });
});

async function loadLayer(entries: TarEntry[]) {
  const dir = join(work, `img${n++}`);
  writeOciLayout(dir, { layers: [gzipLayer(makeTar(entries))], refName: `localhost/hostile:${n}` });
  return sb.run(["load", "-i", dir]);
}

function storeIsClean() {
  const layers = existsSync(join(sb.root, "layers")) ? readdirSync(join(sb.root, "layers")) : [];
  const tmp = existsSync(join(sb.root, "tmp")) ? readdirSync(join(sb.root, "tmp")) : [];
  return { layers, tmp };
}

function expectRefused(r: { code: number; stderr: string }, words: string) {
  expectOneLineError(r, words);
  expect(storeIsClean()).toEqual({ layers: [], tmp: [] });
}

function expectCanaryIntact() {
  expect(snapshot(canary)).toBe(before);
  expect(readFileSync(join(canary, "file"), "utf8")).toBe("canary");
}

describe("hostile layers", () => {
  test('a name with ".." fails and names the entry', async () => {
    const r = await loadLayer([{ path: `../../../../../../../..${canary}/file`, data: "owned" }]);
    expectRefused(r, `"../../../../../../../..${canary}/file" has a ".." component`);
    expectCanaryIntact();
  });

  test("a name inside that climbs with .. fails too", async () => {
    const r = await loadLayer([{ path: "a/../../x", data: "owned" }]);
    expectRefused(r, '"a/../../x"');
  });

  test("an absolute name fails", async () => {
    const r = await loadLayer([{ path: `${canary}/file`, data: "owned" }]);
    expectRefused(r, "absolute name");
    expectCanaryIntact();
  });

  test("a hard link to a target outside fails", async () => {
    const r = await loadLayer([{ path: "hl", type: "Link", linkpath: `../../../../..${canary}/file` }]);
    expectRefused(r, '".."');
    const abs = await loadLayer([{ path: "hl", type: "Link", linkpath: `${canary}/file` }]);
    expectRefused(abs, "absolute name");
    expectCanaryIntact();
  });

  test("a hard link through a symlink that points out finds nothing outside", async () => {
    const r = await loadLayer([
      { path: "esc", type: "SymbolicLink", linkpath: "/" },
      { path: "hl", type: "Link", linkpath: `esc${canary}/file` },
    ]);
    expectRefused(r, "cannot create the hard link /hl: ENOENT");
    expectCanaryIntact();
  });

  test("a hard link to a symlink that points out links the symlink; files written over either stay inside", async () => {
    const r = await loadLayer([
      { path: "esc", type: "SymbolicLink", linkpath: `${canary}/file` },
      { path: "hl", type: "Link", linkpath: "esc" },
      { path: "hl", data: "replaced hl" },
      { path: "esc", data: "replaced esc" },
    ]);
    expectCanaryIntact();
    expect(r.code).toBe(0);
    const [img] = JSON.parse((await sb.run(["image", "inspect", `localhost/hostile:${n}`])).stdout);
    const diff = join(sb.root, "layers", img.RootFS.Layers[0].slice(7), "diff");
    expect(readFileSync(join(diff, "hl"), "utf8")).toBe("replaced hl");
    expect(readFileSync(join(diff, "esc"), "utf8")).toBe("replaced esc");
    expect((await sb.run(["rmi", `localhost/hostile:${n}`])).code).toBe(0);
  });

  test('a whiteout naming ".." fails', async () => {
    const r = await loadLayer([{ path: "sub/.wh...", data: "" }]);
    expectRefused(r, 'names ".."');
    expectCanaryIntact();
  });

  const escapes: [string, TarEntry[]][] = [
    ["an absolute symlink", [{ path: "esc", type: "SymbolicLink", linkpath: canary }]],
    ["a relative symlink", [{ path: "esc", type: "SymbolicLink", linkpath: `../../../../../../../../..${canary}` }]],
    ["a symlink to /", [{ path: "esc", type: "SymbolicLink", linkpath: "/" }]],
    [
      "a chain of symlinks",
      [
        { path: "a", type: "SymbolicLink", linkpath: "b" },
        { path: "b", type: "SymbolicLink", linkpath: `/../..${canary}/sub/..` },
        { path: "esc", type: "SymbolicLink", linkpath: "a" },
      ],
    ],
  ];
  for (const [what, links] of escapes) {
    test(`${what} pointing out, then entries written through it: confined or refused`, async () => {
      const r = await loadLayer([
        ...links,
        { path: "esc/owned", data: "owned" },
        { path: "esc/file", data: "overwritten" },
        { path: "esc/sub/", type: "Directory", mode: 0o777 },
        { path: "esc/.wh.sub", data: "" },
      ]);
      expectCanaryIntact();
      expect(existsSync(join(canary, "owned"))).toBe(false);
      if (r.code === 0) {
        // Confined: what the layer wrote "through" the link landed inside its own diff/.
        const [img] = JSON.parse((await sb.run(["image", "inspect", `localhost/hostile:${n}`])).stdout);
        const diff = join(sb.root, "layers", img.RootFS.Layers[0].slice(7), "diff");
        expect(readFileSync(join(diff, "owned"), "utf8")).toBe("owned");
        expect((await sb.run(["rmi", `localhost/hostile:${n}`])).code).toBe(0);
      } else {
        // The link's target doesn't exist inside the layer: one line naming the entry.
        expectRefused(r, "/esc/owned: ENOENT");
      }
    });

    // Whiteouts delete, and an opaque one empties a directory: through a link pointing out they
    // would remove the host's files. A hard link named through the link would plant one outside.
    const through: [string, TarEntry[]][] = [
      ["a whiteout", [{ path: "esc/.wh.file", data: "" }]],
      ["an opaque whiteout", [{ path: "esc/sub/.wh..wh..opq", data: "" }, { path: "esc/.wh..wh..opq", data: "" }]],
      ["a hard link", [{ path: "inside", data: "inside" }, { path: "esc/planted", type: "Link", linkpath: "inside" }]],
    ];
    for (const [kind, entries] of through)
      test(`${kind} through ${what} changes nothing outside`, async () => {
        const r = await loadLayer([...links, ...entries]);
        expectCanaryIntact();
        expect(existsSync(join(canary, "planted"))).toBe(false);
        if (r.code === 0) expect((await sb.run(["rmi", `localhost/hostile:${n}`])).code).toBe(0);
        else expectRefused(r, "/esc/");
      });
  }
});
