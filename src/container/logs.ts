// Reading a container's log: the k8s-file lines the monitor writes
// ("<RFC 3339 time> stdout|stderr F|P <text>"; P = the text continues in the next record), across
// rotated files (ctr.log.N ... ctr.log.1, ctr.log: oldest first), with docker's --tail, --since,
// -t and -f.
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { BunkerError } from "../errors";
import { isRunning } from "./lifecycle";
import { containerLogPath } from "./records";
import { readState } from "./state";

export interface LogRecord {
  time: string;
  stream: "stdout" | "stderr";
  /** the text with its newline when the record completes a line */
  text: string;
}

export interface LogOptions {
  tail?: number;
  /** epoch milliseconds */
  since?: number;
  until?: number;
  timestamps: boolean;
  follow: boolean;
}

/** docker's --since/--until: RFC 3339, a unix timestamp, or a duration before now ("10m", "1h30m"). */
export function parseTimeArg(flag: string, value: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const dur = /^((\d+)h)?((\d+)m(?!s))?((\d+)s)?((\d+)ms)?$/.exec(value);
  if (dur && value !== "") {
    const [h, m, s, ms] = [dur[2], dur[4], dur[6], dur[8]].map((x) => Number(x ?? 0));
    return now - (((h * 60 + m) * 60 + s) * 1000 + ms);
  }
  const t = Date.parse(value);
  if (!Number.isNaN(t)) return t;
  throw new BunkerError(`invalid --${flag} "${value}": use a time (2024-01-02T15:04:05Z), a unix timestamp, or a duration like 10m`);
}

export function parseLine(line: string): LogRecord | undefined {
  const a = line.indexOf(" ");
  const b = line.indexOf(" ", a + 1);
  const c = line.indexOf(" ", b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== "stdout" && stream !== "stderr") return undefined;
  const tag = line.slice(b + 1, c);
  return { time: line.slice(0, a), stream, text: line.slice(c + 1) + (tag === "F" ? "\n" : "") };
}

/** The log files of a container, oldest first. */
export function logFiles(id: string): string[] {
  const current = containerLogPath(id);
  const dir = dirname(current);
  const base = basename(current);
  let rotated: { n: number; path: string }[] = [];
  try {
    rotated = readdirSync(dir)
      .filter((f) => f.startsWith(`${base}.`) && /^\d+$/.test(f.slice(base.length + 1)))
      .map((f) => ({ n: Number(f.slice(base.length + 1)), path: join(dir, f) }));
  } catch {
    return [];
  }
  rotated.sort((x, y) => y.n - x.n);
  return [...rotated.map((r) => r.path), ...(existsSync(current) ? [current] : [])];
}

function timeMs(rfc3339: string): number {
  return Date.parse(rfc3339.replace(/\.(\d{3})\d*Z$/, ".$1Z"));
}

function keep(r: LogRecord, o: LogOptions): boolean {
  if (o.since === undefined && o.until === undefined) return true;
  const t = timeMs(r.time);
  return (o.since === undefined || t >= o.since) && (o.until === undefined || t <= o.until);
}

function emit(r: LogRecord, o: LogOptions): void {
  const out = r.stream === "stdout" ? process.stdout : process.stderr;
  out.write(o.timestamps ? `${r.time} ${r.text}` : r.text);
}

/** Reads whole lines from fd starting at offset; returns the lines and the offset after the last. */
function readLines(fd: number, offset: number): { lines: string[]; offset: number } {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  let pos = offset;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n <= 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    pos += n;
  }
  const all = Buffer.concat(chunks);
  const end = all.lastIndexOf(0x0a);
  if (end < 0) return { lines: [], offset };
  return { lines: all.subarray(0, end).toString("utf8").split("\n"), offset: offset + end + 1 };
}

/** Prints a container's logs as docker logs does; with follow, until the container stops. */
export async function printLogs(id: string, o: LogOptions): Promise<void> {
  let records: LogRecord[] = [];
  for (const file of logFiles(id)) {
    const fd = openSync(file, "r");
    try {
      for (const l of readLines(fd, 0).lines) {
        const r = parseLine(l);
        if (r && keep(r, o)) records.push(r);
      }
    } finally {
      closeSync(fd);
    }
  }
  if (o.tail !== undefined) {
    // --tail counts lines: a line may span several P records and its closing F record.
    let lines = 0;
    let start = records.length;
    while (start > 0) {
      if (records[start - 1].text.endsWith("\n")) {
        if (lines === o.tail) break;
        lines++;
      }
      start--;
    }
    records = records.slice(start);
  }
  for (const r of records) emit(r, o);
  if (o.follow) await follow(id, o);
}

/** Prints what the monitor appends from now on, across rotations, until the container stops. */
async function follow(id: string, o: LogOptions): Promise<void> {
  const path = containerLogPath(id);
  let fd = existsSync(path) ? openSync(path, "r") : -1;
  let offset = fd >= 0 ? fstatSync(fd).size : 0;
  try {
    for (;;) {
      const stopped = !isRunning(await readState(id));
      if (fd < 0 && existsSync(path)) {
        fd = openSync(path, "r");
        offset = 0;
      }
      if (fd >= 0) {
        const got = readLines(fd, offset);
        offset = got.offset;
        for (const l of got.lines) {
          const r = parseLine(l);
          if (r && keep(r, o)) emit(r, o);
        }
        // Rotated (a new file under the name) or truncated (max-file=1): start on the new content.
        const now = existsSync(path) ? statSync(path) : undefined;
        const mine = fstatSync(fd);
        if (!now || now.ino !== mine.ino) {
          closeSync(fd);
          fd = now ? openSync(path, "r") : -1;
          offset = 0;
          continue;
        }
        if (mine.size < offset) offset = 0;
      }
      if (stopped) return;
      await Bun.sleep(100);
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
