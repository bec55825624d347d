/** OrganisationService: the method table. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { OrganisationService } from "../../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import type { ServiceDeps } from "../deps.js";

export type OrganisationHandlers = Partial<ServiceImpl<typeof OrganisationService>>;

export function createOrganisationService(_deps: ServiceDeps): OrganisationHandlers {
  return {};
}
