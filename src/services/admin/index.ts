/** AdminService: the method table; each concern lives in its own module. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../../gen/latchkey/admin/v1/admin_service_pb.js";
import type { ServiceDeps } from "../deps.js";
import { createAuditLogHandlers } from "./audit-log.js";
import { createDeliveryCheckHandlers } from "./delivery-checks.js";
import { createProfileHandlers } from "./profiles.js";
import { createSigningKeyHandlers } from "./signing-keys.js";
import { createSystemHandlers } from "./system.js";

export type AdminHandlers<K extends keyof ServiceImpl<typeof AdminService>> = Pick<ServiceImpl<typeof AdminService>, K>;

export function createAdminService(deps: ServiceDeps): ServiceImpl<typeof AdminService> {
  return {
    ...createProfileHandlers(deps),
    ...createSystemHandlers(deps),
    ...createDeliveryCheckHandlers(deps),
    ...createAuditLogHandlers(deps),
    ...createSigningKeyHandlers(deps),
  };
}
