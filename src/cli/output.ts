// stdout helpers: data only. Tables are docker-style (columns padded by three spaces).

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 4)}\n`);
}

/** Renders rows under headers, padding every column but the last like docker's tabwriter. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] + 3)))
      .join("")
      .trimEnd();
  process.stdout.write(`${[line(headers), ...rows.map(line)].join("\n")}\n`);
}

/** docker's human sizes: 1000-based, three significant digits ("5.6MB", "1.23GB"). */
export function humanSize(bytes: number): string {
  return scaledSize(bytes, 1000, ["B", "kB", "MB", "GB", "TB", "PB"], 3);
}

/** docker's binary sizes (units.BytesSize, as in `stats`): four significant digits ("1.5MiB", "48MiB"). */
export function binarySize(bytes: number): string {
  return scaledSize(bytes, 1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4);
}

function scaledSize(bytes: number, base: number, units: string[], digits: number): string {
  let value = bytes;
  let i = 0;
  while (value >= base && i < units.length - 1) {
    value /= base;
    i++;
  }
  return `${Number(value.toPrecision(digits))}${units[i]}`;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const MONTH = 30 * DAY;
const YEAR = 365 * DAY;

/** Go's int(float64(d)/float64(unit) + 0.5): the nearest whole unit, halves up. */
const roundTo = (ms: number, unit: number) => Math.floor(ms / unit + 0.5);

/**
 * docker's units.HumanDuration (go-units), threshold for threshold: "Less than a second",
 * "1 second", "5 seconds", "About a minute", "5 minutes", "About an hour", "5 hours", "3 days",
 * "3 weeks", "3 months", "3 years". Seconds and minutes are truncated, the larger units rounded.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = roundTo(ms, HOUR);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (ms < 2 * WEEK) return `${roundTo(ms, DAY)} days`;
  if (ms < 2 * MONTH) return `${roundTo(ms, WEEK)} weeks`;
  if (ms < 2 * YEAR) return `${roundTo(ms, MONTH)} months`;
  return `${roundTo(ms, YEAR)} years`;
}

/** docker's CREATED and "Exited (0) ..." text: HumanDuration since date, plus " ago". */
export function humanAgo(date: Date, now: Date = new Date()): string {
  return `${humanDuration(now.getTime() - date.getTime())} ago`;
}

/**
 * docker's inspect output for NAME...: what was found (a JSON array, `[]` when nothing was, or
 * one rendered line each), then an `Error: ...` line on stderr for each name not found, and exit
 * status 1 (docker's, not 125: the command itself worked).
 */
export function printInspected(found: unknown[], notFound: string[], render?: (item: unknown) => string): void {
  if (!render) printJson(found);
  else if (found.length) process.stdout.write(found.map((item) => `${render(item)}\n`).join(""));
  if (notFound.length === 0) return;
  process.stderr.write(notFound.map((message) => `Error: ${message}\n`).join(""));
  process.exitCode = 1;
}
