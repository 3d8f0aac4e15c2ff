// -p/--publish, docker's grammar: [IP:][HOSTPORT:]CTRPORT[/tcp|/udp], with equal-length ranges
// ("8000-8001:80-81") and "[::1]:8080:80" for IPv6. A missing or 0 host port means "any free port".
import { BunkerError } from "../errors";

export interface PortMapping {
  /** "" = every address (docker's 0.0.0.0) */
  hostIp: string;
  /** 0 = pick a free port when the network is attached */
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

function portRange(text: string, what: string, spec: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const lo = m ? Number(m[1]) : Number.NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo > 65535 || hi > 65535 || hi < lo || (what === "containerPort" && lo === 0))
    throw new BunkerError(`invalid ${what}: ${text} (in -p ${spec}): a port is 1-65535, a range LOW-HIGH`);
  return [lo, hi];
}

function parseOne(spec: string): PortMapping[] {
  let rest = spec;
  let protocol: "tcp" | "udp" = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const proto = rest.slice(slash + 1).toLowerCase();
    if (proto !== "tcp" && proto !== "udp") throw new BunkerError(`invalid proto: ${proto} (in -p ${spec}): bunker publishes tcp and udp`);
    protocol = proto;
    rest = rest.slice(0, slash);
  }
  let hostIp = "";
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]:");
    if (close < 0) throw new BunkerError(`invalid IP address in -p ${spec}: write IPv6 as [::1]:HOSTPORT:CTRPORT`);
    hostIp = rest.slice(1, close);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(":");
  let hostText = "";
  let ctrText: string;
  if (parts.length === 1) ctrText = parts[0];
  else if (parts.length === 2) [hostText, ctrText] = parts;
  else if (parts.length === 3 && hostIp === "") [hostIp, hostText, ctrText] = parts;
  else throw new BunkerError(`invalid publish spec: ${spec}: use [IP:][HOSTPORT:]CTRPORT[/tcp|/udp]`);
  if (hostIp !== "" && !isIp(hostIp)) throw new BunkerError(`invalid IP address: ${hostIp} (in -p ${spec})`);
  if (hostIp === "0.0.0.0" || hostIp === "::") hostIp = "";
  const [clo, chi] = portRange(ctrText, "containerPort", spec);
  const [hlo, hhi] = hostText === "" ? [0, 0] : portRange(hostText, "hostPort", spec);
  const count = chi - clo + 1;
  if (hostText !== "" && hlo !== 0 && hhi - hlo + 1 !== count)
    throw new BunkerError(`invalid ranges in -p ${spec}: the host and container ranges must have the same length`);
  const out: PortMapping[] = [];
  for (let i = 0; i < count; i++) out.push({ hostIp, hostPort: hlo === 0 ? 0 : hlo + i, containerPort: clo + i, protocol });
  return out;
}

function isIp(text: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return text.split(".").every((o) => Number(o) <= 255);
  return text.includes(":") && /^[0-9a-fA-F:.]+$/.test(text);
}

/** Every -p of a run; the same host address, port and protocol twice is an error. */
export function parsePublish(specs: string[]): PortMapping[] {
  const all: PortMapping[] = [];
  for (const spec of specs) all.push(...parseOne(spec));
  const seen = new Set<string>();
  for (const p of all) {
    if (p.hostPort === 0) continue;
    const key = `${p.hostIp}|${p.hostPort}/${p.protocol}`;
    if (seen.has(key)) throw new BunkerError(`port ${p.hostPort}/${p.protocol} is published twice`);
    seen.add(key);
  }
  return all;
}

/** docker's PortBindings shape for the container record: {"80/tcp": [{HostIp, HostPort}]} */
export function portBindings(ports: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports) (out[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: p.hostPort ? String(p.hostPort) : "" });
  return out;
}

/** The ports a started container got, as docker's NetworkSettings.Ports shows them: "every address" is 0.0.0.0. */
export function publishedBindings(ports: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out = portBindings(ports);
  for (const list of Object.values(out)) for (const b of list) b.HostIp ||= "0.0.0.0";
  return out;
}
