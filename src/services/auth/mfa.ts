/**
 * Second factors: enrolling and confirming an authenticator app, recovery
 * codes, emailed and SMS sign-in codes, and completing the MFA challenge
 * that SignIn answers when a second factor is due.
 *
 * Every acceptance of a one-time secret is one guarded statement whose
 * returned rows say whether this request won: a TOTP code raises
 * `last_used_step` only if it is below the code's step, a recovery code is
 * used only while `used_at` is null, a challenge is consumed only while it is
 * live. Where a win must also consume the challenge, both statements share
 * one batch, the challenge first, each guarded by the other.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { renderSVG } from "uqr";
import type { AuthService } from "../../../gen/latchkey/auth/v1/auth_service_pb.js";
import { MfaMethod } from "../../../gen/latchkey/auth/v1/token_pb.js";
import { Reason, invalidCredentials, invalidField, preconditionFailed } from "../../domain/errors.js";
import { looksLikeChallengeToken, maskAddress, mfaThrottleKey, type MfaMethodName } from "../../domain/mfa/challenge.js";
import { generateRecoveryCodes, hashRecoveryCode, normaliseRecoveryCode } from "../../domain/mfa/recovery-codes.js";
import { matchTotpStep, newTotpSecret, otpauthUri, totpSecretBase32 } from "../../domain/mfa/totp.js";
import { normalisePassword } from "../../domain/passwords/strength.js";
import { base64url, fromBase64url, seal, unseal } from "../../domain/tokens/secrets.js";
import type { BatchItem } from "drizzle-orm/batch";
import { not } from "drizzle-orm";
import { insertAuditEvent, insertAuditEventIf, type AuditEventInput } from "../../store/queries/audit-events.js";
import {
  acceptTotpStep,
  challengeConsumedAt,
  recoveryCodeUnused,
  totpSecretIs,
  totpStepUsable,
  consumeMfaChallenge,
  countUnusedRecoveryCodes,
  deleteRecoveryCodes,
  deleteTotpFactor,
  enrolTotp,
  findTotpFactor,
  hasTotpFactor,
  mfaChannelIs,
  insertRecoveryCodes,
  recordChallengeFailure,
  setMfaChannel,
  useRecoveryCode,
  type MfaChallengeRow,
  type TotpFactorRow,
} from "../../store/queries/second-factors.js";
import { requireEffectiveProfile } from "../../store/queries/security-profiles.js";
import { auditEventWritten } from "../../store/queries/audit-events.js";
import { withdrawMessageUnless } from "../../store/queries/outbox.js";
import { findUserById, type UserRow } from "../../store/queries/users.js";
import { acceptsSubmission, consumeCode, recordWrongAttempt } from "../../store/queries/verification-codes.js";
import { clientOf, personOf } from "../caller.js";
import { userEvent } from "../user/audit.js";
import { accountLockoutRule, createThrottles } from "../throttle.js";
import type { ServiceDeps } from "../deps.js";
import { securityNotice, type SecurityNoticeKind } from "../delivery/notifications.js";
import type { QueuedMessage } from "../delivery/outbox.js";
import { checkCode, sendCode } from "../user/verification.js";
import { challengeMethods, codeAddress, codePurposeOf, findLiveChallenge } from "./mfa-challenges.js";
import { createPasswordCheck } from "./password-check.js";
import { toProtoTokenPair } from "./to-proto.js";

export type MfaHandlers = Pick<
  ServiceImpl<typeof AuthService>,
  "completeMfaChallenge" | "resendMfaCode" | "enrollTotp" | "confirmTotp" | "disableTotp" | "getMfaStatus" | "setMfaMethod"
>;

const METHOD_NAMES: Partial<Record<MfaMethod, MfaMethodName>> = {
  [MfaMethod.TOTP]: "totp",
  [MfaMethod.EMAIL]: "email",
  [MfaMethod.SMS]: "sms",
  [MfaMethod.RECOVERY_CODE]: "recovery_code",
};

const PROTO_METHODS: Record<MfaMethodName, MfaMethod> = {
  totp: MfaMethod.TOTP,
  email: MfaMethod.EMAIL,
  sms: MfaMethod.SMS,
  recovery_code: MfaMethod.RECOVERY_CODE,
};

export function toProtoMethods(methods: readonly MfaMethodName[]): MfaMethod[] {
  return methods.map((m) => PROTO_METHODS[m]);
}

const FACTOR_NAMES = { totp: "authenticator app", email: "email codes", sms: "SMS codes", recovery_code: "recovery code" } as const;

/** Additional data of the sealed secret: a row moved to another user does not open. */
const sealedFor = (userId: string) => `totp-secret:${userId}`;

