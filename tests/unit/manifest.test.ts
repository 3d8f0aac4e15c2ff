import { describe, expect, test } from "bun:test";
import { BunkerError } from "../../src/errors";
import {
  formatPlatform,
  hostPlatform,
  type ImageIndex,
  layerCompression,
  layerMediaType,
  parseImageConfig,
  parseManifestDocument,
  parsePlatform,
  platformMatches,
  selectManifest,
} from "../../src/image/manifest";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const d = (c: string) => `sha256:${c.repeat(64)}`;
const OCI_M = "application/vnd.oci.image.manifest.v1+json";
const OCI_I = "application/vnd.oci.image.index.v1+json";

function manifest(layerType = "application/vnd.oci.image.layer.v1.tar+gzip", extra: Record<string, unknown> = {}) {
  return {
    schemaVersion: 2,
    mediaType: OCI_M,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: d("c"), size: 10 },
    layers: [{ mediaType: layerType, digest: d("a"), size: 100, ...extra }],
  };
}

function fails(fn: () => unknown, re: RegExp) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BunkerError);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message.includes("\n")).toBe(false);
}

describe("parseManifestDocument", () => {
  test("OCI manifest", () => {
    const m = parseManifestDocument(enc(manifest()), OCI_M);
    expect(m).toEqual({
      kind: "manifest",
      mediaType: OCI_M,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: d("c"), size: 10 },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: d("a"), size: 100 }],
    });
  });

  test("the body's mediaType wins over a wrong Content-Type; a body without one is known by its shape", () => {
    expect(parseManifestDocument(enc(manifest()), "application/octet-stream").kind).toBe("manifest");
    const { mediaType: _m, ...bare } = manifest();
    expect(parseManifestDocument(enc(bare), "text/plain").kind).toBe("manifest");
    expect(parseManifestDocument(enc({ schemaVersion: 2, manifests: [] }), "").kind).toBe("index");
  });

  test("Docker schema 2 manifest and manifest list", () => {
    const v2 = {
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: d("c"), size: 1 },
      layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: d("a"), size: 2 }],
    };
    expect(parseManifestDocument(enc(v2), v2.mediaType).kind).toBe("manifest");
    const list = {
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
      manifests: [{ mediaType: v2.mediaType, digest: d("b"), size: 3, platform: { os: "linux", architecture: "amd64" } }],
    };
    const idx = parseManifestDocument(enc(list), list.mediaType);
    expect(idx.kind).toBe("index");
    expect((idx as ImageIndex).manifests[0].platform).toEqual({ os: "linux", architecture: "amd64" });
  });

  test("every layer type bunker unpacks", () => {
    for (const [t, c] of [
      ["application/vnd.oci.image.layer.v1.tar", "none"],
      ["application/vnd.oci.image.layer.v1.tar+gzip", "gzip"],
      ["application/vnd.oci.image.layer.v1.tar+zstd", "zstd"],
      ["application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip"],
    ] as const) {
      expect(parseManifestDocument(enc(manifest(t)), OCI_M).kind).toBe("manifest");
      expect(layerCompression(t)).toBe(c);
    }
  });

  test("a layer media type for a blob's compression, in the family of the one it replaces", () => {
    const docker = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    const oci = "application/vnd.oci.image.layer.v1.tar+zstd";
    expect(layerMediaType("gzip", oci)).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    expect(layerMediaType("none", oci)).toBe("application/vnd.oci.image.layer.v1.tar");
    expect(layerMediaType("none", docker)).toBe("application/vnd.docker.image.rootfs.diff.tar");
    expect(layerMediaType("gzip", "application/vnd.docker.image.rootfs.diff.tar")).toBe(docker);
    expect(layerMediaType("zstd", docker)).toBe(oci); // Docker's family has no zstd type its tools know
    for (const c of ["none", "gzip", "zstd"] as const) for (const like of [docker, oci]) expect(layerCompression(layerMediaType(c, like))).toBe(c);
  });

  test("bad documents are one-line errors", () => {
    fails(() => parseManifestDocument(enc("<html>oops</html>"), OCI_M), /the manifest is not JSON \(starts with "<html>/);
    fails(() => parseManifestDocument(new Uint8Array([0xff, 0xfe, 0x00]), OCI_M), /not JSON/);
    fails(() => parseManifestDocument(enc("[1,2]"), OCI_M), /not a JSON object/);
    fails(() => parseManifestDocument(enc({ schemaVersion: 1, name: "x" }), "application/vnd.docker.distribution.manifest.v1+prettyjws"), /schema 1/);
    fails(() => parseManifestDocument(enc({ ...manifest(), schemaVersion: 3 }), OCI_M), /schemaVersion/);
    fails(() => parseManifestDocument(enc({ ...manifest(), mediaType: "application/x-weird" }), OCI_M), /unsupported manifest media type "application\/x-weird"/);
    fails(() => parseManifestDocument(enc(manifest("application/vnd.example.thing")), OCI_M), /unsupported layer media type "application\/vnd.example.thing"/);
    fails(
      () => parseManifestDocument(enc(manifest("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", { urls: ["https://x/y"] })), OCI_M),
      /foreign \(non-distributable\) layer/,
    );
    fails(() => parseManifestDocument(enc({ ...manifest(), layers: [{ mediaType: OCI_M, digest: "sha256:zz", size: 1 }] }), OCI_M), /malformed digest/);
    fails(() => parseManifestDocument(enc({ ...manifest(), layers: [{ mediaType: OCI_M, digest: d("a"), size: -1 }] }), OCI_M), /valid size/);
    fails(() => parseManifestDocument(enc({ ...manifest(), layers: "x" }), OCI_M), /no layers list/);
    fails(
      () => parseManifestDocument(enc({ ...manifest(), config: { mediaType: "application/vnd.example.artifact", digest: d("c"), size: 1 } }), OCI_M),
      /unsupported config media type/,
    );
  });
});

