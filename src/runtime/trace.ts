// BUNKER_TRACE=1: where a run's time and memory go, two lines on stderr at exit: the milliseconds
// between marks (the first since the process started), then the resident set size at each mark.
// For scripts/bench-run.ts and docs/benchmarks.md; costs nothing when unset.
const enabled = process.env.BUNKER_TRACE === "1";
// On globalThis: dist/bunker's bundles (src/cli/main.ts) each have a copy of this module, and the
// marks of all of them make one trace.
const traced = globalThis as { bunkerTraceMarks?: [name: string, ms: number, rssMb: number][] };
const marks = (traced.bunkerTraceMarks ??= []);

export function mark(name: string): void {
  if (!enabled) return;
  if (marks.length === 0) process.on("exit", report);
  marks.push([name, performance.now(), process.memoryUsage.rss() / 1048576]);
}

function report(): void {
  let prev = 0;
  const times = marks.map(([name, t]) => {
    const line = `${name} ${(t - prev).toFixed(1)}`;
    prev = t;
    return line;
  });
  process.stderr.write(`bunker trace (ms): ${times.join(" | ")}\n`);
  process.stderr.write(`bunker trace (RSS MB): ${marks.map(([name, , rss]) => `${name} ${rss.toFixed(1)}`).join(" | ")}\n`);
}
