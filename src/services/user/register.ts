/**
 * Registration: the password policy of the default security profile, the
 * argon2id hash, and one atomic batch that writes the user and its audit row.
 * The unique index on email decides concurrent registrations of one address.
 */
import { Reason, alreadyExists } from "../../domain/errors.js";
import { normaliseEmail } from "../../domain/formats.js";
import type { Clock, PasswordHasher, Random } from "../../domain/ports.js";
import { normalisePassword, type PasswordStrengthCheck } from "../../domain/passwords/strength.js";
import type { Database } from "../../store/database.js";
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import { requireDefaultProfile } from "../../store/queries/security-profiles.js";
import { findUserById, insertUser, isEmailTaken, type UserRow } from "../../store/queries/users.js";
import { accountWords, assertAcceptablePassword } from "../password-policy.js";
import type { PendingWrite } from "./verification.js";

export interface RegistrationDeps {
  database: Database;
  hasher: PasswordHasher;
  passwordStrength: PasswordStrengthCheck;
  clock: Clock;
  random: Random;
}

export interface NewAccount {
  email: string;
  name: string;
  password: string;
  phoneNumber?: string | undefined;
  locale?: string | undefined;
  newsletter?: boolean | undefined;
  superAdmin?: boolean | undefined;
}

/**
 * Writes that belong to a new account (its first verification code), to be
 * committed in the user's own batch.
 */
export type AlongsideNewUser = (user: { id: string; email: string; now: number; clientAddress: string }) => Promise<PendingWrite>;

export function createRegistration(deps: RegistrationDeps) {
  const { database, hasher, passwordStrength, clock, random } = deps;
  return async function register(
    account: NewAccount,
    audit: { actorId?: string | undefined; clientAddress: string },
    alongside?: AlongsideNewUser,
  ): Promise<UserRow> {
    const email = normaliseEmail(account.email);
    const password = normalisePassword(account.password);
    const profile = await requireDefaultProfile(database.db);
    await assertAcceptablePassword(passwordStrength, password, accountWords({ email, name: account.name }), profile, "password");
    const passwordHash = await hasher.hash(password);
    const now = clock.now();
    const id = random.uuid();
    const extra = await alongside?.({ id, email, now, clientAddress: audit.clientAddress });
    try {
      await database.batch([
        insertUser(database.db, {
          id,
          email,
          name: account.name.normalize("NFC").trim(),
          phoneNumber: account.phoneNumber ? account.phoneNumber : null,
          locale: account.locale || "en",
          newsletter: account.newsletter ?? false,
          passwordHash,
          state: "active",
          superAdmin: account.superAdmin ?? false,
          securityProfileId: profile.id,
          createdAt: now,
          updatedAt: now,
        }),
        insertAuditEvent(database.db, {
          id: random.uuid(),
          occurredAt: now,
          type: "user.created",
          actorId: audit.actorId ?? id,
          userId: id,
          ipAddress: audit.clientAddress,
          details: { super_admin: account.superAdmin ?? false },
        }),
        ...(extra?.statements ?? []),
      ]);
    } catch (error) {
      if (isEmailTaken(error)) throw alreadyExists("email", "is already registered", Reason.EMAIL_TAKEN);
      throw error;
    }
    // Only after the commit: a rolled-back registration sends nothing.
    await extra?.afterCommit();
    const row = await findUserById(database.db, id);
    if (!row) throw new Error("a user vanished right after it was created");
    return row;
  };
}

export type Register = ReturnType<typeof createRegistration>;
