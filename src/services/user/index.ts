import type { ServiceImpl } from "@connectrpc/connect";
import { permissionDenied } from "../../domain/errors.js";
import type { UserService } from "../../../gen/latchkey/user/v1/user_service_pb.js";
import { kRequestMeta } from "../context.js";
import type { Register } from "./register.js";
import { toProtoUser } from "./to-proto.js";

export interface UserServiceDeps {
  register: Register;
}

export function createUserService(deps: UserServiceDeps): Partial<ServiceImpl<typeof UserService>> {
  return {
    async createUser(req, ctx) {
      // Joining an organisation goes through an invitation, never through a
      // field an anonymous caller can fill in.
      if (req.organisationId) throw permissionDenied();
      const row = await deps.register(
        { email: req.email, name: req.name, password: req.password, phoneNumber: req.phoneNumber, locale: req.locale, newsletter: req.newsletter },
        { clientAddress: ctx.values.get(kRequestMeta).clientAddress },
      );
      return { user: toProtoUser(row) };
    },
  };
}
