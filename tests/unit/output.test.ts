// docker's human durations (go-units HumanDuration) as bunker prints them in ps, images and inspect
// text, and the status words built on them.
import { describe, expect, test } from "bun:test";
import { humanAgo, humanDuration } from "../../src/cli/output";
import { statusText } from "../../src/container/lifecycle";
import { initialState } from "../../src/container/state";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("humanDuration follows go-units HumanDuration", () => {
  // [milliseconds, docker's text]: each threshold and the values either side of it
  const cases: [number, string][] = [
    [-5 * S, "Less than a second"], // a clock a little ahead: docker says the same
    [0, "Less than a second"],
    [999, "Less than a second"],
    [1 * S, "1 second"],
    [1999, "1 second"],
    [2 * S, "2 seconds"],
    [59 * S + 999, "59 seconds"],
    [60 * S, "About a minute"],
    [119 * S, "About a minute"],
    [2 * M, "2 minutes"],
    [59 * M + 59 * S, "59 minutes"],
    [60 * M, "About an hour"],
    [H + 29 * M, "About an hour"],
    [H + 30 * M, "2 hours"], // hours are rounded, halves up
    [47 * H + 29 * M, "47 hours"],
    [47 * H + 30 * M, "2 days"], // rounds to 48 hours: days from there
    [2 * D + 11 * H, "2 days"],
    [2 * D + 12 * H, "3 days"],
    [14 * D - 1, "14 days"],
    [14 * D, "2 weeks"],
    [59 * D, "8 weeks"],
    [60 * D, "2 months"],
    [364 * D, "12 months"],
    [729 * D, "24 months"],
    [730 * D, "2 years"],
    [3 * 365 * D + 200 * D, "4 years"],
  ];
  for (const [ms, text] of cases) test(`${ms} ms → ${text}`, () => expect(humanDuration(ms)).toBe(text));
});

describe("humanAgo and statusText", () => {
  const now = new Date("2026-01-01T12:00:00Z");
  const before = (ms: number) => new Date(now.getTime() - ms);
  test("humanAgo adds ' ago' (one second is singular)", () => {
    expect(humanAgo(before(1 * S), now)).toBe("1 second ago");
    expect(humanAgo(before(30 * S), now)).toBe("30 seconds ago");
    expect(humanAgo(before(3 * H), now)).toBe("3 hours ago");
    expect(humanAgo(now, now)).toBe("Less than a second ago");
  });
  test("ps STATUS: 'Up <duration>' and 'Exited (code) <duration> ago', as docker prints them", () => {
    const up = { ...initialState(), Status: "running" as const, StartedAt: before(1 * S).toISOString() };
    expect(statusText(up, now)).toBe("Up 1 second");
    expect(statusText({ ...up, StartedAt: now.toISOString() }, now)).toBe("Up Less than a second");
    const exited = { ...initialState(), Status: "exited" as const, ExitCode: 3, FinishedAt: before(90 * M).toISOString() };
    expect(statusText(exited, now)).toBe("Exited (3) 2 hours ago");
  });
});
