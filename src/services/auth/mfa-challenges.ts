/**
 * The MFA step of SignIn: when the user has a second factor, or the
 * security profile demands one, the password opens no session but an MFA
 * challenge. Its token is returned once and stored only as a hash; it
 * expires in five minutes, dies after five wrong codes and is consumed by
 * the one completion that wins.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { challengeIsLive, CHALLENGE_TTL_MS, maskAddress, methodsFor, newChallengeToken, sendAtOnce, type MfaMethodName } from "../../domain/mfa/challenge.js";
import { sha256Hex } from "../../domain/tokens/secrets.js";
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import { findMfaChallengeByHash, findTotpFactor, insertMfaChallenge, type MfaChallengeRow } from "../../store/queries/second-factors.js";
import type { SecurityProfileRow } from "../../store/queries/security-profiles.js";
import type { UserRow } from "../../store/queries/users.js";
import type { ServiceDeps } from "../deps.js";
import type { ClientInfo } from "../tokens/token-service.js";
import { prepareCode } from "../user/verification.js";

type ChallengeDeps = Pick<ServiceDeps, "config" | "database" | "clock" | "random" | "outbox">;

export interface MfaRequired {
  kind: "mfa";
  challengeToken: string;
  methods: MfaMethodName[];
  expiresAt: number;
  /** Where a code went at once, masked; empty when none was sent. */
  codeSentTo: string;
}

/** The address codes of a method go to: the email address, or the verified phone number. */
export function codeAddress(user: UserRow, method: "email" | "sms"): string | undefined {
  if (method === "email") return user.email;
  return user.phoneVerifiedAt !== null && user.phoneNumber ? user.phoneNumber : undefined;
}

export function codePurposeOf(method: "email" | "sms") {
  return method === "email" ? ("mfa_email" as const) : ("mfa_sms" as const);
}

/** The methods a user can complete a sign-in with now; empty when the password suffices. */
export async function availableMethods(deps: Pick<ChallengeDeps, "database">, user: UserRow, profile: SecurityProfileRow): Promise<MfaMethodName[]> {
  const totp = await findTotpFactor(deps.database.db, user.id);
  return methodsFor({
    totpConfirmed: totp?.confirmedAt != null,
    emailEnabled: user.mfaEmailEnabled,
    emailVerified: user.emailVerifiedAt !== null,
    smsEnabled: user.mfaSmsEnabled,
    phoneVerified: codeAddress(user, "sms") !== undefined,
    profileRequiresMfa: profile.mfaRequired,
  });
}

/** A live challenge by its token, or undefined for anything else (unknown, expired, used, dead). */
export async function findLiveChallenge(deps: Pick<ChallengeDeps, "database">, token: string, now: number): Promise<MfaChallengeRow | undefined> {
  const challenge = await findMfaChallengeByHash(deps.database.db, await sha256Hex(token));
  return challenge && challengeIsLive(challenge, now) ? challenge : undefined;
}

export function challengeMethods(challenge: MfaChallengeRow): MfaMethodName[] {
  return JSON.parse(challenge.methods) as MfaMethodName[];
}

export function createMfaChallenges(deps: ChallengeDeps) {
  const { database, clock, random } = deps;
  const db = database.db;

  return {
    /**
     * Starts a challenge if the user needs a second factor, committing
     * `statements` with it. When a sent code is the only way to finish, the
     * code goes out at once; otherwise the client asks for one with
     * ResendMfaCode if it wants it.
     */
    async start(
      user: UserRow,
      profile: SecurityProfileRow,
      request: { keepLoggedIn: boolean; deviceName: string; client: ClientInfo; statements: BatchItem<"sqlite">[] },
    ): Promise<MfaRequired | undefined> {
      const methods = await availableMethods(deps, user, profile);
      if (methods.length === 0) return undefined;
      const now = clock.now();
      const token = newChallengeToken(random);
      const id = random.uuid();
      const channel = sendAtOnce(methods);
      const target = channel ? codeAddress(user, channel) : undefined;
      const code =
        channel && target
          ? await prepareCode(deps, { userId: user.id, purpose: codePurposeOf(channel), target, now, audit: { actorId: user.id, clientAddress: request.client.clientAddress }, bindTo: id })
          : undefined;
      await database.batch([
        insertMfaChallenge(db, {
          id,
          tokenHash: await sha256Hex(token),
          userId: user.id,
          methods: JSON.stringify(methods),
          keepLoggedIn: request.keepLoggedIn,
          deviceName: request.deviceName,
          ipAddress: request.client.clientAddress,
          userAgent: request.client.userAgent,
          attempts: 0,
          createdAt: now,
          expiresAt: now + CHALLENGE_TTL_MS,
          consumedAt: null,
        }),
        ...request.statements,
        ...(code?.statements ?? []),
        insertAuditEvent(db, {
          id: random.uuid(),
          occurredAt: now,
          type: "sign_in.mfa_required",
          actorId: user.id,
          userId: user.id,
          ipAddress: request.client.clientAddress,
          details: { challenge_id: id, methods: methods.join(","), device_name: request.deviceName },
        }),
      ]);
      if (code) await code.deliver();
      return { kind: "mfa", challengeToken: token, methods, expiresAt: now + CHALLENGE_TTL_MS, codeSentTo: code && target ? maskAddress(target) : "" };
    },
  };
}
