/**
 * Sessions and their tokens: opening a session at sign-in, rotating refresh
 * tokens, resolving access tokens, and ending sessions.
 *
 * Rotation is decided by one guarded UPDATE inside an atomic batch (see
 * consumeRefreshToken): concurrent refreshes of one token produce exactly one
 * successor. The successor pair is stored sealed under a key derived from the
 * presented token, so a retry within the grace window gets the same pair back
 * while the database itself never holds a usable token.
 */
import type { BatchItem } from "drizzle-orm/batch";
import type { OrganisationRole } from "../../domain/access/roles.js";
import { roleNames } from "../../domain/actor.js";
import { invalidCredentials } from "../../domain/errors.js";
import type { Logger } from "../../domain/logger.js";
import type { Clock, Random } from "../../domain/ports.js";
import { DEVICE_ACCESS_TOKEN_TYPE, USER_ACCESS_TOKEN_TYPE, peekTokenType, signAccessToken, type VerifiedAccessToken } from "../../domain/tokens/access-token.js";
import { createAccessTokenVerifier } from "../../domain/tokens/verification-cache.js";
import { base64url, deriveKey, fromBase64url, newOpaqueToken, seal, sha256Hex, unseal } from "../../domain/tokens/secrets.js";
import type { Database } from "../../store/database.js";
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import { requireDefaultProfile, requireEffectiveProfile, type SecurityProfileRow } from "../../store/queries/security-profiles.js";
import {
  findDeviceRefreshTokenByHash,
  findDeviceSessionStatus,
  insertDeviceRefreshToken,
  insertDeviceSession,
  type DeviceSessionStatus,
} from "../../store/queries/devices.js";
import {
  DEVICE_SESSIONS,
  USER_SESSIONS,
  consumeRefreshToken,
  findRefreshTokenByHash,
  findRefreshTokenById,
  findSessionStatus,
  insertRefreshToken,
  insertSession,
  insertSuccessorIfWon,
  revokeFamilySession,
  revokeSession,
  revokeUserSessions,
  setSessionOrganisation,
  touchSessionIfWon,
  type RefreshFamily,
  type RefreshTokenRow,
  type SessionStatus,
} from "../../store/queries/sessions.js";
import type { KeyRing } from "./key-ring.js";

export const REFRESH_TOKEN_PREFIX = "lkr";
/** Refresh tokens of device sessions: the prefix names the table their hash is in. */
export const DEVICE_REFRESH_TOKEN_PREFIX = "lkd";

export interface IssuedPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** Seconds until the refresh token expires unused. */
  refreshExpiresIn: number;
}

/** Where a request came from, for sessions and audit rows. */
export interface ClientInfo {
  clientAddress: string;
  userAgent: string;
}

export interface SessionSubject {
  id: string;
  superAdmin: boolean;
  organisationId: string | null;
  organisationRole: OrganisationRole | null;
}

export interface AuthenticatedToken {
  token: VerifiedAccessToken;
  status: SessionStatus;
  /** The caller's role in the token's organisation, as of now. */
  organisationRole: OrganisationRole | undefined;
  roles: string[];
}

/** A device's live session, resolved from its access token. */
export interface AuthenticatedDeviceToken {
  token: VerifiedAccessToken;
  status: DeviceSessionStatus;
}

/** A device a session is opened for. */
export interface DeviceSubject {
  deviceId: string;
  organisationId: string;
}

/**
 * One refresh token being rotated, whatever kind of session it belongs to:
 * the tables, lifetimes and how to mint the next access token.
 */
interface Rotation {
  family: RefreshFamily;
  prefix: string;
  token: RefreshTokenRow;
  session: { id: string; expiresAt: number };
  idleMs: number;
  graceMs: number;
  mint(now: number): Promise<{ token: string; expiresAt: number }>;
  /** Re-reads the presented token after a lost race. */
  reload(): Promise<RefreshTokenRow | undefined>;
  /** Who the audit row of a detected reuse names. */
  audit: { userId?: string; organisationId?: string; details?: Record<string, string> };
}

export interface TokenServiceDeps {
  database: Database;
  keyRing: KeyRing;
  clock: Clock;
  random: Random;
  logger: Logger;
  issuer: string;
  audience: string;
  /** Access tokens whose signature is remembered once checked (default 10,000; 0 turns it off). */
  verifiedTokenCapacity?: number;
}

const SECOND = 1000;
const SUCCESSOR_KEY_PURPOSE = "latchkey refresh-token successor v1";

