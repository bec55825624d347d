/**
 * The interceptor onion, outermost first (see createInterceptors):
 *
 *   1. accessLog    request id, client address; one log line per RPC
 *   2. errors       anything thrown becomes a Connect error with ErrorInfo
 *   3. deadline     the RPC's declared server-side budget
 *   4. access       who is calling, checked against the RPC's declared policy
 *   5. validation   the field rules declared in the proto
 *
 * Authorization runs before validation so that callers who may not use an
 * RPC learn nothing about its inputs.
 */
import type { Interceptor } from "@connectrpc/connect";
import { CallerKind } from "../../../gen/latchkey/options/v1/options_pb.js";
import type { Actor } from "../../domain/actor.js";
import { resolveClientAddress } from "../../domain/client-address.js";
import { DomainError, Reason, invalidCredentials, permissionDenied } from "../../domain/errors.js";
import type { Logger } from "../../domain/logger.js";
import type { Random } from "../../domain/ports.js";
import type { TokenService } from "../../services/tokens/token-service.js";
import { kActor, kPeerAddress, kRequestMeta } from "../../services/context.js";
import { normaliseError } from "./errors.js";
import { policyOf } from "./method-policy.js";
import { validateMessage } from "./validate.js";

export interface InterceptorDeps {
  logger: Logger;
  random: Random;
  trustedProxies: readonly string[];
  tokens: TokenService;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

function accessLog({ logger, random, trustedProxies }: InterceptorDeps): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const offered = req.header.get("x-request-id");
    const meta = {
      requestId: offered && REQUEST_ID.test(offered) ? offered : random.uuid(),
      clientAddress: resolveClientAddress(req.contextValues.get(kPeerAddress), req.header.get("x-forwarded-for"), trustedProxies),
      userAgent: (req.header.get("user-agent") ?? "").slice(0, 256),
    };
    req.contextValues.set(kRequestMeta, meta);
    let code = "ok";
    try {
      const res = await next(req);
      res.header.set("x-request-id", meta.requestId);
      return res;
    } catch (error) {
      const { connectError } = normaliseError(error);
      code = connectError.code ? codeName(connectError.code) : "unknown";
      connectError.metadata.set("x-request-id", meta.requestId);
      throw connectError;
    } finally {
      const actor = req.contextValues.get(kActor);
      logger.info("rpc", {
        method: req.method.parent.typeName + "/" + req.method.name,
        protocol: req.header.get("content-type")?.split(";")[0],
        code,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
        request_id: meta.requestId,
        client: meta.clientAddress,
        actor: actor.kind === "user" ? actor.userId : actor.kind,
        org: actor.kind === "user" ? actor.organisationId : undefined,
      });
    }
  };
}

function codeName(code: number): string {
  const names = ["ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"];
  return names[code] ?? String(code);
}

function errors({ logger }: InterceptorDeps): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      const { connectError, unexpected } = normaliseError(error);
      if (unexpected) {
        logger.error("rpc.failed", {
          method: req.method.parent.typeName + "/" + req.method.name,
          request_id: req.contextValues.get(kRequestMeta).requestId,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          stack: error instanceof Error ? error.stack : undefined,
        });
      }
      throw connectError;
    }
  };
}

/**
 * Ends the RPC with deadline_exceeded once its declared budget is spent.
 * Work already started in the database finishes or rolls back on its own;
 * batches are atomic, so nothing is left half-written.
 */
function deadline(): Interceptor {
  return (next) => async (req) => {
    const budget = policyOf(req.method).deadlineMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DomainError("deadline_exceeded", Reason.DEADLINE_EXCEEDED, `the call took longer than its ${budget} ms budget`)), budget);
    });
    try {
      return await Promise.race([next(req), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** The bearer credential of a request, if any. */
function credentialOf(header: Headers): string | undefined {
  const authorization = header.get("authorization");
  if (authorization) {
    const match = /^Bearer[ ]+(\S{1,8192})$/i.exec(authorization.trim());
    return match?.[1];
  }
  return header.get("x-api-key") ?? undefined;
}

function access({ tokens }: InterceptorDeps): Interceptor {
  return (next) => async (req) => {
    const policy = policyOf(req.method);
    // Public RPCs ignore credentials: a client refreshing with a stale access
    // token still in its headers must not be refused.
    if (policy.caller === CallerKind.PUBLIC) return next(req);
    const credential = credentialOf(req.header);
    if (!credential) throw invalidCredentials();
    const authenticated = await tokens.authenticate(credential);
    if (!authenticated) throw invalidCredentials();
    const { token, status, roles } = authenticated;
    const actor: Actor = {
      kind: "user",
      userId: status.userId,
      sessionId: status.sessionId,
      organisationId: token.claims.org,
      roles,
      superAdmin: status.superAdmin,
      token,
    };
    req.contextValues.set(kActor, actor);
    if (!allowed(policy.caller, actor)) throw permissionDenied();
    return next(req);
  };
}

function allowed(caller: CallerKind, actor: Actor): boolean {
  if (actor.kind === "anonymous") return false;
  switch (caller) {
    case CallerKind.USER:
      return true;
    case CallerKind.SUPER_ADMIN:
    case CallerKind.INTERNAL:
      return actor.superAdmin;
    case CallerKind.ORGANISATION_ADMIN:
      return actor.superAdmin || actor.roles.includes("admin") || actor.roles.includes("owner");
    default:
      return false;
  }
}

function validation(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      const violations = validateMessage(req.method.input, req.message);
      if (violations.length > 0) {
        const first = violations[0]!;
        throw new DomainError("invalid_argument", Reason.INVALID_FIELD, `${first.field}: ${first.description}`, { violations });
      }
    }
    return next(req);
  };
}

export function createInterceptors(deps: InterceptorDeps): Interceptor[] {
  return [accessLog(deps), errors(deps), deadline(), access(deps), validation()];
}


