/** Every Latchkey service, registered in one list. */
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { AdminService } from "../../../gen/latchkey/admin/v1/admin_service_pb.js";
import { AuthService } from "../../../gen/latchkey/auth/v1/auth_service_pb.js";
import { LicenseService } from "../../../gen/latchkey/license/v1/license_service_pb.js";
import { OrganisationService } from "../../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { UserService } from "../../../gen/latchkey/user/v1/user_service_pb.js";
import { CallerKindSchema } from "../../../gen/latchkey/options/v1/options_pb.js";
import type { ServiceDescription } from "../../services/admin/system.js";
import { policyOf } from "./method-policy.js";

export interface ServiceImpls {
  auth: ServiceImpl<typeof AuthService>;
  user: ServiceImpl<typeof UserService>;
  organisation: ServiceImpl<typeof OrganisationService>;
  admin: ServiceImpl<typeof AdminService>;
  license: ServiceImpl<typeof LicenseService>;
}

export const SERVICES: readonly DescService[] = [AuthService, UserService, OrganisationService, AdminService, LicenseService];

/** Every RPC of SERVICES with its path and declared policy, for ListServices. */
export function describeServices(): ServiceDescription[] {
  return SERVICES.map((service) => ({
    name: service.typeName,
    rpcs: service.methods.map((method) => {
      const policy = policyOf(method);
      return {
        name: method.name,
        path: `/${service.typeName}/${method.name}`,
        caller: CallerKindSchema.values.find((value) => value.number === policy.caller)?.name ?? String(policy.caller),
        permission: policy.permission,
        deadlineMs: policy.deadlineMs,
      };
    }),
  }));
}

export function registerServices(router: ConnectRouter, impls: ServiceImpls): void {
  // Resolving every policy up front makes a method without one fail at start-up.
  for (const service of SERVICES) for (const method of service.methods) policyOf(method);
  router.service(AuthService, impls.auth);
  router.service(UserService, impls.user);
  router.service(OrganisationService, impls.organisation);
  router.service(AdminService, impls.admin);
  router.service(LicenseService, impls.license);
}
