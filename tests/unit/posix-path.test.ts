// src/posix-path.ts gives node:path's posix results.
import { expect, test } from "bun:test";
import { posix } from "node:path";
import { basename, dirname, join, normalize, resolve } from "../../src/posix-path";

const PATHS = [
  "", ".", "..", "/", "//", "///", "a", "a/", "a//", "/a", "/a/", "//a", "a/b", "a/b/", "/a/b/c", "/a//b///c/",
  "./a", "./a/", "a/.", "a/./b", "a/..", "a/../", "a/../..", "../a", "../../a/b/..", "/..", "/../a", "/a/../../b",
  "/a/b/../../..", ".../a", "a/.../b", "..a/b..", "/tmp/bench-store/containers/abc/upper", "ü/ñ/../x", "/a/b/./../c/.",
];

test("normalize", () => {
  for (const p of PATHS) expect([p, normalize(p)]).toEqual([p, posix.normalize(p)]);
});

test("join", () => {
  for (const a of PATHS) for (const b of ["", "b", "/b", "b/", "../b", "."]) expect([a, b, join(a, b)]).toEqual([a, b, posix.join(a, b)]);
  expect(join()).toBe(posix.join());
  expect(join("/store", "layers", "abc", "diff")).toBe("/store/layers/abc/diff");
});

test("resolve", () => {
  for (const p of PATHS) expect([p, resolve(p)]).toEqual([p, posix.resolve(p)]);
  for (const a of PATHS) expect([a, resolve(a, "x/../y")]).toEqual([a, posix.resolve(a, "x/../y")]);
  expect(resolve("/a", "/b", "c")).toBe("/b/c");
  expect(resolve()).toBe(posix.resolve());
});

test("dirname and basename", () => {
  for (const p of PATHS) {
    expect([p, dirname(p)]).toEqual([p, posix.dirname(p)]);
    expect([p, basename(p)]).toEqual([p, posix.basename(p)]);
  }
});
