/**
 * Invitations end to end on the real Node server: the token travels only by
 * email, through the outbox and a real SMTP server in its own process, and
 * the test reads it from what that server received, as an invitee would.
 */
import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { MemberRole } from "../../gen/latchkey/organisation/v1/organisation_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { bearer, rpcError, signInPair } from "../support/rpc-calls.js";
import { startSmtpSink, type SinkMessage, type SmtpSink } from "../support/smtp-sink.js";
import { startNode } from "../support/start-node.js";
import type { RpcTarget } from "../support/target.js";

const ISSUER = "https://id.latchkey.test";
const PASSWORD = "violet-anchor-meadow-71-quartz";
const TOKEN = /lki_[A-Za-z0-9_-]{43}/;

let smtp: SmtpSink;
let target: RpcTarget;
let auth: Client<typeof AuthService>;
let users: Client<typeof UserService>;
let orgs: Client<typeof OrganisationService>;

beforeAll(async () => {
  smtp = await startSmtpSink();
  target = await startNode({ SMTP_URL: smtp.url, LATCHKEY_ISSUER: ISSUER });
  auth = createClient(AuthService, target.transports.connect);
  users = createClient(UserService, target.transports.connect);
  orgs = createClient(OrganisationService, target.transports.connect);
});

afterAll(async () => {
  await target?.stop();
  await smtp?.stop();
});

/** Registers `email` and signs in: the access token. */
async function register(email: string, name: string): Promise<{ id: string; token: string }> {
  const { user } = await users.createUser({ email, name, password: PASSWORD });
  return { id: user!.id, token: (await signInPair(auth, email, PASSWORD)).accessToken };
}

/** The invitation mail the SMTP server received for `email`, and the token in it. */
async function invitationMail(email: string): Promise<{ mail: SinkMessage; token: string }> {
  const mail = await smtp.waitFor((m) => m.envelopeTo.length === 1 && m.envelopeTo[0] === email && m.subject.startsWith("Invitation to join"));
  const token = TOKEN.exec(mail.text)?.[0];
  if (!token) throw new Error(`no invitation token in the mail to ${email}: ${mail.text}`);
  return { mail, token };
}

describe("invitations through a real SMTP server", () => {
  it("invitees register with the invited address, accept the mailed token once, and hold the invited role", async () => {
    const owner = await register("owner@acme.example", "Olga Owner");
    const { organisation } = await orgs.createOrganisation({ name: "Acme Field Service" }, bearer(owner.token));
    const organisationId = organisation!.id;

    // The owner invites an admin who has no account yet.
    await orgs.inviteMember({ organisationId, email: "Ada@Acme.example", role: MemberRole.ADMIN }, bearer(owner.token));
    const { mail: adminMail, token: adminToken } = await invitationMail("ada@acme.example");
    expect(adminMail.to).toBe("ada@acme.example");
    expect(adminMail.subject).toBe("Invitation to join Acme Field Service");
    expect(adminMail.text).toContain(`${ISSUER}/invitations/accept#token=${adminToken}`);
    expect(adminMail.text).toContain("as admin");

    const admin = await register("ada@acme.example", "Ada Admin");
    const accepted = await orgs.acceptInvitation({ token: adminToken }, bearer(admin.token));
    expect(accepted.member).toMatchObject({ userId: admin.id, organisationId, role: MemberRole.ADMIN, email: "ada@acme.example" });

    // The new admin invites a member in turn.
    await orgs.inviteMember({ organisationId, email: "max@acme.example", role: MemberRole.MEMBER }, bearer(admin.token));
    const { token: memberToken } = await invitationMail("max@acme.example");
    const member = await register("max@acme.example", "Max Member");
    await orgs.acceptInvitation({ token: memberToken }, bearer(member.token));

    const { members } = await orgs.listMembers({ organisationId }, bearer(admin.token));
    expect(members.map((m) => ({ userId: m.userId, email: m.email, role: m.role }))).toEqual([
      { userId: admin.id, email: "ada@acme.example", role: MemberRole.ADMIN },
      { userId: member.id, email: "max@acme.example", role: MemberRole.MEMBER },
      { userId: owner.id, email: "owner@acme.example", role: MemberRole.OWNER },
    ]);

    // Each token works once.
    for (const [token, person] of [
      [adminToken, admin],
      [memberToken, member],
    ] as const) {
      const again = await rpcError(orgs.acceptInvitation({ token }, bearer(person.token)));
      expect(again.code).toBe(Code.NotFound);
      expect(again.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVITATION_INVALID");
    }
    // Nobody else was mailed a token.
    const mailedTokens = smtp.messages.filter((m) => TOKEN.test(m.text)).map((m) => m.envelopeTo.join(","));
    expect(mailedTokens).toEqual(["ada@acme.example", "max@acme.example"]);
  });
});
