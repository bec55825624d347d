/**
 * Password sign-in. Unknown users, wrong passwords and disabled accounts get
 * the same error after the same work: one argon2id verification (against a
 * dummy hash when there is no user) and one audit row.
 */
import { invalidCredentials } from "../../domain/errors.js";
import { normaliseEmail } from "../../domain/formats.js";
import type { Clock, PasswordHasher, Random } from "../../domain/ports.js";
import { normalisePassword } from "../../domain/passwords/strength.js";
import { base64url } from "../../domain/tokens/secrets.js";
import type { Database } from "../../store/database.js";
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import { findMembershipRole } from "../../store/queries/memberships.js";
import { findSecurityProfile } from "../../store/queries/security-profiles.js";
import { findUserByEmail, updatePasswordHash } from "../../store/queries/users.js";
import type { ClientInfo, IssuedPair, TokenService } from "../tokens/token-service.js";

export interface SignInDeps {
  database: Database;
  hasher: PasswordHasher;
  tokens: TokenService;
  clock: Clock;
  random: Random;
}

export interface SignInInput {
  email: string;
  password: string;
  keepLoggedIn: boolean;
  deviceName: string;
}

export function createSignIn(deps: SignInDeps) {
  const { database, hasher, tokens, clock, random } = deps;
  const db = database.db;
  let dummyHash: Promise<string> | undefined;
  /** A hash of a random password, made with the current parameters. */
  const dummy = () => (dummyHash ??= hasher.hash(base64url(random.bytes(24))));

  async function signIn(input: SignInInput, client: ClientInfo): Promise<IssuedPair> {
    const email = normaliseEmail(input.email);
    const password = normalisePassword(input.password);
    const user = await findUserByEmail(db, email);
    const passwordOk = await hasher.verify(user?.passwordHash ?? (await dummy()), password);
    const now = clock.now();
    if (!user || !passwordOk || user.state !== "active") {
      await database.batch([
        insertAuditEvent(db, {
          id: random.uuid(),
          occurredAt: now,
          type: "sign_in.failed",
          userId: user?.id,
          ipAddress: client.clientAddress,
          details: { reason: !user ? "unknown_user" : !passwordOk ? "wrong_password" : `user_${user.state}` },
        }),
      ]);
      throw invalidCredentials();
    }
    const profile = await findSecurityProfile(db, user.securityProfileId);
    if (!profile) throw new Error(`security profile ${user.securityProfileId} is missing`);
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
      keepLoggedIn: input.keepLoggedIn,
      deviceName: input.deviceName,
      client,
    });
    // Upgrade hashes made with weaker parameters while the password is at hand.
    const rehash = hasher.needsRehash(user.passwordHash) ? [updatePasswordHash(db, user.id, await hasher.hash(password), now)] : [];
    await database.batch([
      ...session.statements,
      ...rehash,
      insertAuditEvent(db, {
        id: random.uuid(),
        occurredAt: now,
        type: "sign_in.succeeded",
        actorId: user.id,
        userId: user.id,
        sessionId: session.sessionId,
        ipAddress: client.clientAddress,
        details: { device_name: input.deviceName, keep_logged_in: input.keepLoggedIn },
      }),
    ]);
    return session.pair;
  }

  return Object.assign(signIn, {
    /** Computes the dummy hash ahead of the first unknown-user sign-in. */
    warmUp: () => dummy().then(() => undefined),
  });
}

export type SignIn = ReturnType<typeof createSignIn>;
