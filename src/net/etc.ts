// /etc/resolv.conf and /etc/hosts for a container, from its network plan. The runtime writes
// them into the container's directory and binds them over the image's files.
import { BunkerError } from "../errors";
import { readFileSync } from "../fs";
import type { NetworkPlan } from "./plan";

/** pasta answers DNS here and forwards to the host's resolver (even a 127.0.0.53 stub). */
export const PASTA_DNS = "169.254.1.1";
/** slirp4netns's built-in DNS forwarder and the guest's own address */
export const SLIRP_DNS = "10.0.2.3";
export const SLIRP_GUEST_IP = "10.0.2.100";

function hostFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** --dns, --dns-search and --dns-option: each, when given, replaces that part of the file. */
export interface DnsFlags {
  servers: string[];
  search: string[];
  options: string[];
}

export const NO_DNS_FLAGS: DnsFlags = { servers: [], search: [], options: [] };

/** An IPv4 address in dotted-quad form, or an IPv6 address (as URL's host parser reads one). */
export function isIpAddress(s: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) return v4.slice(1).every((n) => Number(n) <= 255 && (n === "0" || !n.startsWith("0")));
  if (!s.includes(":") || /[^0-9a-fA-F:.]/.test(s)) return false;
  try {
    return new URL(`http://[${s}]/`).hostname !== "";
  } catch {
    return false;
  }
}

/** Checks --dns (addresses) and --dns-search (domains; "." alone means none), as docker does. */
export function checkDnsFlags(dns: DnsFlags): DnsFlags {
  for (const ip of dns.servers) if (!isIpAddress(ip)) throw new BunkerError(`invalid --dns "${ip}": give a name server's IP address`);
  for (const d of dns.search)
    if (d !== "." && !/^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(d))
      throw new BunkerError(`invalid --dns-search "${d}": give a domain name (or "." for none)`);
  for (const o of dns.options) if (!o || /\s/.test(o)) throw new BunkerError(`invalid --dns-option "${o}": give one resolver option, such as ndots:2`);
  return dns;
}

/**
 * The resolver file: the host's for host/none, the user-mode stack's forwarder otherwise; then
 * the user's --dns (nameservers), --dns-search (search) and --dns-option (options) replace theirs.
 */
export function resolvConf(plan: NetworkPlan, dns: DnsFlags = NO_DNS_FLAGS, hostText: string = hostFile("/etc/resolv.conf")): string {
  const own = plan.mode === "host" || plan.mode === "none";
  if (own && dns.servers.length + dns.search.length + dns.options.length === 0) return hostText;
  let lines = hostText.split("\n").filter((l) => l.trim() !== "");
  // Keep the host's search domains and options; replace its nameservers, which may be loopback
  // addresses that mean nothing inside the container's namespace.
  if (!own) lines = [`nameserver ${plan.mode === "pasta" ? PASTA_DNS : SLIRP_DNS}`, ...lines.filter((l) => /^\s*(search|domain|options)\s/.test(l))];
  const without = (key: RegExp) => lines.filter((l) => !key.test(l));
  if (dns.servers.length) lines = [...dns.servers.map((ip) => `nameserver ${ip}`), ...without(/^\s*nameserver\s/)];
  if (dns.search.length) {
    const domains = dns.search.filter((d) => d !== ".");
    lines = [...without(/^\s*(search|domain)\s/), ...(domains.length ? [`search ${domains.join(" ")}`] : [])];
  }
  if (dns.options.length) lines = [...without(/^\s*options\s/), `options ${dns.options.join(" ")}`];
  return `${lines.join("\n")}\n`;
}

export interface ExtraHost {
  name: string;
  ip: string;
}

/** docker's --add-host NAME:IP (or NAME=IP); the address may be IPv6 ("::1", "[::1]"). */
export function parseAddHosts(specs: string[]): ExtraHost[] {
  return specs.map((spec) => {
    const sep = /[:=]/.exec(spec);
    const name = sep ? spec.slice(0, sep.index) : "";
    const ip = sep ? spec.slice(sep.index + 1).replace(/^\[(.*)\]$/, "$1") : "";
    if (ip === "host-gateway")
      throw new BunkerError(`--add-host ${spec}: host-gateway is not available: bunker's private networks have no route to the host's addresses; use the host's IP, or --network host`);
    if (!name || /[\s#]/.test(name) || !isIpAddress(ip)) throw new BunkerError(`invalid --add-host "${spec}": use NAME:IP, as in db:10.0.0.5`);
    return { name, ip };
  });
}

const BASE_HOSTS = [
  "127.0.0.1\tlocalhost",
  "::1\tlocalhost ip6-localhost ip6-loopback",
  "fe00::0\tip6-localnet",
  "ff00::0\tip6-mcastprefix",
  "ff02::1\tip6-allnodes",
  "ff02::2\tip6-allrouters",
];

/**
 * docker's /etc/hosts: localhost lines, the --add-host entries, and the container's own name; with
 * host networking the host's file and the --add-host entries (its own name only when missing).
 */
export function hostsFile(plan: NetworkPlan, hostname: string, extra: ExtraHost[] = [], hostText: string = hostFile("/etc/hosts")): string {
  const added = extra.map((h) => `${h.ip}\t${h.name}`);
  if (plan.mode === "host") {
    const names = hostText.split("\n").flatMap((l) => l.replace(/#.*/, "").trim().split(/\s+/).slice(1));
    const own = names.includes(hostname) ? [] : [`127.0.1.1\t${hostname}`];
    return own.length + added.length === 0 ? hostText : `${hostText.replace(/\n?$/, "\n")}${[...added, ...own].join("\n")}\n`;
  }
  const ownIp = plan.mode === "slirp4netns" ? SLIRP_GUEST_IP : "127.0.1.1";
  return `${[...BASE_HOSTS, ...added, `${ownIp}\t${hostname}`].join("\n")}\n`;
}
