/**
 * The one place that turns errors into Connect errors. Every error carries a
 * google.rpc.ErrorInfo; field problems add a BadRequest, throttling a RetryInfo.
 */
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  BadRequest_FieldViolationSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "../../../gen/google/rpc/error_details_pb.js";
import { DomainError, Reason, type ErrorKind } from "../../domain/errors.js";

export const ERROR_DOMAIN = "latchkey";

const CODES: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  deadline_exceeded: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
  internal: Code.Internal,
};

const REASON_OF_CODE: Partial<Record<Code, string>> = {
  [Code.ResourceExhausted]: Reason.MESSAGE_TOO_LARGE,
  [Code.DeadlineExceeded]: Reason.DEADLINE_EXCEEDED,
};

export function toConnectError(error: DomainError): ConnectError {
  const details: ConstructorParameters<typeof ConnectError>[3] = [
    { desc: ErrorInfoSchema, value: { reason: error.reason, domain: ERROR_DOMAIN, metadata: error.metadata } },
  ];
  if (error.violations.length > 0) {
    details.push({
      desc: BadRequestSchema,
      value: create(BadRequestSchema, {
        fieldViolations: error.violations.map((v) => create(BadRequest_FieldViolationSchema, v)),
      }),
    });
  }
  if (error.retryAfterMs !== undefined) {
    const ms = Math.max(0, Math.ceil(error.retryAfterMs));
    details.push({
      desc: RetryInfoSchema,
      value: { retryDelay: create(DurationSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 }) },
    });
  }
  return new ConnectError(error.message, CODES[error.kind], undefined, details);
}

/** SQLite/libSQL/D1 failures that mean "try again", not "bug". */
function isBusy(error: unknown): boolean {
  const text = String((error as { code?: unknown })?.code ?? "") + " " + String((error as Error)?.message ?? "");
  return /SQLITE_BUSY|SQLITE_LOCKED|database is locked/i.test(text);
}

/**
 * Maps anything thrown by a handler. ConnectErrors from the framework keep
 * their code and gain an ErrorInfo; unknown errors become `internal` with no
 * detail (the cause is logged by the caller, never sent).
 */
export function normaliseError(error: unknown): { connectError: ConnectError; unexpected: boolean } {
  if (error instanceof DomainError) return { connectError: toConnectError(error), unexpected: false };
  if (error instanceof ConnectError) {
    if (error.findDetails(ErrorInfoSchema).length === 0) {
      error.details.push({
        desc: ErrorInfoSchema,
        value: { reason: REASON_OF_CODE[error.code] ?? Code[error.code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase(), domain: ERROR_DOMAIN, metadata: {} },
      });
    }
    return { connectError: error, unexpected: error.code === Code.Internal || error.code === Code.Unknown };
  }
  if (isBusy(error)) {
    return {
      connectError: toConnectError(new DomainError("unavailable", Reason.DATABASE_BUSY, "the database is busy, try again", { retryAfterMs: 100 })),
      unexpected: false,
    };
  }
  return { connectError: toConnectError(new DomainError("internal", Reason.INTERNAL, "internal error")), unexpected: true };
}
