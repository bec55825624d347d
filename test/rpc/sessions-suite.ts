/**
 * AuthService.ListSessions and RevokeSession, written once and run against
 * the Node server (test/e2e) and the Worker inside workerd (test/worker).
 */
import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import type { TokenPair } from "../../gen/latchkey/auth/v1/token_pb.js";
import { MemberRole } from "../../gen/latchkey/organisation/v1/organisation_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { bearer, joinByInvitation, rpcError, signInPair, unique } from "../support/rpc-calls.js";
import type { RpcTarget } from "../support/target.js";
import { ADMIN } from "./auth-suite.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
const UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead";


interface Person {
  id: string;
  email: string;
  token: string;
}

export function defineSessionsSuite(start: () => Promise<RpcTarget>): void {
  let target: RpcTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;
  let orgs: Client<typeof OrganisationService>;
  let rootToken: string;

  async function signIn(email: string, deviceName = "test", password = PASSWORD): Promise<TokenPair> {
    const signedIn = await auth.signIn({ identifier: { case: "email", value: email }, password, deviceName });
    if (signedIn.result.case !== "tokens") throw new Error(`${email} cannot sign in with a password alone`);
    return signedIn.result.value;
  }

  async function signUp(tag: string): Promise<Person> {
    const email = `${unique(tag)}@example.com`;
    const { user } = await users.createUser({ email, name: `User ${tag}`, password: PASSWORD });
    return { id: user!.id, email, token: (await signIn(email, "first")).accessToken };
  }

  /** A new user who joined `organisationId` with `role` through an invitation from `by`. */
  async function join(by: Person, organisationId: string, role: MemberRole, tag: string): Promise<Person> {
    const person = await signUp(tag);
    await joinByInvitation(target, orgs, { by, person, organisationId, role });
    return person;
  }

  async function active(token: string): Promise<boolean> {
    return (await auth.validateToken({ token }, bearer(rootToken))).active;
  }

  beforeAll(async () => {
    target = await start();
    auth = createClient(AuthService, target.transports.connect);
    users = createClient(UserService, target.transports.connect);
    orgs = createClient(OrganisationService, target.transports.connect);
    rootToken = (await signInPair(auth, ADMIN.email, ADMIN.password)).accessToken;
  });
  afterAll(async () => {
    await target?.stop();
  });

  describe("own sessions", () => {
    it("lists live sessions newest first, marks the current one, and pages", async () => {
      const person = await signUp("lister");
      const laptop = await signIn(person.email, "laptop");
      const phone = await signIn(person.email, "phone");
      const { sessions, nextPageToken } = await auth.listSessions({}, bearer(phone.accessToken));
      expect(nextPageToken).toBe("");
      expect(sessions.map((s) => s.deviceName)).toEqual(["phone", "laptop", "first"]);
      expect(sessions.map((s) => s.current)).toEqual([true, false, false]);
      const [newest] = sessions;
      expect(newest!.ipAddress).not.toBe("");
      expect(Number(newest!.expiresAt!.seconds)).toBeGreaterThan(Number(newest!.createdAt!.seconds));
      expect(Number(newest!.lastUsedAt!.seconds)).toBeGreaterThanOrEqual(Number(newest!.createdAt!.seconds));
      // From another session, that one is current.
      const fromLaptop = await auth.listSessions({}, bearer(laptop.accessToken));
      expect(fromLaptop.sessions.filter((s) => s.current).map((s) => s.deviceName)).toEqual(["laptop"]);

      const paged: string[] = [];
      let pageToken = "";
      do {
        const page = await auth.listSessions({ pageSize: 1, pageToken }, bearer(phone.accessToken));
        expect(page.sessions.length).toBeLessThanOrEqual(1);
        paged.push(...page.sessions.map((s) => s.id));
        pageToken = page.nextPageToken;
      } while (pageToken && paged.length < 10);
      expect(paged).toEqual(sessions.map((s) => s.id));

      // A page token is bound to whose sessions it lists.
      const first = await auth.listSessions({ pageSize: 1 }, bearer(phone.accessToken));
      const other = await signUp("other-lister");
      expect((await rpcError(auth.listSessions({ pageSize: 1, pageToken: first.nextPageToken }, bearer(other.token)))).code).toBe(Code.InvalidArgument);
      expect((await rpcError(auth.listSessions({}))).code).toBe(Code.Unauthenticated);
    });

    it("revokes one session at once, and then all of them", async () => {
      const person = await signUp("revoker");
      const laptop = await signIn(person.email, "laptop");
      const phone = await signIn(person.email, "phone");
      const laptopId = (await auth.listSessions({}, bearer(laptop.accessToken))).sessions.find((s) => s.current)!.id;

      expect((await auth.revokeSession({ target: { case: "sessionId", value: laptopId } }, bearer(phone.accessToken))).revoked).toBe(1);
      expect(await active(laptop.accessToken)).toBe(false);
      expect((await rpcError(auth.getCurrentUser({}, bearer(laptop.accessToken)))).code).toBe(Code.Unauthenticated);
      expect((await rpcError(auth.refreshToken({ refreshToken: laptop.refreshToken }))).code).toBe(Code.Unauthenticated);
      expect(await active(phone.accessToken)).toBe(true);
      expect((await auth.listSessions({}, bearer(phone.accessToken))).sessions.map((s) => s.id)).not.toContain(laptopId);
      // Already revoked, or never there: not found.
      expect((await rpcError(auth.revokeSession({ target: { case: "sessionId", value: laptopId } }, bearer(phone.accessToken)))).code).toBe(Code.NotFound);
      expect((await rpcError(auth.revokeSession({ target: { case: "sessionId", value: UNKNOWN_ID } }, bearer(phone.accessToken)))).code).toBe(Code.NotFound);
      expect((await rpcError(auth.revokeSession({}, bearer(phone.accessToken)))).code).toBe(Code.InvalidArgument);

      const audit = await target.exec("SELECT actor_id, user_id FROM audit_events WHERE type = 'session.revoked' AND session_id = ?", [laptopId]);
      expect(audit).toEqual([{ actor_id: person.id, user_id: person.id }]);

      const all = await auth.revokeSession({ target: { case: "userId", value: person.id } }, bearer(phone.accessToken));
      expect(all.revoked).toBe(2);
      expect(await active(phone.accessToken)).toBe(false);
      expect(await active(person.token)).toBe(false);
    });

    it("lets an API key with sessions.read list its owner's sessions, none of them current", async () => {
      const person = await signUp("key-owner");
      const { key } = await auth.createApiKey({ name: "sessions", permissions: ["sessions.read"] }, bearer(person.token));
      const listed = await auth.listSessions({}, { headers: { "x-api-key": key } });
      expect(listed.sessions).toHaveLength(1);
      expect(listed.sessions[0]!.current).toBe(false);
      const { key: withoutIt } = await auth.createApiKey({ name: "users", permissions: ["users.read"] }, bearer(person.token));
      expect((await rpcError(auth.listSessions({}, { headers: { "x-api-key": withoutIt } }))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(auth.revokeSession({ target: { case: "userId", value: person.id } }, { headers: { "x-api-key": key } }))).code).toBe(Code.PermissionDenied);
    });
  });

  describe("other users' sessions", () => {
    it("lets organisation admins and super-admins see and end their users' sessions, and nobody else", async () => {
      const owner = await signUp("owner");
      const { organisation } = await orgs.createOrganisation({ name: unique("sessions-org") }, bearer(owner.token));
      const organisationId = organisation!.id;
      const member = await join(owner, organisationId, MemberRole.MEMBER, "member");
      const admin = await join(owner, organisationId, MemberRole.ADMIN, "admin");
      const outsider = await signUp("outsider");
      const otherOwner = await signUp("other-owner");
      await orgs.createOrganisation({ name: unique("other-org") }, bearer(otherOwner.token));

      const memberSession = (await auth.listSessions({}, bearer(member.token))).sessions[0]!;
      // Admins of the member's organisation and super-admins see them; `current` is about the caller only.
      for (const token of [owner.token, admin.token, rootToken]) {
        const listed = await auth.listSessions({ userId: member.id }, bearer(token));
        expect(listed.sessions.map((s) => s.id)).toEqual([memberSession.id]);
        expect(listed.sessions[0]!.current).toBe(false);
      }
      // Plain members, outsiders and admins of another organisation learn nothing.
      const memberPeer = await join(owner, organisationId, MemberRole.MEMBER, "peer");
      for (const token of [memberPeer.token, outsider.token, otherOwner.token]) {
        expect((await rpcError(auth.listSessions({ userId: member.id }, bearer(token)))).code).toBe(Code.NotFound);
        expect((await rpcError(auth.revokeSession({ target: { case: "userId", value: member.id } }, bearer(token)))).code).toBe(Code.NotFound);
        expect((await rpcError(auth.revokeSession({ target: { case: "sessionId", value: memberSession.id } }, bearer(token)))).code).toBe(Code.NotFound);
      }
      expect((await rpcError(auth.listSessions({ userId: UNKNOWN_ID }, bearer(owner.token)))).code).toBe(Code.NotFound);
      // An owner's key made in the organisation reaches its members, and only them.
      const inOrganisation = (await signIn(owner.email, "console")).accessToken;
      const { key } = await auth.createApiKey({ name: unique("sessions"), permissions: ["sessions.read"] }, bearer(inOrganisation));
      expect((await auth.listSessions({ userId: member.id }, { headers: { "x-api-key": key } })).sessions.map((s) => s.id)).toEqual([memberSession.id]);
      expect((await rpcError(auth.listSessions({ userId: outsider.id }, { headers: { "x-api-key": key } }))).code).toBe(Code.NotFound);
      expect(await active(member.token)).toBe(true);

      // An admin may not end an owner's sessions; the owner may end an admin's.
      expect((await rpcError(auth.revokeSession({ target: { case: "userId", value: owner.id } }, bearer(admin.token)))).code).toBe(Code.PermissionDenied);
      expect(await active(owner.token)).toBe(true);

      expect((await auth.revokeSession({ target: { case: "sessionId", value: memberSession.id } }, bearer(admin.token))).revoked).toBe(1);
      expect(await active(member.token)).toBe(false);
      const audit = await target.exec("SELECT actor_id, user_id FROM audit_events WHERE type = 'session.revoked' AND session_id = ?", [memberSession.id]);
      expect(audit).toEqual([{ actor_id: admin.id, user_id: member.id }]);

      const adminSecond = (await signIn(admin.email, "second")).accessToken;
      expect((await auth.revokeSession({ target: { case: "userId", value: admin.id } }, bearer(owner.token))).revoked).toBe(2);
      expect(await active(admin.token)).toBe(false);
      expect(await active(adminSecond)).toBe(false);

      // Super-admins reach anyone.
      expect((await auth.revokeSession({ target: { case: "userId", value: outsider.id } }, bearer(rootToken))).revoked).toBe(1);
      expect(await active(outsider.token)).toBe(false);
    });
  });
}
