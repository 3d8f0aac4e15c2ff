// Running a host program as root of a container's user namespace: `nsenter --user
// --preserve-credentials`, so that it keeps our own ids, which that namespace maps to 0. What it
// creates belongs to the same ids as if we had made it, and it passes the checks that only
// processes in that namespace pass (its mounts' FUSE, its subordinate ids' files).
import { BunkerError } from "../errors";

/**
 * Runs cmd (nsenter options such as --mount may lead it) in the user namespace of process pid and
 * waits for it. On failure, throws its last line of stderr: as "WHAT failed: LINE" when what is
 * given, else as it is (a bunker command's own one-line error, without its "Error: ").
 */
export function inUserNamespace(pid: number, cmd: string[], what?: string): void {
  const r = Bun.spawnSync(["nsenter", `--target=${pid}`, "--user", "--preserve-credentials", ...cmd], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  if (r.exitCode === 0) return;
  const line = r.stderr.toString().trim().split("\n").at(-1) || `exit code ${r.exitCode}`;
  throw new BunkerError(what ? `${what} failed: ${line}` : line.replace(/^Error: /, ""));
}
