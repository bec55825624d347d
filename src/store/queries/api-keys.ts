import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { perDatabase, violatesUnique, type Db } from "../database.js";
import { apiKeys, memberships, users } from "../schema/index.js";

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export function insertApiKey(db: Db, row: typeof apiKeys.$inferInsert) {
  return db.insert(apiKeys).values(row);
}

/** A key with what deciding its use needs: its owner's state and role in the key's organisation. */
export interface ApiKeyWithOwner {
  key: ApiKeyRow;
  ownerState: "active" | "suspended" | "blocked";
  ownerSuperAdmin: boolean;
  organisationRole: "member" | "admin" | "owner" | null;
}

function apiKeyQuery(db: Db, condition: ReturnType<typeof eq>) {
  return db
    .select({ key: apiKeys, ownerState: users.state, ownerSuperAdmin: users.superAdmin, organisationRole: memberships.role })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .leftJoin(memberships, and(eq(memberships.userId, apiKeys.userId), eq(memberships.organisationId, apiKeys.organisationId)))
    .where(condition)
    .limit(1)
    .prepare();
}

// Run on every call made with an API key: built once per database.
const byPrefix = perDatabase((db) => apiKeyQuery(db, eq(apiKeys.prefix, sql.placeholder("prefix"))));
const byId = perDatabase((db) => apiKeyQuery(db, eq(apiKeys.id, sql.placeholder("id"))));

export async function findApiKeyByPrefix(db: Db, prefix: string): Promise<ApiKeyWithOwner | undefined> {
  return byPrefix(db).get({ prefix });
}

export async function findApiKeyById(db: Db, id: string): Promise<ApiKeyWithOwner | undefined> {
  return byId(db).get({ id });
}

export async function listApiKeys(db: Db, scope: { userId?: string; organisationId?: string }, limit: number, before?: { createdAt: number; id: string }) {
  const conditions = [isNull(apiKeys.revokedAt)];
  if (scope.userId) conditions.push(eq(apiKeys.userId, scope.userId));
  if (scope.organisationId) conditions.push(eq(apiKeys.organisationId, scope.organisationId));
  if (before) {
    conditions.push(or(lt(apiKeys.createdAt, before.createdAt), and(eq(apiKeys.createdAt, before.createdAt), lt(apiKeys.id, before.id)))!);
  }
  return db
    .select()
    .from(apiKeys)
    .where(and(...conditions))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
    .limit(limit)
    .all();
}

export function revokeApiKey(db: Db, id: string, now: number) {
  return db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
}

/** Records use at most once a minute per key, so busy keys cost no write per call. */
export function touchApiKey(db: Db, id: string, now: number) {
  return db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`${now - 60_000}`))));
}

export function isApiKeyNameTaken(error: unknown): boolean {
  return violatesUnique(error, "api_keys", ["user_id", "name"]);
}
