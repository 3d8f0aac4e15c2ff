// Manifests, indexes, image configs and platforms: parsed from untrusted registry bytes and
// validated before anything else looks at them.
//
// API:
//   parseManifestDocument(bytes, mediaType) → ImageManifest | ImageIndex
//     OCI manifest, Docker schema 2 manifest, OCI index, Docker manifest list. The body's own
//     `mediaType` wins over the Content-Type the registry sent (registries get it wrong); a body
//     without one is told apart by its fields. Every descriptor's digest and size are checked, and
//     every layer's media type must be one bunker can unpack (tar, tar+gzip, tar+zstd; Docker's and
//     OCI's spellings). Foreign/non-distributable layers are refused with a clear error.
//   selectManifest(index, platform) → the Descriptor of the best match (os, architecture, variant;
//     arm64 without a variant matches v8), or a BunkerError listing the platforms the index has.
//   hostPlatform()  → linux/amd64, linux/arm64/v8, linux/arm/v7…
//   parsePlatform("linux/arm64/v8") → { os, architecture, variant }   (also "arm64", "linux/aarch64")
//   formatPlatform(p) → "linux/arm64/v8"
//   parseImageConfig(bytes) → ImageConfig (os, architecture, rootfs.diff_ids validated)
//   layerCompression(mediaType) → "gzip" | "zstd" | "none" (what the media type claims; unpacking
//     still sniffs the bytes)
import { BunkerError } from "../errors";
import { validateDigest } from "./reference";

export type Platform = { os: string; architecture: string; variant?: string };

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  urls?: string[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  kind: "manifest";
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  kind: "index";
  mediaType: string;
  manifests: Descriptor[];
}

/** The OCI image config: the fields bunker reads (the stored blob keeps everything). */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    [key: string]: unknown;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
}

export const MediaTypes = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** Every manifest type bunker reads, for the registry's Accept header. */
export const ACCEPTED_MANIFEST_TYPES = [MediaTypes.ociIndex, MediaTypes.dockerList, MediaTypes.ociManifest, MediaTypes.dockerManifest];

const MANIFEST_TYPES = new Set<string>([MediaTypes.ociManifest, MediaTypes.dockerManifest]);
const INDEX_TYPES = new Set<string>([MediaTypes.ociIndex, MediaTypes.dockerList]);
const CONFIG_TYPES = new Set<string>([MediaTypes.ociConfig, MediaTypes.dockerConfig]);

const LAYER_COMPRESSION: Record<string, "none" | "gzip" | "zstd"> = {
  "application/vnd.oci.image.layer.v1.tar": "none",
  "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
  "application/vnd.docker.image.rootfs.diff.tar": "none",
  "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
  "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
};
/**
 * The media type for a layer blob compressed this way, in the family (Docker or OCI) of `like`:
 * for an image whose layer is stored from another image's blob of the same content.
 */
export function layerMediaType(compression: "none" | "gzip" | "zstd", like: string): string {
  // Docker's family has no zstd type that its own tools know; OCI's has every kind.
  if (like.startsWith("application/vnd.docker.") && compression !== "zstd")
    return compression === "gzip" ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.docker.image.rootfs.diff.tar";
  return `application/vnd.oci.image.layer.v1.tar${compression === "none" ? "" : `+${compression}`}`;
}

const FOREIGN_LAYER_TYPES = new Set([
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
]);

/** What a layer's media type says about its compression; throws for types bunker can't unpack. */
export function layerCompression(mediaType: string): "none" | "gzip" | "zstd" {
  const c = LAYER_COMPRESSION[mediaType];
  if (c !== undefined) return c;
  if (FOREIGN_LAYER_TYPES.has(mediaType))
    throw new BunkerError(`the image has a foreign (non-distributable) layer (${mediaType}); bunker only pulls layers the registry itself serves`);
  throw new BunkerError(`unsupported layer media type "${mediaType}"`);
}