describe("platforms", () => {
  const entry = (c: string, platform?: Record<string, string>, mediaType = OCI_M) => ({ mediaType, digest: d(c), size: 1, ...(platform ? { platform } : {}) });
  const index = parseManifestDocument(
    enc({
      schemaVersion: 2,
      mediaType: OCI_I,
      manifests: [
        entry("1", { os: "linux", architecture: "amd64" }),
        entry("2", { os: "linux", architecture: "arm", variant: "v6" }),
        entry("3", { os: "linux", architecture: "arm", variant: "v7" }),
        entry("4", { os: "linux", architecture: "arm64", variant: "v8" }),
        entry("5", { os: "unknown", architecture: "unknown" }),
        entry("6", { os: "windows", architecture: "amd64" }),
      ],
    }),
    OCI_I,
  ) as ImageIndex;

  test("selection by os, architecture and variant", () => {
    expect(selectManifest(index, { os: "linux", architecture: "amd64" }).digest).toBe(d("1"));
    expect(selectManifest(index, parsePlatform("linux/arm/v7")).digest).toBe(d("3"));
    expect(selectManifest(index, parsePlatform("linux/arm/v6")).digest).toBe(d("2"));
    expect(selectManifest(index, parsePlatform("linux/arm64")).digest).toBe(d("4"));
    expect(selectManifest(index, parsePlatform("linux/aarch64")).digest).toBe(d("4"));
    expect(selectManifest(index, parsePlatform("arm64")).digest).toBe(d("4"));
    expect(selectManifest(index, parsePlatform("windows/amd64")).digest).toBe(d("6"));
  });

  test("no match lists what exists (without attestation entries)", () => {
    fails(
      () => selectManifest(index, parsePlatform("linux/s390x")),
      /^no image for platform linux\/s390x in this index; it has linux\/amd64, linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\/v8, windows\/amd64 \(choose one with --platform\)$/,
    );
    fails(() => selectManifest(index, parsePlatform("linux/arm/v5")), /linux\/arm\/v5/);
  });

  test("a single entry without a platform is taken", () => {
    const one = { kind: "index" as const, mediaType: OCI_I, manifests: [{ mediaType: OCI_M, digest: d("9"), size: 1 }] };
    expect(selectManifest(one, hostPlatform()).digest).toBe(d("9"));
  });

  test("platformMatches: os and architecture, the variant when one is wanted", () => {
    const p = (s: string) => parsePlatform(s);
    expect(platformMatches(p("linux/amd64"), p("linux/amd64"))).toBe(true);
    expect(platformMatches(p("linux/amd64/v3"), p("linux/amd64"))).toBe(true);
    expect(platformMatches(p("linux/arm64"), p("linux/arm64/v8"))).toBe(true);
    expect(platformMatches(p("linux/arm/v7"), p("linux/arm/v6"))).toBe(false);
    expect(platformMatches(p("linux/arm/v7"), p("linux/arm"))).toBe(true);
    expect(platformMatches(p("linux/amd64"), p("linux/arm64"))).toBe(false);
    expect(platformMatches(p("windows/amd64"), p("linux/amd64"))).toBe(false);
  });

  test("parsePlatform and formatPlatform", () => {
    expect(parsePlatform("linux/arm64/v8")).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
    expect(parsePlatform("Linux/AMD64")).toEqual({ os: "linux", architecture: "amd64" });
    expect(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" })).toBe("linux/arm/v7");
    for (const bad of ["", "linux/", "/amd64", "a/b/c/d", "linux/am d64"]) fails(() => parsePlatform(bad), /invalid platform/);
  });

  test("hostPlatform is this machine", () => {
    const p = hostPlatform();
    expect(p.os).toBe("linux");
    expect(p.architecture).toBe(process.arch === "x64" ? "amd64" : process.arch);
  });
});

describe("parseImageConfig", () => {
  const good = {
    architecture: "amd64",
    os: "linux",
    config: { Env: ["PATH=/bin"], Cmd: ["sh"], Entrypoint: null, User: "1000" },
    rootfs: { type: "layers", diff_ids: [d("a")] },
  };
  test("a valid config", () => {
    const c = parseImageConfig(enc(good));
    expect(c.rootfs.diff_ids).toEqual([d("a")]);
    expect(c.config?.Cmd).toEqual(["sh"]);
    expect(parseImageConfig(enc({ ...good, config: null })).config).toBeUndefined();
  });
  test("invalid configs", () => {
    fails(() => parseImageConfig(enc("nope")), /image config is not JSON/);
    fails(() => parseImageConfig(enc({ ...good, os: undefined })), /no os/);
    fails(() => parseImageConfig(enc({ ...good, architecture: 3 })), /no architecture/);
    fails(() => parseImageConfig(enc({ ...good, rootfs: { type: "layers" } })), /rootfs/);
    fails(() => parseImageConfig(enc({ ...good, rootfs: { type: "layers", diff_ids: ["sha256:x"] } })), /malformed diff_id/);
    fails(() => parseImageConfig(enc({ ...good, config: { Cmd: "sh" } })), /config.Cmd must be a list of strings/);
    fails(() => parseImageConfig(enc({ ...good, config: { User: 0 } })), /config.User must be a string/);
  });
});
