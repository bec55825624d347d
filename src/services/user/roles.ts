/**
 * SetRoles: a user's role in an organisation and the super-admin role, as
 * one list of names. It shares the rules and the guarded batch of
 * OrganisationService.UpdateMemberRole.
 */
import { isOrganisationRole } from "../../domain/access/roles.js";
import { SUPER_ADMIN_ROLE, roleNames } from "../../domain/actor.js";
import { invalidField, notFound } from "../../domain/errors.js";
import { findUserById } from "../../store/queries/users.js";
import type { ServiceDeps } from "../deps.js";
import { clientAddressOf } from "../caller.js";
import { scopeOf } from "../organisation/caller.js";
import { createMembershipChanges } from "../organisation/membership-changes.js";
import type { UserHandlers } from "./index.js";
import { toProtoUser } from "./to-proto.js";

export function createRoleHandlers(deps: ServiceDeps): UserHandlers<"setRoles"> {
  const db = deps.database.db;
  const changes = createMembershipChanges(deps);

  return {
    async setRoles(req, ctx) {
      const scope = scopeOf(ctx);
      const roles = [...new Set(req.roles)];
      const unknown = roles.find((role) => role !== SUPER_ADMIN_ROLE && !isOrganisationRole(role));
      if (unknown !== undefined) throw invalidField("roles", `unknown role "${unknown}"; roles are owner, admin, member and super_admin`);
      const organisationRoles = roles.filter(isOrganisationRole);
      if (organisationRoles.length > 1) throw invalidField("roles", "at most one of owner, admin and member");
      // The list is the user's whole set of roles, so leaving out
      // "super_admin" removes it. Leaving out the organisation role keeps the
      // membership as it is: ending a membership is RemoveMember's job.
      const member = await changes.changeRole({
        scope,
        clientAddress: clientAddressOf(ctx),
        targetUserId: req.userId,
        role: organisationRoles[0],
        superAdmin: roles.includes(SUPER_ADMIN_ROLE),
      });
      const user = await findUserById(db, req.userId);
      if (!user) throw notFound("user");
      return { user: toProtoUser(user, { organisationId: scope.organisationId, roles: roleNames(user.superAdmin, member.role) }) };
    },
  };
}
