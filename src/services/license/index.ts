/**
 * LicenseService: the method table; each concern lives in its own module.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { LicenseService } from "../../../gen/latchkey/license/v1/license_service_pb.js";
import type { ServiceDeps } from "../deps.js";
import { createAgreementHandlers } from "./agreements.js";
import { createCatalogueHandlers } from "./catalogue.js";
import { createCheckLicenseHandlers } from "./check-license.js";
import { createDeviceSignInHandlers } from "./device-sign-in.js";
import { createDeviceHandlers } from "./devices.js";
import { createLicenseHandlers } from "./licenses.js";

export type LicenseHandlers<K extends keyof ServiceImpl<typeof LicenseService>> = Pick<ServiceImpl<typeof LicenseService>, K>;

export function createLicenseService(deps: ServiceDeps): ServiceImpl<typeof LicenseService> {
  return {
    ...createAgreementHandlers(deps),
    ...createCatalogueHandlers(deps),
    ...createLicenseHandlers(deps),
    ...createDeviceHandlers(deps),
    ...createDeviceSignInHandlers(deps),
    ...createCheckLicenseHandlers(deps),
  };
}
