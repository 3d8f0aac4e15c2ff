// /etc/resolv.conf and /etc/hosts for a container, from its network plan. The runtime writes
// them into the container's directory and binds them over the image's files.
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

/** The resolver file: the host's for host/none, the user-mode stack's forwarder otherwise. */
export function resolvConf(plan: NetworkPlan, hostText: string = hostFile("/etc/resolv.conf")): string {
  if (plan.mode === "host" || plan.mode === "none") return hostText;
  // Keep the host's search domains and options; replace its nameservers, which may be loopback
  // addresses that mean nothing inside the container's namespace.
  const kept = hostText.split("\n").filter((l) => /^\s*(search|domain|options)\s/.test(l));
  return [`nameserver ${plan.mode === "pasta" ? PASTA_DNS : SLIRP_DNS}`, ...kept, ""].join("\n");
}

const BASE_HOSTS = [
  "127.0.0.1\tlocalhost",
  "::1\tlocalhost ip6-localhost ip6-loopback",
  "fe00::0\tip6-localnet",
  "ff00::0\tip6-mcastprefix",
  "ff02::1\tip6-allnodes",
  "ff02::2\tip6-allrouters",
];

/** docker's /etc/hosts: localhost lines and the container's own name; the host's file with host networking. */
export function hostsFile(plan: NetworkPlan, hostname: string, hostText: string = hostFile("/etc/hosts")): string {
  if (plan.mode === "host") {
    const names = hostText.split("\n").flatMap((l) => l.replace(/#.*/, "").trim().split(/\s+/).slice(1));
    return names.includes(hostname) ? hostText : `${hostText.replace(/\n?$/, "\n")}127.0.1.1\t${hostname}\n`;
  }
  const ownIp = plan.mode === "slirp4netns" ? SLIRP_GUEST_IP : "127.0.1.1";
  return `${[...BASE_HOSTS, `${ownIp}\t${hostname}`].join("\n")}\n`;
}
