// The one logger. Everything human-facing goes to stderr so that stdout carries only data
// (ids, tables, JSON). consola's log/info/success default to stdout, hence the explicit streams.
// consola is created at the first message that is printed, and process.stderr is first touched
// then: loading consola and creating the stream cost ~3.5 ms of start-up that `bunker run`,
// whose fast path prints nothing, should not pay.
import type { ConsolaInstance } from "consola";

// consola's LogLevels, for the names BUNKER_LOG_LEVEL may hold (here so that a level check needs no consola)
const LEVELS: Record<string, number> = {
  silent: Number.NEGATIVE_INFINITY,
  fatal: 0,
  error: 0,
  warn: 1,
  log: 2,
  info: 3,
  success: 3,
  fail: 3,
  ready: 3,
  start: 3,
  box: 3,
  debug: 4,
  trace: 5,
  verbose: Number.POSITIVE_INFINITY,
};

const level = LEVELS[(process.env.BUNKER_LOG_LEVEL ?? "").toLowerCase()] ?? LEVELS.info;

let colour: boolean | undefined;
/** True when progress bars and colour may be drawn: stderr is a terminal, and NO_COLOR is unset. */
export function interactive(): boolean {
  colour ??= process.stderr.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  return colour;
}

let consola: ConsolaInstance | undefined;
function logger(): ConsolaInstance {
  if (!consola) {
    const { createConsola } = require("consola") as typeof import("consola");
    const fancy = interactive();
    consola = createConsola({
      stdout: process.stderr,
      stderr: process.stderr,
      level,
      fancy,
      formatOptions: { colors: fancy, date: false, compact: true },
    });
  }
  return consola;
}

type LogFn = (message: unknown, ...args: unknown[]) => void;
const at =
  (type: "debug" | "info" | "warn"): LogFn =>
  (message, ...args) => {
    if (level >= LEVELS[type]) logger()[type](message, ...args);
  };

export const log = { debug: at("debug"), info: at("info"), warn: at("warn") };

/** Say something once per process (for example "no subuid range: files belong to you"). */
const said = new Set<string>();
export function noticeOnce(key: string, message: string): void {
  if (said.has(key)) return;
  said.add(key);
  log.info(message);
}
