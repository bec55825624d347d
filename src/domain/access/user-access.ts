/**
 * Who may see and change which user. Pure decisions over roles: the services
 * load the target's memberships once (with the caller's role in each of
 * those organisations), ask here, and answer accordingly.
 *
 * The rules:
 * - users read and change themselves, and may delete themselves;
 * - an admin or owner of an organisation the target belongs to reads the
 *   target; they *manage* the target there (profile, avatar, settings,
 *   suspension) when their role is at least the target's role there, so
 *   admins cannot act on owners while owners can act on admins;
 * - blocking and deleting reach beyond one organisation, so an admin may do
 *   them only when they manage the target in every organisation the target
 *   belongs to; otherwise they are for super-admins;
 * - only super-admins act on super-admins, and only they lift a block;
 * - nobody suspends or blocks themselves (they would lock themselves out);
 * - super-admins may do everything else;
 * - anyone else learns nothing: the answer is `not_found`, whether or not
 *   the user exists.
 */
import { atLeast, rankOf, type OrganisationRole } from "./roles.js";

/** The caller, as far as these rules are concerned. */
export interface UserAccessCaller {
  userId: string;
  /** Super-admin power for this call (API keys never carry it here; the service decides). */
  superAdmin: boolean;
}

/** One organisation of the target, with the target's role and the caller's role there. */
export interface TargetMembership {
  organisationId: string;
  targetRole: OrganisationRole;
  /** The caller's role in this organisation; undefined when the caller is not a member (or may not act there). */
  callerRole: OrganisationRole | undefined;
}

export interface TargetUser {
  userId: string;
  superAdmin: boolean;
  /** Every organisation the target belongs to. */
  memberships: readonly TargetMembership[];
}

export type UserAction =
  /** GetUser, ListSettings, GetAvatar. */
  | "read"
  /** UpdateUser, SetAvatar, DeleteAvatar, and settings that are not read-only. */
  | "update"
  /** Creating, changing or deleting read-only settings, and marking settings read-only. */
  | "manage_read_only_settings"
  | "suspend"
  | "unsuspend"
  | "block"
  | "unblock"
  | "delete";

/**
 * - allowed: go ahead;
 * - not_found: the caller may not even know the user exists;
 * - forbidden: the caller sees the user but may not do this (permission_denied);
 * - self: the caller would act on themselves where that is not allowed (failed_precondition).
 */
export type UserAccessOutcome = "allowed" | "not_found" | "forbidden" | "self";

/** Whether the caller administers an organisation the target belongs to: enough to see the target. */
function administersAny(target: TargetUser): boolean {
  return target.memberships.some((m) => atLeast(m.callerRole, "admin"));
}

/** Whether the caller manages the target in this one organisation. */
function managesIn(target: TargetUser, membership: TargetMembership): boolean {
  return !target.superAdmin && atLeast(membership.callerRole, "admin") && rankOf(membership.callerRole) >= rankOf(membership.targetRole);
}

/** Managed in at least one organisation of the target. */
function managesSomewhere(target: TargetUser): boolean {
  return target.memberships.some((m) => managesIn(target, m));
}

/** Managed in every organisation of the target (and the target has one). */
function managesEverywhere(target: TargetUser): boolean {
  return target.memberships.length > 0 && target.memberships.every((m) => managesIn(target, m));
}

export function decideUserAccess(caller: UserAccessCaller, target: TargetUser, action: UserAction): UserAccessOutcome {
  const self = caller.userId === target.userId;
  if (!self && !caller.superAdmin && !administersAny(target)) return "not_found";
  const allowed = (yes: boolean): UserAccessOutcome => (yes ? "allowed" : "forbidden");
  switch (action) {
    case "read":
      return "allowed";
    case "update":
      return allowed(self || caller.superAdmin || managesSomewhere(target));
    case "manage_read_only_settings":
      return allowed(caller.superAdmin || managesSomewhere(target));
    case "suspend":
    case "unsuspend":
      if (self) return "self";
      return allowed(caller.superAdmin || managesSomewhere(target));
    case "block":
      if (self) return "self";
      return allowed(caller.superAdmin || managesEverywhere(target));
    case "unblock":
      if (self) return "self";
      return allowed(caller.superAdmin);
    case "delete":
      return allowed(self || caller.superAdmin || managesEverywhere(target));
  }
}

/**
 * Whether the caller may list the users of an organisation (its admins and
 * owners), or, with no organisation, every user (super-admins).
 */
export function mayListUsers(caller: UserAccessCaller, organisationId: string | undefined, callerRole: OrganisationRole | undefined): boolean {
  if (caller.superAdmin) return true;
  return organisationId !== undefined && atLeast(callerRole, "admin");
}
