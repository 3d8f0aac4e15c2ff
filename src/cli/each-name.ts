// docker's NAME... commands (stop, kill, start, restart, rm, volume rm): one failure doesn't stop
// the rest; each name is printed when its action is done, and every failure is reported at the end.
import { BunkerError } from "../errors";

export interface EachNameOptions {
  /** all at once (stop: each may wait its timeout) instead of one after the other */
  parallel?: boolean;
  /** a failure that isn't one for this command (rm -f of a missing container) */
  ignore?: (e: unknown) => boolean;
}

/** Runs act for each name, prints the names that succeeded, then fails with all the failures in one line. */
export async function forEachName(names: string[], act: (name: string) => Promise<void>, opts: EachNameOptions = {}): Promise<void> {
  const failures: string[] = [];
  const one = async (name: string) => {
    try {
      await act(name);
      process.stdout.write(`${name}\n`);
    } catch (e) {
      if (!opts.ignore?.(e)) failures.push(e instanceof Error ? e.message : String(e));
    }
  };
  if (opts.parallel) await Promise.all(names.map(one));
  else for (const name of names) await one(name);
  if (failures.length) throw new BunkerError(failures.join("; "));
}
