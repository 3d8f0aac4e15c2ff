// The ports a running container publishes, as the network attachment chose them. -p 80 and
// -p 127.0.0.1::80 ask for "any free port": the record's HostConfig.PortBindings keeps docker's
// empty HostPort (the request), and the port picked for this start lives in the runtime dir
// (it changes with every start), where `port`, `ps` and inspect's NetworkSettings.Ports read it.
import { readFileSync } from "node:fs";
import { join } from "../posix-path";
import { errnoCode } from "../errors";
import { type ContainerRecord, containerRunDir, type PortBinding, writeJsonAtomic } from "./records";

type Bindings = Record<string, PortBinding[]>;

function publishedPath(id: string): string {
  return join(containerRunDir(id), "ports.json");
}

/** Records the ports of this start (the caller's network attachment resolved every "any port"). */
export function writePublishedPorts(id: string, bindings: Bindings): void {
  writeJsonAtomic(publishedPath(id), bindings);
}

/**
 * What a container publishes now: nothing when it doesn't run (docker shows no ports then), the
 * ports chosen at its start when they were recorded, else what the user asked for (fixed ports of
 * a foreground run).
 */
export function publishedPorts(rec: ContainerRecord, running: boolean): Bindings {
  if (!running) return {};
  try {
    return JSON.parse(readFileSync(publishedPath(rec.Id), "utf8")) as Bindings;
  } catch (e) {
    if (errnoCode(e) !== "ENOENT" && !(e instanceof SyntaxError)) throw e;
    return rec.HostConfig.PortBindings ?? {};
  }
}

/** HOST:PORT of a binding as docker prints it: every address is 0.0.0.0, IPv6 in brackets ([::]:8080). */
export function hostAddressText(b: PortBinding): string {
  const ip = b.HostIp || "0.0.0.0";
  return `${ip.includes(":") ? `[${ip}]` : ip}:${b.HostPort}`;
}
