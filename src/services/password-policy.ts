/**
 * The password policy of a security profile, as every place that sets a
 * password applies it: registration, ChangePassword and
 * CompletePasswordReset. A password that falls short answers
 * invalid_argument (WEAK_PASSWORD) with the strength feedback.
 */
import { DomainError, Reason } from "../domain/errors.js";
import type { PasswordStrengthCheck } from "../domain/passwords/strength.js";

export interface PasswordRules {
  passwordMinLength: number;
  passwordMinScore: number;
}

/**
 * Throws unless `password` (already normalised) is long and strong enough
 * and not in the breached list, as `checkStrength` judges; `userInputs`
 * (email, name) count against it. `field` names the request field in the
 * violation.
 */
export async function assertAcceptablePassword(
  checkStrength: PasswordStrengthCheck,
  password: string,
  userInputs: string[],
  profile: PasswordRules,
  field: string,
): Promise<void> {
  const strength = await checkStrength(password, userInputs, {
    minLength: profile.passwordMinLength,
    minScore: profile.passwordMinScore,
  });
  if (strength.acceptable) return;
  const description = strength.tooShort
    ? `must be at least ${profile.passwordMinLength} characters`
    : strength.breached
      ? "is in a list of common or breached passwords"
      : (strength.warning || `is too easy to guess (strength ${strength.score} of 4, at least ${profile.passwordMinScore} needed)`);
  throw new DomainError("invalid_argument", Reason.WEAK_PASSWORD, `${field}: ${description}`, {
    violations: [{ field, description }],
    metadata: {
      score: String(strength.score),
      min_score: String(profile.passwordMinScore),
      min_length: String(profile.passwordMinLength),
      breached: String(strength.breached),
      warning: strength.warning,
      suggestions: strength.suggestions.join(" "),
    },
  });
}

/** The words of an account that a password must not lean on. */
export function accountWords(user: { email: string; name: string }): string[] {
  return [user.email, user.email.split("@")[0] ?? "", user.name];
}
