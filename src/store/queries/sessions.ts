import { and, desc, eq, exists, gt, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import { perDatabase, type Db } from "../database.js";
import { deviceRefreshTokens, deviceSessions, memberships, organisations, refreshTokens, securityProfiles, sessions, users } from "../schema/index.js";
import type { SecurityProfileRow } from "./security-profiles.js";

export type SessionRow = typeof sessions.$inferSelect;
export type RefreshTokenRow = typeof refreshTokens.$inferSelect;

export function insertSession(db: Db, row: typeof sessions.$inferInsert) {
  return db.insert(sessions).values(row);
}

export function insertRefreshToken(db: Db, row: typeof refreshTokens.$inferInsert) {
  return db.insert(refreshTokens).values(row);
}

/** What an access token's validity depends on, in one indexed lookup. */
export interface SessionStatus {
  sessionId: string;
  userId: string;
  revokedAt: number | null;
  expiresAt: number;
  userState: "active" | "suspended" | "blocked";
  superAdmin: boolean;
  /** The session's organisation, and the user's role in it now (null once removed). */
  organisationId: string | null;
  organisationRole: "member" | "admin" | "owner" | null;
  /** The name of the security profile that governs the session now. */
  securityProfile: string;
}

/**
 * The profile governing a session: its organisation's while the user is
 * still a member there (memberships joined on the session's organisation,
 * organisations on that membership), else the user's own.
 */
const effectiveProfileId = sql`coalesce(${organisations.securityProfileId}, ${users.securityProfileId})`;

// Run on every authenticated call: built once per database.
const sessionStatusQuery = perDatabase((db) =>
  db
    .select({
      sessionId: sessions.id,
      userId: sessions.userId,
      revokedAt: sessions.revokedAt,
      expiresAt: sessions.expiresAt,
      userState: users.state,
      superAdmin: users.superAdmin,
      organisationId: sessions.organisationId,
      organisationRole: memberships.role,
      securityProfile: securityProfiles.name,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(memberships, and(eq(memberships.userId, sessions.userId), eq(memberships.organisationId, sessions.organisationId)))
    .leftJoin(organisations, eq(organisations.id, memberships.organisationId))
    .innerJoin(securityProfiles, eq(securityProfiles.id, effectiveProfileId))
    .where(eq(sessions.id, sql.placeholder("sessionId")))
    // A point read: LIMIT 1 lets the local client step the statement once.
    .limit(1)
    .prepare(),
);

export async function findSessionStatus(db: Db, sessionId: string): Promise<SessionStatus | undefined> {
  return sessionStatusQuery(db).get({ sessionId });
}

export interface RefreshTokenContext {
  token: RefreshTokenRow;
  session: SessionRow;
  userState: "active" | "suspended" | "blocked";
  superAdmin: boolean;
  organisationRole: "member" | "admin" | "owner" | null;
  /**
   * The session's effective security profile as it is now (its
   * organisation's, else the user's), read in the same statement,
   * so a refresh needs no second lookup and a changed profile applies to the
   * next refresh.
   */
  profile: SecurityProfileRow;
}

// Run on every refresh: built once per database.
const refreshTokenByHashQuery = perDatabase((db) =>
  db
    .select({
      token: refreshTokens,
      session: sessions,
      userState: users.state,
      superAdmin: users.superAdmin,
      organisationRole: memberships.role,
      profile: securityProfiles,
    })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(memberships, and(eq(memberships.userId, sessions.userId), eq(memberships.organisationId, sessions.organisationId)))
    .leftJoin(organisations, eq(organisations.id, memberships.organisationId))
    .innerJoin(securityProfiles, eq(securityProfiles.id, effectiveProfileId))
    .where(eq(refreshTokens.tokenHash, sql.placeholder("tokenHash")))
    .limit(1)
    .prepare(),
);

export async function findRefreshTokenByHash(db: Db, tokenHash: string): Promise<RefreshTokenContext | undefined> {
  return refreshTokenByHashQuery(db).get({ tokenHash });
}

/**
 * The tables of one kind of session: users' (sessions, refresh_tokens) or
 * devices' (device_sessions, device_refresh_tokens). Both refresh-token tables
 * have the same columns, so one rotation serves both.
 */
export interface RefreshFamily {
  tokens: typeof refreshTokens | typeof deviceRefreshTokens;
  sessions: typeof sessions | typeof deviceSessions;
}

export const USER_SESSIONS: RefreshFamily = { tokens: refreshTokens, sessions };
export const DEVICE_SESSIONS: RefreshFamily = { tokens: deviceRefreshTokens, sessions: deviceSessions };

export async function findRefreshTokenById(db: Db, family: RefreshFamily, id: string): Promise<RefreshTokenRow | undefined> {
  return db.select().from(family.tokens).where(eq(family.tokens.id, id)).get();
}

/**
 * The statement that decides a rotation race: only the first caller finds
 * the token unconsumed and records its successor; every other concurrent
 * caller updates nothing.
 */
export function consumeRefreshToken(db: Db, family: RefreshFamily, args: { id: string; successorId: string; successorSealed: string; now: number }) {
  const t = family.tokens;
  return db
    .update(t)
    .set({ consumedAt: args.now, successorId: args.successorId, successorSealed: args.successorSealed })
    .where(and(eq(t.id, args.id), isNull(t.consumedAt), sql`${t.expiresAt} > ${args.now}`))
    .returning({ id: t.id });
}

/** The predecessor row, present only if this batch recorded `successorId` on it. */
function wonRotation(db: Db, family: RefreshFamily, predecessorId: string, successorId: string) {
  const t = family.tokens;
  return db
    .select({ one: sql`1` })
    .from(t)
    .where(and(eq(t.id, predecessorId), eq(t.successorId, successorId)));
}

/**
 * Inserts the successor only if this batch won the rotation of
 * `predecessorId`: the row is selected from the predecessor itself, so a
 * lost race inserts nothing.
 */
export function insertSuccessorIfWon(
  db: Db,
  family: RefreshFamily,
  predecessorId: string,
  row: { id: string; sessionId: string; tokenHash: string; createdAt: number; expiresAt: number },
) {
  const t = family.tokens;
  return db.insert(t).select(
    db
      .select({
        id: sql<string>`${row.id}`.as("id"),
        sessionId: sql<string>`${row.sessionId}`.as("session_id"),
        tokenHash: sql<string>`${row.tokenHash}`.as("token_hash"),
        createdAt: sql<number>`${row.createdAt}`.as("created_at"),
        expiresAt: sql<number>`${row.expiresAt}`.as("expires_at"),
        consumedAt: sql<number | null>`null`.as("consumed_at"),
        successorId: sql<string | null>`null`.as("successor_id"),
        successorSealed: sql<string | null>`null`.as("successor_sealed"),
      })
      .from(t)
      .where(and(eq(t.id, predecessorId), eq(t.successorId, row.id))),
  );
}

export function touchSessionIfWon(db: Db, family: RefreshFamily, sessionId: string, predecessorId: string, successorId: string, now: number) {
  const s = family.sessions;
  return db
    .update(s)
    .set({ lastUsedAt: now })
    .where(and(eq(s.id, sessionId), exists(wonRotation(db, family, predecessorId, successorId))));
}

/** Ends a session of either kind (users' or devices'). */
export function revokeFamilySession(db: Db, family: RefreshFamily, sessionId: string, reason: string, now: number) {
  const s = family.sessions;
  return db
    .update(s)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(s.id, sessionId), isNull(s.revokedAt)))
    .returning({ id: s.id });
}

export function revokeSession(db: Db, sessionId: string, reason: string, now: number) {
  return db
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
}

export function revokeUserSessions(db: Db, userId: string, reason: string, now: number) {
  return db
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
}

/** Sessions that ended (expired or revoked) before `cutoff`; their refresh tokens go with them. */
export function deleteEndedSessions(db: Db, cutoff: number, family: RefreshFamily = USER_SESSIONS) {
  const s = family.sessions;
  return db
    .delete(s)
    .where(or(lt(s.expiresAt, cutoff), lt(s.revokedAt, cutoff)))
    .returning({ id: s.id });
}

/**
 * A sealed successor is only needed to answer a retry within the grace
 * window; after it, wiping it leaves nothing worth attacking in the row.
 */
export function forgetSealedSuccessors(db: Db, consumedBefore: number, family: RefreshFamily = USER_SESSIONS) {
  const t = family.tokens;
  return db
    .update(t)
    .set({ successorSealed: null })
    .where(and(isNotNull(t.successorSealed), lt(t.consumedAt, consumedBefore)))
    .returning({ id: t.id });
}

/** Makes `organisationId` the session's organisation; its next tokens name it. */
export function setSessionOrganisation(db: Db, sessionId: string, organisationId: string) {
  return db.update(sessions).set({ organisationId }).where(eq(sessions.id, sessionId));
}

export async function findSessionById(db: Db, id: string): Promise<SessionRow | undefined> {
  return db.select().from(sessions).where(eq(sessions.id, id)).get();
}

/**
 * A user's live sessions (not revoked, not expired), newest first, after
 * `cursor` (the created_at and id of the last session of the previous page).
 */
export async function listLiveSessions(db: Db, userId: string, now: number, limit: number, cursor?: { createdAt: number; id: string }): Promise<SessionRow[]> {
  return db
    .select()
    .from(sessions)
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, now),
        cursor ? or(lt(sessions.createdAt, cursor.createdAt), and(eq(sessions.createdAt, cursor.createdAt), lt(sessions.id, cursor.id))) : undefined,
      ),
    )
    .orderBy(desc(sessions.createdAt), desc(sessions.id))
    .limit(limit)
    .all();
}

/** Condition: the session is not revoked (for the audit row of its revocation). */
export function sessionNotRevoked(db: Db, sessionId: string) {
  return exists(db.select({ one: sql`1` }).from(sessions).where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))));
}
