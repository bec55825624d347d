/**
 * Turns a request's credentials into an Actor: a user access token (JWT),
 * an API key (`x-api-key` or `Authorization: Bearer lk_…`), or an API key's
 * id and client secret (`Authorization: Basic`). Every kind of failure gives
 * undefined, which the caller answers with the one `unauthenticated` error.
 */
import { isOrganisationRole, isPermission, type Permission } from "../../domain/access/roles.js";
import { roleNames, type AuthenticatedActor, type DeviceActor } from "../../domain/actor.js";
import { DEVICE_ACCESS_TOKEN_TYPE } from "../../domain/tokens/access-token.js";
import type { Clock } from "../../domain/ports.js";
import { peekTokenType } from "../../domain/tokens/access-token.js";
import { constantTimeEqual, sha256Hex } from "../../domain/tokens/secrets.js";
import type { Database } from "../../store/database.js";
import { touchDevice } from "../../store/queries/devices.js";
import { findApiKeyById, findApiKeyByPrefix, touchApiKey, type ApiKeyWithOwner } from "../../store/queries/api-keys.js";
import type { TokenService } from "../tokens/token-service.js";
import { prefixOf } from "./api-key-format.js";

export interface Credentials {
  authorization: string | null;
  apiKey: string | null;
}

/** A device's last_seen_at is written at most this often. */
const LAST_SEEN_THROTTLE_MS = 60_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAuthenticator(deps: { database: Database; tokens: TokenService; clock: Clock }) {
  const { database, tokens, clock } = deps;
  const db = database.db;

  async function fromApiKey(found: ApiKeyWithOwner | undefined, secretHash: string, which: "key" | "client_secret"): Promise<AuthenticatedActor | undefined> {
    if (!found) return undefined;
    const { key } = found;
    const stored = which === "key" ? key.keyHash : key.clientSecretHash;
    if (!constantTimeEqual(stored, secretHash)) return undefined;
    const now = clock.now();
    if (key.revokedAt !== null || (key.expiresAt !== null && key.expiresAt <= now) || found.ownerState !== "active") return undefined;
    if (key.lastUsedAt === null || now - key.lastUsedAt > 60_000) await database.batch([touchApiKey(db, key.id, now)]);
    const organisationRole = found.organisationRole && isOrganisationRole(found.organisationRole) ? found.organisationRole : undefined;
    const permissions = new Set((JSON.parse(key.permissions) as string[]).filter(isPermission) as Permission[]);
    return {
      kind: "api_key",
      apiKeyId: key.id,
      userId: key.userId,
      superAdmin: found.ownerSuperAdmin,
      organisationId: key.organisationId ?? undefined,
      organisationRole,
      roles: roleNames(found.ownerSuperAdmin, organisationRole),
      permissions,
      expiresAt: key.expiresAt ?? undefined,
    };
  }

  async function authenticateKey(key: string): Promise<AuthenticatedActor | undefined> {
    const prefix = prefixOf(key);
    if (!prefix) return undefined;
    return fromApiKey(await findApiKeyByPrefix(db, prefix), await sha256Hex(key), "key");
  }

  async function authenticateBasic(encoded: string): Promise<AuthenticatedActor | undefined> {
    let decoded: string;
    try {
      decoded = atob(encoded);
    } catch {
      return undefined;
    }
    const colon = decoded.indexOf(":");
    const id = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    if (colon < 0 || !UUID.test(id) || secret.length === 0 || secret.length > 128) return undefined;
    return fromApiKey(await findApiKeyById(db, id), await sha256Hex(secret), "client_secret");
  }

  async function authenticateDeviceToken(token: string): Promise<DeviceActor | undefined> {
    const result = await tokens.authenticateDevice(token);
    if (!result) return undefined;
    const now = clock.now();
    if (result.status.lastSeenAt === null || now - result.status.lastSeenAt > LAST_SEEN_THROTTLE_MS) {
      await database.batch([touchDevice(db, result.status.deviceId, now, LAST_SEEN_THROTTLE_MS)]);
    }
    return { kind: "device", deviceId: result.status.deviceId, organisationId: result.status.organisationId, sessionId: result.status.sessionId, token: result.token };
  }

  async function authenticateAccessToken(token: string): Promise<AuthenticatedActor | DeviceActor | undefined> {
    if (peekTokenType(token) === DEVICE_ACCESS_TOKEN_TYPE) return authenticateDeviceToken(token);
    const result = await tokens.authenticate(token);
    if (!result) return undefined;
    const { token: verified, status, organisationRole, roles } = result;
    return {
      kind: "user",
      userId: status.userId,
      sessionId: status.sessionId,
      superAdmin: status.superAdmin,
      organisationId: organisationRole ? verified.claims.org : undefined,
      organisationRole,
      roles,
      token: verified,
    };
  }

  return async function authenticate(credentials: Credentials): Promise<AuthenticatedActor | DeviceActor | undefined> {
    if (credentials.apiKey) return credentials.apiKey.length <= 200 ? authenticateKey(credentials.apiKey.trim()) : undefined;
    const authorization = credentials.authorization?.trim();
    if (!authorization || authorization.length > 8192) return undefined;
    const [scheme, value] = authorization.split(/[ ]+/, 2);
    if (!value) return undefined;
    switch (scheme?.toLowerCase()) {
      case "bearer":
        return value.startsWith("lk_") ? authenticateKey(value) : authenticateAccessToken(value);
      case "basic":
        return authenticateBasic(value);
      default:
        return undefined;
    }
  };
}

export type Authenticate = ReturnType<typeof createAuthenticator>;
