/**
 * OrganisationService: the method table, assembled from one handler group
 * per concern (organisations, members, invitations).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { OrganisationService } from "../../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import type { ServiceDeps } from "../deps.js";
import { createInvitationHandlers } from "./invitations.js";
import { createMemberHandlers } from "./members.js";
import { createOrganisationHandlers } from "./organisations.js";

/** A group of handlers: the RPCs `K` of the service. */
export type OrganisationHandlers<K extends keyof ServiceImpl<typeof OrganisationService>> = Pick<ServiceImpl<typeof OrganisationService>, K>;

export function createOrganisationService(deps: ServiceDeps): ServiceImpl<typeof OrganisationService> {
  return {
    ...createOrganisationHandlers(deps),
    ...createMemberHandlers(deps),
    ...createInvitationHandlers(deps),
  };
}
