import { describe, expect, test } from "bun:test";
import { checkDnsFlags, hostsFile, type NetworkHost, type NetworkPlan, parseAddHosts, parsePublish, planNetwork, portBindings, publishedBindings, resolvConf } from "../../src/net";
import { isIpAddress } from "../../src/net/etc";
import { bunkerErrorOf } from "../support/errors";


describe("parsePublish", () => {
  test("docker's forms", () => {
    expect(parsePublish(["8080:80"])).toEqual([{ hostIp: "", hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
    expect(parsePublish(["127.0.0.1:8080:80/udp"])).toEqual([{ hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, protocol: "udp" }]);
    expect(parsePublish(["127.0.0.1::80"])).toEqual([{ hostIp: "127.0.0.1", hostPort: 0, containerPort: 80, protocol: "tcp" }]);
    expect(parsePublish(["80"])).toEqual([{ hostIp: "", hostPort: 0, containerPort: 80, protocol: "tcp" }]);
    expect(parsePublish(["[::1]:8080:80"])).toEqual([{ hostIp: "::1", hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
    expect(parsePublish(["0.0.0.0:9000:90"])[0].hostIp).toBe("");
  });
  test("equal-length ranges expand pairwise", () => {
    expect(parsePublish(["8000-8001:80-81"]).map((p) => [p.hostPort, p.containerPort])).toEqual([
      [8000, 80],
      [8001, 81],
    ]);
  });
  test("bad specs are one-line errors", () => {
    expect(bunkerErrorOf(() => parsePublish(["80:http"]))).toContain("invalid containerPort: http");
    expect(bunkerErrorOf(() => parsePublish(["70000:80"]))).toContain("invalid hostPort: 70000");
    expect(bunkerErrorOf(() => parsePublish(["80/sctp"]))).toContain("invalid proto: sctp");
    expect(bunkerErrorOf(() => parsePublish(["1.2.3:80:80"]))).toContain("invalid IP address: 1.2.3");
    expect(bunkerErrorOf(() => parsePublish(["8000-8002:80-81"]))).toContain("same length");
    expect(bunkerErrorOf(() => parsePublish(["8080:80", "8080:81"]))).toContain("published twice");
    expect(bunkerErrorOf(() => parsePublish(["a:b:c:d"]))).toContain("invalid publish spec");
  });
  test("publishedBindings: what a started container got, every address shown as 0.0.0.0", () => {
    const got = parsePublish(["80", "127.0.0.1::53/udp"]).map((p, i) => ({ ...p, hostPort: 40000 + i }));
    expect(publishedBindings(got)).toEqual({
      "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "40000" }],
      "53/udp": [{ HostIp: "127.0.0.1", HostPort: "40001" }],
    });
  });
  test("portBindings is docker's record shape", () => {
    expect(portBindings(parsePublish(["127.0.0.1:8080:80", "53/udp"]))).toEqual({
      "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }],
      "53/udp": [{ HostIp: "", HostPort: "" }],
    });
  });
});

const everything: NetworkHost = { which: (t) => `/usr/bin/${t}`, tunUsable: () => true };
const onlySlirp: NetworkHost = { which: (t) => (t === "slirp4netns" ? "/usr/bin/slirp4netns" : undefined), tunUsable: () => true };
const nothing: NetworkHost = { which: () => undefined, tunUsable: () => true };
const noTun: NetworkHost = { which: (t) => `/usr/bin/${t}`, tunUsable: () => false };
const p80 = parsePublish(["8080:80"]);

describe("planNetwork", () => {
  test("the default is a private namespace through pasta", () => {
    expect(planNetwork(undefined, p80, everything)).toEqual({ mode: "pasta", newNetNs: true, ports: p80 });
    expect(planNetwork("bridge", [], everything).mode).toBe("pasta");
  });
  test("without pasta: slirp4netns, with one line saying so", () => {
    const plan = planNetwork(undefined, p80, onlySlirp);
    expect(plan.mode).toBe("slirp4netns");
    expect(plan.note).toContain("pasta is not installed");
  });
  test("with neither (or no usable /dev/net/tun): loopback only, said once, never a failure", () => {
    for (const host of [nothing, noTun]) {
      const plan = planNetwork(undefined, [], host);
      expect(plan).toMatchObject({ mode: "none", newNetNs: true, ports: [] });
      expect(plan.note).toContain("loopback only");
    }
    expect(planNetwork(undefined, [], noTun).note).toContain("/dev/net/tun");
  });
  test("-p that no tool can honour is an error", () => {
    expect(bunkerErrorOf(() => planNetwork(undefined, p80, nothing))).toContain("-p needs pasta or slirp4netns");
  });
  test("none and host drop -p with docker's warning; host shares the namespace", () => {
    expect(planNetwork("host", p80, everything)).toEqual({ mode: "host", newNetNs: false, ports: [], note: "Published ports are discarded when using host network mode" });
    expect(planNetwork("none", [], everything)).toEqual({ mode: "none", newNetNs: true, ports: [] });
    expect(planNetwork("none", p80, everything).note).toContain("discarded");
  });
  test("an explicit tool that can't run, or an unknown network, is an error", () => {
    expect(bunkerErrorOf(() => planNetwork("pasta", [], onlySlirp))).toContain("--network pasta: pasta is not installed");
    expect(bunkerErrorOf(() => planNetwork("mynet", [], everything))).toContain("network mynet not found");
  });
});

describe("etc files", () => {
  const host = "nameserver 127.0.0.53\nsearch example.org\noptions edns0\n";
  test("resolv.conf: host's for host/none, the forwarder for pasta/slirp4netns with search kept", () => {
    expect(resolvConf({ mode: "host", newNetNs: false, ports: [] }, undefined, host)).toBe(host);
    expect(resolvConf({ mode: "pasta", newNetNs: true, ports: [] }, undefined, host)).toBe("nameserver 169.254.1.1\nsearch example.org\noptions edns0\n");
    expect(resolvConf({ mode: "slirp4netns", newNetNs: true, ports: [] }, undefined, host)).toStartWith("nameserver 10.0.2.3\n");
  });
  test("--dns, --dns-search and --dns-option replace their lines, whatever the network", () => {
    const pasta: NetworkPlan = { mode: "pasta", newNetNs: true, ports: [] };
    const none: NetworkPlan = { mode: "none", newNetNs: true, ports: [] };
    expect(resolvConf(pasta, { servers: ["1.1.1.1", "2001:db8::1"], search: [], options: [] }, host)).toBe("nameserver 1.1.1.1\nnameserver 2001:db8::1\nsearch example.org\noptions edns0\n");
    expect(resolvConf(none, { servers: [], search: ["a.test", "b.test"], options: ["ndots:2", "timeout:1"] }, host)).toBe("nameserver 127.0.0.53\nsearch a.test b.test\noptions ndots:2 timeout:1\n");
    // "." alone: no search domains at all (docker's way to drop the host's)
    expect(resolvConf(none, { servers: ["9.9.9.9"], search: ["."], options: [] }, "domain corp.test\nnameserver 10.0.0.1\n")).toBe("nameserver 9.9.9.9\n");
    expect(checkDnsFlags({ servers: ["10.0.0.1", "::1"], search: ["example.org", "."], options: ["ndots:1"] }).servers).toHaveLength(2);
    expect(bunkerErrorOf(() => checkDnsFlags({ servers: ["dns.example"], search: [], options: [] }))).toBe('invalid --dns "dns.example": give a name server\'s IP address');
    expect(bunkerErrorOf(() => checkDnsFlags({ servers: [], search: ["bad domain"], options: [] }))).toStartWith('invalid --dns-search "bad domain"');
    expect(bunkerErrorOf(() => checkDnsFlags({ servers: [], search: [], options: ["a b"] }))).toStartWith('invalid --dns-option "a b"');
  });
  test("IP addresses", () => {
    for (const ok of ["10.0.0.5", "0.0.0.0", "255.255.255.255", "::1", "2001:db8::1", "::ffff:10.0.0.1", "fe80::1"]) expect(isIpAddress(ok)).toBe(true);
    for (const bad of ["", "10.0.0", "10.0.0.256", "010.0.0.1", "1.2.3.4.5", "host", ":::1", "1::2::3", "[::1]", "12345::", "::1/64"]) expect(isIpAddress(bad)).toBe(false);
  });
  test("--add-host NAME:IP (or NAME=IP) goes before the container's own line, and into the host's file", () => {
    const extra = parseAddHosts(["db:10.0.0.5", "v6=::1", "bracketed:[2001:db8::2]"]);
    expect(extra).toEqual([
      { name: "db", ip: "10.0.0.5" },
      { name: "v6", ip: "::1" },
      { name: "bracketed", ip: "2001:db8::2" },
    ]);
    expect(hostsFile({ mode: "none", newNetNs: true, ports: [] }, "abc123", extra)).toEndWith("ff02::2\tip6-allrouters\n10.0.0.5\tdb\n::1\tv6\n2001:db8::2\tbracketed\n127.0.1.1\tabc123\n");
    expect(hostsFile({ mode: "host", newNetNs: false, ports: [] }, "box", extra.slice(0, 1), "127.0.0.1 localhost\n10.0.0.5 box\n")).toBe("127.0.0.1 localhost\n10.0.0.5 box\n10.0.0.5\tdb\n");
    for (const bad of ["db", "db:", ":10.0.0.1", "db:10.0.0", "a b:10.0.0.1", "db:host"]) expect(bunkerErrorOf(() => parseAddHosts([bad]))).toBe(`invalid --add-host "${bad}": use NAME:IP, as in db:10.0.0.5`);
    expect(bunkerErrorOf(() => parseAddHosts(["gw:host-gateway"]))).toContain("host-gateway is not available");
  });
  test("hosts: localhost and the container's name; the host's file with host networking", () => {
    const none = hostsFile({ mode: "none", newNetNs: true, ports: [] }, "abc123");
    expect(none).toContain("127.0.0.1\tlocalhost\n");
    expect(none).toEndWith("127.0.1.1\tabc123\n");
    expect(hostsFile({ mode: "host", newNetNs: false, ports: [] }, "box", [], "127.0.0.1 localhost\n10.0.0.5 box\n")).toBe("127.0.0.1 localhost\n10.0.0.5 box\n");
    expect(hostsFile({ mode: "host", newNetNs: false, ports: [] }, "other", [], "127.0.0.1 localhost")).toBe("127.0.0.1 localhost\n127.0.1.1\tother\n");
  });
});
