// BUNKER_TRACE=1: where a run's time goes, one line on stderr at exit (milliseconds since the
// previous mark; the first since the process started). For scripts/bench-run.ts and
// docs/benchmarks.md; costs nothing when unset.
const enabled = process.env.BUNKER_TRACE === "1";
const marks: [string, number][] = [];

export function mark(name: string): void {
  if (!enabled) return;
  if (marks.length === 0) process.on("exit", report);
  marks.push([name, performance.now()]);
}

function report(): void {
  let prev = 0;
  const parts = marks.map(([name, t]) => {
    const line = `${name} ${(t - prev).toFixed(1)}`;
    prev = t;
    return line;
  });
  process.stderr.write(`bunker trace (ms): ${parts.join(" | ")}\n`);
}
