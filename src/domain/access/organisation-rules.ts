/**
 * Who may change whose membership of an organisation. Pure decisions over
 * roles; the services read the roles, ask here, and then repeat the same
 * conditions inside their write batch (see `roleNeededTo…`), so a decision
 * taken on a stale read can never be committed.
 *
 * The rules:
 * - nobody invites or grants a role above their own;
 * - changing or removing someone needs at least their current role, so
 *   admins cannot touch owners while owners can;
 * - anyone may leave an organisation (remove themselves);
 * - super-admins may do all of the above;
 * - an organisation always keeps at least one owner.
 */
import { ORGANISATION_ROLES, atLeast, rankOf, type OrganisationRole } from "./roles.js";

/** The caller of a membership change, with their role in the organisation concerned. */
export interface ActingMember {
  userId: string;
  role: OrganisationRole | undefined;
  superAdmin: boolean;
}

/** The member a change is about, with their current role. */
export interface TargetMember {
  userId: string;
  role: OrganisationRole;
}

export type RuleOutcome = "allowed" | "forbidden" | "last_owner";

/** Managing members starts at admin, and never reaches above the highest role involved. */
function highest(...roles: OrganisationRole[]): OrganisationRole {
  return roles.reduce((top, role) => (rankOf(role) > rankOf(top) ? role : top), "admin");
}

/** The role an inviter needs to invite someone as `role`. */
export function roleNeededToInvite(role: OrganisationRole): OrganisationRole {
  return highest(role);
}

/** The role a caller needs to move a member from `current` to `next`. */
export function roleNeededToChangeRole(current: OrganisationRole, next: OrganisationRole): OrganisationRole {
  return highest(current, next);
}

/** The role a caller needs to remove `target`; undefined when they remove themselves. */
export function roleNeededToRemove(actorUserId: string, target: TargetMember): OrganisationRole | undefined {
  return actorUserId === target.userId ? undefined : highest(target.role);
}

/** Whether the caller holds `needed` (undefined: nothing needed) or is a super-admin. */
export function mayAct(actor: ActingMember, needed: OrganisationRole | undefined): boolean {
  return actor.superAdmin || needed === undefined || atLeast(actor.role, needed);
}

/**
 * Whether moving a member from `current` to `next` (undefined: removing
 * them) leaves the organisation without an owner, given how many owners
 * other than that member it has.
 */
export function removesLastOwner(current: OrganisationRole, next: OrganisationRole | undefined, otherOwners: number): boolean {
  return current === "owner" && next !== "owner" && otherOwners === 0;
}

export function decideInvite(actor: ActingMember, role: OrganisationRole): RuleOutcome {
  return mayAct(actor, roleNeededToInvite(role)) ? "allowed" : "forbidden";
}

/**
 * Permission is decided before the owner count, so a caller who may not make
 * the change learns nothing about the organisation's owners.
 */
export function decideRoleChange(actor: ActingMember, target: TargetMember, next: OrganisationRole, otherOwners: number): RuleOutcome {
  if (!mayAct(actor, roleNeededToChangeRole(target.role, next))) return "forbidden";
  return removesLastOwner(target.role, next, otherOwners) ? "last_owner" : "allowed";
}

export function decideRemoval(actor: ActingMember, target: TargetMember, otherOwners: number): RuleOutcome {
  if (!mayAct(actor, roleNeededToRemove(actor.userId, target))) return "forbidden";
  return removesLastOwner(target.role, undefined, otherOwners) ? "last_owner" : "allowed";
}

/** Every role that is at least `minimum`, for checking a held role in SQL. */
export function rolesAtLeast(minimum: OrganisationRole): OrganisationRole[] {
  return ORGANISATION_ROLES.filter((role) => atLeast(role, minimum));
}
