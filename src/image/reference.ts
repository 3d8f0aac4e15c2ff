// Image references, parsed and normalized the way docker does (distribution's reference grammar).
//
// API (used by pull, run, images, tag, push...):
//   parseReference("alpine")               → { registry: "docker.io", repository: "library/alpine", tag: "latest" }
//   parseReference("host:5000/ns/x@sha256:…") → { registry: "host:5000", repository: "ns/x", digest: "sha256:…" }
//     A tag defaults to "latest" only when there is no digest; "name:tag@digest" keeps both.
//     Throws BunkerError (one line) for bad characters, uppercase, empty parts, a name longer than
//     255 characters, a tag longer than 128, a malformed digest, or a bare 64-hex image id.
//   formatReference(r)   → "docker.io/library/alpine:latest" (fully qualified, tag then digest)
//   familiarName(r)      → the repository as docker shows it: "alpine", "user/app", "127.0.0.1:5000/x"
//   familiarReference(r) → familiarName plus ":tag" / "@digest": "alpine:latest"
//   registryEndpoint(registry) → the host to talk to: docker.io's API lives at registry-1.docker.io
//   isValidRepository(path) / isValidTag(tag) / validateDigest(digest) → the grammar's checks
import { BunkerError } from "../errors";

export interface ImageReference {
  /** "docker.io", "ghcr.io", "127.0.0.1:5000", "localhost" */
  registry: string;
  /** path in the registry: "library/alpine", "user/app" */
  repository: string;
  tag?: string;
  /** "sha256:<64 hex>" */
  digest?: string;
}

export const DOCKER_HUB = "docker.io";
const DOCKER_HUB_API = "registry-1.docker.io";
/** Other spellings of Docker Hub that users and old config files use. */
const DOCKER_HUB_ALIASES = new Set(["index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

// The grammar of github.com/distribution/reference (regexp.go).
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|-+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const NAME_MAX = 255;

function bad(input: string, why: string): never {
  throw new BunkerError(`invalid reference format "${input}": ${why}`);
}

/** Checks "algo:hex" (sha256/384/512 with the right length of lowercase hex). */
export function validateDigest(digest: string, input = digest): string {
  const colon = digest.indexOf(":");
  const algo = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  if (colon < 0 || !DIGEST_RE.test(digest)) bad(input, `"${digest}" is not a digest (expected sha256:<64 hex digits>)`);
  const len = DIGEST_HEX_LENGTH[algo];
  if (len === undefined) bad(input, `unsupported digest algorithm "${algo}"`);
  if (hex.length !== len || !/^[a-f0-9]+$/.test(hex)) bad(input, `a ${algo} digest has ${len} lowercase hex digits`);
  return digest;
}

/** Splits "host[:port]/path" the way docker does: the first component is a registry only if it looks like a host. */
function splitDomain(name: string): [string, string] {
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  const isHost = first !== "" && (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase());
  let registry = isHost ? first : DOCKER_HUB;
  let repository = isHost ? name.slice(slash + 1) : name;
  if (DOCKER_HUB_ALIASES.has(registry)) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;
  return [registry, repository];
}

export function parseReference(input: string): ImageReference {
  if (input === "") bad(input, "the image name is empty");
  if (/\s/.test(input)) bad(input, "it contains whitespace");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = validateDigest(rest.slice(at + 1), input);
    rest = rest.slice(0, at);
    if (rest === "") bad(input, "the image name before @ is empty");
  }
  // A ':' after the last '/' starts the tag; one before it belongs to host:port.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) bad(input, `"${tag}" is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')`);
  }
  if (rest === "") bad(input, "the image name is empty");
  if (rest.length > NAME_MAX) bad(input, `the repository name is longer than ${NAME_MAX} characters`);
  if (/^[a-f0-9]{64}$/.test(rest) && tag === undefined && digest === undefined)
    bad(input, "a 64-character hex string is an image id, not a repository name");
  const [registry, repository] = splitDomain(rest);
  if (!DOMAIN_RE.test(registry)) bad(input, `"${registry}" is not a valid registry host`);
  if (repository === "" || `/${repository}/`.includes("//")) bad(input, "the repository path has an empty component");
  if (repository !== repository.toLowerCase()) bad(input, "repository name must be lowercase");
  if (!PATH_RE.test(repository))
    bad(input, "repository names use lowercase letters, digits and single separators ('.', '_', '__', '-') between them");
  if (tag === undefined && digest === undefined) tag = "latest";
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** For callers that build registry URLs from parts: the same rules parseReference applies. */
export function isValidRepository(repository: string): boolean {
  return repository.length <= NAME_MAX && PATH_RE.test(repository);
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}

export function familiarName(r: Pick<ImageReference, "registry" | "repository">): string {
  if (r.registry !== DOCKER_HUB) return `${r.registry}/${r.repository}`;
  return r.repository.startsWith("library/") && r.repository.indexOf("/", 8) < 0 ? r.repository.slice(8) : r.repository;
}

export function familiarReference(r: ImageReference): string {
  return `${familiarName(r)}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}

/** The host serving the registry API for a reference's registry (Docker Hub's differs from its name). */
export function registryEndpoint(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Normalizes a registry name given by a user or a config file ("https://index.docker.io/v1/" → "docker.io"). */
export function normalizeRegistryName(name: string): string {
  const host = name.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}