function wrongCode(): never {
  throw invalidField("code", "is wrong or already used", Reason.CODE_INVALID);
}

export function createMfaHandlers(deps: ServiceDeps): MfaHandlers {
  const { database, clock, random, totpKey, outbox, config, signIn } = deps;
  const db = database.db;
  const throttles = createThrottles({ database, clock });
  const passwordCheck = createPasswordCheck(deps);

  async function loadUser(userId: string): Promise<UserRow> {
    const user = await findUserById(db, userId);
    if (!user || user.state !== "active") throw invalidCredentials();
    return user;
  }

  async function openSecret(factor: TotpFactorRow): Promise<Uint8Array> {
    const secret = await unseal(totpKey, fromBase64url(factor.secretSealed), sealedFor(factor.userId));
    if (!secret) throw new Error(`the TOTP secret of user ${factor.userId} does not open with the current key`);
    return secret;
  }

  function notice(user: UserRow, kind: SecurityNoticeKind, clientAddress: string, subject?: string): QueuedMessage {
    return securityNotice(outbox, config.issuer, user.email, kind, { at: clock.now(), clientAddress, subject });
  }

  function audit(ctx: HandlerContext, userId: string, type: string, details: AuditEventInput["details"] = {}): AuditEventInput {
    return userEvent(random, ctx, { type, userId, now: clock.now(), sessionId: personOf(ctx).sessionId, details });
  }

  /**
   * Accepts a current code of the user's app on its own (no challenge): the
   * guarded raise of `last_used_step`. The accepted step, or undefined when
   * the code is wrong, replayed or lost a race.
   */
  async function acceptOwnCode(factor: TotpFactorRow, submitted: string, confirming: boolean): Promise<number | undefined> {
    const now = clock.now();
    const step = matchTotpStep(await openSecret(factor), submitted, now, factor.lastUsedStep);
    if (step === undefined) return undefined;
    const [accepted] = await database.batch([acceptTotpStep(db, { userId: factor.userId, step, secretSealed: factor.secretSealed, now, confirming })]);
    return accepted.length === 1 ? step : undefined;
  }

  /** The lockout rule of the user's profile, for wrong codes as for wrong passwords. */
  const lockoutOf = (userId: string) => accountLockoutRule(db, userId);

  /**
   * The account password as proof for a change. Wrong ones count against the
   * account's sign-in lockout, so a stolen access token is no way around it.
   */
  async function checkPassword(user: UserRow, password: string): Promise<void> {
    if (password === "") throw invalidField("password", "is required");
    await passwordCheck({
      email: user.email,
      password: normalisePassword(password),
      account: async () => user,
      judge: (_account, passwordOk) => (passwordOk ? undefined : { statements: [], error: invalidField("password", "is wrong") }),
    });
  }

  /** A current code of the app as proof for a change; wrong ones count like wrong codes at sign-in. */
  async function checkOwnCode(factor: TotpFactorRow, code: string): Promise<void> {
    const key = mfaThrottleKey(factor.userId);
    await throttles.assertOpen([key]);
    if ((await acceptOwnCode(factor, code, factor.confirmedAt === null)) === undefined) {
      await throttles.recordFailure(key, await lockoutOf(factor.userId));
      wrongCode();
    }
  }

  /** Counts a wrong code against the challenge (and the sent code, if any), then answers like any bad credential. */
  async function failChallenge(challenge: MfaChallengeRow, user: UserRow, method: MfaMethodName, clientAddress: string, codeId?: string): Promise<never> {
    const now = clock.now();
    const statements: BatchItem<"sqlite">[] = [];
    if (codeId) statements.push(recordWrongAttempt(db, codeId, now));
    // Someone got the password right but not the second factor: the account
    // holder hears of it once per challenge, so a stolen password shows.
    const told = challenge.attempts === 0 ? notice(user, "second_factor_failed", clientAddress, FACTOR_NAMES[method]) : undefined;
    if (told) statements.push(told.statement);
    await database.batch([
      recordChallengeFailure(db, challenge.id, now),
      throttles.hitStatement(mfaThrottleKey(challenge.userId), await lockoutOf(challenge.userId)),
      ...statements,
      insertAuditEvent(db, {
        id: random.uuid(),
        occurredAt: now,
        type: "mfa.challenge_failed",
        actorId: challenge.userId,
        userId: challenge.userId,
        ipAddress: clientAddress,
        details: { challenge_id: challenge.id, method },
      }),
    ]);
    if (told) await outbox.deliver([told.id]);
    throw invalidCredentials();
  }

  /**
   * Accepts the code for the challenge's method and consumes the challenge,
   * atomically: both or neither. Returns only if this request won; every
   * other outcome is counted against the challenge and rejected.
   */
  async function acceptForChallenge(challenge: MfaChallengeRow, user: UserRow, method: MfaMethodName, submitted: string, clientAddress: string): Promise<void> {
    const now = clock.now();
    if (method === "totp") {
      const factor = await findTotpFactor(db, user.id);
      if (!factor || factor.confirmedAt === null) return failChallenge(challenge, user, method, clientAddress);
      const step = matchTotpStep(await openSecret(factor), submitted, now, factor.lastUsedStep);
      if (step === undefined) return failChallenge(challenge, user, method, clientAddress);
      const [consumed, accepted] = await database.batch([
        consumeMfaChallenge(db, challenge.id, now, totpStepUsable(db, user.id, step, factor.secretSealed)),
        acceptTotpStep(db, { userId: user.id, step, secretSealed: factor.secretSealed, now, confirming: false, also: challengeConsumedAt(db, challenge.id, now) }),
      ]);
      if (consumed.length !== 1 || accepted.length !== 1) return failChallenge(challenge, user, method, clientAddress);
      return;
    }
    if (method === "recovery_code") {
      const codeHash = await hashRecoveryCode(user.id, normaliseRecoveryCode(submitted));
      const [consumed, used] = await database.batch([
        consumeMfaChallenge(db, challenge.id, now, recoveryCodeUnused(db, user.id, codeHash)),
        useRecoveryCode(db, { userId: user.id, codeHash, now, also: challengeConsumedAt(db, challenge.id, now) }),
      ]);
      if (consumed.length !== 1 || used.length !== 1) return failChallenge(challenge, user, method, clientAddress);
      return;
    }
    // A wrong code is counted in the batch that counts it against the challenge.
    const check = await checkCode(db, { userId: user.id, purpose: codePurposeOf(method), submitted, now, bindTo: challenge.id, countWrong: false });
    if (check.outcome === "unusable") return failChallenge(challenge, user, method, clientAddress);
    if (check.outcome === "wrong") return failChallenge(challenge, user, method, clientAddress, check.codeId);
    const { submission } = check;
    const [consumed, used] = await database.batch([consumeMfaChallenge(db, challenge.id, now, acceptsSubmission(db, submission)), consumeCode(db, submission)]);
    if (consumed.length !== 1 || used.length !== 1) return failChallenge(challenge, user, method, clientAddress);
  }

  /** The challenge behind a token, or the one `unauthenticated` answer. */
  async function liveChallenge(token: string): Promise<MfaChallengeRow> {
    const challenge = looksLikeChallengeToken(token) ? await findLiveChallenge(deps, token, clock.now()) : undefined;
    if (!challenge) throw invalidCredentials();
    return challenge;
  }

  function offeredMethod(challenge: MfaChallengeRow, method: MfaMethod): MfaMethodName {
    const name = METHOD_NAMES[method];
    if (!name || !challengeMethods(challenge).includes(name)) throw invalidField("method", "is not one of the methods this sign-in offers");
    return name;
  }

  return {
    async completeMfaChallenge(req, ctx) {
      const client = clientOf(ctx);
      const challenge = await liveChallenge(req.challengeToken);
      const method = offeredMethod(challenge, req.method);
      const user = await loadUser(challenge.userId);
      // Too many wrong codes across this user's challenges: wait, whatever the code.
      const counted = await throttles.assertOpen([mfaThrottleKey(user.id)]);
      await acceptForChallenge(challenge, user, method, req.code, client.clientAddress);
      const now = clock.now();
      const statements: BatchItem<"sqlite">[] = counted.size > 0 ? [throttles.clearStatement(mfaThrottleKey(user.id))] : [];
      const notices: QueuedMessage[] = [];
      if (method === "recovery_code") {
        const remaining = await countUnusedRecoveryCodes(db, user.id);
        statements.push(
          insertAuditEvent(db, {
            id: random.uuid(),
            occurredAt: now,
            type: "mfa.recovery_code_used",
            actorId: user.id,
            userId: user.id,
            ipAddress: client.clientAddress,
            details: { challenge_id: challenge.id, remaining },
          }),
        );
        notices.push(notice(user, "recovery_code_used", client.clientAddress));
      }
      const pair = await signIn.openUserSession(user, {
        keepLoggedIn: challenge.keepLoggedIn,
        deviceName: challenge.deviceName,
        client,
        statements,
        notices,
        details: { mfa_method: method, challenge_id: challenge.id },
      });
      return { tokens: toProtoTokenPair(pair) };
    },

    async resendMfaCode(req, ctx) {
      const client = clientOf(ctx);
      const challenge = await liveChallenge(req.challengeToken);
      const method = offeredMethod(challenge, req.method);
      if (method !== "email" && method !== "sms") throw invalidField("method", "must be MFA_METHOD_EMAIL or MFA_METHOD_SMS");
      const user = await loadUser(challenge.userId);
      const target = codeAddress(user, method);
      if (!target) throw preconditionFailed("the account has no verified phone number");
      const sent = await sendCode(deps, {
        userId: user.id,
        purpose: codePurposeOf(method),
        target,
        audit: { actorId: user.id, clientAddress: client.clientAddress },
        bindTo: challenge.id,
      });
      return { destinationHint: maskAddress(target), expiresAt: timestampFromMs(Math.min(sent.expiresAt, challenge.expiresAt)) };
    },

    async enrollTotp(_req, ctx) {
      const user = await loadUser(personOf(ctx).userId);
      const existing = await findTotpFactor(db, user.id);
      if (existing?.confirmedAt != null) throw preconditionFailed("an authenticator app is already confirmed; disable it first");
      const secret = newTotpSecret(random);
      const secretSealed = base64url(await seal(totpKey, secret, sealedFor(user.id), random));
      const now = clock.now();
      const stored = totpSecretIs(db, user.id, secretSealed);
      const [enrolled] = await database.batch([
        enrolTotp(db, { userId: user.id, secretSealed, createdAt: now }),
        insertAuditEventIf(db, audit(ctx, user.id, "mfa.totp_enrolled"), stored),
      ]);
      // Confirmed by a concurrent request meanwhile.
      if (enrolled.length !== 1) throw preconditionFailed("an authenticator app is already confirmed; disable it first");
      const uri = otpauthUri(secret, user.email);
      return { secret: totpSecretBase32(secret), otpauthUri: uri, qrCodeSvg: renderSVG(uri, { ecc: "M" }) };
    },

    async confirmTotp(req, ctx) {
      const client = clientOf(ctx);
      const user = await loadUser(personOf(ctx).userId);
      const factor = await findTotpFactor(db, user.id);
      if (!factor) throw preconditionFailed("no authenticator app is enrolled; call EnrollTotp first");
      const step = await acceptOwnCode(factor, req.code, true);
      if (step === undefined) wrongCode();
      // The code is spent; now the new set of recovery codes, in one batch.
      const codes = generateRecoveryCodes(random);
      const now = clock.now();
      const rows = await Promise.all(codes.map(async (code) => ({ id: random.uuid(), userId: user.id, codeHash: await hashRecoveryCode(user.id, normaliseRecoveryCode(code)), createdAt: now })));
      const stillThisSecret = totpSecretIs(db, user.id, factor.secretSealed);
      const firstTime = factor.confirmedAt === null;
      const added = firstTime ? [notice(user, "second_factor_added", client.clientAddress, FACTOR_NAMES.totp)] : [];
      await database.batch([
        deleteRecoveryCodes(db, user.id),
        insertRecoveryCodes(db, rows),
        // Disabled or replaced since the code was accepted: the new set is void.
        deleteRecoveryCodes(db, user.id, not(stillThisSecret)),
        insertAuditEvent(db, audit(ctx, user.id, "mfa.totp_confirmed", { first_time: firstTime, recovery_codes: rows.length })),
        ...added.map((n) => n.statement),
      ]);
      if (added.length > 0) await outbox.deliver(added.map((n) => n.id));
      return { recoveryCodes: codes };
    },

    async disableTotp(req, ctx) {
      const client = clientOf(ctx);
      const user = await loadUser(personOf(ctx).userId);
      const factor = await findTotpFactor(db, user.id);
      if (!factor) throw preconditionFailed("no authenticator app is enrolled");
      if (req.proof.case === "code") {
        await checkOwnCode(factor, req.proof.value);
      } else if (req.proof.case === "password") {
        await checkPassword(user, req.proof.value);
      } else {
        throw invalidField("code", "or password is required");
      }
      const removed = factor.confirmedAt !== null ? [notice(user, "second_factor_removed", client.clientAddress, FACTOR_NAMES.totp)] : [];
      const event = audit(ctx, user.id, "mfa.totp_disabled", { proof: req.proof.case, was_confirmed: factor.confirmedAt !== null });
      // The audit row and the notice only if this request is the one that removes it.
      const [, deleted] = await database.batch([
        insertAuditEventIf(db, event, hasTotpFactor(db, user.id)),
        deleteTotpFactor(db, user.id),
        deleteRecoveryCodes(db, user.id),
        ...removed.flatMap((n) => [n.statement, withdrawMessageUnless(db, n.id, auditEventWritten(db, event.id))]),
      ]);
      if (deleted.length > 0 && removed.length > 0) await outbox.deliver(removed.map((n) => n.id));
      return {};
    },

    async getMfaStatus(_req, ctx) {
      const user = await loadUser(personOf(ctx).userId);
      const [factor, remaining, profile] = await Promise.all([findTotpFactor(db, user.id), countUnusedRecoveryCodes(db, user.id), requireEffectiveProfile(db, user.id)]);
      const totpEnabled = factor?.confirmedAt != null;
      return {
        totpEnabled,
        emailEnabled: user.mfaEmailEnabled,
        smsEnabled: user.mfaSmsEnabled,
        recoveryCodesRemaining: totpEnabled ? remaining : 0,
        requiredByProfile: profile.mfaRequired,
      };
    },

    async setMfaMethod(req, ctx) {
      const client = clientOf(ctx);
      const user = await loadUser(personOf(ctx).userId);
      const channel = req.method === MfaMethod.EMAIL ? "email" : req.method === MfaMethod.SMS ? "sms" : undefined;
      if (!channel) throw invalidField("method", "must be MFA_METHOD_EMAIL or MFA_METHOD_SMS");
      const current = channel === "email" ? user.mfaEmailEnabled : user.mfaSmsEnabled;
      if (req.enabled) {
        if (channel === "email" && user.emailVerifiedAt === null) throw preconditionFailed("the email address is not verified; verify it with VerifyEmail first");
        if (channel === "sms" && codeAddress(user, "sms") === undefined) throw preconditionFailed("the phone number is not verified; verify it with CompletePhoneVerification first");
      } else {
        await checkPassword(user, req.password);
      }
      if (current === req.enabled) return {};
      const now = clock.now();
      const told = notice(user, req.enabled ? "second_factor_added" : "second_factor_removed", client.clientAddress, FACTOR_NAMES[channel]);
      const event = audit(ctx, user.id, "mfa.method_changed", { method: channel, enabled: req.enabled });
      // Recorded and told only by the request that makes the change.
      const [, changed] = await database.batch([
        insertAuditEventIf(db, event, mfaChannelIs(db, user.id, channel, !req.enabled)),
        setMfaChannel(db, user.id, channel, req.enabled, now),
        told.statement,
        withdrawMessageUnless(db, told.id, auditEventWritten(db, event.id)),
      ]);
      if (changed.length > 0) await outbox.deliver([told.id]);
      return {};
    },
  };
}
