// The authentication half of the registry protocol: WWW-Authenticate challenges and Bearer tokens.
//
// API:
//   parseChallenges(header) → [{ scheme: "bearer"|"basic"|…, params: { realm, service, scope… } }]
//   TokenCache: get(key) / set(key, token, expiresIn) / drop(key); a token is reused until 30 s
//     before it expires (or until the registry refuses it: the client drops it and asks again).
//   parseTokenResponse(json) → { token, expiresIn } from `token` or `access_token`.

export interface Challenge {
  /** lowercased: "bearer", "basic" */
  scheme: string;
  params: Record<string, string>;
}

/**
 * RFC 7235 challenges: `Bearer realm="…",service="…", Basic realm="…"`. Quoted values may hold
 * commas and escaped quotes; a new challenge starts where a bare token is followed by a space.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skip = (re: RegExp) => {
    while (i < n && re.test(header[i])) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i])) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skip(/[\s,]/);
    if (i >= n) break;
    const word = token();
    if (word === "") {
      i++; // junk character: skip it rather than loop forever
      continue;
    }
    skip(/[ \t]/);
    if (header[i] === "=" && current) {
      i++;
      skip(/[ \t]/);
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i++];
        }
        i++; // closing quote
      } else {
        const start = i;
        while (i < n && header[i] !== ",") i++;
        value = header.slice(start, i).trim();
      }
      current.params[word.toLowerCase()] = value;
    } else {
      current = { scheme: word.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

export interface TokenResponse {
  token: string;
  /** seconds */
  expiresIn: number;
}

/** The token server's answer; the spec names the field `token`, OAuth2 servers `access_token`. */
export function parseTokenResponse(doc: unknown): TokenResponse | undefined {
  if (typeof doc !== "object" || doc === null) return undefined;
  const d = doc as { token?: unknown; access_token?: unknown; expires_in?: unknown };
  const token = typeof d.token === "string" && d.token !== "" ? d.token : typeof d.access_token === "string" ? d.access_token : "";
  if (token === "") return undefined;
  // The spec's default lifetime is 60 s when the server doesn't say.
  const expiresIn = typeof d.expires_in === "number" && d.expires_in > 0 ? d.expires_in : 60;
  return { token, expiresIn };
}

const RENEW_MARGIN_MS = 30_000;

export class TokenCache {
  private readonly tokens = new Map<string, { token: string; renewAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (this.now() >= t.renewAt) {
      this.tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  set(key: string, token: string, expiresInSeconds: number): void {
    const lifetime = expiresInSeconds * 1000;
    // Short-lived tokens are renewed at half their life instead of never being reused.
    const margin = Math.min(RENEW_MARGIN_MS, lifetime / 2);
    this.tokens.set(key, { token, renewAt: this.now() + lifetime - margin });
  }

  drop(key: string): void {
    this.tokens.delete(key);
  }

  clear(): void {
    this.tokens.clear();
  }
}
