/**
 * Plain HTTP routes served beside the RPCs on the same port (and by the
 * Worker): health, readiness, the public signing keys and avatars.
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { SIGNING_ALGORITHM } from "../../domain/tokens/access-token.js";
import type { KeyRing } from "../../services/tokens/key-ring.js";
import { mountAvatarRoutes, type AvatarRouteDeps } from "./avatars.js";
import { mountExternalLoginRoutes, type ExternalLoginRouteDeps } from "./external-login.js";

export interface HttpAppDeps extends AvatarRouteDeps, ExternalLoginRouteDeps {
  issuer: string;
  keyRing: KeyRing;
  ready: () => Promise<boolean>;
}

/**
 * Keys are cached for five minutes. A retired key stays published until
 * every token it signed has expired, so a cached copy never lacks a key that
 * signed a live token. A key made by RotateSigningKeys signs at once, so a
 * verifier that meets an unknown `kid` should fetch the JWKS again rather
 * than wait for its cached copy to expire.
 */
const JWKS_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=60";

export function createHttpApp(deps: HttpAppDeps): Hono {
  const app = new Hono();
  app.use("*", secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const ready = await deps.ready().catch(() => false);
    return c.json({ status: ready ? "ready" : "unavailable" }, ready ? 200 : 503);
  });

  app.get("/.well-known/jwks.json", async (c) => {
    c.header("Cache-Control", JWKS_CACHE_CONTROL);
    return c.json(await deps.keyRing.jwks());
  });
  app.get("/.well-known/openid-configuration", (c) => {
    c.header("Cache-Control", "public, max-age=3600");
    return c.json({
      issuer: deps.issuer,
      jwks_uri: `${deps.issuer}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: [SIGNING_ALGORITHM],
      token_endpoint_auth_methods_supported: ["none"],
      subject_types_supported: ["public"],
      response_types_supported: ["code"],
      grant_types_supported: ["password", "refresh_token"],
      claims_supported: ["iss", "sub", "aud", "exp", "iat", "jti", "sid", "org", "roles"],
    });
  });

  mountAvatarRoutes(app, deps);
  mountExternalLoginRoutes(app, deps);

  app.notFound((c) => c.json({ error: "not_found" }, 404));
  return app;
}
