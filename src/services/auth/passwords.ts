/**
 * ChangePassword, StartPasswordReset and CompletePasswordReset.
 *
 * A new password meets the profile (length, strength, not breached) and is
 * none of the account's last N passwords (the profile's history length: the
 * current one in `users`, the N−1 before it in `password_history`). Setting
 * it is one batch under one guard: the hash, the history, the revoked
 * sessions, the cleared lockout, the notice and the audit rows all happen,
 * or none does.
 *
 * StartPasswordReset does the same work for every address: the throttles,
 * the user lookup, the code read, the code hash and one batch of the same
 * statements, which for an unknown address (or an account that gets no
 * code) are run with a send cap of 0 and so change nothing. Delivery runs
 * after the answer, so the mail server's pace cannot tell the two apart.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { BatchItem } from "drizzle-orm/batch";
import type { SQL } from "drizzle-orm";
import type { AuthService } from "../../../gen/latchkey/auth/v1/auth_service_pb.js";
import { resendBlockedForMs } from "../../domain/codes.js";
import { DomainError, Reason, invalidCredentials } from "../../domain/errors.js";
import { normaliseEmail } from "../../domain/formats.js";
import { normalisePassword } from "../../domain/passwords/strength.js";
import { ADDRESS_RULES, RESET_MAILS_PER_ADDRESS, throttleKeys } from "../../domain/throttle/rules.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import {
  clearThrottleIf,
  findPasswordHistory,
  insertPasswordHistoryIf,
  passwordIs,
  revokeSessionsIf,
  setPasswordHashIf,
  trimPasswordHistoryIf,
} from "../../store/queries/password-changes.js";
import { withdrawMessageUnless } from "../../store/queries/outbox.js";
import { requireEffectiveProfile, type SecurityProfileRow } from "../../store/queries/security-profiles.js";
import { findUserByEmail, findUserById, type UserRow } from "../../store/queries/users.js";
import { acceptsSubmission, consumeCode, findLatestCode } from "../../store/queries/verification-codes.js";
import { clientOf, personOf } from "../caller.js";
import { securityNotice } from "../delivery/notifications.js";
import type { ServiceDeps } from "../deps.js";
import { accountWords, assertAcceptablePassword } from "../password-policy.js";
import { createThrottles } from "../throttle.js";
import type { ClientInfo } from "../tokens/token-service.js";
import { checkCode, prepareCode } from "../user/verification.js";
import { createPasswordCheck } from "./password-check.js";

type PasswordHandlers = Pick<ServiceImpl<typeof AuthService>, "changePassword" | "startPasswordReset" | "completePasswordReset">;

/** How a new password replaces the old one. */
interface Replacement {
  user: UserRow;
  profile: SecurityProfileRow;
  newHash: string;
  /** Holds while the change may go ahead; every statement is guarded by it. */
  guard: SQL;
  kind: "password_changed" | "password_reset";
  client: ClientInfo;
  /** The session that changed the password and stays signed in. */
  keepSessionId?: string | undefined;
}

