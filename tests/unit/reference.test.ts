import { describe, expect, test } from "bun:test";
import { BunkerError } from "../../src/errors";
import { familiarName, familiarReference, formatReference, normalizeRegistryName, parseReference, registryEndpoint } from "../../src/image/reference";

const D = `sha256:${"a".repeat(64)}`;

describe("parseReference normalizes like docker", () => {
  const cases: [string, string, string][] = [
    // input, fully qualified, familiar
    ["alpine", "docker.io/library/alpine:latest", "alpine:latest"],
    ["alpine:3.20", "docker.io/library/alpine:3.20", "alpine:3.20"],
    ["library/alpine", "docker.io/library/alpine:latest", "alpine:latest"],
    ["docker.io/alpine", "docker.io/library/alpine:latest", "alpine:latest"],
    ["index.docker.io/library/alpine", "docker.io/library/alpine:latest", "alpine:latest"],
    ["user/app", "docker.io/user/app:latest", "user/app:latest"],
    ["user/app/sub:v1", "docker.io/user/app/sub:v1", "user/app/sub:v1"],
    ["localhost/x", "localhost/x:latest", "localhost/x:latest"],
    ["localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000/x:1"],
    ["127.0.0.1:5000/ns/name:tag", "127.0.0.1:5000/ns/name:tag", "127.0.0.1:5000/ns/name:tag"],
    ["ghcr.io/owner/repo", "ghcr.io/owner/repo:latest", "ghcr.io/owner/repo:latest"],
    ["[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest"],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
    [`busybox:musl@${D}`, `docker.io/library/busybox:musl@${D}`, `busybox:musl@${D}`],
    ["ab-c__d_e/f--g.h:Tag_1.x-y", "docker.io/ab-c__d_e/f--g.h:Tag_1.x-y", "ab-c__d_e/f--g.h:Tag_1.x-y"],
    ["a.b-c/x", "a.b-c/x:latest", "a.b-c/x:latest"],
  ];
  for (const [input, full, familiar] of cases) {
    test(input, () => {
      const r = parseReference(input);
      expect(formatReference(r)).toBe(full);
      expect(familiarReference(r)).toBe(familiar);
    });
  }

  test("fields", () => {
    expect(parseReference("alpine")).toEqual({ registry: "docker.io", repository: "library/alpine", tag: "latest" });
    expect(parseReference(`h:1/x@${D}`)).toEqual({ registry: "h:1", repository: "x", digest: D });
    expect(familiarName(parseReference("127.0.0.1:5000/x"))).toBe("127.0.0.1:5000/x");
    expect(familiarName(parseReference("user/app"))).toBe("user/app");
  });

  test("Docker Hub's API endpoint and registry spellings", () => {
    expect(registryEndpoint("docker.io")).toBe("registry-1.docker.io");
    expect(registryEndpoint("ghcr.io")).toBe("ghcr.io");
    expect(normalizeRegistryName("https://index.docker.io/v1/")).toBe("docker.io");
    expect(normalizeRegistryName("http://127.0.0.1:5000")).toBe("127.0.0.1:5000");
  });
});

describe("bad references get one clear line", () => {
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["Alpine", /lowercase/],
    ["user/App", /lowercase/],
    ["alp ine", /whitespace/],
    ["alpine:", /not a valid tag/],
    ["alpine:-x", /not a valid tag/],
    [`alpine:${"t".repeat(129)}`, /not a valid tag/],
    ["alpine!", /repository names/],
    ["a//b", /empty component/],
    ["a/", /empty component/],
    ["-a", /repository names/],
    ["a..b", /repository names/],
    ["alpine@sha256:abc", /not a digest|hex digits/],
    [`alpine@sha256:${"A".repeat(64)}`, /lowercase hex/],
    [`alpine@md5:${"a".repeat(32)}`, /unsupported digest algorithm/],
    [`@${D}`, /empty/],
    ["a".repeat(64), /image id/],
    [`${"a".repeat(256)}`, /longer than 255/],
    ["bad_host.:5000/x", /registry host|repository names/],
  ];
  for (const [input, why] of bad) {
    test(JSON.stringify(input.slice(0, 40)), () => {
      let err: unknown;
      try {
        parseReference(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BunkerError);
      const msg = (err as Error).message;
      expect(msg).toMatch(why);
      expect(msg).toStartWith("invalid reference format");
      expect(msg.includes("\n")).toBe(false);
    });
  }
});
