import { describe, expect, test } from "bun:test";
import { repeatedFlag } from "../../src/cli/repeated-flag";
import { bunkerErrorOf } from "../support/errors";

describe("repeatedFlag", () => {
  test("every value, in order, in each spelling; nothing after --", () => {
    const raw = ["--filter", "a=1", "-f", "b=2", "--filter=c=3", "-f=d", "other", "--filterx", "e", "--", "-f", "after"];
    expect(repeatedFlag(raw, "--filter", "-f")).toEqual(["a=1", "b=2", "c=3", "d"]);
    expect(repeatedFlag(raw, "--filter")).toEqual(["a=1", "c=3"]);
    expect(repeatedFlag([], "--filter", "-f")).toEqual([]);
  });

  test("a flag without its value is a one-line error", () => {
    expect(bunkerErrorOf(() => repeatedFlag(["--filter"], "--filter", "-f"))).toBe("--filter needs a value");
    expect(bunkerErrorOf(() => repeatedFlag(["-f="], "--filter", "-f"))).toBe("--filter needs a value");
  });
});
