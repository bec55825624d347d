/** Account handlers: registration and the account's own record. */
import type { ServiceDeps } from "../deps.js";
import { kRequestMeta } from "../context.js";
import { permissionDenied } from "../../domain/errors.js";
import type { UserHandlers } from "./index.js";
import { toProtoUser } from "./to-proto.js";

export function createAccountHandlers(deps: ServiceDeps): UserHandlers {
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
