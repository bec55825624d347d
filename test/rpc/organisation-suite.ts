/**
 * OrganisationService and UserService.SetRoles, written once and run against
 * the Node server (test/e2e) and the Worker inside workerd (test/worker).
 */
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { MemberRole, InvitationState } from "../../gen/latchkey/organisation/v1/organisation_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { bearer, invitationMailedTo, rpcError, signInPair, unique } from "../support/rpc-calls.js";
import type { RpcTarget } from "../support/target.js";
import { ADMIN } from "./auth-suite.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
const UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead";

function reasonOf(error: ConnectError): string | undefined {
  return error.findDetails(ErrorInfoSchema)[0]?.reason;
}


interface Person {
  id: string;
  email: string;
  token: string;
}

export function defineOrganisationSuite(start: () => Promise<RpcTarget>): void {
  let target: RpcTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;
  let orgs: Client<typeof OrganisationService>;
  let root: Person;

  async function signIn(email: string): Promise<string> {
    return (await signInPair(auth, email, email === ADMIN.email ? ADMIN.password : PASSWORD)).accessToken;
  }

  async function signUp(tag: string, name = `User ${tag}`): Promise<Person> {
    const email = `${unique(tag)}@example.com`;
    const { user } = await users.createUser({ email, name, password: PASSWORD });
    return { id: user!.id, email, token: await signIn(email) };
  }

  async function createOrganisation(owner: Person, tag = "org"): Promise<{ id: string; name: string }> {
    const { organisation } = await orgs.createOrganisation({ name: unique(tag) }, bearer(owner.token));
    return { id: organisation!.id, name: organisation!.name };
  }

  /** The token of the newest invitation email to `email`, read from the outbox. */
  function emailedToken(email: string): Promise<{ token: string; body: string; subject: string }> {
    return invitationMailedTo(target, email);
  }

  async function invite(by: Person, organisationId: string, email: string, role = MemberRole.MEMBER): Promise<string> {
    await orgs.inviteMember({ organisationId, email, role }, bearer(by.token));
    return (await emailedToken(email)).token;
  }

  /** A new user who joined `organisationId` through an invitation from `by`. */
  async function join(by: Person, organisationId: string, role = MemberRole.MEMBER, tag = "member", name?: string): Promise<Person> {
    const person = await signUp(tag, name);
    await orgs.acceptInvitation({ token: await invite(by, organisationId, person.email, role) }, bearer(person.token));
    return person;
  }

  /** An access token of the same session that names `organisationId`. */
  async function switchTo(person: Person, organisationId: string): Promise<Person> {
    const { tokens } = await auth.switchOrganisation({ organisationId }, bearer(person.token));
    return { ...person, token: tokens!.accessToken };
  }

  async function roleOf(organisationId: string, userId: string): Promise<string | undefined> {
    const rows = await target.exec("SELECT role FROM memberships WHERE organisation_id = ? AND user_id = ?", [organisationId, userId]);
    return rows[0]?.role as string | undefined;
  }

  async function validatedRoles(token: string): Promise<string[]> {
    return (await auth.validateToken({ token }, bearer(root.token))).roles;
  }

  beforeAll(async () => {
    target = await start();
    auth = createClient(AuthService, target.transports.connect);
    users = createClient(UserService, target.transports.connect);
    orgs = createClient(OrganisationService, target.transports.connect);
    const token = await signIn(ADMIN.email);
    const { user } = await auth.getCurrentUser({}, bearer(token));
    root = { id: user!.id, email: ADMIN.email, token };
  });
  afterAll(async () => {
    await target?.stop();
  });

  describe("organisations", () => {
    it("the creator becomes owner and, having none, gets it as active organisation", async () => {
      const owner = await signUp("creator");
      const first = await createOrganisation(owner, "first");
      const second = await createOrganisation(owner, "second");
      expect(await roleOf(first.id, owner.id)).toBe("owner");
      const active = await target.exec("SELECT active_organisation_id AS id FROM users WHERE id = ?", [owner.id]);
      expect(active[0]!.id).toBe(first.id);
      // A new session starts there, as owner.
      const fresh = await signIn(owner.email);
      const validated = await auth.validateToken({ token: fresh }, bearer(root.token));
      expect(validated.organisationId).toBe(first.id);
      expect(validated.roles).toContain("owner");
      const got = await orgs.getOrganisation({ organisationId: second.id }, bearer(owner.token));
      expect(got.organisation).toMatchObject({ id: second.id, name: second.name, securityProfile: "default" });
      const audit = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'organisation.created' AND organisation_id = ?", [first.id]);
      expect(audit.map((row) => row.actor_id)).toEqual([owner.id]);
    });

    it("names are unique case-insensitively, after trimming, and one line", async () => {
      const owner = await signUp("names");
      const name = unique("Acme Ärzte");
      await orgs.createOrganisation({ name }, bearer(owner.token));
      for (const again of [name.toUpperCase(), `  ${name.toLowerCase()} `, name.normalize("NFD")]) {
        const error = await rpcError(orgs.createOrganisation({ name: again }, bearer(owner.token)));
        expect(error.code, again).toBe(Code.AlreadyExists);
      }
      expect((await rpcError(orgs.createOrganisation({ name: "   " }, bearer(owner.token)))).code).toBe(Code.InvalidArgument);
      expect((await rpcError(orgs.createOrganisation({ name: "two\nlines" }, bearer(owner.token)))).code).toBe(Code.InvalidArgument);
    });

    it("answers non-members permission_denied alike for existing and unknown ids", async () => {
      const owner = await signUp("get-owner");
      const outsider = await signUp("get-outsider");
      const organisation = await createOrganisation(owner, "get");
      const existing = await rpcError(orgs.getOrganisation({ organisationId: organisation.id }, bearer(outsider.token)));
      const unknown = await rpcError(orgs.getOrganisation({ organisationId: UNKNOWN_ID }, bearer(outsider.token)));
      expect(existing.code).toBe(Code.PermissionDenied);
      expect(unknown.code).toBe(existing.code);
      expect(unknown.rawMessage).toBe(existing.rawMessage);
      expect(existing.rawMessage).not.toContain(organisation.name);
      // Super-admins see every organisation, and learn which ids do not exist.
      expect((await orgs.getOrganisation({ organisationId: organisation.id }, bearer(root.token))).organisation?.name).toBe(organisation.name);
      expect((await rpcError(orgs.getOrganisation({ organisationId: UNKNOWN_ID }, bearer(root.token)))).code).toBe(Code.NotFound);
    });

    it("lists the caller's organisations by name, page by page; super-admins see all", async () => {
      const owner = await signUp("lister");
      const other = await signUp("lister-other");
      const prefix = unique("list");
      for (const suffix of ["c", "A", "b"]) await orgs.createOrganisation({ name: `${prefix}-${suffix}` }, bearer(owner.token));
      const foreign = await createOrganisation(other, "foreign");

      const names: string[] = [];
      let pageToken = "";
      do {
        const page = await orgs.listOrganisations({ pageSize: 1, pageToken }, bearer(owner.token));
        expect(page.organisations.length).toBeLessThanOrEqual(1);
        names.push(...page.organisations.map((o) => o.name));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(names).toEqual([`${prefix}-A`, `${prefix}-b`, `${prefix}-c`]);

      const all = await orgs.listOrganisations({ pageSize: 1000 }, bearer(root.token));
      expect(all.organisations.map((o) => o.id)).toContain(foreign.id);
      expect((await rpcError(orgs.listOrganisations({ pageSize: -1 }, bearer(owner.token)))).code).toBe(Code.InvalidArgument);
      expect((await rpcError(orgs.listOrganisations({ pageToken: "forged" }, bearer(owner.token)))).code).toBe(Code.InvalidArgument);
      // A page token of one caller's list is no good in another's.
      const first = await orgs.listOrganisations({ pageSize: 1 }, bearer(owner.token));
      expect((await rpcError(orgs.listOrganisations({ pageSize: 1, pageToken: first.nextPageToken }, bearer(other.token)))).code).toBe(Code.InvalidArgument);
    });

    it("admins and owners rename; members and outsiders cannot; only the name can change", async () => {
      const owner = await signUp("rename-owner");
      const organisation = await createOrganisation(owner, "rename");
      const admin = await switchTo(await join(owner, organisation.id, MemberRole.ADMIN, "rename-admin"), organisation.id);
      const member = await switchTo(await join(owner, organisation.id, MemberRole.MEMBER, "rename-member"), organisation.id);
      const newName = unique("renamed");
      const { organisation: renamed } = await orgs.updateOrganisation({ organisation: { id: organisation.id, name: newName }, updateMask: { paths: ["name"] } }, bearer(admin.token));
      expect(renamed?.name).toBe(newName);
      expect(renamed!.updatedAt!.seconds).toBeGreaterThanOrEqual(renamed!.createdAt!.seconds);

      expect((await rpcError(orgs.updateOrganisation({ organisation: { id: organisation.id, name: unique("nope") } }, bearer(member.token)))).code).toBe(Code.PermissionDenied);
      // An owner of another organisation, acting in it, is an outsider here.
      const outsider = await signUp("rename-outsider");
      const own = await createOrganisation(outsider, "outsider-own");
      const outsiderInOwn = await switchTo(outsider, own.id);
      for (const id of [organisation.id, UNKNOWN_ID]) {
        const error = await rpcError(orgs.updateOrganisation({ organisation: { id, name: unique("hijack") } }, bearer(outsiderInOwn.token)));
        expect(error.code).toBe(Code.PermissionDenied);
      }
      const badPath = await rpcError(orgs.updateOrganisation({ organisation: { id: organisation.id, name: "x" }, updateMask: { paths: ["security_profile"] } }, bearer(admin.token)));
      expect(badPath.code).toBe(Code.InvalidArgument);
      expect(badPath.rawMessage).toContain("security_profile");
      const taken = await rpcError(orgs.updateOrganisation({ organisation: { id: organisation.id, name: own.name.toUpperCase() } }, bearer(admin.token)));
      expect(taken.code).toBe(Code.AlreadyExists);
      const audit = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'organisation.renamed' AND organisation_id = ?", [organisation.id]);
      expect(audit.map((row) => row.actor_id)).toEqual([admin.id]);
    });

    it("only owners delete; everything of the organisation goes and sessions lose it", async () => {
      const owner = await signUp("delete-owner");
      const organisation = await createOrganisation(owner, "delete");
      const admin = await join(owner, organisation.id, MemberRole.ADMIN, "delete-admin");
      const member = await switchTo(await join(owner, organisation.id, MemberRole.MEMBER, "delete-member"), organisation.id);
      await orgs.inviteMember({ organisationId: organisation.id, email: `${unique("pending")}@example.com` }, bearer(owner.token));
      expect(await validatedRoles(member.token)).toEqual(["member"]);

      expect((await rpcError(orgs.deleteOrganisation({ organisationId: organisation.id }, bearer(admin.token)))).code).toBe(Code.PermissionDenied);
      await orgs.deleteOrganisation({ organisationId: organisation.id }, bearer(owner.token));

      expect((await rpcError(orgs.getOrganisation({ organisationId: organisation.id }, bearer(owner.token)))).code).toBe(Code.PermissionDenied);
      for (const table of ["memberships", "invitations"]) {
        const left = await target.exec(`SELECT COUNT(*) AS n FROM ${table} WHERE organisation_id = ?`, [organisation.id]);
        expect(Number(left[0]!.n), table).toBe(0);
      }
      const sessions = await target.exec("SELECT COUNT(*) AS n FROM sessions WHERE organisation_id = ?", [organisation.id]);
      expect(Number(sessions[0]!.n)).toBe(0);
      const active = await target.exec("SELECT COUNT(*) AS n FROM users WHERE active_organisation_id = ?", [organisation.id]);
      expect(Number(active[0]!.n)).toBe(0);
      expect(await validatedRoles(member.token)).toEqual([]);
      const audit = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'organisation.deleted' AND organisation_id = ?", [organisation.id]);
      expect(audit.map((row) => row.actor_id)).toEqual([owner.id]);
    });
  });

  describe("invitations", () => {
    it("emails a single-use token with a link on the configured issuer, stores only its hash", async () => {
      const owner = await signUp("inviter");
      const organisation = await createOrganisation(owner, "invite");
      const invitee = await signUp("invitee");
      const { invitation } = await orgs.inviteMember(
        { organisationId: organisation.id, email: invitee.email.toUpperCase(), role: MemberRole.ADMIN },
        { headers: { authorization: `Bearer ${owner.token}`, "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" } },
      );
      expect(invitation).toMatchObject({ organisationId: organisation.id, email: invitee.email, role: MemberRole.ADMIN, state: InvitationState.PENDING, invitedBy: owner.id });
      const lifetime = Number(invitation!.expiresAt!.seconds - invitation!.createdAt!.seconds);
      expect(lifetime).toBe(7 * 24 * 3600);

      const { token, body, subject } = await emailedToken(invitee.email);
      const { issuer } = (await (await target.fetch(`${target.baseUrl}/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(body).toContain(`${issuer}/`);
      expect(body).not.toContain("evil.example");
      expect(subject).toContain(organisation.name);
      const stored = await target.exec("SELECT token_hash FROM invitations WHERE id = ?", [invitation!.id]);
      expect(String(stored[0]!.token_hash)).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(stored)).not.toContain(token.slice(4));
      const audit = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'invitation.created' AND organisation_id = ?", [organisation.id]);
      expect(audit.map((row) => row.actor_id)).toEqual([owner.id]);

      const { member } = await orgs.acceptInvitation({ token }, bearer(invitee.token));
      expect(member).toMatchObject({ userId: invitee.id, organisationId: organisation.id, role: MemberRole.ADMIN, email: invitee.email });
      const again = await rpcError(orgs.acceptInvitation({ token }, bearer(invitee.token)));
      expect(again.code).toBe(Code.NotFound);
      expect(reasonOf(again)).toBe("INVITATION_INVALID");
    });

    it("unknown, expired and someone else's invitations get one and the same answer", async () => {
      const owner = await signUp("same-answer");
      const organisation = await createOrganisation(owner, "same-answer");
      const invitee = await signUp("right");
      const stranger = await signUp("wrong");
      const token = await invite(owner, organisation.id, invitee.email);
      const wrongUser = await rpcError(orgs.acceptInvitation({ token }, bearer(stranger.token)));
      const unknown = await rpcError(orgs.acceptInvitation({ token: `lki_${"A".repeat(43)}` }, bearer(stranger.token)));
      await target.exec("UPDATE invitations SET expires_at = 1 WHERE organisation_id = ?", [organisation.id]);
      const expired = await rpcError(orgs.acceptInvitation({ token }, bearer(invitee.token)));
      for (const error of [wrongUser, unknown, expired]) {
        expect(error.code).toBe(Code.NotFound);
        expect(reasonOf(error)).toBe("INVITATION_INVALID");
        expect(error.rawMessage).toBe(unknown.rawMessage);
      }
      expect(await roleOf(organisation.id, invitee.id)).toBeUndefined();
      expect(await roleOf(organisation.id, stranger.id)).toBeUndefined();
    });

    it("concurrent accepts of one invitation make exactly one membership", async () => {
      const owner = await signUp("race-owner");
      const organisation = await createOrganisation(owner, "race");
      const invitee = await signUp("race-invitee");
      const token = await invite(owner, organisation.id, invitee.email);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => orgs.acceptInvitation({ token }, bearer(invitee.token))));
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const lost of results.filter((r) => r.status === "rejected")) {
        const error = ConnectError.from(lost.reason);
        expect([Code.NotFound, Code.AlreadyExists]).toContain(error.code);
      }
      const rows = await target.exec("SELECT COUNT(*) AS n FROM memberships WHERE organisation_id = ? AND user_id = ?", [organisation.id, invitee.id]);
      expect(Number(rows[0]!.n)).toBe(1);
      const audit = await target.exec("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'invitation.accepted' AND organisation_id = ?", [organisation.id]);
      expect(Number(audit[0]!.n)).toBe(1);
    });

    it("invites up to the inviter's own role, and never an existing member", async () => {
      const owner = await signUp("limits-owner");
      const organisation = await createOrganisation(owner, "limits");
      const admin = await join(owner, organisation.id, MemberRole.ADMIN, "limits-admin");
      const member = await join(owner, organisation.id, MemberRole.MEMBER, "limits-member");
      const fresh = () => `${unique("guest")}@example.com`;
      expect((await rpcError(orgs.inviteMember({ organisationId: organisation.id, email: fresh(), role: MemberRole.OWNER }, bearer(admin.token)))).code).toBe(Code.PermissionDenied);
      const asAdmin = await orgs.inviteMember({ organisationId: organisation.id, email: fresh(), role: MemberRole.ADMIN }, bearer(admin.token));
      expect(asAdmin.invitation?.role).toBe(MemberRole.ADMIN);
      const byDefault = await orgs.inviteMember({ organisationId: organisation.id, email: fresh() }, bearer(admin.token));
      expect(byDefault.invitation?.role).toBe(MemberRole.MEMBER);
      expect((await rpcError(orgs.inviteMember({ organisationId: organisation.id, email: fresh() }, bearer(member.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(orgs.inviteMember({ organisationId: organisation.id, email: member.email }, bearer(owner.token)))).code).toBe(Code.AlreadyExists);
    });
  });

  describe("roles and membership", () => {
    it("nobody grants above their own role and admins cannot touch owners", async () => {
      const owner = await signUp("roles-owner");
      const organisation = await createOrganisation(owner, "roles");
      const admin = await join(owner, organisation.id, MemberRole.ADMIN, "roles-admin");
      const member = await join(owner, organisation.id, MemberRole.MEMBER, "roles-member");
      const scope = { organisationId: organisation.id };

      const promoted = await orgs.updateMemberRole({ ...scope, userId: member.id, role: MemberRole.ADMIN }, bearer(admin.token));
      expect(promoted.member?.role).toBe(MemberRole.ADMIN);
      await orgs.updateMemberRole({ ...scope, userId: member.id, role: MemberRole.MEMBER }, bearer(admin.token));
      for (const [userId, role] of [
        [member.id, MemberRole.OWNER],
        [owner.id, MemberRole.ADMIN],
        [owner.id, MemberRole.MEMBER],
      ] as const) {
        expect((await rpcError(orgs.updateMemberRole({ ...scope, userId, role }, bearer(admin.token)))).code).toBe(Code.PermissionDenied);
      }
      expect(await roleOf(organisation.id, owner.id)).toBe("owner");
      expect((await rpcError(orgs.updateMemberRole({ ...scope, userId: admin.id, role: MemberRole.MEMBER }, bearer(member.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(orgs.updateMemberRole({ ...scope, userId: member.id }, bearer(owner.token)))).code).toBe(Code.InvalidArgument);
      const audit = await target.exec("SELECT actor_id, user_id FROM audit_events WHERE type = 'membership.role_changed' AND organisation_id = ?", [organisation.id]);
      expect(audit).toHaveLength(2);
      expect(audit.every((row) => row.actor_id === admin.id && row.user_id === member.id)).toBe(true);
    });

    it("the last owner can be neither demoted nor removed", async () => {
      const owner = await signUp("last-owner");
      const organisation = await createOrganisation(owner, "last");
      const scope = { organisationId: organisation.id };
      for (const call of [
        () => orgs.updateMemberRole({ ...scope, userId: owner.id, role: MemberRole.ADMIN }, bearer(owner.token)),
        () => orgs.removeMember({ ...scope, userId: owner.id }, bearer(owner.token)),
        () => orgs.removeMember({ ...scope, userId: owner.id }, bearer(root.token)),
        () => users.setRoles({ ...scope, userId: owner.id, roles: ["member"] }, bearer(owner.token)),
      ]) {
        const error = await rpcError(call());
        expect(error.code).toBe(Code.FailedPrecondition);
        expect(reasonOf(error)).toBe("LAST_OWNER");
      }
      expect(await roleOf(organisation.id, owner.id)).toBe("owner");
      const audit = await target.exec("SELECT COUNT(*) AS n FROM audit_events WHERE type LIKE 'membership.%' AND organisation_id = ?", [organisation.id]);
      expect(Number(audit[0]!.n)).toBe(0);
    });

    it("two owners demoting each other at once leave one owner", async () => {
      for (let round = 0; round < 3; round++) {
        const first = await signUp("duel-a");
        const organisation = await createOrganisation(first, "duel");
        const second = await join(first, organisation.id, MemberRole.OWNER, "duel-b");
        const scope = { organisationId: organisation.id };
        const results = await Promise.allSettled([
          orgs.updateMemberRole({ ...scope, userId: second.id, role: MemberRole.MEMBER }, bearer(first.token)),
          orgs.updateMemberRole({ ...scope, userId: first.id, role: MemberRole.MEMBER }, bearer(second.token)),
          orgs.removeMember({ ...scope, userId: first.id }, bearer(first.token)),
          orgs.removeMember({ ...scope, userId: second.id }, bearer(second.token)),
        ]);
        expect(results.filter((r) => r.status === "fulfilled").length).toBeGreaterThanOrEqual(1);
        for (const lost of results.filter((r) => r.status === "rejected")) {
          expect([Code.FailedPrecondition, Code.PermissionDenied, Code.NotFound]).toContain(ConnectError.from(lost.reason).code);
        }
        const owners = await target.exec("SELECT COUNT(*) AS n FROM memberships WHERE organisation_id = ? AND role = 'owner'", [organisation.id]);
        expect(Number(owners[0]!.n)).toBe(1);
      }
    });

    it("members leave, admins remove up to their role, and a removed member's token loses the role at once", async () => {
      const owner = await signUp("remove-owner");
      const organisation = await createOrganisation(owner, "remove");
      const scope = { organisationId: organisation.id };
      const admin = await join(owner, organisation.id, MemberRole.ADMIN, "remove-admin");
      const leaver = await join(owner, organisation.id, MemberRole.MEMBER, "leaver");
      const removed = await switchTo(await join(owner, organisation.id, MemberRole.MEMBER, "removed"), organisation.id);
      const member = await join(owner, organisation.id, MemberRole.MEMBER, "remove-member");

      await orgs.removeMember({ ...scope, userId: leaver.id }, bearer(leaver.token));
      expect(await roleOf(organisation.id, leaver.id)).toBeUndefined();
      expect((await rpcError(orgs.removeMember({ ...scope, userId: admin.id }, bearer(member.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(orgs.removeMember({ ...scope, userId: owner.id }, bearer(admin.token)))).code).toBe(Code.PermissionDenied);

      expect(await validatedRoles(removed.token)).toEqual(["member"]);
      await orgs.removeMember({ ...scope, userId: removed.id }, bearer(admin.token));
      expect(await validatedRoles(removed.token)).toEqual([]);
      // The session itself lives on; only the organisation is out of reach.
      expect((await auth.validateToken({ token: removed.token }, bearer(root.token))).active).toBe(true);
      expect((await rpcError(orgs.listMembers(scope, bearer(removed.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(orgs.removeMember({ ...scope, userId: removed.id }, bearer(admin.token)))).code).toBe(Code.NotFound);
      const audit = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'membership.removed' AND organisation_id = ? AND user_id = ?", [organisation.id, removed.id]);
      expect(audit.map((row) => row.actor_id)).toEqual([admin.id]);
    });

    it("lists members by name with their roles, page by page", async () => {
      const owner = await signUp("members-owner", "Mia Owner");
      const organisation = await createOrganisation(owner, "members");
      await join(owner, organisation.id, MemberRole.ADMIN, "zed", "zed Admin");
      await join(owner, organisation.id, MemberRole.MEMBER, "anna", "Anna Member");
      const seen: { name: string; role: MemberRole }[] = [];
      let pageToken = "";
      do {
        const page = await orgs.listMembers({ organisationId: organisation.id, pageSize: 2, pageToken }, bearer(owner.token));
        seen.push(...page.members.map((m) => ({ name: m.name, role: m.role })));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(seen).toEqual([
        { name: "Anna Member", role: MemberRole.MEMBER },
        { name: "Mia Owner", role: MemberRole.OWNER },
        { name: "zed Admin", role: MemberRole.ADMIN },
      ]);
      expect((await rpcError(orgs.listMembers({ organisationId: organisation.id, pageSize: -5 }, bearer(owner.token)))).code).toBe(Code.InvalidArgument);
    });
  });

  describe("SetRoles", () => {
    it("sets the organisation role within the caller's own, and super_admin only by super-admins", async () => {
      const owner = await signUp("setroles-owner");
      const organisation = await createOrganisation(owner, "setroles");
      const member = await join(owner, organisation.id, MemberRole.MEMBER, "setroles-member");
      const scope = { organisationId: organisation.id, userId: member.id };

      const { user } = await users.setRoles({ ...scope, roles: ["admin"] }, bearer(owner.token));
      expect(user).toMatchObject({ id: member.id, organisationId: organisation.id, roles: ["admin"] });
      for (const roles of [["admin", "owner"], ["wizard"]]) {
        expect((await rpcError(users.setRoles({ ...scope, roles }, bearer(owner.token)))).code).toBe(Code.InvalidArgument);
      }
      expect((await rpcError(users.setRoles({ ...scope, roles: ["admin", "super_admin"] }, bearer(owner.token)))).code).toBe(Code.PermissionDenied);
      const granted = await users.setRoles({ ...scope, roles: ["member", "super_admin"] }, bearer(root.token));
      expect(granted.user?.roles).toEqual(["super_admin", "member"]);
      // Leaving super_admin out would take it away: not for an owner to do.
      expect((await rpcError(users.setRoles({ ...scope, roles: ["member"] }, bearer(owner.token)))).code).toBe(Code.PermissionDenied);
      const revoked = await users.setRoles({ ...scope, roles: ["member"] }, bearer(root.token));
      expect(revoked.user?.roles).toEqual(["member"]);
      const flags = await target.exec("SELECT super_admin FROM users WHERE id = ?", [member.id]);
      expect(Number(flags[0]!.super_admin)).toBe(0);

      const outsider = await signUp("setroles-outsider");
      expect((await rpcError(users.setRoles({ organisationId: organisation.id, userId: outsider.id, roles: ["member"] }, bearer(owner.token)))).code).toBe(Code.NotFound);
    });
  });

  describe("isolation between organisations", () => {
    it("an admin of A neither sees nor changes anything of B", async () => {
      const ownerA = await signUp("iso-a");
      const ownerB = await signUp("iso-b");
      const a = await createOrganisation(ownerA, "iso-a");
      const b = await createOrganisation(ownerB, "iso-b");
      const adminA = await switchTo(await join(ownerA, a.id, MemberRole.ADMIN, "iso-admin-a"), a.id);
      const memberB = await join(ownerB, b.id, MemberRole.MEMBER, "iso-member-b");
      const key = await auth.createApiKey({ name: "iso", permissions: ["members.read", "members.write", "organisations.read"] }, bearer(adminA.token));
      const asKey = { headers: { "x-api-key": key.key } };

      const denied = [
        orgs.getOrganisation({ organisationId: b.id }, bearer(adminA.token)),
        orgs.listMembers({ organisationId: b.id }, bearer(adminA.token)),
        orgs.inviteMember({ organisationId: b.id, email: `${unique("x")}@example.com` }, bearer(adminA.token)),
        orgs.updateMemberRole({ organisationId: b.id, userId: memberB.id, role: MemberRole.ADMIN }, bearer(adminA.token)),
        orgs.removeMember({ organisationId: b.id, userId: memberB.id }, bearer(adminA.token)),
        orgs.deleteOrganisation({ organisationId: b.id }, bearer(adminA.token)),
        orgs.updateOrganisation({ organisation: { id: b.id, name: unique("taken-over") } }, bearer(adminA.token)),
        users.setRoles({ organisationId: b.id, userId: memberB.id, roles: ["admin"] }, bearer(adminA.token)),
        orgs.listMembers({ organisationId: b.id }, asKey),
        orgs.removeMember({ organisationId: b.id, userId: memberB.id }, asKey),
      ];
      for (const error of await Promise.all(denied.map(rpcError))) {
        expect(error.code).toBe(Code.PermissionDenied);
        expect(error.rawMessage).not.toContain(b.name);
      }
      // B's member named within A: as unknown as any other non-member.
      const unknownHere = [
        orgs.updateMemberRole({ organisationId: a.id, userId: memberB.id, role: MemberRole.ADMIN }, bearer(adminA.token)),
        orgs.removeMember({ organisationId: a.id, userId: memberB.id }, bearer(adminA.token)),
        users.setRoles({ organisationId: a.id, userId: memberB.id, roles: ["admin"] }, bearer(adminA.token)),
      ];
      for (const error of await Promise.all(unknownHere.map(rpcError))) expect(error.code).toBe(Code.NotFound);
      const listed = await orgs.listOrganisations({}, bearer(adminA.token));
      expect(listed.organisations.map((o) => o.id)).toEqual([a.id]);
      const members = await orgs.listMembers({}, asKey);
      expect(members.members.map((m) => m.userId)).not.toContain(memberB.id);
      expect(await roleOf(b.id, memberB.id)).toBe("member");
      expect((await orgs.getOrganisation({ organisationId: b.id }, bearer(ownerB.token))).organisation?.name).toBe(b.name);
    });
  });
}
