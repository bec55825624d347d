/**
 * UserService: the method table, assembled from one handler group per
 * concern (accounts, state, verification, avatars, settings, roles).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { UserService } from "../../../gen/latchkey/user/v1/user_service_pb.js";
import type { ServiceDeps } from "../deps.js";
import { createAccountHandlers } from "./accounts.js";

export type UserHandlers = Partial<ServiceImpl<typeof UserService>>;

export function createUserService(deps: ServiceDeps): UserHandlers {
  return {
    ...createAccountHandlers(deps),
  };
}
