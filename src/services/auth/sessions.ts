/**
 * ListSessions and RevokeSession: a user's live sessions. Users see and end
 * their own; for another user the access rules of
 * src/domain/access/user-access.ts decide, as for GetUser and SuspendUser:
 * reading needs an admin role in one of the user's organisations, ending
 * sessions needs to manage the user there (or super-admin power). Users the
 * caller may not see answer `not_found`.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { SessionSchema, type AuthService, type Session } from "../../../gen/latchkey/auth/v1/auth_service_pb.js";
import type { AuthenticatedActor } from "../../domain/actor.js";
import { invalidField, notFound } from "../../domain/errors.js";
import { decodePageToken, encodePageToken, listQueryHash, pageSize } from "../../domain/listing/page-token.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import { findSessionById, listLiveSessions, revokeSession, revokeUserSessions, sessionNotRevoked, type SessionRow } from "../../store/queries/sessions.js";
import { actorOf } from "../caller.js";
import type { ServiceDeps } from "../deps.js";
import { userEvent } from "../user/audit.js";
import { authorize, authorizedTarget, loadTarget } from "../user/target.js";

const PAGE_LIMITS = { default: 50, max: 200 };

const NEWEST_FIRST = [
  { field: "created_at", descending: true },
  { field: "id", descending: true },
] as const;

function toProtoSession(row: SessionRow, actor: AuthenticatedActor): Session {
  return create(SessionSchema, {
    id: row.id,
    deviceName: row.deviceName,
    ipAddress: row.ipAddress,
    userAgent: row.userAgent,
    createdAt: timestampFromMs(row.createdAt),
    lastUsedAt: timestampFromMs(row.lastUsedAt),
    expiresAt: timestampFromMs(row.expiresAt),
    keepLoggedIn: row.keepLoggedIn,
    current: actor.kind === "user" && actor.sessionId === row.id,
  });
}

export function createSessionHandlers(deps: ServiceDeps): Pick<ServiceImpl<typeof AuthService>, "listSessions" | "revokeSession"> {
  const { database, clock, random } = deps;
  const db = database.db;

  return {
    async listSessions(req, ctx) {
      const actor = actorOf(ctx);
      const userId = req.userId || actor.userId;
      if (userId !== actor.userId) await authorizedTarget(db, actor, userId, "read");
      const limit = pageSize(req.pageSize, PAGE_LIMITS);
      const queryHash = await listQueryHash({ collection: "sessions", filter: undefined, orderBy: NEWEST_FIRST, scope: { userId } });
      const after = req.pageToken ? (await decodePageToken(req.pageToken, deps.pageTokenKey, queryHash)).after : undefined;
      if (after && (typeof after[0] !== "number" || typeof after[1] !== "string")) throw invalidField("page_token", "is not a valid page token; start again without page_token");
      const cursor = after ? { createdAt: after[0] as number, id: after[1] as string } : undefined;
      const rows = await listLiveSessions(db, userId, clock.now(), limit + 1, cursor);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        sessions: page.map((row) => toProtoSession(row, actor)),
        nextPageToken: rows.length > limit && last ? await encodePageToken({ queryHash, after: [last.createdAt, last.id] }, deps.pageTokenKey) : "",
      };
    },

    async revokeSession(req, ctx) {
      const actor = actorOf(ctx);
      const now = clock.now();
      if (req.target.case === "userId") {
        const userId = req.target.value || actor.userId;
        if (userId !== actor.userId) await authorizedTarget(db, actor, userId, "update");
        const reason = userId === actor.userId ? "revoked_by_user" : "revoked_by_admin";
        const [revoked] = await database.batch([revokeUserSessions(db, userId, reason, now), insertAuditEvent(db, userEvent(random, ctx, { type: "session.revoked_all", userId, now, details: { reason } }))]);
        return { revoked: revoked.length };
      }
      if (req.target.case !== "sessionId" || !req.target.value) throw invalidField("session_id", "name a session_id or a user_id");
      const session = await findSessionById(db, req.target.value);
      // Sessions of users the caller may not act on are answered as if they did not exist.
      if (!session || session.revokedAt !== null || session.expiresAt <= now) throw notFound("session");
      if (session.userId !== actor.userId) {
        const target = await loadTarget(db, actor, session.userId);
        if (!target) throw notFound("session");
        authorize(target, "update");
      }
      const reason = session.userId === actor.userId ? "revoked_by_user" : "revoked_by_admin";
      const [, revoked] = await database.batch([
        // Recorded only by the call that actually ends the session.
        insertAuditEventIf(db, userEvent(random, ctx, { type: "session.revoked", userId: session.userId, sessionId: session.id, now, details: { reason } }), sessionNotRevoked(db, session.id)),
        revokeSession(db, session.id, reason, now),
      ]);
      return { revoked: revoked.length };
    },
  };
}
