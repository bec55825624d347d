/** The external-login RPCs of AuthService. */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "../../../gen/latchkey/auth/v1/auth_service_pb.js";
import { toProtoSignInResult } from "../auth/to-proto.js";
import { clientOf, personOf } from "../caller.js";
import type { ServiceDeps } from "../deps.js";

type Handlers = Pick<ServiceImpl<typeof AuthService>, "startExternalLogin" | "completeExternalLogin" | "listExternalIdentities" | "unlinkExternalIdentity">;

export function createExternalLoginHandlers(deps: Pick<ServiceDeps, "externalLogin">): Handlers {
  const { externalLogin } = deps;
  return {
    async startExternalLogin(req, ctx) {
      const started = await externalLogin.start(req.provider, req.redirectUrl, clientOf(ctx));
      return { authorizationUrl: started.authorizationUrl, state: started.state, expiresAt: timestampFromMs(started.expiresAt) };
    },

    async completeExternalLogin(req, ctx) {
      const result = await externalLogin.complete(
        { code: req.code, state: req.state, iss: req.iss, keepLoggedIn: req.keepLoggedIn, deviceName: req.deviceName },
        clientOf(ctx),
      );
      const common = { provider: result.provider, userCreated: result.userCreated, identityLinked: result.identityLinked };
      return { result: toProtoSignInResult(result), ...common };
    },

    async listExternalIdentities(_req, ctx) {
      const { identities, passwordSet } = await externalLogin.list(personOf(ctx).userId);
      return {
        passwordSet,
        identities: identities.map(({ row, provider }) => {
          const claims = JSON.parse(row.claims) as { name?: unknown };
          return {
            id: row.id,
            provider: row.provider,
            providerDisplayName: provider?.displayName ?? row.provider,
            subject: row.subject,
            email: row.email,
            emailVerified: row.emailVerified,
            name: typeof claims.name === "string" ? claims.name : "",
            createdUser: row.createdUser,
            createdAt: timestampFromMs(row.createdAt),
            lastSignInAt: timestampFromMs(row.lastSignInAt),
          };
        }),
      };
    },

    async unlinkExternalIdentity(req, ctx) {
      await externalLogin.unlink(personOf(ctx).userId, req.identityId, clientOf(ctx));
      return {};
    },
  };
}
