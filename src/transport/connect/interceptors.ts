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
import type { DescField, DescMessage, Message } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { atLeast, type OrganisationRole, type Permission } from "../../domain/access/roles.js";
import { holds, type AuthenticatedActor } from "../../domain/actor.js";
import { resolveClientAddress } from "../../domain/client-address.js";
import { DomainError, Reason, invalidCredentials, permissionDenied } from "../../domain/errors.js";
import type { Logger } from "../../domain/logger.js";
import type { Random } from "../../domain/ports.js";
import type { Authenticate } from "../../services/access/authenticate.js";
import type { Database } from "../../store/database.js";
import { findMembershipRole } from "../../store/queries/memberships.js";
import { kActor, kOrganisationScope, kPeerAddress, kRequestMeta } from "../../services/context.js";
import { normaliseError } from "./errors.js";
import { policyOf } from "./method-policy.js";
import { validateMessage } from "./validate.js";

export interface InterceptorDeps {
  logger: Logger;
  random: Random;
  trustedProxies: readonly string[];
  authenticate: Authenticate;
  database: Database;
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
        actor: actor.kind === "anonymous" ? "anonymous" : actor.kind === "device" ? `device:${actor.deviceId}` : actor.userId,
        api_key: actor.kind === "api_key" ? actor.apiKeyId : undefined,
        org: actor.kind === "anonymous" ? undefined : actor.organisationId,
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

function access({ authenticate, database }: InterceptorDeps): Interceptor {
  return (next) => async (req) => {
    const policy = policyOf(req.method);
    // Public RPCs ignore credentials: a client refreshing with a stale access
    // token still in its headers must not be refused.
    if (policy.caller === CallerKind.PUBLIC) return next(req);
    const actor = await authenticate({ authorization: req.header.get("authorization"), apiKey: req.header.get("x-api-key") });
    if (!actor) throw invalidCredentials();
    req.contextValues.set(kActor, actor);
    // Devices call only the RPCs declared for them, and only devices call those.
    if ((policy.caller === CallerKind.DEVICE) !== (actor.kind === "device")) throw permissionDenied();
    if (actor.kind === "device") return next(req);
    if (!holds(actor, policy.permission as Permission | "")) throw permissionDenied();

    let role = actor.organisationRole;
    if (policy.organisationPath.length > 0 && !req.stream) {
      const requested = organisationFieldValue(req.method.input, policy.organisationPath, req.message);
      const organisationId = requested || actor.organisationId;
      // A key acts only in its own organisation.
      if (organisationId && actor.kind === "api_key" && organisationId !== actor.organisationId && !actor.superAdmin) throw permissionDenied();
      role = !organisationId ? undefined : organisationId === actor.organisationId ? actor.organisationRole : await findMembershipRole(database.db, organisationId, actor.userId);
      if (organisationId && !role && !actor.superAdmin) throw permissionDenied();
      req.contextValues.set(kOrganisationScope, { organisationId, role });
    }
    if (!callerAllowed(policy.caller, actor, role, policy.permission)) throw permissionDenied();
    return next(req);
  };
}

function callerAllowed(caller: CallerKind, actor: AuthenticatedActor, role: OrganisationRole | undefined, permission: string): boolean {
  switch (caller) {
    case CallerKind.USER:
      return true;
    case CallerKind.ORGANISATION_ADMIN:
      return actor.superAdmin || atLeast(role, "admin");
    case CallerKind.SUPER_ADMIN:
      // Keys never carry super-admin power: it needs a signed-in person.
      return actor.kind === "user" && actor.superAdmin;
    case CallerKind.INTERNAL:
      return actor.kind === "user" ? actor.superAdmin : permission !== "" && actor.permissions.has(permission as Permission);
    default:
      return false;
  }
}

/** Reads the string an RPC names as its organisation, e.g. `organisation_id` or `organisation.id`. */
function organisationFieldValue(schema: DescMessage, path: readonly DescField[], message: Message): string {
  let current = reflect(schema, message);
  for (const field of path.slice(0, -1)) {
    if (field.fieldKind !== "message" || !current.isSet(field)) return "";
    current = current.get(field);
  }
  const value = current.get(path[path.length - 1]!);
  return typeof value === "string" ? value : "";
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


