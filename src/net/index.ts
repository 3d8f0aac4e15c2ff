// Networking for containers. The runtime's use:
//   const plan = planNetwork(flags.network, parsePublish(flags.publish));  // errors are one line
//   if (plan.note) log.warn(plan.note);
//   spec.newNetNs = plan.newNetNs; write resolvConf(plan) / hostsFile(plan, hostname) into the container dir
//   in the setup hook (after the id mapping, before release): net = await attachNetwork(plan, pid)
//   when the container has exited: net.stop()
// A new network namespace needs its loopback up: the spawn program's IFUP_LO step does that.
import type { AttachOptions, NetworkAttachment } from "./attach";
import type { NetworkPlan } from "./plan";
export type { AttachOptions, NetworkAttachment } from "./attach";
export { checkDnsFlags, type DnsFlags, type ExtraHost, hostsFile, NO_DNS_FLAGS, parseAddHosts, resolvConf } from "./etc";
export { type NetworkHost, type NetworkMode, type NetworkPlan, planNetwork, tunUsable, whyUnusable, findExecutable } from "./plan";
export { type PortMapping, parsePublish, portBindings, publishedBindings } from "./ports";
// For a container that outlives this process (run -d, and a restart's container-setup), pass
// { outliveBunker: true }: the helpers then end when the container's pid does.

const NOTHING: NetworkAttachment = { pids: [], ports: [], stop() {} };

/**
 * Connects the container's namespace (pid) as the plan says. The helpers' code (and node:net,
 * node:dgram) loads only for pasta/slirp4netns: `--network none` runs stay lean.
 */
export async function attachNetwork(plan: NetworkPlan, pid: number, opts: AttachOptions = {}): Promise<NetworkAttachment> {
  if (plan.mode === "none" || plan.mode === "host") return NOTHING;
  return (await import("./attach")).attachUserModeNetwork(plan, pid, opts);
}
