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

/** Makes each service's handlers; called once, when the service is first needed. */
export type ServiceFactories = { readonly [K in keyof ServiceImpls]: () => ServiceImpls[K] };

export const SERVICES: readonly DescService[] = [AuthService, UserService, OrganisationService, AdminService, LicenseService];

let described: readonly ServiceDescription[] | undefined;

/**
 * Every RPC of SERVICES with its path and declared policy, for ListServices.
 * Reading the policies decodes every method's options, so it is done once,
 * and only when asked for: by ListServices, or by App.warmUp, which makes a
 * method without a policy fail before the Node server listens.
 */
export function describeServices(): readonly ServiceDescription[] {
  described ??= SERVICES.map((service) => ({
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
  return described;
}

export function registerServices(router: ConnectRouter, services: ServiceFactories): void {
  router.service(AuthService, onFirstCall(AuthService, services.auth));
  router.service(UserService, onFirstCall(UserService, services.user));
  router.service(OrganisationService, onFirstCall(OrganisationService, services.organisation));
  router.service(AdminService, onFirstCall(AdminService, services.admin));
  router.service(LicenseService, onFirstCall(LicenseService, services.license));
}

type Handler = (...args: unknown[]) => unknown;

/**
 * Stands in for a service's handlers and asks for them on the first call of
 * any of its methods, so a cold Worker isolate builds only the services its
 * requests reach.
 */
function onFirstCall<S extends DescService>(service: S, handlers: () => ServiceImpl<S>): ServiceImpl<S> {
  const proxy: Record<string, Handler> = {};
  for (const method of service.methods) {
    proxy[method.localName] = (...args) => (handlers() as unknown as Record<string, Handler>)[method.localName]!(...args);
  }
  return proxy as unknown as ServiceImpl<S>;
}
