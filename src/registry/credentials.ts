// Registry credentials from the files docker and podman keep them in.
//
// API:
//   findCredentials(registry, { authFile?, repository? }) → { username, password } | undefined
//     Files, first with an entry wins: opts.authFile (--authfile), $REGISTRY_AUTH_FILE, podman's
//     $XDG_RUNTIME_DIR/containers/auth.json and ~/.config/containers/auth.json, then docker's
//     $DOCKER_CONFIG/config.json if DOCKER_CONFIG is set, else ~/.docker/config.json.
//     In each file: credHelpers[registry] → `docker-credential-<helper> get`; then auths (a
//     "host/namespace/repo" key beats a "host/namespace" one, which beats "host"; keys may be URLs
//     like "https://index.docker.io/v1/"), with `auth` (base64 user:pass) or username/password;
//     then credsStore → its helper.
//   helperFor(cfg, registry), storeWithHelper(helper, registry, creds), eraseWithHelper(helper, registry):
//     login/logout through the helper a config names (credHelpers, then credsStore), as docker does.
//   credentialsFileForWrite(authFile?) → the file `bunker login` writes: --authfile,
//     $REGISTRY_AUTH_FILE, else docker's config.json.
//   dockerHubServerUrl  → the server name docker's helpers store Docker Hub under.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { BunkerError } from "../errors";
import { DOCKER_HUB, normalizeRegistryName } from "../image/reference";

export interface Credentials {
  username: string;
  password: string;
}

export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

export interface AuthConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  /** everything else docker keeps there (kept as is when login rewrites the file) */
  [other: string]: unknown;
}

export const dockerHubServerUrl = "https://index.docker.io/v1/";

