/**
 * UserService: the method table, assembled from one handler group per
 * concern (accounts, state, verification, avatars, settings, roles).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { UserService } from "../../../gen/latchkey/user/v1/user_service_pb.js";
import type { ServiceDeps } from "../deps.js";
import { createAccountHandlers } from "./accounts.js";
import { createAvatarHandlers } from "./avatars.js";
import { createListingHandlers } from "./listing.js";
import { createSettingHandlers } from "./settings.js";
import { createStateHandlers } from "./state.js";
import { createVerificationHandlers } from "./verification.js";
import { createRoleHandlers } from "./roles.js";

/** A group of handlers: the RPCs `K` of the service. */
export type UserHandlers<K extends keyof ServiceImpl<typeof UserService>> = Pick<ServiceImpl<typeof UserService>, K>;

export function createUserService(deps: ServiceDeps): ServiceImpl<typeof UserService> {
  return {
    ...createAccountHandlers(deps),
    ...createListingHandlers(deps),
    ...createStateHandlers(deps),
    ...createSettingHandlers(deps),
    ...createAvatarHandlers(deps),
    ...createVerificationHandlers(deps),
    ...createRoleHandlers(deps),
  };
}
