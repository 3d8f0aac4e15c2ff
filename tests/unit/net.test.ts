import { describe, expect, test } from "bun:test";
import { bunkerErrorOf } from "../support/errors";
import { hostsFile, type NetworkHost, parsePublish, planNetwork, portBindings, publishedBindings, resolvConf } from "../../src/net";


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
    expect(resolvConf({ mode: "host", newNetNs: false, ports: [] }, host)).toBe(host);
    expect(resolvConf({ mode: "pasta", newNetNs: true, ports: [] }, host)).toBe("nameserver 169.254.1.1\nsearch example.org\noptions edns0\n");
    expect(resolvConf({ mode: "slirp4netns", newNetNs: true, ports: [] }, host)).toStartWith("nameserver 10.0.2.3\n");
  });
  test("hosts: localhost and the container's name; the host's file with host networking", () => {
    const none = hostsFile({ mode: "none", newNetNs: true, ports: [] }, "abc123");
    expect(none).toContain("127.0.0.1\tlocalhost\n");
    expect(none).toEndWith("127.0.1.1\tabc123\n");
    expect(hostsFile({ mode: "host", newNetNs: false, ports: [] }, "box", "127.0.0.1 localhost\n10.0.0.5 box\n")).toBe("127.0.0.1 localhost\n10.0.0.5 box\n");
    expect(hostsFile({ mode: "host", newNetNs: false, ports: [] }, "other", "127.0.0.1 localhost")).toBe("127.0.0.1 localhost\n127.0.1.1\tother\n");
  });
});