/** docker's own file: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
function dockerConfigFile(): string {
  return process.env.DOCKER_CONFIG ? join(process.env.DOCKER_CONFIG, "config.json") : join(process.env.HOME || homedir(), ".docker", "config.json");
}

/** The files to search, most specific first. podman's own auth.json files are read too, as podman reads them. */
export function credentialFiles(authFile?: string): string[] {
  const files: string[] = [];
  if (authFile) files.push(authFile);
  if (process.env.REGISTRY_AUTH_FILE) files.push(process.env.REGISTRY_AUTH_FILE);
  if (process.env.XDG_RUNTIME_DIR) files.push(join(process.env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  files.push(join(process.env.XDG_CONFIG_HOME || join(process.env.HOME || homedir(), ".config"), "containers", "auth.json"));
  files.push(dockerConfigFile());
  return files;
}

/** Where login writes: --authfile, $REGISTRY_AUTH_FILE, else docker's config.json (as docker login does). */
export function credentialsFileForWrite(authFile?: string): string {
  return authFile || process.env.REGISTRY_AUTH_FILE || dockerConfigFile();
}

export function readAuthConfig(file: string): AuthConfigFile | undefined {
  if (!existsSync(file)) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new BunkerError(`cannot read credentials file ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new BunkerError(`credentials file ${file} is not a JSON object`);
  return doc as AuthConfigFile;
}

function decodeEntry(entry: AuthEntry, key: string, file: string): Credentials | undefined {
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const text = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = text.indexOf(":");
    if (colon < 0) throw new BunkerError(`credentials for ${key} in ${file} are malformed (auth is not base64 of user:password)`);
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string") return { username: entry.username, password: entry.password };
  return undefined; // an empty entry marks credentials kept in credsStore
}

/** Runs `docker-credential-NAME ACTION` with input on stdin (the helper protocol); undefined for "not found". */
function runHelper(helper: string, action: "get" | "store" | "erase", input: string, server: string): string | undefined {
  const program = `docker-credential-${helper}`;
  const path = Bun.which(program, { PATH: process.env.PATH ?? "" });
  if (!path) throw new BunkerError(`credential helper ${program} is configured but not found in PATH`);
  const p = Bun.spawnSync([path, action], { stdin: Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString().trim();
  if (p.exitCode !== 0) {
    // The protocol's answer for "no entry" is this message on stdout with a failing status.
    if (/credentials not found/i.test(out)) return undefined;
    throw new BunkerError(`credential helper ${program} failed to ${action} credentials for ${server}: ${(out || p.stderr.toString()).trim().split("\n")[0]}`);
  }
  return out;
}

/** The server name helpers know a registry by (docker's legacy URL for Docker Hub). */
function helperServer(registry: string): string {
  return registry === DOCKER_HUB ? dockerHubServerUrl : registry;
}

/** The helper a config file names for a registry: credHelpers[registry], else credsStore. */
export function helperFor(cfg: AuthConfigFile, registry: string): string | undefined {
  return (cfg.credHelpers && Object.entries(cfg.credHelpers).find(([k]) => normalizeKey(k) === registry)?.[1]) || cfg.credsStore || undefined;
}

/** `bunker login` with a helper configured: the secret goes to the helper, not into the file. */
export function storeWithHelper(helper: string, registry: string, creds: Credentials): void {
  const server = helperServer(registry);
  runHelper(helper, "store", JSON.stringify({ ServerURL: server, Username: creds.username, Secret: creds.password }), server);
}

/** `bunker logout` with a helper configured; false when the helper had nothing. */
export function eraseWithHelper(helper: string, registry: string): boolean {
  const server = helperServer(registry);
  return runHelper(helper, "erase", server, server) !== undefined;
}

function fromHelper(helper: string, server: string): Credentials | undefined {
  const program = `docker-credential-${helper}`;
  const out = runHelper(helper, "get", server, server);
  if (out === undefined) return undefined;
  let doc: { Username?: unknown; Secret?: unknown };
  try {
    doc = JSON.parse(out);
  } catch {
    throw new BunkerError(`credential helper ${program} printed something that is not JSON`);
  }
  if (typeof doc.Username !== "string" || typeof doc.Secret !== "string") throw new BunkerError(`credential helper ${program} gave no Username/Secret`);
  return { username: doc.Username, password: doc.Secret };
}

/** auths keys, normalized: "https://index.docker.io/v1/" → "docker.io", "http://h:5000/ns" → "h:5000/ns". */
function normalizeKey(key: string): string {
  const noScheme = key.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
  const slash = noScheme.indexOf("/");
  const host = normalizeRegistryName(slash < 0 ? noScheme : noScheme.slice(0, slash));
  const path = slash < 0 ? "" : noScheme.slice(slash + 1);
  // Docker Hub's legacy "/v1" path names the whole registry, not a namespace.
  return path === "" || (host === DOCKER_HUB && path === "v1") ? host : `${host}/${path}`;
}

function lookupInFile(cfg: AuthConfigFile, file: string, registry: string, repository?: string): Credentials | undefined {
  const server = helperServer(registry);
  const helper = cfg.credHelpers && Object.entries(cfg.credHelpers).find(([k]) => normalizeKey(k) === registry)?.[1];
  if (helper) return fromHelper(helper, server);
  const auths = Object.entries(cfg.auths ?? {}).map(([k, v]) => [normalizeKey(k), v, k] as const);
  // Most specific key first: registry/ns/repo, registry/ns, registry.
  const wanted = [registry];
  if (repository) {
    const parts = repository.split("/");
    for (let i = 1; i <= parts.length; i++) wanted.unshift(`${registry}/${parts.slice(0, i).join("/")}`);
  }
  for (const w of wanted) {
    const hit = auths.find(([k]) => k === w);
    if (hit) {
      const creds = decodeEntry(hit[1] ?? {}, hit[2], file);
      if (creds) return creds;
    }
  }
  if (cfg.credsStore) return fromHelper(cfg.credsStore, server);
  return undefined;
}

export function findCredentials(registry: string, opts: { authFile?: string; repository?: string } = {}): Credentials | undefined {
  for (const file of credentialFiles(opts.authFile)) {
    const cfg = readAuthConfig(file);
    if (!cfg) continue;
    const creds = lookupInFile(cfg, file, registry, opts.repository);
    if (creds) return creds;
  }
  return undefined;
}
