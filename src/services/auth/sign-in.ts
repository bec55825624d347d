/**
 * Password sign-in. Unknown users, wrong passwords and disabled accounts get
 * the same error after the same work: one argon2id verification (a hash of
 * the given password when there is no user), one audit row and one count against
 * the account (keyed by the email, so unknown ones lock out alike) and the
 * client address. A blocked account or address is refused before any of it.
 */
import { invalidCredentials } from "../../domain/errors.js";
import { normaliseEmail } from "../../domain/formats.js";
import type { Clock, PasswordHasher, Random } from "../../domain/ports.js";
import { normalisePassword } from "../../domain/passwords/strength.js";
import { ADDRESS_RULES, throttleKeys } from "../../domain/throttle/rules.js";
import type { Database } from "../../store/database.js";
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import { findMembershipRole } from "../../store/queries/memberships.js";
import { requireEffectiveProfile } from "../../store/queries/security-profiles.js";
import { findUserByEmail, updatePasswordHash } from "../../store/queries/users.js";
import type { ClientInfo, IssuedPair, TokenService } from "../tokens/token-service.js";
import type { BatchItem } from "drizzle-orm/batch";
import type { Config } from "../../config.js";
import type { SecurityProfileRow } from "../../store/queries/security-profiles.js";
import { findDeviceHistory } from "../../store/queries/second-factors.js";
import type { UserRow } from "../../store/queries/users.js";
import type { Outbox, QueuedMessage } from "../delivery/outbox.js";
import { securityNotice } from "../delivery/notifications.js";
import { createMfaChallenges, type MfaRequired } from "./mfa-challenges.js";
import { createThrottles } from "../throttle.js";
import { createPasswordCheck } from "./password-check.js";

export interface SignInDeps {
  database: Database;
  hasher: PasswordHasher;
  tokens: TokenService;
  clock: Clock;
  random: Random;
  config: Config;
  outbox: Outbox;
}

export interface SignInInput {
  email: string;
  password: string;
  keepLoggedIn: boolean;
  deviceName: string;
}

/** A finished sign-in, or the second factor it still needs. */
export type SignInResult = { kind: "tokens"; pair: IssuedPair } | MfaRequired;

/**
 * The audit row of a refused sign-in, by password or through a provider:
 * `reason` says why (unknown_user, wrong_password, user_<state>), `details`
 * how the sign-in came.
 */
export function signInFailedEvent(
  deps: { db: Database["db"]; random: Random; clock: Clock },
  failure: { userId: string | undefined; client: ClientInfo; reason: string; details?: Record<string, string> },
) {
  return insertAuditEvent(deps.db, {
    id: deps.random.uuid(),
    occurredAt: deps.clock.now(),
    type: "sign_in.failed",
    userId: failure.userId,
    ipAddress: failure.client.clientAddress,
    details: { reason: failure.reason, ...failure.details },
  });
}

/** What a sign-in that passed every check opens its session with. */
export interface SessionRequest {
  keepLoggedIn: boolean;
  deviceName: string;
  client: ClientInfo;
  /** The profile that governs the user, when the caller has read it already. */
  profile?: SecurityProfileRow | undefined;
  /** More changes to commit in the session's batch. */
  statements?: BatchItem<"sqlite">[];
  /** More notices to queue in that batch and deliver after it. */
  notices?: QueuedMessage[];
  /** More details for the `sign_in.succeeded` audit row. */
  details?: Record<string, string | number | boolean>;
}

