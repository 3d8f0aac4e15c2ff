// Reading a container's log: the k8s-file lines the monitor writes
// ("<RFC 3339 time> stdout|stderr F|P <text>"; P = the text continues in the next record), across
// rotated files (ctr.log.N ... ctr.log.1, ctr.log: oldest first), with docker's --tail, --since,
// -t and -f, and start -a.
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { constants } from "node:os";
import { basename, dirname, join } from "../posix-path";
import { BunkerError, errnoCode } from "../errors";
import { isRunning, killContainer } from "./lifecycle";
import { type ContainerRecord, containerLogPath } from "./records";
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

/**
 * Opens every log file, oldest first, as one consistent set: the monitor may rotate (rename every
 * file one up) between the listing and the opens, so the set is taken again until each name still
 * names the file opened under it. Open files keep their content whatever is renamed afterwards.
 */
function openLogFiles(id: string): { path: string; fd: number }[] {
  for (;;) {
    const paths = logFiles(id);
    const opened: { path: string; fd: number }[] = [];
    let consistent = true;
    for (const path of paths) {
      try {
        opened.push({ path, fd: openSync(path, "r") });
      } catch (e) {
        if (errnoCode(e) !== "ENOENT") throw e;
        consistent = false; // renamed away or deleted (the oldest, at max-file) meanwhile
      }
    }
    consistent &&= opened.every(({ path, fd }) => {
      try {
        return statSync(path).ino === fstatSync(fd).ino;
      } catch {
        return false;
      }
    });
    consistent &&= logFiles(id).join("\0") === paths.join("\0");
    if (consistent) return opened;
    for (const { fd } of opened) closeSync(fd);
  }
}

/**
 * docker's --tail N: the records of the last N lines. A line may span several P records and its
 * closing F record, and a stream's last line may have no newline yet (its last record, P). Going
 * back from the end, a line starts at a record that ends one or at that last record of a stream.
 */
export function tailRecords(records: LogRecord[], tail: number): LogRecord[] {
  let lines = 0;
  let start = records.length;
  const seen = new Set<string>();
  while (start > 0) {
    const r = records[start - 1];
    const endsLine = r.text.endsWith("\n") || !seen.has(r.stream);
    seen.add(r.stream);
    if (endsLine) {
      if (lines === tail) break;
      lines++;
    }
    start--;
  }
  return records.slice(start);
}

/** Prints a container's logs as docker logs does; with follow, until the container stops. */
export async function printLogs(id: string, o: LogOptions): Promise<void> {
  let records: LogRecord[] = [];
  const current = containerLogPath(id);
  // -f goes on from where the read of the current file ended, on the same open file: a record
  // written (or a rotation done) between the two is neither lost nor printed twice.
  let followFrom: { fd: number; offset: number } | undefined;
  for (const { path, fd } of openLogFiles(id)) {
    const got = readLines(fd, 0);
    if (o.follow && path === current) followFrom = { fd, offset: got.offset };
    else closeSync(fd);
    for (const l of got.lines) {
      const r = parseLine(l);
      if (r && keep(r, o)) records.push(r);
    }
  }
  if (o.tail !== undefined) records = tailRecords(records, o.tail);
  for (const r of records) emit(r, o);
  if (o.follow) await follow(id, o, followFrom ?? { fd: -1, offset: 0 });
}

/**
 * Opens the log file that came after the one with inode ino: the next newer one, which is not
 * always the current file (two rotations can come between two looks). -1 when there is none.
 */
function openNewerThan(id: string, ino: number): number {
  for (;;) {
    const files = logFiles(id);
    const inodes = files.map((f) => {
      try {
        return statSync(f).ino;
      } catch {
        return -1;
      }
    });
    const at = inodes.indexOf(ino);
    // gone (rotated out at max-file): every file left is newer, the oldest of them is next
    const next = at >= 0 ? at + 1 : 0;
    if (next >= files.length) return -1;
    try {
      const fd = openSync(files[next], "r");
      if (fstatSync(fd).ino === inodes[next]) return fd;
      closeSync(fd); // rotated again between the look and the open
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
    }
  }
}

/** Prints what the monitor appends after offset in fd, across rotations, until the container stops. */
async function follow(id: string, o: LogOptions, from: { fd: number; offset: number }): Promise<void> {
  const path = containerLogPath(id);
  let { fd, offset } = from;
  try {
    for (;;) {
      const stopped = !isRunning(await readState(id));
      if (fd < 0 && existsSync(path)) {
        fd = openSync(path, "r");
        offset = 0;
      }
      if (fd >= 0) {
        const printNew = () => {
          const got = readLines(fd, offset);
          offset = got.offset;
          for (const l of got.lines) {
            const r = parseLine(l);
            if (r && keep(r, o)) emit(r, o);
          }
        };
        printNew();
        // Rotated (a new file under the name) or truncated (max-file=1): start on the new content.
        const now = existsSync(path) ? statSync(path) : undefined;
        const mine = fstatSync(fd);
        if (!now || now.ino !== mine.ino) {
          printNew(); // what the monitor wrote to the old file before it renamed it
          closeSync(fd);
          fd = openNewerThan(id, mine.ino);
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

/**
 * `start -a`: prints what the container writes from since (epoch ms, taken before it started) on,
 * stdout to stdout and stderr to stderr, until it stops, and returns its exit code. Meanwhile the
 * signals bunker gets go to the container (docker's start -a proxies them too): ^C stops it.
 */
export async function attachOutput(rec: ContainerRecord, since: number): Promise<number> {
  const forward = (sig: NodeJS.Signals) => killContainer(rec, constants.signals[sig]).catch(() => {}); // it has just exited
  for (const sig of PROXIED_SIGNALS) process.on(sig, forward);
  try {
    await printLogs(rec.Id, { since, timestamps: false, follow: true });
  } finally {
    for (const sig of PROXIED_SIGNALS) process.off(sig, forward);
  }
  return (await readState(rec.Id)).ExitCode;
}

const PROXIED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
