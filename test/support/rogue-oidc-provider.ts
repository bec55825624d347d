/**
 * A small OpenID provider on a local port that follows the protocol up to
 * the ID token and then lies in it as told: another issuer or audience, a
 * wrong or missing nonce, an expired token, a signature by a key it never
 * published, or no signature at all. A real provider refuses to issue such
 * tokens, so this is how a relying party's own ID-token checks get tested.
 *
 * Everything before the ID token is honest and strict: the authorization
 * endpoint checks the client, redirect URL, PKCE challenge and scope; the
 * token endpoint checks the code, the client's secret (HTTP Basic), the
 * redirect URL and the PKCE verifier. A code it redeemed is recorded in
 * `redeemed`, so a test can tell a refusal by the relying party from one by
 * the provider.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from "jose";

/** How the ID token of an account departs from the truth; what is left out is honest. */
export interface IdTokenTampering {
  /** Claims laid over the honest ones; a key set to `undefined` drops that claim. */
  claims?: Record<string, unknown>;
  /** `foreign-key`: signed by a key the JWKS does not hold, under the published key's id. `unsigned`: `alg: none`. */
  signature?: "foreign-key" | "unsigned";
}

export interface RogueAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
  idToken?: IdTokenTampering;
}

export interface RogueClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface RunningRogueProvider {
  issuer: string;
  /** Accounts by subject; the authorization request names one in `login_hint`. */
  accounts: Map<string, RogueAccount>;
  /** Codes the token endpoint accepted and answered with an ID token. */
  redeemed: Set<string>;
  /** Plays the browser: sends the authorization request for `sub` and answers the redirect back to the client, unfollowed. */
  authorize(authorizationUrl: string, sub: string): Promise<URL>;
  stop(): Promise<void>;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | undefined;
  sub: string;
}

const ALG = "RS256";
const CODE_TTL_MS = 60_000;

const sha256Base64url = (text: string) => createHash("sha256").update(text).digest("base64url");

function sameSecret(a: string, b: string): boolean {
  const left = createHash("sha256").update(a).digest();
  const right = createHash("sha256").update(b).digest();
  return timingSafeEqual(left, right);
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** The client of an HTTP Basic header, whose parts are form-encoded (RFC 6749 §2.3.1). */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const unform = (part: string) => decodeURIComponent(part.replace(/\+/g, " "));
  return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
}

