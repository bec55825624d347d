/**
 * Who is calling. The authenticate interceptor resolves it once per request;
 * services and the access rules read it, never the raw credentials.
 */
import type { VerifiedAccessToken } from "./tokens/access-token.js";

export type Actor =
  | { kind: "anonymous" }
  | {
      kind: "user";
      userId: string;
      sessionId: string;
      organisationId: string | undefined;
      roles: string[];
      superAdmin: boolean;
      /** The verified token the user called with. */
      token: VerifiedAccessToken;
    };

export const anonymous: Actor = Object.freeze({ kind: "anonymous" });

export const SUPER_ADMIN_ROLE = "super_admin";