export function createTokenService(deps: TokenServiceDeps) {
  const { database, keyRing, clock, random, logger, issuer, audience } = deps;
  const db = database.db;
  // Reads a decision starts from, and the session state every token check
  // needs, must see other instances' latest commits: they go to the primary
  // even where plain reads come from a replica.
  const primary = database.primary;
  // Signatures are checked once per token; times, key and session on every call.
  const verifier = createAccessTokenVerifier(keyRing.publicKey, { issuer, audience, capacity: deps.verifiedTokenCapacity });
  const deviceVerifier = createAccessTokenVerifier(keyRing.publicKey, { issuer, audience, type: DEVICE_ACCESS_TOKEN_TYPE, capacity: deps.verifiedTokenCapacity });

  /** Devices have no user: their sessions follow the default security profile. */
  const deviceProfile = () => requireDefaultProfile(db);

  /** Who an access token names: `sub`, `org` and `roles`, and the token type that says whether it is a user or a device. */
  interface TokenSubject {
    sub: string;
    org: string | undefined;
    roles: string[];
    type: string;
  }

  const userToken = (subject: SessionSubject): TokenSubject => ({
    sub: subject.id,
    org: subject.organisationId ?? undefined,
    roles: roleNames(subject.superAdmin, subject.organisationRole ?? undefined),
    type: USER_ACCESS_TOKEN_TYPE,
  });
  const deviceToken = (subject: DeviceSubject): TokenSubject => ({ sub: subject.deviceId, org: subject.organisationId, roles: [], type: DEVICE_ACCESS_TOKEN_TYPE });

  /** An access token of a session, living the profile's lifetime but never past the session. */
  async function mintAccessToken(subject: TokenSubject, sessionId: string, profile: SecurityProfileRow, sessionExpiresAt: number, now: number) {
    const expiresAt = Math.min(now + profile.accessTokenTtlSeconds * SECOND, sessionExpiresAt);
    const token = await signAccessToken(
      await keyRing.signingKey(),
      {
        iss: issuer,
        sub: subject.sub,
        aud: audience,
        iat: Math.floor(now / SECOND),
        exp: Math.floor(expiresAt / SECOND),
        jti: random.uuid(),
        sid: sessionId,
        org: subject.org,
        roles: subject.roles,
      },
      subject.type,
    );
    return { token, expiresAt };
  }

  function refreshLifetimes(profile: SecurityProfileRow, keepLoggedIn: boolean) {
    return keepLoggedIn
      ? { idle: profile.keepLoggedInIdleTtlSeconds * SECOND, absolute: profile.keepLoggedInAbsoluteTtlSeconds * SECOND }
      : { idle: profile.refreshIdleTtlSeconds * SECOND, absolute: profile.refreshAbsoluteTtlSeconds * SECOND };
  }

  function pairOf(access: { token: string; expiresAt: number }, refresh: { token: string; expiresAt: number }, now: number): IssuedPair {
    return {
      accessToken: access.token,
      refreshToken: refresh.token,
      expiresIn: Math.max(0, Math.floor((access.expiresAt - now) / SECOND)),
      refreshExpiresIn: Math.max(0, Math.floor((refresh.expiresAt - now) / SECOND)),
    };
  }

  return {
    /**
     * Prepares a new session. Returns the statements that create it, for the
     * caller to commit in one batch with its own changes and audit row, and
     * the pair to hand out once that batch has committed.
     */
    async openSession(args: {
      subject: SessionSubject;
      profile: SecurityProfileRow;
      keepLoggedIn: boolean;
      deviceName: string;
      client: ClientInfo;
    }): Promise<{ sessionId: string; statements: [BatchItem<"sqlite">, BatchItem<"sqlite">]; pair: IssuedPair }> {
      const now = clock.now();
      const lifetimes = refreshLifetimes(args.profile, args.keepLoggedIn);
      const sessionId = random.uuid();
      const sessionExpiresAt = now + lifetimes.absolute;
      const refresh = { token: newOpaqueToken(random, REFRESH_TOKEN_PREFIX), expiresAt: Math.min(now + lifetimes.idle, sessionExpiresAt) };
      const access = await mintAccessToken(userToken(args.subject), sessionId, args.profile, sessionExpiresAt, now);
      return {
        sessionId,
        statements: [
          insertSession(db, {
            id: sessionId,
            userId: args.subject.id,
            deviceName: args.deviceName,
            ipAddress: args.client.clientAddress,
            userAgent: args.client.userAgent.slice(0, 256),
            keepLoggedIn: args.keepLoggedIn,
            organisationId: args.subject.organisationId,
            createdAt: now,
            lastUsedAt: now,
            expiresAt: sessionExpiresAt,
          }),
          insertRefreshToken(db, {
            id: random.uuid(),
            sessionId,
            tokenHash: await sha256Hex(refresh.token),
            createdAt: now,
            expiresAt: refresh.expiresAt,
          }),
        ],
        pair: pairOf(access, refresh, now),
      };
    },

    /**
     * Exchanges a refresh token, a user's or a device's, for a new pair (see
     * the module comment).
     */
    async rotate(presented: string, client: ClientInfo): Promise<IssuedPair> {
      if (presented.startsWith(`${DEVICE_REFRESH_TOKEN_PREFIX}_`)) return rotateDeviceToken(presented, client);
      if (!presented.startsWith(`${REFRESH_TOKEN_PREFIX}_`)) throw invalidCredentials();
      const hash = await sha256Hex(presented);
      const context = await findRefreshTokenByHash(primary, hash);
      if (!context) throw invalidCredentials();
      const now = clock.now();
      const { token, session, profile } = context;
      if (session.revokedAt !== null || session.expiresAt <= now || context.userState !== "active") throw invalidCredentials();
      const subject = {
        id: session.userId,
        superAdmin: context.superAdmin,
        organisationId: session.organisationId,
        organisationRole: session.organisationId ? context.organisationRole : null,
      };
      return rotateOne(
        {
          family: USER_SESSIONS,
          prefix: REFRESH_TOKEN_PREFIX,
          token,
          session,
          idleMs: refreshLifetimes(profile, session.keepLoggedIn).idle,
          graceMs: profile.refreshGraceSeconds * SECOND,
          mint: (at) => mintAccessToken(userToken(subject), session.id, profile, session.expiresAt, at),
          reload: async () => (await findRefreshTokenByHash(primary, hash))?.token,
          audit: { userId: session.userId },
        },
        presented,
        client,
      );
    },

    /**
     * Prepares a new device session, as openSession does for a user: the
     * statements to commit in the caller's batch and the pair to hand out
     * once it has committed. Lifetimes are the default profile's.
     */
    async openDeviceSession(subject: DeviceSubject, client: ClientInfo): Promise<{ sessionId: string; statements: [BatchItem<"sqlite">, BatchItem<"sqlite">]; pair: IssuedPair }> {
      const profile = await deviceProfile();
      const now = clock.now();
      const lifetimes = refreshLifetimes(profile, false);
      const sessionId = random.uuid();
      const sessionExpiresAt = now + lifetimes.absolute;
      const refresh = { token: newOpaqueToken(random, DEVICE_REFRESH_TOKEN_PREFIX), expiresAt: Math.min(now + lifetimes.idle, sessionExpiresAt) };
      const access = await mintAccessToken(deviceToken(subject), sessionId, profile, sessionExpiresAt, now);
      return {
        sessionId,
        statements: [
          insertDeviceSession(db, {
            id: sessionId,
            deviceId: subject.deviceId,
            organisationId: subject.organisationId,
            ipAddress: client.clientAddress,
            userAgent: client.userAgent.slice(0, 256),
            createdAt: now,
            lastUsedAt: now,
            expiresAt: sessionExpiresAt,
          }),
          insertDeviceRefreshToken(db, { id: random.uuid(), sessionId, tokenHash: await sha256Hex(refresh.token), createdAt: now, expiresAt: refresh.expiresAt }),
        ],
        pair: pairOf(access, refresh, now),
      };
    },

    /** Resolves a device access token to its live session, or undefined. */
    async authenticateDevice(accessToken: string): Promise<AuthenticatedDeviceToken | undefined> {
      const now = clock.now();
      const token = await deviceVerifier.verify(accessToken, now);
      if (!token) return undefined;
      const status = await findDeviceSessionStatus(primary, token.claims.sid);
      if (!status || status.deviceId !== token.claims.sub || status.organisationId !== token.claims.org) return undefined;
      if (status.revokedAt !== null || status.expiresAt <= now) return undefined;
      return { token, status };
    },

    /**
     * Moves the session to another organisation and mints an access token
     * naming it; the refresh token stays valid and refreshes into it.
     */
    async switchOrganisation(sessionId: string, subject: SessionSubject & { organisationId: string }, client: ClientInfo): Promise<IssuedPair> {
      const now = clock.now();
      const status = await findSessionStatus(primary, sessionId);
      if (!status || status.revokedAt !== null || status.expiresAt <= now) throw invalidCredentials();
      const profile = await requireEffectiveProfile(db, subject.id, subject.organisationId);
      const access = await mintAccessToken(userToken(subject), sessionId, profile, status.expiresAt, now);
      await database.batch([
        setSessionOrganisation(db, sessionId, subject.organisationId),
        insertAuditEvent(db, { id: random.uuid(), occurredAt: now, type: "session.organisation_switched", actorId: subject.id, userId: subject.id, organisationId: subject.organisationId, sessionId, ipAddress: client.clientAddress }),
      ]);
      return { accessToken: access.token, refreshToken: "", expiresIn: Math.max(0, Math.floor((access.expiresAt - now) / SECOND)), refreshExpiresIn: 0 };
    },

    /** Resolves an access token to its live session, or undefined. */
    async authenticate(accessToken: string): Promise<AuthenticatedToken | undefined> {
      const now = clock.now();
      const token = await verifier.verify(accessToken, now);
      if (!token) return undefined;
      const status = await findSessionStatus(primary, token.claims.sid);
      if (!status || status.userId !== token.claims.sub) return undefined;
      if (status.revokedAt !== null || status.expiresAt <= now || status.userState !== "active") return undefined;
      // A token minted before the session switched organisation keeps no
      // rights in either organisation.
      const organisationRole = token.claims.org && token.claims.org === status.organisationId ? (status.organisationRole ?? undefined) : undefined;
      return { token, status, organisationRole, roles: roleNames(status.superAdmin, organisationRole) };
    },

    /** Ends the session a refresh or access token belongs to (RFC 7009: never fails). */
    async revokeToken(presented: string, client: ClientInfo): Promise<void> {
      const device = await deviceSessionOf(presented);
      if (device) {
        const now = clock.now();
        await database.batch([
          revokeFamilySession(db, DEVICE_SESSIONS, device.sessionId, "token_revoked", now),
          insertAuditEvent(db, { id: random.uuid(), occurredAt: now, type: "device_session.revoked", organisationId: device.organisationId, ipAddress: client.clientAddress, details: { device_id: device.deviceId, session_id: device.sessionId, reason: "token_revoked" } }),
        ]);
        return;
      }
      let sessionId: string | undefined;
      let userId: string | undefined;
      if (presented.startsWith(`${REFRESH_TOKEN_PREFIX}_`)) {
        const context = await findRefreshTokenByHash(db, await sha256Hex(presented));
        sessionId = context?.session.id;
        userId = context?.session.userId;
      } else {
        const token = await verifier.verify(presented, clock.now());
        sessionId = token?.claims.sid;
        userId = token?.claims.sub;
      }
      if (sessionId && userId) await endSession(userId, sessionId, "token_revoked", client);
    },

    endSession,

    async endAllSessions(userId: string, reason: string, client: ClientInfo, actorId: string = userId): Promise<void> {
      const now = clock.now();
      await database.batch([
        revokeUserSessions(db, userId, reason, now),
        insertAuditEvent(db, { id: random.uuid(), occurredAt: now, type: "session.revoked_all", actorId, userId, ipAddress: client.clientAddress, details: { reason } }),
      ]);
    },
  };

  async function endSession(userId: string, sessionId: string, reason: string, client: ClientInfo): Promise<void> {
    const now = clock.now();
    await database.batch([
      revokeSession(db, sessionId, reason, now),
      insertAuditEvent(db, { id: random.uuid(), occurredAt: now, type: "session.revoked", actorId: userId, userId, sessionId, ipAddress: client.clientAddress, details: { reason } }),
    ]);
  }

  /** The device session a device refresh or access token belongs to, if it is one. */
  async function deviceSessionOf(presented: string): Promise<{ sessionId: string; deviceId: string; organisationId: string } | undefined> {
    if (presented.startsWith(`${DEVICE_REFRESH_TOKEN_PREFIX}_`)) {
      const context = await findDeviceRefreshTokenByHash(db, await sha256Hex(presented));
      return context && { sessionId: context.session.id, deviceId: context.session.deviceId, organisationId: context.organisationId };
    }
    if (peekTokenType(presented) !== DEVICE_ACCESS_TOKEN_TYPE) return undefined;
    const token = await deviceVerifier.verify(presented, clock.now());
    return token && token.claims.org ? { sessionId: token.claims.sid, deviceId: token.claims.sub, organisationId: token.claims.org } : undefined;
  }

  async function rotateDeviceToken(presented: string, client: ClientInfo): Promise<IssuedPair> {
    const hash = await sha256Hex(presented);
    const context = await findDeviceRefreshTokenByHash(primary, hash);
    if (!context) throw invalidCredentials();
    const now = clock.now();
    const { token, session, organisationId } = context;
    if (session.revokedAt !== null || session.expiresAt <= now) throw invalidCredentials();
    const profile = await deviceProfile();
    const subject = { deviceId: session.deviceId, organisationId };
    return rotateOne(
      {
        family: DEVICE_SESSIONS,
        prefix: DEVICE_REFRESH_TOKEN_PREFIX,
        token,
        session,
        idleMs: refreshLifetimes(profile, false).idle,
        graceMs: profile.refreshGraceSeconds * SECOND,
        mint: (at) => mintAccessToken(deviceToken(subject), session.id, profile, session.expiresAt, at),
        reload: async () => (await findDeviceRefreshTokenByHash(primary, hash))?.token,
        audit: { organisationId, details: { device_id: session.deviceId } },
      },
      presented,
      client,
    );
  }

  /**
   * The rotation itself, shared by users' and devices' sessions: one guarded
   * UPDATE decides the race, the successor is inserted only by the winner,
   * and a consumed token goes to answerReplay.
   */
  async function rotateOne(rotation: Rotation, presented: string, client: ClientInfo): Promise<IssuedPair> {
    const { family, token, session } = rotation;
    const now = clock.now();
    if (token.consumedAt !== null) return answerReplay(rotation, token, presented, client);
    if (token.expiresAt <= now) throw invalidCredentials();
    const successor = {
      id: random.uuid(),
      token: newOpaqueToken(random, rotation.prefix),
      expiresAt: Math.min(now + rotation.idleMs, session.expiresAt),
    };
    const access = await rotation.mint(now);
    const pair = pairOf(access, successor, now);
    const sealed = await seal(
      await deriveKey(presented, SUCCESSOR_KEY_PURPOSE),
      new TextEncoder().encode(JSON.stringify({ a: access.token, ae: access.expiresAt, r: successor.token, re: successor.expiresAt })),
      token.id,
      random,
    );
    const [won] = await database.batch([
      consumeRefreshToken(db, family, { id: token.id, successorId: successor.id, successorSealed: base64url(sealed), now }),
      insertSuccessorIfWon(db, family, token.id, {
        id: successor.id,
        sessionId: session.id,
        tokenHash: await sha256Hex(successor.token),
        createdAt: now,
        expiresAt: successor.expiresAt,
      }),
      touchSessionIfWon(db, family, session.id, token.id, successor.id, now),
    ]);
    if (won.length === 1) return pair;
    // Another request rotated this token between our read and our batch.
    const latest = await rotation.reload();
    if (!latest || latest.consumedAt === null) throw invalidCredentials();
    return answerReplay(rotation, latest, presented, client);
  }

  /**
   * A consumed token was presented again. Within the grace window, and while
   * its successor is still unused, the same successor pair is returned: the
   * client most likely lost the first answer. Anything else is reuse of a
   * stolen or stale token, and the whole session is revoked.
   */
  async function answerReplay(rotation: Rotation, token: RefreshTokenRow, presented: string, client: ClientInfo): Promise<IssuedPair> {
    const { family, session } = rotation;
    const now = clock.now();
    const withinGrace = token.consumedAt !== null && now - token.consumedAt <= rotation.graceMs;
    if (withinGrace && token.successorSealed && token.successorId) {
      const successor = await findRefreshTokenById(primary, family, token.successorId);
      if (successor && successor.consumedAt === null) {
        const plain = await unseal(await deriveKey(presented, SUCCESSOR_KEY_PURPOSE), fromBase64url(token.successorSealed), token.id);
        if (plain) {
          const saved = JSON.parse(new TextDecoder().decode(plain)) as { a: string; ae: number; r: string; re: number };
          return pairOf({ token: saved.a, expiresAt: saved.ae }, { token: saved.r, expiresAt: saved.re }, now);
        }
      }
    }
    await database.batch([
      revokeFamilySession(db, family, session.id, "refresh_token_reuse", now),
      insertAuditEvent(db, {
        id: random.uuid(),
        occurredAt: now,
        type: "refresh_token.reuse_detected",
        userId: rotation.audit.userId,
        organisationId: rotation.audit.organisationId,
        sessionId: session.id,
        ipAddress: client.clientAddress,
        details: { token_id: token.id, ...rotation.audit.details },
      }),
    ]);
    logger.warn("refresh_token.reuse_detected", { session_id: session.id, user_id: rotation.audit.userId, ...rotation.audit.details });
    throw invalidCredentials();
  }
}

export type TokenService = ReturnType<typeof createTokenService>;
