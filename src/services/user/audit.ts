/** The audit row of a change the caller makes to a user. */
import type { HandlerContext } from "@connectrpc/connect";
import type { Random } from "../../domain/ports.js";
import type { AuditEventInput } from "../../store/queries/audit-events.js";
import { actorOf, clientOf } from "../caller.js";

export function userEvent(
  random: Random,
  ctx: HandlerContext,
  change: { type: string; userId: string; now: number; sessionId?: string | undefined; details?: AuditEventInput["details"] },
): AuditEventInput {
  return {
    id: random.uuid(),
    occurredAt: change.now,
    type: change.type,
    actorId: actorOf(ctx).userId,
    userId: change.userId,
    sessionId: change.sessionId,
    ipAddress: clientOf(ctx).clientAddress,
    details: change.details,
  };
}
