/**
 * API keys: created by a user for their active organisation, holding a
 * subset of the permissions the user's roles allow. The key and the client
 * secret are returned once; only their hashes are stored.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ApiKeySchema, type ApiKey } from "../../../gen/latchkey/auth/v1/api_key_pb.js";
import { atLeast, isPermission, mayHoldPermission, type Permission } from "../../domain/access/roles.js";
import type { AuthenticatedActor } from "../../domain/actor.js";
import { DomainError, Reason, invalidField, notFound, alreadyExists } from "../../domain/errors.js";
import type { Clock, Random } from "../../domain/ports.js";
import { base64url, sha256Hex } from "../../domain/tokens/secrets.js";
import type { Database } from "../../store/database.js";
import { findApiKeyById, insertApiKey, isApiKeyNameTaken, listApiKeys, revokeApiKey, type ApiKeyRow } from "../../store/queries/api-keys.js";
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import { findMembershipRole } from "../../store/queries/memberships.js";
import { newApiKey } from "../access/api-key-format.js";
import { decodePageToken, encodePageToken, listQueryHash, pageSize } from "../../domain/listing/page-token.js";

export interface ApiKeyDeps {
  database: Database;
  clock: Clock;
  random: Random;
  pageTokenKey: Uint8Array;
}

/** Keys list newest first; the id breaks ties between keys made in the same millisecond. */
const NEWEST_FIRST = [
  { field: "created_at", descending: true },
  { field: "id", descending: true },
] as const;

export function toProtoApiKey(row: ApiKeyRow): ApiKey {
  return create(ApiKeySchema, {
    id: row.id,
    name: row.name,
    description: row.description,
    prefix: row.prefix,
    permissions: JSON.parse(row.permissions) as string[],
    userId: row.userId,
    organisationId: row.organisationId ?? "",
    createdAt: timestampFromMs(row.createdAt),
    expiresAt: row.expiresAt === null ? undefined : timestampFromMs(row.expiresAt),
    lastUsedAt: row.lastUsedAt === null ? undefined : timestampFromMs(row.lastUsedAt),
  });
}

export function createApiKeys(deps: ApiKeyDeps) {
  const { database, clock, random } = deps;
  const db = database.db;

  return {
    async create(actor: AuthenticatedActor, input: { name: string; description: string; permissions: string[]; expiresAt?: Timestamp | undefined }, clientAddress: string) {
      const now = clock.now();
      if (input.permissions.length === 0) throw invalidField("permissions", "at least one permission is required");
      const permissions = [...new Set(input.permissions)];
      const unknown = permissions.find((p) => !isPermission(p));
      if (unknown) throw invalidField("permissions", `unknown permission "${unknown}"`);
      // A key never does more than its creator: each permission must be
      // allowed by the creator's role, and a key cannot mint keys with more
      // than it holds itself.
      const denied = (permissions as Permission[]).find(
        (p) => !mayHoldPermission(p, actor.organisationRole, actor.superAdmin) || (actor.kind === "api_key" && !actor.permissions.has(p)),
      );
      if (denied) throw new DomainError("permission_denied", Reason.PERMISSION_DENIED, `permissions: your role does not allow "${denied}"`, { violations: [{ field: "permissions", description: `your role does not allow "${denied}"` }] });
      const expiresAt = input.expiresAt ? timestampMs(input.expiresAt) : null;
      if (expiresAt !== null && expiresAt <= now) throw invalidField("expires_at", "must be in the future");

      const { key, prefix } = newApiKey(random);
      const clientSecret = base64url(random.bytes(32));
      const id = random.uuid();
      const row: ApiKeyRow = {
        id,
        userId: actor.userId,
        organisationId: actor.organisationId ?? null,
        name: input.name.normalize("NFC").trim(),
        description: input.description,
        prefix,
        keyHash: await sha256Hex(key),
        clientSecretHash: await sha256Hex(clientSecret),
        permissions: JSON.stringify(permissions),
        createdAt: now,
        expiresAt,
        revokedAt: null,
        lastUsedAt: null,
      };
      try {
        await database.batch([
          insertApiKey(db, row),
          insertAuditEvent(db, {
            id: random.uuid(),
            occurredAt: now,
            type: "api_key.created",
            actorId: actor.userId,
            userId: actor.userId,
            organisationId: row.organisationId,
            ipAddress: clientAddress,
            details: { api_key_id: id, prefix, permissions: permissions.join(" ") },
          }),
        ]);
      } catch (error) {
        if (isApiKeyNameTaken(error)) throw alreadyExists("name", "is already used by another of your keys");
        throw error;
      }
      return { apiKey: toProtoApiKey(row), key, clientSecret };
    },

    async list(actor: AuthenticatedActor, input: { pageSize: number; pageToken: string; organisationId: string }) {
      const limit = pageSize(input.pageSize);
      let scope: { userId?: string; organisationId?: string } = { userId: actor.userId };
      if (input.organisationId) {
        const role = input.organisationId === actor.organisationId ? actor.organisationRole : await findMembershipRole(db, input.organisationId, actor.userId);
        if (!actor.superAdmin && !atLeast(role, "admin")) throw new DomainError("permission_denied", Reason.PERMISSION_DENIED, "permission denied");
        scope = { organisationId: input.organisationId };
      }
      const queryHash = await listQueryHash({ collection: "api_keys", filter: undefined, orderBy: NEWEST_FIRST, scope });
      const after = input.pageToken ? (await decodePageToken(input.pageToken, deps.pageTokenKey, queryHash)).after : undefined;
      const cursor = after && typeof after[0] === "number" && typeof after[1] === "string" ? { createdAt: after[0], id: after[1] } : undefined;
      const rows = await listApiKeys(db, scope, limit + 1, cursor);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        apiKeys: page.map(toProtoApiKey),
        nextPageToken: rows.length > limit && last ? await encodePageToken({ queryHash, after: [last.createdAt, last.id] }, deps.pageTokenKey) : "",
      };
    },

    async revoke(actor: AuthenticatedActor, apiKeyId: string, clientAddress: string) {
      const found = await findApiKeyById(db, apiKeyId);
      const ownKey = found?.key.userId === actor.userId;
      const adminOfItsOrganisation =
        found?.key.organisationId != null &&
        (found.key.organisationId === actor.organisationId ? atLeast(actor.organisationRole, "admin") : atLeast(await findMembershipRole(db, found.key.organisationId, actor.userId), "admin"));
      // Keys the caller may not manage are answered as if they did not exist.
      if (!found || found.key.revokedAt !== null || !(ownKey || adminOfItsOrganisation || actor.superAdmin)) throw notFound("api key");
      const now = clock.now();
      await database.batch([
        revokeApiKey(db, apiKeyId, now),
        insertAuditEvent(db, {
          id: random.uuid(),
          occurredAt: now,
          type: "api_key.revoked",
          actorId: actor.userId,
          userId: found.key.userId,
          organisationId: found.key.organisationId,
          ipAddress: clientAddress,
          details: { api_key_id: apiKeyId },
        }),
      ]);
    },
  };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
