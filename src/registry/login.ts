// bunker login / logout: check credentials against the registry, then keep them where docker does.
//
// API:
//   login(server, { username, password, authFile?, tlsVerify? }) → the file written
//     Verifies first (RegistryClient.checkLogin), then stores auths[key] = { auth: base64(user:pass) }
//     in credentialsFileForWrite(authFile): --authfile, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json
//     or ~/.docker/config.json. Docker Hub is stored under docker's key "https://index.docker.io/v1/".
//     The file is written to a temp name and renamed, mode 0600, keeping every other field.
//     When the file names a credential helper for the server (credHelpers, else credsStore), the
//     secret goes to `docker-credential-NAME store` instead, as docker login does.
//   logout(server, { authFile? }) → true when an entry was removed (every spelling of the server,
//     and the helper's entry through `docker-credential-NAME erase`).
//   loginServer(arg?) → the registry a login argument names ("" → docker.io; URLs accepted).
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { BunkerError } from "../errors";
import { DOCKER_HUB, normalizeRegistryName } from "../image/reference";
import { RegistryClient } from "./client";
import { type AuthConfigFile, credentialsFileForWrite, dockerHubServerUrl, eraseWithHelper, helperFor, readAuthConfig, storeWithHelper } from "./credentials";

export function loginServer(arg?: string): string {
  if (arg === undefined || arg.trim() === "") return DOCKER_HUB;
  const host = normalizeRegistryName(arg.trim());
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) throw new BunkerError(`"${arg}" is not a registry host (expected HOST[:PORT])`);
  return host;
}

function writeAuthFile(file: string, doc: AuthConfigFile): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  // Credentials: readable by the user only, and never half-written.
  writeFileSync(tmp, `${JSON.stringify(doc, null, "\t")}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function keysFor(server: string, auths: Record<string, unknown>): string[] {
  return Object.keys(auths).filter((k) => normalizeRegistryName(k) === server && !k.replace(/^[a-z]+:\/\//i, "").replace(/\/v1\/?$/, "").includes("/"));
}

export async function login(
  server: string,
  opts: { username: string; password: string; authFile?: string; tlsVerify?: boolean },
): Promise<string> {
  if (opts.username === "") throw new BunkerError("login needs a username (-u USER)");
  if (opts.password === "") throw new BunkerError("login needs a password (-p, --password-stdin, or type it when asked)");
  await new RegistryClient(server, { username: opts.username, password: opts.password, tlsVerify: opts.tlsVerify }).checkLogin();
  const file = credentialsFileForWrite(opts.authFile);
  const doc = readAuthConfig(file) ?? {};
  const auths = { ...(doc.auths ?? {}) };
  for (const k of keysFor(server, auths)) delete auths[k];
  const helper = helperFor(doc, server);
  if (helper) {
    // The file names a helper (a keychain): the secret goes there, as docker login does.
    storeWithHelper(helper, server, { username: opts.username, password: opts.password });
    // Plaintext copies of the server's credentials must not outlive a login through the helper.
    if (Object.keys(auths).length !== Object.keys(doc.auths ?? {}).length) writeAuthFile(file, { ...doc, auths });
    return file;
  }
  auths[server === DOCKER_HUB ? dockerHubServerUrl : server] = { auth: Buffer.from(`${opts.username}:${opts.password}`).toString("base64") };
  writeAuthFile(file, { ...doc, auths });
  return file;
}

export function logout(server: string, opts: { authFile?: string } = {}): boolean {
  const file = credentialsFileForWrite(opts.authFile);
  const doc = readAuthConfig(file);
  if (!doc) return false;
  const helper = helperFor(doc, server);
  const erased = helper ? eraseWithHelper(helper, server) : false;
  const keys = keysFor(server, doc.auths ?? {});
  if (keys.length === 0) return erased;
  const auths = { ...doc.auths };
  for (const k of keys) delete auths[k];
  writeAuthFile(file, { ...doc, auths });
  return true;
}
