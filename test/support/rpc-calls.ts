/** Small helpers of the RPC suites. */
import { ConnectError, type Client } from "@connectrpc/connect";
import type { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import type { TokenPair } from "../../gen/latchkey/auth/v1/token_pb.js";
import { MemberRole } from "../../gen/latchkey/organisation/v1/organisation_pb.js";
import type { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import type { RpcTarget } from "./target.js";

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

/** The newest invitation mailed to `email`, read from the target's outbox, with its token. */
export async function invitationMailedTo(target: Pick<RpcTarget, "exec">, email: string): Promise<{ token: string; body: string; subject: string }> {
  const rows = await target.exec("SELECT subject, body FROM outbox WHERE recipient = ? ORDER BY created_at DESC LIMIT 1", [email]);
  const body = String(rows[0]?.body ?? "");
  const token = /lki_[A-Za-z0-9_-]{43}/.exec(body)?.[0];
  if (!token) throw new Error(`no invitation token mailed to ${email}`);
  return { token, body, subject: String(rows[0]?.subject) };
}

/** `by` invites `person` into the organisation as `role`, and `person` accepts with the mailed token. */
export async function joinByInvitation(
  target: Pick<RpcTarget, "exec">,
  orgs: Client<typeof OrganisationService>,
  invitation: { by: { token: string }; person: { email: string; token: string }; organisationId: string; role?: MemberRole },
): Promise<void> {
  const { by, person, organisationId, role = MemberRole.MEMBER } = invitation;
  await orgs.inviteMember({ organisationId, email: person.email, role }, bearer(by.token));
  const { token } = await invitationMailedTo(target, person.email);
  await orgs.acceptInvitation({ token }, bearer(person.token));
}
