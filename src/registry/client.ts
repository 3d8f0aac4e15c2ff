// A client for the OCI distribution API (registries: Docker Hub, GHCR, Quay, docker-registry…).
//
// API:
//   new RegistryClient(registry, { tlsVerify?, authFile?, username?, password? })
//     registry is the reference's registry ("docker.io", "ghcr.io", "127.0.0.1:5000").
//   getManifest(repo, reference, signal?) → { bytes, mediaType, digest }
//     reference is a tag or a digest. The digest is computed from the bytes and checked against a
//     digest reference and against the registry's Docker-Content-Digest header. mediaType is the
//     Content-Type (parseManifestDocument in src/image/manifest.ts prefers the body's own field).
//   getBlob(repo, digest, { offset?, signal? }) → { body, offset, size? }
//     With offset > 0 it asks for a Range; `offset` in the answer says where the body really
//     starts (0 when the registry ignored the Range: the caller must restart its hash). `size` is
//     the whole blob's size when the registry says. The CALLER verifies the blob's digest while it
//     streams (a blob can be gigabytes; it is never held here).
//   blobExists(repo, digest) → boolean                                   (push)
//   uploadBlob(repo, digest, data, size)                                 (push; monolithic PUT)
//     data is bytes, a Blob, or a function returning a fresh stream (so a failed try can resend).
//   putManifest(repo, reference, bytes, mediaType) → digest              (push)
//   checkLogin() — proves the credentials work (bunker login)
//
// Behaviour:
//   - Auth: the first request goes anonymous; a 401 challenge says Basic or Bearer. Bearer tokens
//     come from the realm (service + scope, with Basic credentials when we have some), are cached
//     per (registry, scope) for the whole process, renewed before they expire and on a 401.
//   - Credentials: explicit username/password, else src/registry/credentials.ts.
//   - TLS is verified. Plain HTTP only for localhost, 127.0.0.0/8 and ::1 (as docker does) or with
//     tlsVerify: false; those try HTTPS (unverified) first and fall back to HTTP.
//   - Redirects are followed here (up to 5); one that leaves the registry's origin drops
//     Authorization.
//   - 5xx, 429 and dropped connections are retried with backoff, 4 tries in all.
//   - Every failure is a one-line BunkerError naming the registry and what to do.
import { BunkerError } from "../errors";
import { ACCEPTED_MANIFEST_TYPES, MediaTypes } from "../image/manifest";
import { familiarName, isValidRepository, isValidTag, registryEndpoint, validateDigest } from "../image/reference";
import { log } from "../log";
import { type Challenge, parseChallenges, parseTokenResponse, TokenCache } from "./auth";
import { type Credentials, findCredentials } from "./credentials";

export interface RegistryOptions {
  /** false: accept any certificate and allow plain HTTP (--tls-verify=false) */
  tlsVerify?: boolean;
  /** an auth file to search before the default ones (--authfile) */
  authFile?: string;
  username?: string;
  password?: string;
  /** first retry delay in ms (doubles each try); tests lower it */
  retryDelayMs?: number;
}

export interface FetchedManifest {
  bytes: Uint8Array;
  mediaType: string;
  digest: string;
}

export interface FetchedBlob {
  body: ReadableStream<Uint8Array>;
  /** where body starts in the blob */
  offset: number;
  /** the whole blob's size, when the registry says */
  size?: number;
}

const MAX_TRIES = 4;
const MAX_REDIRECTS = 5;
/** Manifests and tokens are small; anything bigger is garbage or an attack. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const METADATA_TIMEOUT_MS = 60_000;

/** Process-wide, so that every client of a pull shares them. */
const tokens = new TokenCache();
const knownChallenges = new Map<string, Challenge>();
const baseUrls = new Map<string, Promise<string>>();

