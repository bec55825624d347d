/** Small helpers of the RPC suites. */
import { ConnectError, type Client } from "@connectrpc/connect";
import type { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import type { TokenPair } from "../../gen/latchkey/auth/v1/token_pb.js";

/** The error a call fails with; fails the test if the call succeeds. */
export async function rpcError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

/** Call options that send an access token or API key as a bearer token. */
export function bearer(token: string) {
  return { headers: { authorization: `Bearer ${token}` } };
}

/** Signs in with a password and answers the token pair (no MFA step expected). */
export async function signInPair(auth: Client<typeof AuthService>, email: string, password: string): Promise<TokenPair> {
  const signedIn = await auth.signIn({ identifier: { case: "email", value: email }, password });
  if (signedIn.result.case !== "tokens") throw new Error(`${email} cannot sign in with a password alone`);
  return signedIn.result.value;
}

let counter = 0;
/** A tag no other test of this run uses: for emails and names in shared databases. */
export function unique(tag: string): string {
  return `${tag}-${Date.now().toString(36)}-${counter++}`;
}
