/** The audit row of an administrative act. */
import type { HandlerContext } from "@connectrpc/connect";
import type { Random } from "../../domain/ports.js";
import type { AuditEventInput } from "../../store/queries/audit-events.js";
import { actorOf, clientOf } from "../caller.js";

export function adminEvent(
  random: Random,
  ctx: HandlerContext,
  event: { type: string; now: number; organisationId?: string | undefined; details?: AuditEventInput["details"] },
): AuditEventInput {
  const actor = actorOf(ctx);
  return {
    id: random.uuid(),
    occurredAt: event.now,
    type: event.type,
    actorId: actor.userId,
    organisationId: event.organisationId,
    ipAddress: clientOf(ctx).clientAddress,
    details: actor.kind === "api_key" ? { ...event.details, api_key_id: actor.apiKeyId } : event.details,
  };
}
