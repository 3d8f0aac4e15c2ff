// Assertions for bunker's user errors: one line, exit 125, saying what was wrong.
import { expect } from "bun:test";
import { BunkerError } from "../../src/errors";

/** A CLI run that failed as a user error should: exit 125 with one line on stderr containing text. */
export function expectOneLineError(r: { code: number; stderr: string }, text: string): void {
  expect(r.code).toBe(125);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toContain(text);
}

/** The one-line message of the BunkerError that fn throws (fails the test if it throws nothing else). */
export function bunkerErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BunkerError);
    const message = (e as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error("expected a BunkerError");
}