export function createSignIn(deps: SignInDeps) {
  const { database, hasher, tokens, clock, random } = deps;
  const db = database.db;
  const throttles = createThrottles({ database, clock });
  const checkPassword = createPasswordCheck(deps);

  const mfa = createMfaChallenges(deps);

  /**
   * Opens the session of a user who passed every check (password, and the
   * second factor when one is needed): the session, the audit row and a
   * notice when the device name is new, all in one batch.
   */
  async function openUserSession(user: UserRow, request: SessionRequest): Promise<IssuedPair> {
    const { client } = request;
    const profile = request.profile ?? (await requireEffectiveProfile(db, user.id));
    // New sessions start in the organisation the user last worked in, if the
    // user is still a member of it.
    const organisationRole = user.activeOrganisationId ? await findMembershipRole(db, user.activeOrganisationId, user.id) : undefined;
    const session = await tokens.openSession({
      subject: {
        id: user.id,
        superAdmin: user.superAdmin,
        organisationId: organisationRole ? user.activeOrganisationId : null,
        organisationRole: organisationRole ?? null,
      },
      profile,
      keepLoggedIn: request.keepLoggedIn,
      deviceName: request.deviceName,
      client,
    });
    const now = clock.now();
    // A device name the user never signed in with; a first sign-in ever is not news.
    const history = await findDeviceHistory(db, user.id, request.deviceName);
    const notices = [...(request.notices ?? [])];
    if (history.anySession && !history.sameDevice) {
      notices.push(securityNotice(deps.outbox, deps.config.issuer, user.email, "new_device_sign_in", { at: now, clientAddress: client.clientAddress, subject: request.deviceName }));
    }
    await database.batch([
      ...session.statements,
      ...(request.statements ?? []),
      ...notices.map((notice) => notice.statement),
      insertAuditEvent(db, {
        id: random.uuid(),
        occurredAt: now,
        type: "sign_in.succeeded",
        actorId: user.id,
        userId: user.id,
        sessionId: session.sessionId,
        ipAddress: client.clientAddress,
        details: { device_name: request.deviceName, keep_logged_in: request.keepLoggedIn, ...request.details },
      }),
    ]);
    if (notices.length > 0) await deps.outbox.deliver(notices.map((notice) => notice.id));
    return session.pair;
  }

  async function signIn(input: SignInInput, client: ClientInfo): Promise<SignInResult> {
    const email = normaliseEmail(input.email);
    const password = normalisePassword(input.password);
    // Per account (keyed by the email, known or not) and per client address.
    const { account: user, lockoutKey, counted } = await checkPassword({
      email,
      password,
      account: () => findUserByEmail(db, email),
      sameWorkWithoutAccount: true,
      alsoCounted: [{ key: throttleKeys.address("sign_in", client.clientAddress), rule: ADDRESS_RULES.signInFailures }],
      judge: (user, passwordOk) =>
        user && passwordOk && user.state === "active"
          ? undefined
          : {
              statements: [
                signInFailedEvent(
                  { db, random, clock },
                  { userId: user?.id, client, reason: !user ? "unknown_user" : !passwordOk ? "wrong_password" : `user_${user.state}` },
                ),
              ],
              error: invalidCredentials(),
            },
    });
    const now = clock.now();
    const profile = await requireEffectiveProfile(db, user.id);
    const statements = [
      // The right password ends the run of failures, and the strikes with it,
      // in the batch that opens the challenge or the session.
      ...(counted.has(lockoutKey) ? [throttles.clearStatement(lockoutKey)] : []),
      // Upgrade hashes made with weaker parameters while the password is at hand.
      ...(hasher.needsRehash(user.passwordHash) ? [updatePasswordHash(db, user.id, await hasher.hash(password), now)] : []),
    ];
    // A second factor is due: no session yet, only a challenge.
    const challenge = await mfa.start(user, profile, { keepLoggedIn: input.keepLoggedIn, deviceName: input.deviceName, client, statements });
    if (challenge) return challenge;
    const pair = await openUserSession(user, { keepLoggedIn: input.keepLoggedIn, deviceName: input.deviceName, client, profile, statements });
    return { kind: "tokens", pair };
  }

  return Object.assign(signIn, {
    /** Opens the session of a sign-in that has passed its second factor too. */
    openUserSession,
  });
}

export type SignIn = ReturnType<typeof createSignIn>;
