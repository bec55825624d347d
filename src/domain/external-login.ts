/**
 * Upstream OpenID Connect providers: their configuration, and the rules of an
 * external login that need no I/O.
 */

/** One configured upstream provider. */
export interface ExternalProvider {
  /** Stable id used in requests and stored with linked identities, e.g. "google". */
  readonly id: string;
  readonly displayName: string;
  /** The issuer; its /.well-known/openid-configuration is discovered. */
  readonly issuer: string;
  readonly clientId: string;
  /** Undefined for a public client (PKCE only, no client authentication). */
  readonly clientSecret: string | undefined;
  readonly scopes: readonly string[];
  /** Redirect URLs a login may name; compared character for character. */
  readonly redirectUrls: readonly string[];
  /** Where this server's callback sends the browser with a hand-off code. */
  readonly frontendUrl: string | undefined;
  /** Whether a login by an unknown account may create a user. */
  readonly allowSignUp: boolean;
}

const PROVIDER_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** How long a started login's state lives. */
export const EXTERNAL_STATE_TTL_MS = 10 * 60 * 1000;
/** How long the hand-off code of the server's callback lives. */
export const HANDOFF_TTL_MS = 2 * 60 * 1000;

/**
 * Parses the JSON list of providers. Throws an Error whose message names the
 * offending entry and key, never a secret's value.
 */
export function parseExternalProviders(raw: string): ExternalProvider[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error("not valid JSON");
  }
  if (!Array.isArray(parsed)) throw new Error("expected a JSON array of providers");
  const seen = new Set<string>();
  return parsed.map((entry: unknown, index) => {
    const where = `provider #${index}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new Error(`${where}: expected an object`);
    const e = entry as Record<string, unknown>;
    const str = (key: string, required: boolean): string | undefined => {
      const value = e[key];
      if (value === undefined || value === null || value === "") {
        if (required) throw new Error(`${where}: "${key}" is required`);
        return undefined;
      }
      if (typeof value !== "string") throw new Error(`${where}: "${key}" must be a string`);
      return value;
    };
    const id = str("id", true) as string;
    if (!PROVIDER_ID.test(id)) throw new Error(`${where}: "id" must be lower-case letters, digits, "-" or "_" (at most 64)`);
    if (seen.has(id)) throw new Error(`${where}: duplicate id "${id}"`);
    seen.add(id);
    const at = `provider "${id}"`;
    const issuer = httpUrl(str("issuer", true) as string, `${at}: "issuer"`);
    const scopesRaw = e.scopes ?? ["openid", "email", "profile"];
    if (!Array.isArray(scopesRaw) || scopesRaw.some((s) => typeof s !== "string" || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))) {
      throw new Error(`${at}: "scopes" must be an array of scope strings`);
    }
    const scopes = scopesRaw as string[];
    if (!scopes.includes("openid")) throw new Error(`${at}: "scopes" must include "openid"`);
    const redirects = e.redirect_urls;
    if (!Array.isArray(redirects) || redirects.length === 0) throw new Error(`${at}: "redirect_urls" must be a non-empty array`);
    const redirectUrls = redirects.map((value: unknown, i) => {
      if (typeof value !== "string") throw new Error(`${at}: "redirect_urls"[${i}] must be a string`);
      const parsedUrl = new URL(httpUrl(value, `${at}: "redirect_urls"[${i}]`));
      // The code exchange sends the redirect URL without its query, so one
      // with a query or fragment could never be matched exactly.
      if (parsedUrl.search || parsedUrl.hash) throw new Error(`${at}: "redirect_urls"[${i}] must have no query or fragment`);
      return value;
    });
    const frontend = str("frontend_url", false);
    const allowSignUp = e.allow_sign_up ?? false;
    if (typeof allowSignUp !== "boolean") throw new Error(`${at}: "allow_sign_up" must be true or false`);
    return Object.freeze({
      id,
      displayName: str("display_name", false) ?? id,
      issuer,
      clientId: str("client_id", true) as string,
      clientSecret: str("client_secret", false),
      scopes: Object.freeze([...scopes]),
      redirectUrls: Object.freeze(redirectUrls),
      frontendUrl: frontend === undefined ? undefined : httpUrl(frontend, `${at}: "frontend_url"`),
      allowSignUp,
    });
  });
}

/** An absolute http(s) URL; plain http only to a loopback host (development and tests). */
function httpUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what} is not a URL`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new Error(`${what} must be https (http only for localhost)`);
  }
  if (url.username || url.password) throw new Error(`${what} must not hold credentials`);
  return value;
}

/** Exact match only: a prefix, another case or a trailing slash is a different URL. */
export function isAllowedRedirect(provider: ExternalProvider, redirectUrl: string): boolean {
  return provider.redirectUrls.includes(redirectUrl);
}

/** What Latchkey keeps of the provider's claims about an account. */
export interface ExternalProfile {
  subject: string;
  email: string;
  emailVerified: boolean;
  name: string;
  picture: string;
}

/** Reads the standard claims; `email_verified` counts only when it is literally true. */
export function profileFromClaims(claims: Record<string, unknown>): ExternalProfile {
  const text = (key: string) => (typeof claims[key] === "string" ? (claims[key] as string) : "");
  const verified = claims.email_verified;
  return {
    subject: text("sub"),
    email: text("email"),
    emailVerified: verified === true || verified === "true",
    name: text("name") || [text("given_name"), text("family_name")].filter(Boolean).join(" "),
    picture: text("picture"),
  };
}
