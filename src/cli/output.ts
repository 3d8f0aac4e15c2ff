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

/** docker's "About an hour ago" style durations. */
export function humanAgo(date: Date, now: Date = new Date()): string {
  const s = Math.max(0, Math.round((now.getTime() - date.getTime()) / 1000));
  if (s < 1) return "Less than a second ago";
  if (s < 60) return `${s} seconds ago`;
  const m = Math.round(s / 60);
  if (m === 1) return "About a minute ago";
  if (m < 60) return `${m} minutes ago`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour ago";
  if (h < 48) return `${h} hours ago`;
  const d = Math.round(s / 86400);
  if (d < 14) return `${d} days ago`;
  if (d < 60) return `${Math.round(d / 7)} weeks ago`;
  if (d < 730) return `${Math.round(d / 30)} months ago`;
  return `${Math.round(d / 365)} years ago`;
}
