/**
 * RotateSigningKeys: a new key signs from now on; the previous one stays in
 * the JWKS, and keeps verifying, until every access token it signed has
 * expired (the longest access-token lifetime of any profile).
 */
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import { maxAccessTokenTtlSeconds } from "../../store/queries/security-profiles.js";
import type { ServiceDeps } from "../deps.js";
import type { AdminHandlers } from "./index.js";
import { adminEvent } from "./audit.js";

export function createSigningKeyHandlers(deps: ServiceDeps): AdminHandlers<"rotateSigningKeys"> {
  const { database, clock, random, keyRing } = deps;
  const db = database.db;
  return {
    async rotateSigningKeys(_req, ctx) {
      const tokenLifetimeMs = (await maxAccessTokenTtlSeconds(db)) * 1000;
      return keyRing.rotate(tokenLifetimeMs, (kid) => [
        insertAuditEvent(db, adminEvent(random, ctx, { type: "signing_keys.rotated", now: clock.now(), details: { kid, published_for_ms: tokenLifetimeMs } })),
      ]);
    },
  };
}
