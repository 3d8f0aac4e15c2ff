// citty keeps only the last value of a flag given twice; docker takes them all (--filter a --filter b).
import { BunkerError } from "../errors";

/** Every value of a repeatable flag, as `--long V`, `--long=V`, `-s V` or `-s=V`, in order. */
export function repeatedFlag(rawArgs: string[], long: string, short?: string): string[] {
  const names = short ? [long, short] : [long];
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i];
    if (a === "--") break;
    const eq = a.indexOf("=");
    let value: string | undefined;
    if (names.includes(a)) value = rawArgs[++i];
    else if (eq > 0 && names.includes(a.slice(0, eq))) value = a.slice(eq + 1);
    else continue;
    if (!value) throw new BunkerError(`${long} needs a value`);
    values.push(value);
  }
  return values;
}
