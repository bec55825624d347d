/**
 * The one error type of the domain and service layers. Only
 * transport/connect/errors.ts turns it into a wire error, so services never
 * depend on Connect.
 */
export type ErrorKind =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "unavailable"
  | "internal";

/** Stable, machine-readable reasons; clients match on these (ErrorInfo.reason). */
export const Reason = {
  INVALID_FIELD: "INVALID_FIELD",
  WEAK_PASSWORD: "WEAK_PASSWORD",
  /** The new password is one of the account's recent ones (the profile's history length). */
  PASSWORD_REUSED: "PASSWORD_REUSED",
  INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  NOT_FOUND: "NOT_FOUND",
  /** Unknown, used, expired or someone else's invitation: deliberately one answer. */
  INVITATION_INVALID: "INVITATION_INVALID",
  /** The change would leave an organisation without an owner. */
  LAST_OWNER: "LAST_OWNER",
  EMAIL_TAKEN: "EMAIL_TAKEN",
  /** A wrong, expired, used or replaced verification code: deliberately one answer. */
  CODE_INVALID: "CODE_INVALID",
  /** The verification code took too many wrong attempts and no longer works. */
  CODE_EXHAUSTED: "CODE_EXHAUSTED",
  /** Too many codes sent; RetryInfo says when the next one may be. */
  TOO_MANY_CODES: "TOO_MANY_CODES",
  /** Too many failed sign-ins for the account, or too many requests from the client address; RetryInfo says when to try again. */
  TOO_MANY_ATTEMPTS: "TOO_MANY_ATTEMPTS",
  PRECONDITION_FAILED: "PRECONDITION_FAILED",
  HASHING_BUSY: "HASHING_BUSY",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  DATABASE_BUSY: "DATABASE_BUSY",
  /** The mail server or SMS gateway did not accept a message; it stays in the outbox. */
  DELIVERY_FAILED: "DELIVERY_FAILED",
  INTERNAL: "INTERNAL",
  /** An external login's state is unknown, used, expired or belongs to another login: deliberately one answer. */
  EXTERNAL_STATE_INVALID: "EXTERNAL_STATE_INVALID",
  /** The provider refused the code, or its ID token failed a check (signature, issuer, audience, nonce). */
  EXTERNAL_LOGIN_FAILED: "EXTERNAL_LOGIN_FAILED",
  /** The provider's account is unknown here and the provider does not allow sign-up. */
  SIGN_UP_DISABLED: "SIGN_UP_DISABLED",
  /** The change would leave the user with no way to sign in. */
  LAST_SIGN_IN_METHOD: "LAST_SIGN_IN_METHOD",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** One offending field of a request, as a google.rpc.BadRequest violation. */
export interface FieldViolation {
  /** Dotted path of the field in the request, e.g. "password". */
  field: string;
  description: string;
}

export interface DomainErrorOptions {
  violations?: FieldViolation[];
  metadata?: Record<string, string>;
  /** For resource_exhausted: when the caller may try again. */
  retryAfterMs?: number;
}

export class DomainError extends Error {
  readonly violations: FieldViolation[];
  readonly metadata: Record<string, string>;
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly kind: ErrorKind,
    readonly reason: Reason,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message);
    this.name = "DomainError";
    this.violations = options.violations ?? [];
    this.metadata = options.metadata ?? {};
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * Every failed credential check answers with this one error, so a caller
 * cannot tell an unknown user from a wrong password or a revoked token.
 */
export function invalidCredentials(): DomainError {
  return new DomainError("unauthenticated", Reason.INVALID_CREDENTIALS, "invalid credentials");
}

export function invalidField(field: string, description: string, reason: Reason = Reason.INVALID_FIELD): DomainError {
  return new DomainError("invalid_argument", reason, `${field}: ${description}`, {
    violations: [{ field, description }],
  });
}

/** `already_exists` naming the field whose value is taken, as a field violation. */
export function alreadyExists(field: string, description: string, reason: Reason = Reason.INVALID_FIELD): DomainError {
  return new DomainError("already_exists", reason, `${field}: ${description}`, { violations: [{ field, description }] });
}

export function permissionDenied(): DomainError {
  return new DomainError("permission_denied", Reason.PERMISSION_DENIED, "permission denied");
}

export function preconditionFailed(message: string): DomainError {
  return new DomainError("failed_precondition", Reason.PRECONDITION_FAILED, message);
}

export function notFound(what: string): DomainError {
  return new DomainError("not_found", Reason.NOT_FOUND, `${what} not found`);
}