export function createPasswordHandlers(deps: ServiceDeps): PasswordHandlers {
  const { database, hasher, passwordStrength, clock, random, config, outbox } = deps;
  const db = database.db;
  const throttles = createThrottles({ database, clock });
  const checkPassword = createPasswordCheck(deps);

  /** Throws invalid_argument unless `password` may become the account's password. */
  async function assertNewPassword(user: UserRow, profile: SecurityProfileRow, password: string): Promise<void> {
    await assertAcceptablePassword(passwordStrength, password, accountWords(user), profile, "new_password");
    const remembered = profile.passwordHistoryLength;
    if (remembered <= 0) return;
    const recent = [user.passwordHash, ...(await findPasswordHistory(db, user.id, remembered - 1))];
    const reused = await Promise.all(recent.map((hash) => hasher.verify(hash, password)));
    if (reused.some(Boolean)) {
      const description = remembered === 1 ? "must differ from the current password" : `must differ from the last ${remembered} passwords`;
      throw new DomainError("invalid_argument", Reason.PASSWORD_REUSED, `new_password: ${description}`, {
        violations: [{ field: "new_password", description }],
        metadata: { history_length: String(remembered) },
      });
    }
  }

  /**
   * The statements of a replacement, guarded by `r.guard`; the last one sets
   * the hash and answers the user's id when the guard held. Callers that
   * consume something (a reset code) append that after them.
   */
  function replacementStatements(r: Replacement, lockoutKey: string, now: number) {
    const { user, guard } = r;
    const notice = securityNotice(outbox, config.issuer, user.email, r.kind, { at: now, clientAddress: r.client.clientAddress });
    const audit = { actorId: user.id, userId: user.id, sessionId: r.keepSessionId, ipAddress: r.client.clientAddress, occurredAt: now };
    const statements: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]] = [
      notice.statement,
      withdrawMessageUnless(db, notice.id, guard),
      insertAuditEventIf(db, { ...audit, id: random.uuid(), type: r.kind === "password_reset" ? "password.reset" : "password.changed" }, guard),
      insertAuditEventIf(db, { ...audit, id: random.uuid(), type: "session.revoked_all", details: { reason: r.kind, kept_current: r.keepSessionId !== undefined } }, guard),
      revokeSessionsIf(db, { userId: user.id, keepSessionId: r.keepSessionId, reason: r.kind, now }, guard),
      insertPasswordHistoryIf(db, { id: random.uuid(), userId: user.id, passwordHash: user.passwordHash, createdAt: now }, guard),
      trimPasswordHistoryIf(db, user.id, Math.max(0, r.profile.passwordHistoryLength - 1), guard),
      clearThrottleIf(db, lockoutKey, guard),
      setPasswordHashIf(db, user.id, r.newHash, now, guard),
    ];
    return { statements, noticeId: notice.id };
  }

  return {
    async changePassword(req, ctx) {
      const actor = personOf(ctx);
      const client = clientOf(ctx);
      const user = await findUserById(db, actor.userId);
      if (!user) throw invalidCredentials();
      // A stolen access token must not become a way to guess the password.
      const { lockoutKey } = await checkPassword({
        email: user.email,
        password: normalisePassword(req.currentPassword),
        account: async () => user,
        judge: (_account, passwordOk) =>
          passwordOk
            ? undefined
            : {
                statements: [
                  insertAuditEvent(db, { id: random.uuid(), occurredAt: clock.now(), type: "password.change_failed", actorId: user.id, userId: user.id, sessionId: actor.sessionId, ipAddress: client.clientAddress, details: { reason: "wrong_password" } }),
                ],
                error: invalidCredentials(),
              },
      });
      const profile = await requireEffectiveProfile(db, user.id);
      const password = normalisePassword(req.newPassword);
      await assertNewPassword(user, profile, password);
      const newHash = await hasher.hash(password);
      const now = clock.now();
      const { statements, noticeId } = replacementStatements(
        { user, profile, newHash, guard: passwordIs(db, user.id, user.passwordHash), kind: "password_changed", client, keepSessionId: actor.sessionId },
        lockoutKey,
        now,
      );
      const results = await database.batch(statements);
      // Changed by a concurrent request since it was verified: the current password is no longer the one given.
      if ((results[results.length - 1] as unknown[]).length === 0) throw invalidCredentials();
      await outbox.deliver([noticeId]);
      return {};
    },

    async startPasswordReset(req, ctx) {
      const client = clientOf(ctx);
      await throttles.consume(throttleKeys.address("password_reset", client.clientAddress), ADDRESS_RULES.passwordResetRequests);
      const email = normaliseEmail(req.email);
      // Counted per address whether or not it has an account, so the cap tells nothing either.
      await throttles.consume(await throttleKeys.resetMails(email), RESET_MAILS_PER_ADDRESS);
      const user = await findUserByEmail(db, email);
      const userId = user?.id ?? random.uuid();
      const now = clock.now();
      // A code that would inherit a spent failure budget would be dead on arrival: none is sent.
      const blocked = resendBlockedForMs(await findLatestCode(db, userId, "password_reset"), now) !== undefined;
      const eligible = user !== undefined && user.state === "active" && !blocked;
      const prepared = await prepareCode(deps, {
        userId,
        purpose: "password_reset",
        target: user?.email ?? email,
        now,
        audit: { actorId: userId, clientAddress: client.clientAddress },
        maxSends: eligible ? undefined : 0,
      });
      // Every request leaves one audit row: the code sent, or why none was.
      const notSent = insertAuditEvent(db, {
        id: random.uuid(),
        occurredAt: now,
        type: "password_reset.not_sent",
        userId: user?.id,
        ipAddress: client.clientAddress,
        details: { reason: !user ? "no_account" : user.state !== "active" ? `user_${user.state}` : "code_exhausted" },
      });
      await database.batch(eligible ? prepared.statements : [...prepared.statements, notSent]);
      // After the answer: neither the mail server's pace nor reading the
      // queued row may tell a known address from an unknown one. A row the
      // process does not get to stays in the outbox for the next flush.
      setTimeout(() => void prepared.deliver(), 0);
      return {};
    },

    async completePasswordReset(req, ctx) {
      const client = clientOf(ctx);
      await throttles.consume(throttleKeys.address("password_reset_complete", client.clientAddress), ADDRESS_RULES.passwordResetCompletions);
      const user = await findUserByEmail(db, normaliseEmail(req.email));
      if (!user) throw invalidCredentials();
      const check = await checkCode(db, { userId: user.id, purpose: "password_reset", submitted: req.code, now: clock.now() });
      if (check.outcome !== "match") throw invalidCredentials();
      const profile = await requireEffectiveProfile(db, user.id);
      const password = normalisePassword(req.newPassword);
      // The code stays usable when the new password is refused.
      await assertNewPassword(user, profile, password);
      const newHash = await hasher.hash(password);
      const now = clock.now();
      // Judged as of now, after the slow hashing of the new password.
      const submission = { ...check.submission, now };
      const { statements, noticeId } = replacementStatements(
        { user, profile, newHash, guard: acceptsSubmission(db, submission), kind: "password_reset", client },
        await throttleKeys.lockout(user.email),
        now,
      );
      const results = await database.batch([...statements, consumeCode(db, submission)]);
      // Expired meanwhile, or used by a concurrent request.
      if ((results[results.length - 1] as unknown[]).length === 0) throw invalidCredentials();
      await outbox.deliver([noticeId]);
      return {};
    },
  };
}
