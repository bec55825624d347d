/** Members of an organisation: ListMembers, UpdateMemberRole and RemoveMember. */
import { listMembers } from "../../store/queries/memberships.js";
import type { ServiceDeps } from "../deps.js";
import { clientAddressOf } from "../caller.js";
import { scopeOf } from "./caller.js";
import type { OrganisationHandlers } from "./index.js";
import { createMembershipChanges } from "./membership-changes.js";
import { pageByName } from "./paging.js";
import { requestedRole, toProtoMember } from "./to-proto.js";

export function createMemberHandlers(deps: ServiceDeps): OrganisationHandlers<"listMembers" | "updateMemberRole" | "removeMember"> {
  const db = deps.database.db;
  const changes = createMembershipChanges(deps);

  return {
    async listMembers(req, ctx) {
      const { organisationId } = scopeOf(ctx);
      const { rows, nextPageToken } = await pageByName(
        req,
        { collection: "members", scope: { organisationId }, key: deps.pageTokenKey },
        (order, limit, after) => listMembers(db, organisationId, order, limit, after),
        (row) => [row.name, row.userId],
      );
      return { members: rows.map(toProtoMember), nextPageToken };
    },

    async updateMemberRole(req, ctx) {
      const member = await changes.changeRole({ scope: scopeOf(ctx), clientAddress: clientAddressOf(ctx), targetUserId: req.userId, role: requestedRole(req.role) });
      return { member: toProtoMember(member) };
    },

    async removeMember(req, ctx) {
      await changes.remove({ scope: scopeOf(ctx), clientAddress: clientAddressOf(ctx), targetUserId: req.userId });
      return {};
    },
  };
}
