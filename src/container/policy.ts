// docker's --restart and --log-opt, parsed into the record's HostConfig fields.
import { BunkerError } from "../errors";
import { parseLogSize } from "./monitor";
import type { HostConfig, RestartPolicy } from "./records";

/** --restart no | always | unless-stopped | on-failure[:N] */
export function parseRestartPolicy(value: string | undefined): RestartPolicy {
  if (value === undefined || value === "" || value === "no") return { Name: "no", MaximumRetryCount: 0 };
  const [name, count, ...rest] = value.split(":");
  if (rest.length === 0 && (name === "always" || name === "unless-stopped") && count === undefined) return { Name: name, MaximumRetryCount: 0 };
  if (name === "on-failure" && rest.length === 0) {
    if (count === undefined) return { Name: "on-failure", MaximumRetryCount: 0 };
    const n = Number(count);
    if (Number.isInteger(n) && n >= 0 && /^\d+$/.test(count)) return { Name: "on-failure", MaximumRetryCount: n };
    throw new BunkerError(`invalid --restart "${value}": the retry count must be a whole number, as in on-failure:3`);
  }
  if (count !== undefined && (name === "always" || name === "unless-stopped" || name === "no"))
    throw new BunkerError(`invalid --restart "${value}": a maximum retry count is only valid with on-failure`);
  throw new BunkerError(`invalid --restart "${value}": use no, always, unless-stopped or on-failure[:N]`);
}

/** --log-opt max-size=10m --log-opt max-file=3 (k8s-file, rotated by the monitor) */
export function parseLogOpts(opts: string[]): HostConfig["LogConfig"] {
  const config: Record<string, string> = {};
  for (const o of opts) {
    const eq = o.indexOf("=");
    if (eq <= 0) throw new BunkerError(`invalid --log-opt "${o}": use KEY=VALUE, as in max-size=10m`);
    const key = o.slice(0, eq);
    const value = o.slice(eq + 1);
    if (key === "max-size") parseLogSize(value);
    else if (key === "max-file") {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw new BunkerError(`invalid --log-opt max-file=${value}: use a whole number of files, at least 1`);
    } else throw new BunkerError(`unknown --log-opt "${key}": bunker's k8s-file log knows max-size and max-file`);
    config[key] = value;
  }
  if (config["max-file"] && Number(config["max-file"]) > 1 && !config["max-size"])
    throw new BunkerError("--log-opt max-file needs max-size too: files are rotated when they reach it");
  return { Type: "k8s-file", Config: config };
}
