// Docker's exit codes: 125 for our own error, 126 when the command can't be executed,
// 127 when it isn't found, otherwise the container's own.
export const EXIT_BUNKER = 125;
export const EXIT_CANNOT_EXEC = 126;
export const EXIT_NOT_FOUND = 127;

/**
 * An error meant for the user: one line that says what was wrong and, where we know, what to do.
 * Anything else that escapes to the top is a bug and is printed with its stack.
 */
export class BunkerError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_BUNKER,
  ) {
    super(message);
    this.name = "BunkerError";
  }
}

/**
 * Whether e is a BunkerError, also one thrown in another of dist/bunker's bundles (src/cli/main.ts),
 * which has its own copy of the class: instanceof would say no.
 */
export function isBunkerError(e: unknown): e is BunkerError {
  return e instanceof Error && e.name === "BunkerError" && typeof (e as BunkerError).exitCode === "number";
}

export function fail(message: string, exitCode: number = EXIT_BUNKER): never {
  throw new BunkerError(message, exitCode);
}

/** The errno code of a Node-style fs error, or undefined. */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}
