// Per-layer pull progress on stderr: bars redrawn in place on a terminal, plain lines otherwise
// (one when a layer starts and one when it is done), nothing with -q.
import { humanSize } from "../cli/output";
import { interactive, log } from "../log";

interface Row {
  label: string;
  total?: number;
  done: number;
  state: "waiting" | "downloading" | "complete" | "exists";
}

const BAR_WIDTH = 30;
const REDRAW_MS = 100;

export class PullProgress {
  private rows: Row[] = [];
  private drawn = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private quiet: boolean) {}

  add(label: string, total?: number): number {
    this.rows.push({ label, total, done: 0, state: "waiting" });
    if (!this.quiet && interactive() && !this.timer) this.timer = setInterval(() => this.draw(), REDRAW_MS);
    return this.rows.length - 1;
  }

  advance(i: number, bytes: number): void {
    const row = this.rows[i];
    if (row.state === "waiting") {
      row.state = "downloading";
      if (!this.quiet && !interactive()) log.info(`${row.label}: downloading${row.total ? ` (${humanSize(row.total)})` : ""}`);
    }
    row.done += bytes;
  }

  finish(i: number, existed: boolean): void {
    const row = this.rows[i];
    row.state = existed && row.state === "waiting" ? "exists" : "complete";
    if (!this.quiet && !interactive()) log.info(`${row.label}: ${row.state === "exists" ? "already exists" : "pull complete"}`);
  }

  private line(r: Row): string {
    if (r.state === "exists") return `${r.label}: Already exists`;
    if (r.state === "complete") return `${r.label}: Pull complete`;
    if (r.state === "waiting") return `${r.label}: Waiting`;
    const frac = r.total ? Math.min(1, r.done / r.total) : 0;
    const filled = Math.round(frac * BAR_WIDTH);
    const bar = `[${"=".repeat(Math.max(0, filled - 1))}${filled ? ">" : ""}${" ".repeat(BAR_WIDTH - filled)}]`;
    return `${r.label}: Downloading ${bar} ${humanSize(r.done)}${r.total ? `/${humanSize(r.total)}` : ""}`;
  }

  private draw(): void {
    const up = this.drawn ? `\x1b[${this.drawn}A` : "";
    process.stderr.write(`${up}${this.rows.map((r) => `\x1b[2K${this.line(r)}\n`).join("")}`);
    this.drawn = this.rows.length;
  }

  stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.draw();
    }
  }
}