/** Hosts where docker allows plain HTTP without being told: loopback. */
export function isLoopbackHost(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

function isNetworkError(e: unknown): boolean {
  return !(e instanceof BunkerError) && !(e instanceof DOMException && (e.name === "AbortError" || e.name === "TimeoutError"));
}

/** A network error in one line: Bun's code and message, without its "pass verbose: true" advice. */
function errorText(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const message = (err?.message ?? "").replace(/\.? For more information, pass `verbose: true`.*$/s, "").trim();
  if (err?.code === "Malformed_HTTP_Response") return "it answered something that is not HTTP";
  if (err?.code && message.includes(err.code)) return message;
  return [err?.code, message].filter(Boolean).join(": ") || String(e);
}

async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await res.body?.cancel();
    throw new BunkerError(`${what} is ${declared} bytes, more than the ${limit} a manifest may have`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      total += chunk.length;
      if (total > limit) throw new BunkerError(`${what} is larger than the ${limit} bytes a manifest may have`);
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}

/** The registry's own message from an error body ({"errors":[{"code","message"}]}), if any. */
async function registryMessage(res: Response): Promise<string> {
  try {
    const text = (await res.text()).slice(0, 4096);
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = doc.errors?.[0];
    if (e) return [e.code, e.message].filter(Boolean).join(": ");
  } catch {
    // not JSON: the status says enough
  }
  return "";
}

function digestOf(bytes: Uint8Array, algorithm: string): string {
  return `${algorithm}:${new Bun.CryptoHasher(algorithm as "sha256").update(bytes).digest("hex")}`;
}

type Body = Uint8Array | Blob | (() => ReadableStream<Uint8Array>);

interface SendOptions {
  repo?: string;
  /** the scope's actions: "pull" or "pull,push" */
  actions?: string;
  headers?: Record<string, string>;
  body?: Body;
  signal?: AbortSignal;
  /** give up on a stalled answer (manifests, tokens, uploads' control requests) */
  timeout?: boolean;
}

export class RegistryClient {
  readonly registry: string;
  private readonly endpoint: string;
  private readonly insecure: boolean;
  private readonly retryDelayMs: number;
  private readonly explicit?: Credentials;
  private readonly credsByRepo = new Map<string, Credentials | undefined>();

  constructor(
    registry: string,
    private readonly opts: RegistryOptions = {},
  ) {
    this.registry = registry;
    this.endpoint = registryEndpoint(registry);
    this.insecure = opts.tlsVerify === false || isLoopbackHost(this.endpoint);
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    if (opts.username !== undefined) this.explicit = { username: opts.username, password: opts.password ?? "" };
  }

  // ---- pull ----

  async getManifest(repo: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const isDigest = reference.includes(":");
    checkName(repo);
    if (isDigest) validateDigest(reference);
    else if (!isValidTag(reference)) throw new BunkerError(`invalid tag "${reference}"`);
    const shown = `${this.shownRepo(repo)}${isDigest ? "@" : ":"}${reference}`;
    const res = await this.send("GET", `/v2/${repo}/manifests/${reference}`, {
      repo,
      signal,
      timeout: true,
      // schema 1 is asked for last only so that the manifest parser can say it is unsupported.
      headers: { accept: [...ACCEPTED_MANIFEST_TYPES, MediaTypes.dockerSchema1Signed].join(", ") },
    });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new BunkerError(`manifest unknown: ${shown} not found in ${this.registry}`);
    }
    await this.expectOk(res, repo, `the manifest of ${shown}`);
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `the manifest of ${shown}`);
    const algorithm = isDigest ? reference.slice(0, reference.indexOf(":")) : "sha256";
    const digest = digestOf(bytes, algorithm);
    if (isDigest && digest !== reference)
      throw new BunkerError(`digest mismatch: the manifest ${this.registry} sent for ${shown} has digest ${digest}`);
    const claimed = res.headers.get("docker-content-digest");
    if (claimed?.startsWith(`${algorithm}:`) && claimed !== digest)
      throw new BunkerError(`digest mismatch: the manifest of ${shown} hashes to ${digest} but ${this.registry} says ${claimed}`);
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
    return { bytes, mediaType, digest };
  }

  async getBlob(repo: string, digest: string, opts: { offset?: number; signal?: AbortSignal } = {}): Promise<FetchedBlob> {
    checkName(repo);
    validateDigest(digest);
    const want = opts.offset ?? 0;
    const fetchFrom = async (offset: number): Promise<FetchedBlob> => {
      const headers: Record<string, string> = { "accept-encoding": "identity" };
      if (offset > 0) headers.range = `bytes=${offset}-`;
      const res = await this.send("GET", `/v2/${repo}/blobs/${digest}`, { repo, signal: opts.signal, headers });
      if (res.status === 404) {
        await res.body?.cancel();
        throw new BunkerError(`blob unknown: ${digest} not found in ${this.shownRepo(repo)} on ${this.registry}`);
      }
      if (res.status === 416 && offset > 0) {
        await res.body?.cancel();
        return fetchFrom(0);
      }
      if (res.status === 206) {
        const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
        if (!m || Number(m[1]) !== offset) {
          // A range we didn't ask for: start over rather than splice the wrong bytes.
          await res.body?.cancel();
          return fetchFrom(0);
        }
        return { body: res.body ?? emptyStream(), offset, ...(m[2] !== "*" ? { size: Number(m[2]) } : {}) };
      }
      await this.expectOk(res, repo, `blob ${digest}`);
      const len = res.headers.get("content-length");
      return { body: res.body ?? emptyStream(), offset: 0, ...(len !== null ? { size: Number(len) } : {}) };
    };
    return fetchFrom(want);
  }

  // ---- push ----

  async blobExists(repo: string, digest: string): Promise<boolean> {
    checkName(repo);
    validateDigest(digest);
    const res = await this.send("HEAD", `/v2/${repo}/blobs/${digest}`, { repo, actions: "pull,push", timeout: true });
    if (res.status === 404) return false;
    await this.expectOk(res, repo, `blob ${digest}`);
    return true;
  }

  async uploadBlob(repo: string, digest: string, data: Body, size: number): Promise<void> {
    checkName(repo);
    validateDigest(digest);
    const start = await this.send("POST", `/v2/${repo}/blobs/uploads/`, { repo, actions: "pull,push", timeout: true, body: new Uint8Array(0) });
    await this.expectStatus(start, [202], repo, "starting an upload");
    const location = start.headers.get("location");
    if (!location) throw new BunkerError(`${this.registry} started an upload without saying where to send it (no Location)`);
    const url = new URL(location, start.url || (await this.baseUrl()));
    url.searchParams.set("digest", digest);
    const res = await this.send("PUT", url.toString(), {
      repo,
      actions: "pull,push",
      body: data,
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
    });
    await this.expectStatus(res, [201, 204], repo, `uploading blob ${digest}`);
  }

  async putManifest(repo: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<string> {
    checkName(repo);
    if (reference.includes(":")) validateDigest(reference);
    else if (!isValidTag(reference)) throw new BunkerError(`invalid tag "${reference}"`);
    const res = await this.send("PUT", `/v2/${repo}/manifests/${reference}`, {
      repo,
      actions: "pull,push",
      timeout: true,
      body: bytes,
      headers: { "content-type": mediaType },
    });
    await this.expectStatus(res, [200, 201, 202], repo, `pushing the manifest ${reference}`);
    return digestOf(bytes, "sha256");
  }

  /** For `bunker login`: the registry (or its token server) accepts our credentials. */
  async checkLogin(): Promise<void> {
    // A Basic registry checks the credentials on /v2/ itself; for a Bearer one, send() asks the
    // token server for a (scope-less) token with them, and that is the check.
    let res: Response;
    try {
      res = await this.send("GET", "/v2/", { timeout: true });
    } catch (e) {
      const creds = this.credentials();
      if (e instanceof AuthenticationError && creds) throw new BunkerError(`login to ${this.registry} failed: it refused the credentials of ${creds.username}`);
      throw e;
    }
    await res.body?.cancel();
    if (!res.ok) throw new BunkerError(`login to ${this.registry} failed: it answered ${res.status} ${res.statusText}`);
  }

  // ---- transport ----

  /** The repository as messages name it next to the registry: "alpine", "user/app", "ns/x". */
  private shownRepo(repo: string): string {
    return familiarName({ registry: this.registry, repository: repo }).slice(this.registry === "docker.io" ? 0 : this.registry.length + 1);
  }

  private credentials(repo?: string): Credentials | undefined {
    if (this.explicit) return this.explicit;
    const key = repo ?? "";
    if (!this.credsByRepo.has(key)) this.credsByRepo.set(key, findCredentials(this.registry, { authFile: this.opts.authFile, repository: repo }));
    return this.credsByRepo.get(key);
  }

  /** https://HOST, or http://HOST for a loopback / --tls-verify=false registry that has no TLS. */
  private baseUrl(): Promise<string> {
    const key = `${this.endpoint}|${this.insecure}`;
    let p = baseUrls.get(key);
    if (!p) {
      p = this.insecure ? this.probeScheme() : Promise.resolve(`https://${this.endpoint}`);
      baseUrls.set(key, p);
      p.catch(() => baseUrls.delete(key));
    }
    return p;
  }

  private async probeScheme(): Promise<string> {
    const https = `https://${this.endpoint}`;
    try {
      const res = await fetch(`${https}/v2/`, { tls: { rejectUnauthorized: false }, signal: AbortSignal.timeout(10_000), redirect: "manual" });
      await res.body?.cancel();
      return https;
    } catch {
      log.debug(`${this.endpoint} does not speak HTTPS; using plain HTTP (a loopback or --tls-verify=false registry)`);
      return `http://${this.endpoint}`;
    }
  }

  private scopeKey(repo: string | undefined, actions: string): string | undefined {
    return repo === undefined ? undefined : `repository:${repo}:${actions}`;
  }

  /** A token belongs to a realm, a scope and the user it was issued to. */
  private tokenKey(ch: Challenge, scope: string | undefined, creds: Credentials | undefined): string {
    return JSON.stringify([this.registry, ch.params.realm, ch.params.service ?? "", scope ?? "", creds?.username ?? ""]);
  }

  /** The Authorization header for a request, from what the registry asked for last time. */
  private async authorization(repo: string | undefined, scope: string | undefined): Promise<{ header?: string; cachedToken?: boolean }> {
    const ch = knownChallenges.get(this.registry);
    if (!ch) return {};
    const creds = this.credentials(repo);
    if (ch.scheme === "basic") return creds ? { header: basic(creds) } : {};
    if (ch.scheme === "bearer") {
      const cached = tokens.get(this.tokenKey(ch, scope, creds));
      if (cached) return { header: `Bearer ${cached}`, cachedToken: true };
      return { header: `Bearer ${await this.fetchToken(ch, scope, creds)}` };
    }
    return {};
  }

  private async fetchToken(ch: Challenge, scope: string | undefined, creds: Credentials | undefined): Promise<string> {
    const realm = ch.params.realm;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new BunkerError(`${this.registry} sent a token realm that is not a URL: "${String(realm).slice(0, 100)}"`);
    }
    if (url.protocol !== "https:" && !(url.protocol === "http:" && (this.insecure || isLoopbackHost(url.host))))
      throw new BunkerError(`${this.registry} wants tokens from ${url.origin}, which is not HTTPS; refusing to send credentials there`);
    if (ch.params.service) url.searchParams.set("service", ch.params.service);
    if (scope) url.searchParams.set("scope", scope);
    const headers: Record<string, string> = creds ? { authorization: basic(creds) } : {};
    const res = await this.withRetries(
      (signal) => fetch(url, { headers, signal, tls: this.tlsFor(url) }).catch((e) => Promise.reject(certificateError(e, url.host) ?? e)),
      undefined,
      true,
      `the token server ${url.origin}`,
    );
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw this.authError(creds);
    }
    if (!res.ok) throw new BunkerError(`the token server ${url.origin} for ${this.registry} answered ${res.status} ${res.statusText}`);
    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder().decode(await readLimited(res, MAX_MANIFEST_BYTES, "the token")));
    } catch (e) {
      if (e instanceof BunkerError) throw e;
      throw new BunkerError(`the token server ${url.origin} for ${this.registry} answered something that is not JSON`);
    }
    const t = parseTokenResponse(doc);
    if (!t) throw new BunkerError(`the token server ${url.origin} for ${this.registry} answered without a token`);
    tokens.set(this.tokenKey(ch, scope, creds), t.token, t.expiresIn);
    return t.token;
  }

  private authError(creds: Credentials | undefined): AuthenticationError {
    return new AuthenticationError(
      creds
        ? `authentication failed: ${this.registry} refused the credentials of ${creds.username}; run bunker login ${this.registry}`
        : `authentication required: run bunker login ${this.registry}`,
    );
  }

  private tlsFor(url: URL): { rejectUnauthorized: boolean } | undefined {
    // Only the registry itself may go unverified; anything it redirects to is checked.
    return url.host === this.endpoint && this.insecure ? { rejectUnauthorized: false } : undefined;
  }

  /**
   * One request with auth, redirects and retries. Answers with any status (the caller decides
   * what 404 means); throws only when the registry can't be reached or auth fails for good.
   */
  private async send(method: string, pathOrUrl: string, o: SendOptions): Promise<Response> {
    const url = new URL(pathOrUrl, await this.baseUrl());
    const scope = this.scopeKey(o.repo, o.actions ?? "pull");
    for (;;) {
      const auth = await this.authorization(o.repo, scope);
      const res = await this.withRetries((signal) => this.followRedirects(method, url, auth.header, o, signal), o.signal, o.timeout ?? false, this.registry);
      if (res.status !== 401) return res;
      await res.body?.cancel();
      const creds = this.credentials(o.repo);
      // Try again only when there is something new to try: a first challenge after going
      // anonymous, or a fresh token in place of a cached one the registry no longer takes.
      const challenges = parseChallenges(res.headers.get("www-authenticate") ?? "");
      const ch = challenges.find((c) => c.scheme === "bearer" && c.params.realm) ?? challenges.find((c) => c.scheme === "basic");
      if (!ch || (auth.header !== undefined && !auth.cachedToken)) throw this.authError(creds);
      if (auth.cachedToken) {
        const before = knownChallenges.get(this.registry);
        if (before) tokens.drop(this.tokenKey(before, scope, creds));
      }
      knownChallenges.set(this.registry, ch);
      if (ch.scheme === "basic" && !creds) throw this.authError(undefined);
    }
  }

  private async followRedirects(method: string, start: URL, auth: string | undefined, o: SendOptions, signal: AbortSignal): Promise<Response> {
    let url = start;
    let verb = method;
    let body = o.body;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { ...o.headers };
      // Credentials are for the registry's origin only: never for a CDN or another host.
      if (auth && url.origin === start.origin) headers.authorization = auth;
      let res: Response;
      try {
        res = await fetch(url, { method: verb, headers, body: typeof body === "function" ? body() : body, redirect: "manual", signal, tls: this.tlsFor(url) });
      } catch (e) {
        throw certificateError(e, url.host) ?? e;
      }
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const location = res.headers.get("location");
      await res.body?.cancel();
      if (!location) throw new BunkerError(`${this.registry} answered ${res.status} without a Location`);
      url = new URL(location, url);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new BunkerError(`${this.registry} redirected to a ${url.protocol} URL`);
      if (res.status === 303) {
        verb = "GET";
        body = undefined;
      }
    }
    throw new BunkerError(`${this.registry} redirected more than ${MAX_REDIRECTS} times`);
  }

  /** Retries dropped connections, 5xx and 429 with backoff; the last answer is returned as is. */
  private async withRetries(
    attempt: (signal: AbortSignal) => Promise<Response>,
    outer: AbortSignal | undefined,
    timeout: boolean,
    who: string,
  ): Promise<Response> {
    let lastError: unknown;
    for (let tryNo = 1; tryNo <= MAX_TRIES; tryNo++) {
      const signals = [outer, timeout ? AbortSignal.timeout(METADATA_TIMEOUT_MS) : undefined].filter((s): s is AbortSignal => s !== undefined);
      const signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
      try {
        const res = await attempt(signal);
        const retryable = res.status >= 500 || res.status === 429;
        if (!retryable || tryNo === MAX_TRIES) {
          if (retryable) {
            const why = await registryMessage(res);
            throw new BunkerError(`${who} answered ${res.status} ${res.statusText}${why ? ` (${why})` : ""} ${MAX_TRIES} times; giving up`);
          }
          return res;
        }
        await res.body?.cancel();
        lastError = `${res.status} ${res.statusText}`;
        await Bun.sleep(this.backoff(tryNo, res.headers.get("retry-after")));
      } catch (e) {
        if (outer?.aborted) throw outer.reason ?? e;
        if (e instanceof DOMException && e.name === "TimeoutError") lastError = "no answer within 60 s";
        else if (!isNetworkError(e)) throw e;
        else lastError = errorText(e);
        if (tryNo === MAX_TRIES) break;
        log.debug(`${who}: ${String(lastError)}; retrying`);
        await Bun.sleep(this.backoff(tryNo, null));
      }
    }
    throw new BunkerError(`cannot reach ${who}: ${String(lastError)} (tried ${MAX_TRIES} times)`);
  }

  private backoff(tryNo: number, retryAfter: string | null): number {
    const asked = retryAfter !== null && /^\d+$/.test(retryAfter) ? Math.min(Number(retryAfter), 10) * 1000 : 0;
    return Math.max(asked, this.retryDelayMs * 2 ** (tryNo - 1));
  }

  private async expectOk(res: Response, repo: string, what: string): Promise<void> {
    if (res.ok) return;
    await this.fail(res, repo, what);
  }

  private async expectStatus(res: Response, ok: number[], repo: string, what: string): Promise<void> {
    if (ok.includes(res.status)) {
      await res.body?.cancel();
      return;
    }
    await this.fail(res, repo, what);
  }

  private async fail(res: Response, repo: string, what: string): Promise<never> {
    const why = await registryMessage(res);
    const name = this.shownRepo(repo);
    if (res.status === 403) throw new BunkerError(`access to ${name} denied by ${this.registry}${why ? ` (${why})` : ""}; run bunker login ${this.registry}`);
    throw new BunkerError(`${this.registry} answered ${res.status} ${res.statusText} for ${what}${why ? ` (${why})` : ""}`);
  }
}

/** Repository names go into URL paths: only the reference grammar's names may. */
function checkName(repo: string): void {
  if (!isValidRepository(repo)) throw new BunkerError(`invalid repository name "${repo.slice(0, 100)}"`);
}

/** The registry or its token server refused us (no credentials, or wrong ones). */
export class AuthenticationError extends BunkerError {}

/**
 * An untrusted certificate, or a server that doesn't speak TLS at all, is not a network hiccup:
 * say so at once instead of retrying.
 */
function certificateError(e: unknown, host: string): BunkerError | undefined {
  const code = String((e as { code?: unknown })?.code ?? "");
  if (code === "EPROTO")
    return new BunkerError(`${host} failed the TLS handshake: it does not speak HTTPS; use --tls-verify=false only for a registry you trust that serves plain HTTP`);
  if (!/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) return undefined;
  return new BunkerError(
    `the TLS certificate of ${host} is not trusted (${code}: ${(e as Error).message}); use --tls-verify=false only for a registry you trust`,
  );
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}

/** For tests: forget process-wide auth state (tokens, challenges, HTTP/HTTPS decisions). */
export function resetRegistryState(): void {
  knownChallenges.clear();
  baseUrls.clear();
  tokens.clear();
}
