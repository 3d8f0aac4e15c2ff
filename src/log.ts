// The one logger. Everything human-facing goes to stderr so that stdout carries only data
// (ids, tables, JSON). consola's log/info/success default to stdout, hence the explicit streams.
import { createConsola, LogLevels } from "consola";

const colour = process.stderr.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== "dumb";

function levelFromEnv(): number {
  const name = (process.env.BUNKER_LOG_LEVEL ?? "").toLowerCase();
  if (name in LogLevels) return LogLevels[name as keyof typeof LogLevels];
  return LogLevels.info;
}

export const log = createConsola({
  stdout: process.stderr,
  stderr: process.stderr,
  level: levelFromEnv(),
  fancy: colour,
  formatOptions: { colors: colour, date: false, compact: true },
});

/** True when progress bars and colour may be drawn. */
export const interactive = colour;

/** Say something once per process (for example "no subuid range: files belong to you"). */
const said = new Set<string>();
export function noticeOnce(key: string, message: string): void {
  if (said.has(key)) return;
  said.add(key);
  log.info(message);
}
