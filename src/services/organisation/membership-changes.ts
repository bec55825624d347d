/**
 * Changing and ending memberships, for UpdateMemberRole, RemoveMember and
 * UserService.SetRoles. The rules (domain/access/organisation-rules.ts)
 * decide on what was read; the batch then repeats the decision's premises as
 * guards (the member still holds the role that was read, the caller still
 * holds the role the change needs, another owner remains), so two requests
 * racing each other cannot together do what neither could alone, e.g. two
 * owners demoting each other.
 */
import type { SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import {
  decideRemoval,
  decideRoleChange,
  removesLastOwner,
  roleNeededToChangeRole,
  roleNeededToRemove,
  rolesAtLeast,
  type RuleOutcome,
} from "../../domain/access/organisation-rules.js";
import type { OrganisationRole } from "../../domain/access/roles.js";
import { DomainError, Reason, notFound, permissionDenied, preconditionFailed } from "../../domain/errors.js";
import { insertAuditEventIf } from "../../store/queries/audit-events.js";
import {
  changeMembershipRole,
  countOtherOwners,
  deleteMembership,
  findMember,
  hasOtherOwner,
  holdsRole,
  membershipAsDecided,
  membershipMatches,
  type MemberRow,
} from "../../store/queries/memberships.js";
import { clearActiveOrganisationIfLeft } from "../../store/queries/organisations.js";
import { findUserById, setSuperAdmin } from "../../store/queries/users.js";
import type { ServiceDeps } from "../deps.js";
import { organisationEvent, type ResolvedScope } from "./caller.js";

export interface RoleChange {
  scope: ResolvedScope;
  clientAddress: string;
  targetUserId: string;
  /** The member's new role; undefined keeps the current one. */
  role: OrganisationRole | undefined;
  /** Whether the member should be a super-admin; undefined keeps it as it is. */
  superAdmin?: boolean | undefined;
}

export interface MemberRemoval {
  scope: ResolvedScope;
  clientAddress: string;
  targetUserId: string;
}

function enforce(outcome: RuleOutcome): void {
  if (outcome === "forbidden") throw permissionDenied();
  if (outcome === "last_owner") throw new DomainError("failed_precondition", Reason.LAST_OWNER, "an organisation must keep at least one owner");
}

/**
 * Decides, commits, and if the batch's guards no longer held, decides again
 * on fresh reads: that answers with what changed (the member left, the
 * caller's role, the last owner). If nothing explains it, the membership
 * changed and changed back; the caller may simply retry.
 */
async function decideAndCommit<Decision>(decide: () => Promise<Decision>, commit: (decision: Decision) => Promise<boolean>): Promise<Decision> {
  const decision = await decide();
  if (await commit(decision)) return decision;
  await decide();
  throw preconditionFailed("the membership changed while this request ran; try again");
}

type Statements = [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]];

export function createMembershipChanges(deps: Pick<ServiceDeps, "database" | "clock" | "random">) {
  const { database, clock, random } = deps;
  const db = database.db;

  async function memberOf(scope: ResolvedScope, userId: string): Promise<MemberRow> {
    const target = await findMember(db, scope.organisationId, userId);
    if (!target) throw notFound("member");
    return target;
  }

  /** The batch guards of a decision: the caller's needed role, and an owner remaining. */
  function guardsOf(scope: ResolvedScope, target: MemberRow, needed: OrganisationRole | undefined, next: OrganisationRole | undefined): SQL {
    const guards: SQL[] = [];
    if (needed && !scope.actor.superAdmin) guards.push(holdsRole(db, scope.organisationId, scope.actor.userId, rolesAtLeast(needed)));
    if (removesLastOwner(target.role, next, 0)) guards.push(hasOtherOwner(db, scope.organisationId, target.userId));
    return membershipAsDecided(scope.organisationId, target.userId, target.role, guards);
  }

  async function otherOwners(scope: ResolvedScope, target: MemberRow): Promise<number> {
    return target.role === "owner" ? countOtherOwners(db, scope.organisationId, target.userId) : 0;
  }

  return {
    /** Changes a member's role and/or super-admin flag; answers the membership afterwards. */
    async changeRole(change: RoleChange): Promise<MemberRow> {
      const { scope } = change;
      const decided = await decideAndCommit(
        async () => {
          const target = await memberOf(scope, change.targetUserId);
          const next = change.role ?? target.role;
          let superAdminChanges = false;
          if (change.superAdmin !== undefined) {
            superAdminChanges = (await findUserById(db, target.userId))?.superAdmin !== change.superAdmin;
            // Like every super-admin power, only a signed-in super-admin, never a key.
            if (superAdminChanges && !(scope.actor.kind === "user" && scope.actor.superAdmin)) throw permissionDenied();
          }
          enforce(decideRoleChange(scope.acting, target, next, await otherOwners(scope, target)));
          return { target, next, superAdminChanges };
        },
        async ({ target, next, superAdminChanges }) => {
          if (next === target.role && !superAdminChanges) return true;
          const now = clock.now();
          const asDecided = guardsOf(scope, target, roleNeededToChangeRole(target.role, next), next);
          const details: Record<string, string | boolean> = { from: target.role, to: next };
          if (superAdminChanges) details.super_admin = change.superAdmin === true;
          const event = organisationEvent(random, { ...scope, clientAddress: change.clientAddress, now }, "membership.role_changed", details, target.userId);
          // The role update comes last: every statement before it checks the membership as it was.
          const statements = [
            insertAuditEventIf(db, event, membershipMatches(db, asDecided)),
            ...(superAdminChanges ? [setSuperAdmin(db, target.userId, change.superAdmin === true, now, membershipMatches(db, asDecided))] : []),
            ...(next !== target.role ? [changeMembershipRole(db, asDecided, next)] : []),
          ] as Statements;
          const results = (await database.batch(statements)) as unknown[];
          return (results[results.length - 1] as unknown[]).length === 1;
        },
      );
      return { ...decided.target, role: decided.next };
    },

    /** Ends a membership. The member's sessions keep running but lose the organisation's role at once. */
    async remove(removal: MemberRemoval): Promise<void> {
      const { scope } = removal;
      await decideAndCommit(
        async () => {
          const target = await memberOf(scope, removal.targetUserId);
          enforce(decideRemoval(scope.acting, target, await otherOwners(scope, target)));
          return target;
        },
        async (target) => {
          const now = clock.now();
          const asDecided = guardsOf(scope, target, roleNeededToRemove(scope.actor.userId, target), undefined);
          const event = organisationEvent(random, { ...scope, clientAddress: removal.clientAddress, now }, "membership.removed", { role: target.role }, target.userId);
          const [, removed] = await database.batch([
            insertAuditEventIf(db, event, membershipMatches(db, asDecided)),
            deleteMembership(db, asDecided),
            clearActiveOrganisationIfLeft(db, target.userId, scope.organisationId),
          ]);
          return removed.length === 1;
        },
      );
    },
  };
}

export type MembershipChanges = ReturnType<typeof createMembershipChanges>;