export async function startRogueOidcProvider(clients: RogueClient[]): Promise<RunningRogueProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kid = "rogue-signing-key";
  const published = await generateKeyPair(ALG, { extractable: true });
  const foreign = await generateKeyPair(ALG);
  const jwks = { keys: [{ ...(await exportJWK(published.publicKey)), kid, alg: ALG, use: "sig" }] };
  const accounts = new Map<string, RogueAccount>();
  const redeemed = new Set<string>();
  const pending = new Map<string, PendingCode & { expiresAt: number }>();
  const clientById = new Map(clients.map((c) => [c.client_id, c]));

  const metadata = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ["code"],
    grant_types_supported: ["authorization_code"],
    subject_types_supported: ["public"],
    scopes_supported: ["openid", "email", "profile"],
    id_token_signing_alg_values_supported: [ALG],
    token_endpoint_auth_methods_supported: ["client_secret_basic"],
    code_challenge_methods_supported: ["S256"],
    claims_supported: ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"],
    authorization_response_iss_parameter_supported: true,
  };

  function authorizeEndpoint(url: URL, res: ServerResponse) {
    const q = url.searchParams;
    const client = clientById.get(q.get("client_id") ?? "");
    const redirectUri = q.get("redirect_uri") ?? "";
    // Without a known client and its registered redirect URL there is nowhere safe to send an error.
    if (!client || !client.redirect_uris.includes(redirectUri)) return json(res, 400, { error: "invalid_request", error_description: "unknown client or redirect_uri" });
    const back = new URL(redirectUri);
    const answer = (params: Record<string, string>) => {
      for (const [key, value] of Object.entries({ ...params, state: q.get("state") ?? "", iss: issuer })) back.searchParams.set(key, value);
      res.writeHead(303, { location: back.href });
      res.end();
    };
    const sub = q.get("login_hint") ?? "";
    if (q.get("response_type") !== "code") return answer({ error: "unsupported_response_type" });
    if (!(q.get("scope") ?? "").split(" ").includes("openid")) return answer({ error: "invalid_scope" });
    if (q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) return answer({ error: "invalid_request" });
    if (!accounts.has(sub)) return answer({ error: "access_denied" });
    const code = randomBytes(24).toString("base64url");
    pending.set(code, {
      clientId: client.client_id,
      redirectUri,
      codeChallenge: q.get("code_challenge") as string,
      nonce: q.get("nonce") ?? undefined,
      sub,
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    answer({ code });
  }

  async function idTokenFor(grant: PendingCode): Promise<string> {
    const account = accounts.get(grant.sub) ?? {};
    const now = Math.floor(Date.now() / 1000);
    const honest: JWTPayload = {
      iss: issuer,
      sub: grant.sub,
      aud: grant.clientId,
      iat: now,
      exp: now + 600,
      ...(grant.nonce === undefined ? {} : { nonce: grant.nonce }),
      ...(account.email === undefined ? {} : { email: account.email }),
      ...(account.email_verified === undefined ? {} : { email_verified: account.email_verified }),
      ...(account.name === undefined ? {} : { name: account.name }),
    };
    const payload = Object.fromEntries(Object.entries({ ...honest, ...account.idToken?.claims }).filter(([, value]) => value !== undefined));
    if (account.idToken?.signature === "unsigned") return new UnsecuredJWT(payload).encode();
    const key = account.idToken?.signature === "foreign-key" ? foreign.privateKey : published.privateKey;
    return new SignJWT(payload).setProtectedHeader({ alg: ALG, kid, typ: "JWT" }).sign(key);
  }

  async function tokenEndpoint(req: IncomingMessage, res: ServerResponse) {
    const credentials = basicCredentials(req.headers.authorization);
    const client = credentials ? clientById.get(credentials.id) : undefined;
    if (!credentials || !client || !sameSecret(credentials.secret, client.client_secret)) {
      res.setHeader("www-authenticate", 'Basic realm="token"');
      return json(res, 401, { error: "invalid_client" });
    }
    const form = await formBody(req);
    if (form.get("grant_type") !== "authorization_code") return json(res, 400, { error: "unsupported_grant_type" });
    const code = form.get("code") ?? "";
    const grant = pending.get(code);
    // A code is good once, whatever happens next.
    pending.delete(code);
    if (!grant || grant.expiresAt < Date.now() || grant.clientId !== client.client_id || grant.redirectUri !== form.get("redirect_uri")) {
      return json(res, 400, { error: "invalid_grant" });
    }
    const verifier = form.get("code_verifier") ?? "";
    if (!sameSecret(sha256Base64url(verifier), grant.codeChallenge)) return json(res, 400, { error: "invalid_grant", error_description: "PKCE verification failed" });
    const idToken = await idTokenFor(grant);
    redeemed.add(code);
    json(res, 200, { access_token: randomBytes(24).toString("base64url"), token_type: "Bearer", expires_in: 600, id_token: idToken });
  }

  server.on("request", (req, res) => {
    const url = new URL(req.url ?? "/", issuer);
    const route = `${req.method} ${url.pathname}`;
    const handled = (async () => {
      if (route === "GET /.well-known/openid-configuration") return json(res, 200, metadata);
      if (route === "GET /jwks") return json(res, 200, jwks);
      if (route === "GET /authorize") return authorizeEndpoint(url, res);
      if (route === "POST /token") return tokenEndpoint(req, res);
      json(res, 404, { error: "not_found" });
    })();
    handled.catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: "server_error", error_description: String(error) });
      else res.destroy();
    });
  });

  return {
    issuer,
    accounts,
    redeemed,
    async authorize(authorizationUrl, sub) {
      const url = new URL(authorizationUrl);
      url.searchParams.set("login_hint", sub);
      const response = await fetch(url, { redirect: "manual" });
      const location = response.headers.get("location");
      if (response.status !== 303 || !location) throw new Error(`the provider did not redirect (${response.status}): ${await response.text()}`);
      return new URL(location);
    },
    stop: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
