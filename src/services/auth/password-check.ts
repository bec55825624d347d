/**
 * A password given as proof, at sign-in or to confirm a change, counted
 * against the account's lockout: a blocked account is refused before any
 * password work, and every failure counts under the account's email with
 * its profile's lockout rule. Every route that takes a password goes
 * through here, so none of them (a stolen access token included) guesses
 * more freely than sign-in does.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { invalidCredentials } from "../../domain/errors.js";
import type { Clock, PasswordHasher } from "../../domain/ports.js";
import { throttleKeys, type ThrottleRule } from "../../domain/throttle/rules.js";
import type { Database } from "../../store/database.js";
import { accountLockoutRule, createThrottles } from "../throttle.js";

/** What a failed attempt commits with its count, and the error it answers. */
export interface PasswordFailure {
  statements: BatchItem<"sqlite">[];
  error: Error;
}

export interface PasswordAttempt<A extends { id: string; passwordHash: string }> {
  /** The normalised email: failures count under it, whether or not it has an account. */
  email: string;
  /** The password given, normalised. */
  password: string;
  /** Reads the account, once its lockout is known to be open; undefined when there is none. */
  account(): Promise<A | undefined>;
  /**
   * Whether an attempt without an account still does a password's work:
   * hashing the given password with the current parameters costs what
   * verifying it against a stored hash costs, so an unknown address answers
   * no sooner than a wrong password (and nothing has to be prepared for it).
   */
  sameWorkWithoutAccount?: boolean;
  /** More keys refused while blocked and counted with each failure (the client address at sign-in). */
  alsoCounted?: readonly { key: string; rule: ThrottleRule }[];
  /**
   * Whether the attempt fails, given the account and whether the password
   * matched (a right password still fails for an account that may not sign
   * in). An attempt without an account always fails.
   */
  judge(account: A | undefined, passwordOk: boolean): PasswordFailure | undefined;
}

export interface PasswordProof<A> {
  account: A;
  /** The account's lockout key, for the batch that acts on the success to clear. */
  lockoutKey: string;
  /** The keys that had counted failures before; only these need clearing. */
  counted: ReadonlySet<string>;
}

export function createPasswordCheck(deps: { database: Database; hasher: PasswordHasher; clock: Clock }) {
  const { database, hasher } = deps;
  const throttles = createThrottles(deps);

  /** Returns when the attempt passes; otherwise counts it and throws the error `judge` chose. */
  return async function checkPassword<A extends { id: string; passwordHash: string }>(attempt: PasswordAttempt<A>): Promise<PasswordProof<A>> {
    const lockoutKey = await throttleKeys.lockout(attempt.email);
    const also = attempt.alsoCounted ?? [];
    // A blocked key is refused before the account is read or any password work is done.
    const counted = await throttles.assertOpen([lockoutKey, ...also.map((a) => a.key)]);
    const account = await attempt.account();
    let passwordOk = false;
    if (account) passwordOk = await hasher.verify(account.passwordHash, attempt.password);
    else if (attempt.sameWorkWithoutAccount) await hasher.hash(attempt.password);
    const failure = attempt.judge(account, passwordOk);
    if (failure || !account) {
      const rule = await accountLockoutRule(database.db, account?.id);
      await database.batch([throttles.hitStatement(lockoutKey, rule), ...also.map((a) => throttles.hitStatement(a.key, a.rule)), ...(failure?.statements ?? [])]);
      throw failure?.error ?? invalidCredentials();
    }
    return { account, lockoutKey, counted };
  };
}

export type PasswordCheck = ReturnType<typeof createPasswordCheck>;
