/** Who is calling an OrganisationService RPC, and about which organisation. */
import type { HandlerContext } from "@connectrpc/connect";
import type { ActingMember } from "../../domain/access/organisation-rules.js";
import type { OrganisationRole } from "../../domain/access/roles.js";
import type { AuthenticatedActor } from "../../domain/actor.js";
import { invalidField } from "../../domain/errors.js";
import type { Random } from "../../domain/ports.js";
import type { AuditEventInput } from "../../store/queries/audit-events.js";
import { actorOf } from "../caller.js";
import { kOrganisationScope } from "../context.js";

export interface ResolvedScope {
  actor: AuthenticatedActor;
  organisationId: string;
  /** The caller's role in that organisation (undefined for a super-admin from outside). */
  role: OrganisationRole | undefined;
  acting: ActingMember;
}

/**
 * The organisation an organisation-scoped RPC is about, as the access
 * interceptor resolved it (the request's field or the active organisation)
 * together with the caller's role there. Non-members never get this far.
 */
export function scopeOf(ctx: HandlerContext): ResolvedScope {
  const actor = actorOf(ctx);
  const { organisationId, role } = ctx.values.get(kOrganisationScope);
  if (!organisationId) throw invalidField("organisation_id", "is required when no organisation is active");
  return { actor, organisationId, role, acting: actingMember(actor, role) };
}

export function actingMember(actor: AuthenticatedActor, role: OrganisationRole | undefined): ActingMember {
  return { userId: actor.userId, role, superAdmin: actor.superAdmin };
}

/** The audit row of a change to an organisation, made by `actor`. */
export function organisationEvent(
  random: Random,
  change: { actor: AuthenticatedActor; organisationId: string; clientAddress: string; now: number },
  type: string,
  details: AuditEventInput["details"],
  userId?: string,
): AuditEventInput {
  return {
    id: random.uuid(),
    occurredAt: change.now,
    type,
    actorId: change.actor.userId,
    userId: userId ?? change.actor.userId,
    organisationId: change.organisationId,
    ipAddress: change.clientAddress,
    details,
  };
}
