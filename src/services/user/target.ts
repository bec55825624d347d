/**
 * The user an RPC is about, loaded once with their memberships (and the
 * caller's role in each of those organisations), and the access decision of
 * src/domain/access/user-access.ts turned into the RPC's answer.
 */
import { decideUserAccess, type TargetUser, type UserAccessCaller, type UserAction } from "../../domain/access/user-access.js";
import { atLeast } from "../../domain/access/roles.js";
import type { AuthenticatedActor } from "../../domain/actor.js";
import { notFound, permissionDenied, preconditionFailed } from "../../domain/errors.js";
import type { Db } from "../../store/database.js";
import { findUserById, findUserMemberships, type UserMembershipRow, type UserRow } from "../../store/queries/users.js";

export interface LoadedTarget {
  row: UserRow;
  memberships: UserMembershipRow[];
  caller: UserAccessCaller;
  access: TargetUser;
}

/**
 * Super-admin power over users needs a signed-in super-admin, as for every
 * super-admin-only RPC: an API key acts with its owner's role in the key's
 * organisation and nowhere else.
 */
export function accessCallerOf(actor: AuthenticatedActor): UserAccessCaller {
  return { userId: actor.userId, superAdmin: actor.kind === "user" && actor.superAdmin };
}

export async function loadTarget(db: Db, actor: AuthenticatedActor, userId: string): Promise<LoadedTarget | undefined> {
  const [row, memberships] = await Promise.all([findUserById(db, userId), findUserMemberships(db, userId, actor.userId)]);
  if (!row) return undefined;
  const keyOrganisation = actor.kind === "api_key" ? actor.organisationId : undefined;
  const access: TargetUser = {
    userId: row.id,
    superAdmin: row.superAdmin,
    memberships: memberships.map((m) => ({
      organisationId: m.organisationId,
      targetRole: m.role,
      callerRole: (actor.kind === "user" || m.organisationId === keyOrganisation) && m.callerRole !== null ? m.callerRole : undefined,
    })),
  };
  return { row, memberships, caller: accessCallerOf(actor), access };
}

const SELF_REFUSALS: Partial<Record<UserAction, string>> = {
  suspend: "you cannot suspend yourself",
  unsuspend: "you cannot lift your own suspension",
  block: "you cannot block yourself",
  unblock: "you cannot lift your own block",
};

/** Throws unless `decideUserAccess` allows `action`. */
export function authorize(target: LoadedTarget, action: UserAction): void {
  switch (decideUserAccess(target.caller, target.access, action)) {
    case "allowed":
      return;
    case "not_found":
      throw notFound("user");
    case "forbidden":
      throw permissionDenied();
    case "self":
      throw preconditionFailed(SELF_REFUSALS[action] ?? "you cannot do this to yourself");
  }
}

/** Loads the user (empty id: the caller) and checks `action`; an unknown user answers like a hidden one. */
export async function authorizedTarget(db: Db, actor: AuthenticatedActor, userId: string, action: UserAction): Promise<LoadedTarget> {
  const target = await loadTarget(db, actor, userId || actor.userId);
  if (!target) throw notFound("user");
  authorize(target, action);
  return target;
}

/**
 * Whether the caller may see the target's active organisation and role
 * there: themselves, super-admins, and admins of that organisation. Others
 * see the user without it, so a listing never reveals another tenant.
 */
export function seesActiveOrganisation(target: LoadedTarget): boolean {
  const active = target.row.activeOrganisationId;
  if (target.caller.userId === target.row.id || target.caller.superAdmin) return true;
  return target.access.memberships.some((m) => m.organisationId === active && atLeast(m.callerRole, "admin"));
}

/** The target's role in their active organisation, if they still belong to it. */
export function activeRoleOf(target: LoadedTarget) {
  return target.memberships.find((m) => m.organisationId === target.row.activeOrganisationId)?.role ?? null;
}
