/** AuthService: the method table; each verb lives in its own module. */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { SubjectKind } from "../../../gen/latchkey/auth/v1/token_pb.js";
import { ValidateTokenResponseSchema, type AuthService } from "../../../gen/latchkey/auth/v1/auth_service_pb.js";
import { invalidCredentials, invalidField, notFound } from "../../domain/errors.js";
import { normalisePassword } from "../../domain/passwords/strength.js";
import { prefixOf } from "../access/api-key-format.js";
import { findEffectiveProfile, requireDefaultProfile } from "../../store/queries/security-profiles.js";
import { findMembershipRole } from "../../store/queries/memberships.js";
import { findUserById, setActiveOrganisation } from "../../store/queries/users.js";
import { peekTokenType } from "../../domain/tokens/access-token.js";
import { DEVICE_ACCESS_TOKEN_TYPE } from "../../domain/tokens/access-token.js";
import { actorOf, clientOf, personOf } from "../caller.js";
import type { ServiceDeps } from "../deps.js";
import { toProtoUser } from "../user/to-proto.js";
import { createDeviceAuthorizationHandlers } from "./device-authorization.js";
import { createMfaHandlers } from "./mfa.js";
import { createPasswordHandlers } from "./passwords.js";
import { toProtoSignInResult, toProtoTokenInfo, toProtoTokenPair } from "./to-proto.js";
import { createSessionHandlers } from "./sessions.js";
import { createExternalLoginHandlers } from "../external-login/handlers.js";

export function createAuthService(deps: ServiceDeps): ServiceImpl<typeof AuthService> {
  const { database, tokens, signIn, apiKeys } = deps;
  return {
    ...createSessionHandlers(deps),
    ...createPasswordHandlers(deps),
    ...createMfaHandlers(deps),
    ...createDeviceAuthorizationHandlers(deps),
    ...createExternalLoginHandlers(deps),
    async checkPasswordStrength(req) {
      const profile = await requireDefaultProfile(database.db);
      const result = await deps.passwordStrength(normalisePassword(req.password), req.userInputs, {
        minLength: profile.passwordMinLength,
        minScore: profile.passwordMinScore,
      });
      return {
        score: result.score,
        acceptable: result.acceptable,
        warning: result.warning,
        suggestions: result.suggestions,
        breached: result.breached,
        minLength: profile.passwordMinLength,
        minScore: profile.passwordMinScore,
      };
    },

    async signIn(req, ctx) {
      const email = req.identifier.case === "email" || req.identifier.case === "username" ? req.identifier.value : "";
      if (!email) {
        throw invalidField("email", "is required");
      }
      const result = await signIn({ email, password: req.password, keepLoggedIn: req.keepLoggedIn, deviceName: req.deviceName }, clientOf(ctx));
      return { result: toProtoSignInResult(result) };
    },

    async refreshToken(req, ctx) {
      return { tokens: toProtoTokenPair(await tokens.rotate(req.refreshToken, clientOf(ctx))) };
    },

    async signOut(req, ctx) {
      const user = personOf(ctx);
      if (req.allSessions) await tokens.endAllSessions(user.userId, "sign_out_all", clientOf(ctx));
      else await tokens.endSession(user.userId, user.sessionId, "sign_out", clientOf(ctx));
      return {};
    },

    async revokeToken(req, ctx) {
      await tokens.revokeToken(req.token, clientOf(ctx));
      return {};
    },

    async validateToken(req) {
      const inactive = create(ValidateTokenResponseSchema, { active: false });
      const presented = req.token.trim();
      if (!presented) return inactive;
      // An API key is introspected exactly as the access interceptor would
      // authenticate it: revoked, expired or owned by a disabled user → inactive.
      if (prefixOf(presented) !== undefined) {
        const key = await deps.authenticate({ authorization: null, apiKey: presented });
        if (key?.kind !== "api_key") return inactive;
        const profile = await findEffectiveProfile(database.db, key.userId, key.organisationId ?? null);
        return {
          active: true,
          subject: key.userId,
          subjectKind: SubjectKind.API_KEY,
          organisationId: key.organisationId ?? "",
          roles: key.roles,
          scopes: [...key.permissions].sort(),
          ...(key.expiresAt !== undefined ? { expiresAt: timestampFromMs(key.expiresAt) } : {}),
          securityProfile: profile?.name ?? "",
          sessionId: "",
          tokenId: key.apiKeyId,
        };
      }
      if (peekTokenType(presented) === DEVICE_ACCESS_TOKEN_TYPE) {
        // A device token is active while its device and session live.
        const device = await tokens.authenticateDevice(presented);
        if (!device) return inactive;
        return {
          active: true,
          subject: device.status.deviceId,
          subjectKind: SubjectKind.DEVICE,
          organisationId: device.status.organisationId,
          roles: [],
          scopes: [],
          expiresAt: timestampFromMs(device.token.claims.exp * 1000),
          securityProfile: "",
          sessionId: device.status.sessionId,
          tokenId: device.token.claims.jti,
        };
      }
      const result = await tokens.authenticate(presented);
      if (!result) return inactive;
      const { token, status, roles } = result;
      return {
        active: true,
        subject: status.userId,
        subjectKind: SubjectKind.USER,
        organisationId: token.claims.org ?? "",
        roles,
        scopes: ["*"],
        expiresAt: timestampFromMs(token.claims.exp * 1000),
        securityProfile: status.securityProfile,
        sessionId: status.sessionId,
        tokenId: token.claims.jti,
      };
    },

    async getTokenInfo(_req, ctx) {
      return toProtoTokenInfo(personOf(ctx).token);
    },

    async getCurrentUser(_req, ctx) {
      const actor = actorOf(ctx);
      const row = await findUserById(database.db, actor.userId);
      if (!row) throw invalidCredentials();
      return { user: toProtoUser(row, { organisationId: actor.organisationId, roles: actor.roles }) };
    },

    async switchOrganisation(req, ctx) {
      const user = personOf(ctx);
      const role = await findMembershipRole(database.db, req.organisationId, user.userId);
      // Not a member: the same answer whether or not the organisation exists.
      if (!role) throw notFound("organisation");
      const pair = await tokens.switchOrganisation(
        user.sessionId,
        { id: user.userId, superAdmin: user.superAdmin, organisationId: req.organisationId, organisationRole: role },
        clientOf(ctx),
      );
      await database.batch([setActiveOrganisation(database.db, user.userId, req.organisationId)]);
      return { tokens: toProtoTokenPair(pair) };
    },

    async createApiKey(req, ctx) {
      return apiKeys.create(actorOf(ctx), req, clientOf(ctx).clientAddress);
    },

    async listApiKeys(req, ctx) {
      return apiKeys.list(actorOf(ctx), req);
    },

    async revokeApiKey(req, ctx) {
      await apiKeys.revoke(actorOf(ctx), req.apiKeyId, clientOf(ctx).clientAddress);
      return {};
    },
  };
}
