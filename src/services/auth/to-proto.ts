import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TokenClaimsSchema, TokenHeaderSchema, TokenPairSchema, type TokenPair } from "../../../gen/latchkey/auth/v1/token_pb.js";
import type { VerifiedAccessToken } from "../../domain/tokens/access-token.js";
import type { IssuedPair } from "../tokens/token-service.js";
import { toProtoMethods } from "./mfa.js";
import type { SignInResult } from "./sign-in.js";

export function toProtoTokenPair(pair: IssuedPair): TokenPair {
  return create(TokenPairSchema, {
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    tokenType: "Bearer",
    expiresIn: pair.expiresIn,
    refreshExpiresIn: pair.refreshExpiresIn,
  });
}

export function toProtoTokenInfo(token: VerifiedAccessToken) {
  const { header, claims } = token;
  return {
    header: create(TokenHeaderSchema, header),
    claims: create(TokenClaimsSchema, {
      iss: claims.iss,
      sub: claims.sub,
      aud: [claims.aud],
      exp: timestampFromMs(claims.exp * 1000),
      iat: timestampFromMs(claims.iat * 1000),
      jti: claims.jti,
      org: claims.org ?? "",
      roles: claims.roles,
      sid: claims.sid,
    }),
  };
}

/** The `result` oneof of SignIn and CompleteExternalLogin: tokens, or the second factor still owed. */
export function toProtoSignInResult(result: SignInResult) {
  if (result.kind === "mfa") {
    const challenge = {
      challengeToken: result.challengeToken,
      methods: toProtoMethods(result.methods),
      expiresAt: timestampFromMs(result.expiresAt),
      codeSentTo: result.codeSentTo,
    };
    return { case: "mfaRequired" as const, value: challenge };
  }
  return { case: "tokens" as const, value: toProtoTokenPair(result.pair) };
}
