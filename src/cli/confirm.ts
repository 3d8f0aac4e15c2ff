// docker's confirmation before it removes things (container, image, volume and system prune):
// the warning, then "Are you sure you want to continue? [y/N] ", and one line read from stdin,
// a terminal or a pipe alike. Only y or Y goes on; anything else, or EOF, is no (exit 0, nothing
// removed). The prompt goes to stderr: stdout carries only what was removed.
export async function confirmed(warning: string): Promise<boolean> {
  process.stderr.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  for await (const line of console) return /^y$/i.test(line.trim());
  return false;
}

/** docker system prune's warning: what it will remove, one "  - " line each, then a blank line. */
export function listWarning(items: string[]): string {
  return `WARNING! This will remove:\n${items.map((i) => `  - ${i}\n`).join("")}`;
}
