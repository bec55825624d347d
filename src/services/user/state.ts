/**
 * Suspending and blocking: the state change, the end of every session of
 * the user and the audit row commit in one batch. Access tokens are checked
 * against the user's state on every call and by ValidateToken, so they stop
 * working at once; refresh tokens die with their sessions.
 *
 * A block is the stronger state: suspending or unsuspending a blocked user
 * is refused, so only UnblockUser (super-admins) ever lifts a block. Asking
 * for the state the user is already in changes nothing and answers the user.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { UserAction } from "../../domain/access/user-access.js";
import { DomainError, notFound, preconditionFailed } from "../../domain/errors.js";
import { insertAuditEventIf } from "../../store/queries/audit-events.js";
import { revokeUserSessions } from "../../store/queries/sessions.js";
import { changeUserState, findUserById, userInState } from "../../store/queries/users.js";
import type { UserStateValue } from "../../store/schema/index.js";
import { actorOf } from "../caller.js";
import { userEvent } from "./audit.js";
import type { ServiceDeps } from "../deps.js";
import type { UserHandlers } from "./index.js";
import { presentTarget } from "./accounts.js";
import { authorizedTarget } from "./target.js";

interface Transition {
  action: Extract<UserAction, "suspend" | "unsuspend" | "block" | "unblock">;
  from: readonly UserStateValue[];
  to: UserStateValue;
  /** Whether the user's sessions end with the change. */
  endsSessions: boolean;
  /** The audit event's type. */
  event: string;
}

const TRANSITIONS = {
  suspend: { action: "suspend", from: ["active"], to: "suspended", endsSessions: true, event: "user.suspended" },
  unsuspend: { action: "unsuspend", from: ["suspended"], to: "active", endsSessions: false, event: "user.unsuspended" },
  block: { action: "block", from: ["active", "suspended"], to: "blocked", endsSessions: true, event: "user.blocked" },
  unblock: { action: "unblock", from: ["blocked"], to: "active", endsSessions: false, event: "user.unblocked" },
} as const satisfies Record<string, Transition>;

export function createStateHandlers(deps: ServiceDeps): UserHandlers<"suspendUser" | "unsuspendUser" | "blockUser" | "unblockUser"> {
  const { database, clock, random } = deps;
  const db = database.db;

  function refused(state: UserStateValue, transition: Transition): DomainError {
    return preconditionFailed(`the user is ${state}; ${transition.action} applies only to ${transition.from.join(" or ")} users`);
  }

  async function change(transition: Transition, userId: string, reason: string, ctx: HandlerContext) {
    const actor = actorOf(ctx);
    const target = await authorizedTarget(db, actor, userId, transition.action);
    const state = target.row.state;
    if (state === transition.to) return { user: presentTarget(target) };
    if (!transition.from.includes(state)) throw refused(state, transition);

    const now = clock.now();
    const details: Record<string, string> = { from: state };
    if (reason) details.reason = reason;
    const event = userEvent(random, ctx, { type: transition.event, userId, now, details });
    // The audit row is written only if the change will happen (same
    // condition, evaluated first), so a lost race leaves no false record.
    const audit = insertAuditEventIf(db, event, userInState(db, userId, transition.from));
    const moved = changeUserState(db, userId, transition.from, transition.to, now);
    const [, updated] = transition.endsSessions
      ? await database.batch([audit, moved, revokeUserSessions(db, userId, `user_${transition.to}`, now)])
      : await database.batch([audit, moved]);
    if (updated[0]) return { user: presentTarget(target, updated[0]) };

    // Someone else changed the state between our read and our batch.
    const current = await findUserById(db, userId);
    if (!current) throw notFound("user");
    if (current.state === transition.to) return { user: presentTarget(target, current) };
    throw refused(current.state, transition);
  }

  return {
    suspendUser: (req, ctx) => change(TRANSITIONS.suspend, req.userId, req.reason, ctx),
    unsuspendUser: (req, ctx) => change(TRANSITIONS.unsuspend, req.userId, "", ctx),
    blockUser: (req, ctx) => change(TRANSITIONS.block, req.userId, req.reason, ctx),
    unblockUser: (req, ctx) => change(TRANSITIONS.unblock, req.userId, "", ctx),
  };
}