function invalid(what: string): never {
  throw new BunkerError(`invalid manifest: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    const preview = new TextDecoder().decode(bytes.subarray(0, 40)).replace(/[^\x20-\x7e]/g, "?");
    throw new BunkerError(`the ${what} is not JSON (starts with "${preview}")`);
  }
  if (!isObject(doc)) throw new BunkerError(`the ${what} is not a JSON object`);
  return doc;
}

function parsePlatformObject(v: unknown, where: string): Platform | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || typeof v.os !== "string" || typeof v.architecture !== "string") invalid(`${where} has a malformed platform`);
  return { os: v.os, architecture: v.architecture, ...(typeof v.variant === "string" && v.variant !== "" ? { variant: v.variant } : {}) };
}

function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) invalid(`${where} is not an object`);
  const { mediaType, digest, size, urls, annotations } = v;
  if (typeof mediaType !== "string" || mediaType === "") invalid(`${where} has no mediaType`);
  if (typeof digest !== "string") invalid(`${where} has no digest`);
  try {
    validateDigest(digest);
  } catch {
    invalid(`${where} has a malformed digest "${String(digest).slice(0, 80)}"`);
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) invalid(`${where} has no valid size`);
  const platform = parsePlatformObject(v.platform, where);
  if (urls !== undefined && (!Array.isArray(urls) || urls.some((u) => typeof u !== "string"))) invalid(`${where} has malformed urls`);
  return {
    mediaType,
    digest,
    size,
    ...(platform ? { platform } : {}),
    ...(urls ? { urls: urls as string[] } : {}),
    ...(isObject(annotations) ? { annotations: annotations as Record<string, string> } : {}),
  };
}

/** The media type of a document: its own field, then the transport's, then its shape. */
function documentType(doc: Record<string, unknown>, transportType: string): string {
  if (typeof doc.mediaType === "string" && doc.mediaType !== "") return doc.mediaType;
  const t = transportType.split(";")[0].trim().toLowerCase();
  if (MANIFEST_TYPES.has(t) || INDEX_TYPES.has(t)) return t;
  // OCI allows omitting mediaType; the fields tell what it is.
  if (Array.isArray(doc.manifests)) return MediaTypes.ociIndex;
  if (isObject(doc.config) && Array.isArray(doc.layers)) return MediaTypes.ociManifest;
  return t;
}

export function parseManifestDocument(bytes: Uint8Array, mediaType: string): ImageManifest | ImageIndex {
  const doc = parseJson(bytes, "manifest");
  const type = documentType(doc, mediaType);
  if (doc.schemaVersion === 1 || type === MediaTypes.dockerSchema1 || type === MediaTypes.dockerSchema1Signed)
    throw new BunkerError("the image uses Docker's deprecated schema 1 manifest, which bunker does not support; push it again with a current tool");
  if (doc.schemaVersion !== 2) invalid(`schemaVersion is ${JSON.stringify(doc.schemaVersion)}, expected 2`);
  if (INDEX_TYPES.has(type)) {
    if (!Array.isArray(doc.manifests)) invalid("the index has no manifests list");
    return { kind: "index", mediaType: type, manifests: doc.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`)) };
  }
  if (MANIFEST_TYPES.has(type)) {
    const config = parseDescriptor(doc.config, "config");
    if (!Array.isArray(doc.layers)) invalid("the manifest has no layers list");
    const layers = doc.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`));
    // Refuse what can't be unpacked now, before any download starts.
    for (const l of layers) layerCompression(l.mediaType);
    if (!CONFIG_TYPES.has(config.mediaType))
      throw new BunkerError(`unsupported config media type "${config.mediaType}" (not a container image; an artifact?)`);
    return { kind: "manifest", mediaType: type, config, layers };
  }
  throw new BunkerError(`unsupported manifest media type "${type || "(none)"}"`);
}

/** Docker's and Go's architecture names, as registries write them. */
const ARCH_ALIASES: Record<string, string> = { x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64", armhf: "arm", armel: "arm", i386: "386", i686: "386" };

function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (p.architecture === "armhf") variant ??= "v7";
  if (p.architecture === "armel") variant ??= "v6";
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  if (architecture === "arm64" && variant === "v8") variant = undefined; // arm64 means v8
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function hostPlatform(): Platform {
  const byNode: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  const architecture = byNode[process.arch] ?? process.arch;
  if (architecture === "arm") {
    // Node reports the ARM version it was built for; v7 is what nearly every 32-bit ARM Linux runs.
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    return { os: "linux", architecture, variant: `v${v ?? "7"}` };
  }
  return { os: "linux", architecture, ...(architecture === "arm64" ? { variant: "v8" } : {}) };
}

/** "linux/arm64/v8", "linux/amd64", or just "arm64" (linux implied), as --platform takes them. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split("/");
  if (parts.some((x) => x === "" || !/^[A-Za-z0-9._-]+$/.test(x)) || parts.length > 3)
    throw new BunkerError(`invalid platform "${s}": expected os/arch[/variant], for example linux/arm64/v8`);
  const [os, architecture, variant] = parts.length === 1 ? ["linux", parts[0]] : parts;
  return { os: os.toLowerCase(), architecture: architecture.toLowerCase(), ...(variant ? { variant: variant.toLowerCase() } : {}) };
}

/**
 * Whether an image of platform `have` serves a `want`: same os and architecture, and the variant
 * when one is wanted (amd64's variants are levels of one instruction set: any will do).
 */
export function platformMatches(have: Platform, want: Platform): boolean {
  const h = normalizePlatform(have);
  const w = normalizePlatform(want);
  return h.os === w.os && h.architecture === w.architecture && (w.variant === undefined || w.architecture === "amd64" || h.variant === w.variant);
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/**
 * The index entry for a platform. A wanted variant must match exactly (after arm64=v8); with no
 * variant wanted, the first entry of that os/arch wins, as containerd does. Attestations
 * ("unknown/unknown" entries) never match a real platform.
 */
export function selectManifest(index: ImageIndex, p: Platform): Descriptor {
  const want = normalizePlatform(p);
  const candidates = index.manifests.filter((d) => d.platform && MANIFEST_TYPES.has(d.mediaType));
  const sameArch = candidates.filter((d) => {
    const have = normalizePlatform(d.platform as Platform);
    return have.os === want.os && have.architecture === want.architecture;
  });
  const exact = sameArch.find((d) => normalizePlatform(d.platform as Platform).variant === want.variant);
  const pick = exact ?? (want.variant === undefined || want.architecture === "amd64" ? sameArch[0] : undefined);
  if (pick) return pick;
  // An entry without a platform is the only choice a single-image index gives.
  const unlabeled = index.manifests.filter((d) => !d.platform && MANIFEST_TYPES.has(d.mediaType));
  if (unlabeled.length === 1 && candidates.length === 0) return unlabeled[0];
  const have = [...new Set(candidates.map((d) => formatPlatform(d.platform as Platform)).filter((s) => !s.startsWith("unknown/")))];
  throw new BunkerError(
    `no image for platform ${formatPlatform(p)} in this index; it has ${have.length ? have.join(", ") : "no platform-specific images"} (choose one with --platform)`,
  );
}

export function parseImageConfig(bytes: Uint8Array): ImageConfig {
  const doc = parseJson(bytes, "image config");
  const bad = (what: string): never => {
    throw new BunkerError(`invalid image config: ${what}`);
  };
  if (typeof doc.architecture !== "string" || doc.architecture === "") bad("no architecture");
  if (typeof doc.os !== "string" || doc.os === "") bad("no os");
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || rootfs.type !== "layers" || !Array.isArray(rootfs.diff_ids)) bad("rootfs must be {type: layers, diff_ids: [...]}");
  for (const id of (rootfs as { diff_ids: unknown[] }).diff_ids) {
    if (typeof id !== "string") bad("a diff_id is not a string");
    try {
      validateDigest(id as string);
    } catch {
      bad(`malformed diff_id "${String(id).slice(0, 80)}"`);
    }
  }
  const config = doc.config;
  if (config !== undefined && config !== null) {
    if (!isObject(config)) bad("config is not an object");
    const c = config as Record<string, unknown>;
    const stringList = (k: string, nullable: boolean) => {
      const v = c[k];
      if (v === undefined || (nullable && v === null)) return;
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) bad(`config.${k} must be a list of strings`);
    };
    stringList("Env", true);
    stringList("Cmd", true);
    stringList("Entrypoint", true);
    for (const k of ["User", "WorkingDir", "StopSignal"]) if (c[k] !== undefined && typeof c[k] !== "string") bad(`config.${k} must be a string`);
  }
  if (doc.config === null) delete doc.config;
  return doc as unknown as ImageConfig;
}
