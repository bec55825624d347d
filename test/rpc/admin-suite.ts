/**
 * AdminService, written once and run against the Node server (test/e2e) and
 * the Worker inside workerd (test/worker).
 */
import { readFileSync } from "node:fs";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AdminService } from "../../gen/latchkey/admin/v1/admin_service_pb.js";
import { LicenseService } from "../../gen/latchkey/license/v1/license_service_pb.js";
import type { SecurityProfile } from "../../gen/latchkey/admin/v1/security_profile_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { bearer, rpcError, signInPair, unique } from "../support/rpc-calls.js";
import type { RpcTarget } from "../support/target.js";
import { ADMIN } from "./auth-suite.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;


function violatedFields(error: ConnectError): string[] {
  return error.findDetails(BadRequestSchema).flatMap((detail) => detail.fieldViolations.map((v) => v.field));
}

function apiKey(key: string) {
  return { headers: { "x-api-key": key } };
}

interface Person {
  id: string;
  email: string;
  token: string;
}

export function defineAdminSuite(start: () => Promise<RpcTarget>): void {
  let target: RpcTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;
  let orgs: Client<typeof OrganisationService>;
  let admin: Client<typeof AdminService>;
  let root: Person;

  async function signIn(email: string, password = PASSWORD): Promise<string> {
    return (await signInPair(auth, email, password)).accessToken;
  }

  async function signUp(tag: string): Promise<Person> {
    const email = `${unique(tag)}@example.com`;
    const { user } = await users.createUser({ email, name: `User ${tag}`, password: PASSWORD });
    return { id: user!.id, email, token: await signIn(email) };
  }

  /** A new owner of a new organisation (their active organisation). */
  async function owner(tag: string): Promise<Person & { organisationId: string }> {
    const person = await signUp(tag);
    const { organisation } = await orgs.createOrganisation({ name: unique(`${tag}-org`) }, bearer(person.token));
    // Signing in again starts a session in the new organisation.
    return { ...person, token: await signIn(person.email), organisationId: organisation!.id };
  }

  async function createProfile(fields: { passwordMinLength?: number; mfaRequired?: boolean; lockoutThreshold?: number; accessTokenTtlSeconds?: number } = {}): Promise<SecurityProfile> {
    const { profile } = await admin.createSecurityProfile({ profile: { name: unique("profile"), ...fields } }, bearer(root.token));
    return profile!;
  }

  beforeAll(async () => {
    target = await start();
    auth = createClient(AuthService, target.transports.connect);
    users = createClient(UserService, target.transports.connect);
    orgs = createClient(OrganisationService, target.transports.connect);
    admin = createClient(AdminService, target.transports.connect);
    const token = await signIn(ADMIN.email, ADMIN.password);
    const { user } = await auth.getCurrentUser({}, bearer(token));
    root = { id: user!.id, email: ADMIN.email, token };
  });
  afterAll(async () => {
    await target?.stop();
  });

  describe("who may call", () => {
    it("refuses anonymous callers, plain users and organisation owners on every RPC", async () => {
      const plain = await signUp("plain");
      const orgOwner = await owner("owner");
      const client = admin as unknown as Record<string, (req: object, options?: object) => Promise<unknown>>;
      for (const method of AdminService.methods) {
        const call = client[method.localName]!;
        expect((await rpcError(call({}))).code, `${method.name} anonymous`).toBe(Code.Unauthenticated);
        expect((await rpcError(call({}, bearer(plain.token)))).code, `${method.name} user`).toBe(Code.PermissionDenied);
        expect((await rpcError(call({}, bearer(orgOwner.token)))).code, `${method.name} owner`).toBe(Code.PermissionDenied);
      }
    });

    it("serves super-admins, and API keys only with the RPC's permission", async () => {
      const { key: reader } = await auth.createApiKey({ name: unique("reader"), permissions: ["security_profiles.read", "system.read", "audit.read"] }, bearer(root.token));
      const { key: other } = await auth.createApiKey({ name: unique("other"), permissions: ["users.read"] }, bearer(root.token));
      expect((await admin.listSecurityProfiles({}, bearer(root.token))).profiles.length).toBeGreaterThan(0);
      expect((await admin.listSecurityProfiles({}, apiKey(reader))).profiles.length).toBeGreaterThan(0);
      expect((await admin.getSystemInfo({}, apiKey(reader))).version).toBe(PACKAGE_VERSION);
      await admin.listAuditEvents({ pageSize: 1 }, apiKey(reader));
      // Holding read permissions grants no writes.
      expect((await rpcError(admin.createSecurityProfile({ profile: { name: unique("nope") } }, apiKey(reader)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(admin.rotateSigningKeys({}, apiKey(reader)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(admin.sendTestEmail({ to: "ops@example.com" }, apiKey(reader)))).code).toBe(Code.PermissionDenied);
      // One call at a time: a rejection made ahead of its await would go unhandled meanwhile.
      for (const call of [() => admin.listSecurityProfiles({}, apiKey(other)), () => admin.getSystemInfo({}, apiKey(other)), () => admin.listAuditEvents({}, apiKey(other))]) {
        expect((await rpcError(call())).code).toBe(Code.PermissionDenied);
      }
      // Users cannot mint keys with system permissions.
      const plain = await signUp("minter");
      expect((await rpcError(auth.createApiKey({ name: "sys", permissions: ["system.read"] }, bearer(plain.token)))).code).toBe(Code.PermissionDenied);
    });
  });

  describe("system", () => {
    it("reports version, runtime, database mode and uptime", async () => {
      const before = Date.now();
      const info = await admin.getSystemInfo({}, bearer(root.token));
      expect(info.version).toBe(PACKAGE_VERSION);
      expect(info.runtime).toBe(target.name === "node" ? "node" : "workerd");
      expect(info.databaseMode).toBe(target.name === "node" ? "file" : "d1");
      expect(info.replicaLagMs).toBe(0n);
      const startedAt = Number(info.startedAt!.seconds) * 1000;
      expect(startedAt).toBeLessThanOrEqual(before + 1000);
      expect(info.uptimeSeconds).toBeGreaterThanOrEqual(0n);
      expect(Number(info.uptimeSeconds)).toBeLessThanOrEqual(Math.ceil((Date.now() - startedAt) / 1000) + 1);
    });

    it("lists every RPC of every service with its path and policy", async () => {
      const { services } = await admin.listServices({}, bearer(root.token));
      const expected = [AuthService, UserService, OrganisationService, AdminService, LicenseService];
      expect(services.map((s) => s.name)).toEqual(expected.map((s) => s.typeName));
      for (const descriptor of expected) {
        const listed = services.find((s) => s.name === descriptor.typeName)!;
        expect(listed.rpcs.map((r) => r.name)).toEqual(descriptor.methods.map((m) => m.name));
        for (const rpc of listed.rpcs) {
          expect(rpc.path).toBe(`/${descriptor.typeName}/${rpc.name}`);
          expect(rpc.caller).toMatch(/^CALLER_KIND_(PUBLIC|USER|ORGANISATION_ADMIN|SUPER_ADMIN|INTERNAL|DEVICE)$/);
          expect(rpc.deadlineMs).toBeGreaterThan(0);
        }
      }
      const rpc = (service: string, name: string) => services.find((s) => s.name === service)!.rpcs.find((r) => r.name === name)!;
      expect(rpc("latchkey.auth.v1.AuthService", "SignIn")).toMatchObject({ path: "/latchkey.auth.v1.AuthService/SignIn", caller: "CALLER_KIND_PUBLIC", permission: "" });
      expect(rpc("latchkey.admin.v1.AdminService", "ListAuditEvents")).toMatchObject({ caller: "CALLER_KIND_INTERNAL", permission: "audit.read", deadlineMs: 5000 });
      expect(rpc("latchkey.admin.v1.AdminService", "GetSystemInfo").deadlineMs).toBe(1000);
      // Every listed path is served: an unknown one would answer 404/unimplemented, not 401.
      const served = await target.fetch(`${target.baseUrl}/latchkey.admin.v1.AdminService/ListServices`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(served.status).toBe(401);
    });
  });

  describe("security profiles", () => {
    it("lists and gets profiles; creates new ones from the default's values", async () => {
      const { profiles } = await admin.listSecurityProfiles({}, bearer(root.token));
      const fallback = profiles.find((p) => p.name === "default")!;
      expect(fallback).toMatchObject({ passwordMinLength: 12, passwordMinScore: 3, lockoutThreshold: 10, accessTokenTtlSeconds: 900 });
      expect((await admin.getSecurityProfile({ profile: { case: "name", value: "default" } }, bearer(root.token))).profile!.id).toBe(fallback.id);
      expect((await admin.getSecurityProfile({ profile: { case: "id", value: fallback.id } }, bearer(root.token))).profile!.name).toBe("default");
      expect((await rpcError(admin.getSecurityProfile({ profile: { case: "name", value: "no-such-profile" } }, bearer(root.token)))).code).toBe(Code.NotFound);

      const created = await createProfile({ passwordMinLength: 16, mfaRequired: true, lockoutThreshold: 5 });
      expect(created).toMatchObject({ passwordMinLength: 16, mfaRequired: true, lockoutThreshold: 5, passwordMinScore: fallback.passwordMinScore, accessTokenTtlSeconds: fallback.accessTokenTtlSeconds });
      expect(created.id).not.toBe("");
      const names = (await admin.listSecurityProfiles({}, bearer(root.token))).profiles.map((p) => p.name);
      expect(names).toContain(created.name);
      expect(names).toEqual([...names].sort());

      const duplicate = await rpcError(admin.createSecurityProfile({ profile: { name: created.name } }, bearer(root.token)));
      expect(duplicate.code).toBe(Code.AlreadyExists);
      expect((await rpcError(admin.createSecurityProfile({ profile: { name: "bad name!" } }, bearer(root.token)))).code).toBe(Code.InvalidArgument);
      const tooLax = await rpcError(admin.createSecurityProfile({ profile: { name: unique("lax"), lockoutThreshold: 1000 } }, bearer(root.token)));
      expect(violatedFields(tooLax)).toContain("profile.lockout_threshold");

      const audit = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'security_profile.created' AND details LIKE ?", [`%${created.id}%`]);
      expect(audit.map((row) => row.actor_id)).toEqual([root.id]);
    });

    it("checks every updated value against its range and names the field", async () => {
      const profile = await createProfile();
      const update = (fields: Partial<SecurityProfile>, paths: string[]) =>
        admin.updateSecurityProfile({ profile: { ...profile, ...fields }, updateMask: { paths } }, bearer(root.token));
      const cases: [Partial<SecurityProfile>, string][] = [
        [{ lockoutThreshold: 0 }, "lockout_threshold"],
        [{ lockoutThreshold: 101 }, "lockout_threshold"],
        [{ passwordMinLength: 7 }, "password_min_length"],
        [{ passwordMinLength: 65 }, "password_min_length"],
        [{ passwordMinScore: 5 }, "password_min_score"],
        [{ passwordHistoryLength: 25 }, "password_history_length"],
        [{ accessTokenTtlSeconds: 0 }, "access_token_ttl_seconds"],
        [{ refreshGraceSeconds: -1 }, "refresh_grace_seconds"],
        [{ keepLoggedInIdleTtlSeconds: profile.refreshIdleTtlSeconds - 1 }, "keep_logged_in_idle_ttl_seconds"],
      ];
      for (const [fields, field] of cases) {
        const error = await rpcError(update(fields, [field]));
        expect(error.code, field).toBe(Code.InvalidArgument);
        expect(violatedFields(error)[0], field).toBe(`profile.${field}`);
      }
      // The mask is required, and names only changeable fields.
      expect((await rpcError(admin.updateSecurityProfile({ profile }, bearer(root.token)))).code).toBe(Code.InvalidArgument);
      for (const paths of [[], ["id"], ["created_at"], ["no_such_field"]]) {
        const error = await rpcError(update({}, paths));
        expect(error.code, paths.join()).toBe(Code.InvalidArgument);
        expect(violatedFields(error), paths.join()).toEqual(["update_mask"]);
      }
      expect((await rpcError(admin.updateSecurityProfile({ profile: { ...profile, id: "00000000-0000-4000-8000-00000000dead" }, updateMask: { paths: ["lockout_threshold"] } }, bearer(root.token)))).code).toBe(Code.NotFound);

      // Only masked fields change.
      const { profile: updated } = await update({ lockoutThreshold: 100, passwordMinLength: 64, passwordHistoryLength: 24 }, ["lockout_threshold", "password_history_length"]);
      expect(updated).toMatchObject({ lockoutThreshold: 100, passwordHistoryLength: 24, passwordMinLength: profile.passwordMinLength });
      expect(Number(updated!.updatedAt!.seconds)).toBeGreaterThanOrEqual(Number(profile.updatedAt!.seconds));
      const audit = await target.exec("SELECT details FROM audit_events WHERE type = 'security_profile.updated' AND details LIKE ?", [`%${profile.id}%`]);
      expect(audit).toHaveLength(1);

      // Names stay unique, and the default profile keeps its name.
      const other = await createProfile();
      expect((await rpcError(update({ name: other.name }, ["name"]))).code).toBe(Code.AlreadyExists);
      expect((await rpcError(update({ name: "has space" }, ["name"]))).code).toBe(Code.InvalidArgument);
      const renamed = `${profile.name}-renamed`;
      expect((await update({ name: renamed }, ["name"])).profile!.name).toBe(renamed);
      const { profile: fallback } = await admin.getSecurityProfile({ profile: { case: "name", value: "default" } }, bearer(root.token));
      const renameDefault = await rpcError(admin.updateSecurityProfile({ profile: { ...fallback!, name: "standard" }, updateMask: { paths: ["name"] } }, bearer(root.token)));
      expect(renameDefault.code).toBe(Code.InvalidArgument);
      expect(violatedFields(renameDefault)).toEqual(["profile.name"]);
    });

    it("never lets two concurrent updates combine into a profile that breaks a rule", async () => {
      const profile = await createProfile();
      for (let round = 0; round < 3; round++) {
        const { profile: start } = await admin.updateSecurityProfile(
          { profile: { ...profile, refreshIdleTtlSeconds: 3600, refreshAbsoluteTtlSeconds: 86400 }, updateMask: { paths: ["refresh_idle_ttl_seconds", "refresh_absolute_ttl_seconds"] } },
          bearer(root.token),
        );
        // Each is valid alone; together the idle lifetime would exceed the absolute one.
        const outcomes = await Promise.allSettled([
          admin.updateSecurityProfile({ profile: { ...start!, refreshIdleTtlSeconds: 80000 }, updateMask: { paths: ["refresh_idle_ttl_seconds"] } }, bearer(root.token)),
          admin.updateSecurityProfile({ profile: { ...start!, refreshAbsoluteTtlSeconds: 4000 }, updateMask: { paths: ["refresh_absolute_ttl_seconds"] } }, bearer(root.token)),
        ]);
        expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
        const failed = outcomes.find((o) => o.status === "rejected")!;
        expect(ConnectError.from(failed.reason).code).toBe(Code.InvalidArgument);
        const { profile: stored } = await admin.getSecurityProfile({ profile: { case: "id", value: profile.id } }, bearer(root.token));
        expect(stored!.refreshIdleTtlSeconds).toBeLessThanOrEqual(stored!.refreshAbsoluteTtlSeconds);
      }
    });

    it("applies a changed default profile to the next registration", async () => {
      const { profile: fallback } = await admin.getSecurityProfile({ profile: { case: "name", value: "default" } }, bearer(root.token));
      const longer = "violet-anchor-meadow-71-quartz-harbour-ember";
      await admin.updateSecurityProfile({ profile: { ...fallback!, passwordMinLength: longer.length }, updateMask: { paths: ["password_min_length"] } }, bearer(root.token));
      try {
        const refused = await rpcError(users.createUser({ email: `${unique("short")}@example.com`, name: "Short", password: PASSWORD }));
        expect(refused.code).toBe(Code.InvalidArgument);
        expect(violatedFields(refused)).toContain("password");
        await users.createUser({ email: `${unique("long")}@example.com`, name: "Long", password: longer });
      } finally {
        await admin.updateSecurityProfile({ profile: fallback!, updateMask: { paths: ["password_min_length"] } }, bearer(root.token));
      }
      await users.createUser({ email: `${unique("again")}@example.com`, name: "Again", password: PASSWORD });
    });

    it("governs an organisation's members by its assigned profile", async () => {
      const tenant = await owner("tenant");
      const loner = await signUp("loner");
      const validate = (token: string) => auth.validateToken({ token }, bearer(root.token));
      expect((await validate(tenant.token)).securityProfile).toBe("default");
      expect((await validate(loner.token)).securityProfile).toBe("default");

      const strict = await createProfile({ accessTokenTtlSeconds: 120 });
      await admin.assignSecurityProfile({ organisationId: tenant.organisationId, profileId: strict.id }, bearer(root.token));
      // Live sessions in the organisation report it at once; users elsewhere keep the default.
      expect((await validate(tenant.token)).securityProfile).toBe(strict.name);
      expect((await validate(loner.token)).securityProfile).toBe("default");
      // New sessions get its lifetimes.
      const pair = await signInPair(auth, tenant.email, PASSWORD);
      expect(pair.expiresIn).toBeLessThanOrEqual(120);
      expect(pair.expiresIn).toBeGreaterThan(100);
      expect((await validate(pair.accessToken)).securityProfile).toBe(strict.name);
      const refreshed = await auth.refreshToken({ refreshToken: pair.refreshToken });
      expect(refreshed.tokens!.expiresIn).toBeLessThanOrEqual(120);
      const { organisation } = await orgs.getOrganisation({ organisationId: tenant.organisationId }, bearer(tenant.token));
      expect(organisation!.securityProfile).toBe(strict.name);
      // Switching to an organisation on the default profile switches the profile too, and back.
      const { organisation: second } = await orgs.createOrganisation({ name: unique("second") }, bearer(tenant.token));
      const elsewhere = (await auth.switchOrganisation({ organisationId: second!.id }, bearer(pair.accessToken))).tokens!;
      expect(elsewhere.expiresIn).toBeGreaterThan(120);
      expect((await validate(elsewhere.accessToken)).securityProfile).toBe("default");
      const back = (await auth.switchOrganisation({ organisationId: tenant.organisationId }, bearer(elsewhere.accessToken))).tokens!;
      expect(back.expiresIn).toBeLessThanOrEqual(120);
      expect((await validate(back.accessToken)).securityProfile).toBe(strict.name);

      const audit = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'security_profile.assigned' AND organisation_id = ?", [tenant.organisationId]);
      expect(audit.map((row) => row.actor_id)).toEqual([root.id]);
      expect((await rpcError(admin.assignSecurityProfile({ organisationId: "00000000-0000-4000-8000-00000000dead", profileId: strict.id }, bearer(root.token)))).code).toBe(Code.NotFound);
      expect((await rpcError(admin.assignSecurityProfile({ organisationId: tenant.organisationId, profileId: "no-such-profile" }, bearer(root.token)))).code).toBe(Code.NotFound);
      const noOp = await target.exec("SELECT count(*) AS n FROM audit_events WHERE type = 'security_profile.assigned' AND organisation_id = ?", ["00000000-0000-4000-8000-00000000dead"]);
      expect(Number(noOp[0]!.n)).toBe(0);
    });
  });

  describe("delivery checks", () => {
    it("sends a test email and SMS through the outbox and refuses header injection", async () => {
      const to = `${unique("ops")}@example.com`;
      expect((await admin.sendTestEmail({ to }, bearer(root.token))).delivery).toBe("outbox");
      const rows = await target.exec("SELECT subject FROM outbox WHERE recipient = ? AND channel = 'email'", [to]);
      expect(rows).toHaveLength(1);
      expect(String(rows[0]!.subject)).toContain("test");
      const audit = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'delivery.test_email_sent' AND details LIKE ?", [`%${to}%`]);
      expect(audit.map((row) => row.actor_id)).toEqual([root.id]);

      for (const injected of [`${to}\r\nBcc: thief@evil.test`, `${to}\nBcc: thief@evil.test`, `${to}, thief@evil.test`, `Ops <${to}>`]) {
        const error = await rpcError(admin.sendTestEmail({ to: injected }, bearer(root.token)));
        expect(error.code, JSON.stringify(injected)).toBe(Code.InvalidArgument);
        expect(violatedFields(error), JSON.stringify(injected)).toEqual(["to"]);
      }
      const leaked = await target.exec("SELECT count(*) AS n FROM outbox WHERE recipient LIKE '%evil.test%'");
      expect(Number(leaked[0]!.n)).toBe(0);

      const phone = `+4179${String(Date.now()).slice(-7)}`;
      expect((await admin.sendTestSms({ to: phone }, bearer(root.token))).delivery).toBe("outbox");
      expect(await target.exec("SELECT id FROM outbox WHERE recipient = ? AND channel = 'sms'", [phone])).toHaveLength(1);
      expect((await rpcError(admin.sendTestSms({ to: `${phone}\n` }, bearer(root.token)))).code).toBe(Code.InvalidArgument);
      expect((await rpcError(admin.sendTestSms({ to: "0791234567" }, bearer(root.token)))).code).toBe(Code.InvalidArgument);
    });
  });

  describe("audit log", () => {
    it("filters by type, actor, user, organisation and time, newest first, in signed pages", async () => {
      const since = new Date(Date.now() - 1000).toISOString();
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.push((await createProfile()).id);
      const filter = `type = "security_profile.created" AND actor_id = "${root.id}" AND occurred_at >= "${since}"`;
      const seen: string[] = [];
      const times: number[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await admin.listAuditEvents({ filter, pageSize: 2, pageToken }, bearer(root.token));
        expect(page.events.length).toBeLessThanOrEqual(2);
        for (const event of page.events) {
          expect(event.type).toBe("security_profile.created");
          expect(event.actorId).toBe(root.id);
          seen.push(String(event.details!.profile_id));
          times.push(Number(event.occurredAt!.seconds) * 1000 + Math.floor(event.occurredAt!.nanos / 1e6));
        }
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken && pages < 10);
      // Every profile made here, once, newest first.
      for (const id of made) expect(seen.filter((s) => s === id)).toHaveLength(1);
      expect(new Set(seen).size).toBe(seen.length);
      expect(times).toEqual([...times].sort((a, b) => b - a));
      expect(seen.indexOf(made[4]!)).toBeLessThan(seen.indexOf(made[0]!));
      expect(pages).toBeGreaterThanOrEqual(3);

      // A token belongs to its filter.
      const first = await admin.listAuditEvents({ filter, pageSize: 1 }, bearer(root.token));
      const other = await rpcError(admin.listAuditEvents({ filter: `type = "user.created"`, pageSize: 1, pageToken: first.nextPageToken }, bearer(root.token)));
      expect(other.code).toBe(Code.InvalidArgument);
      expect(violatedFields(other)).toEqual(["page_token"]);
      const token = first.nextPageToken;
      const tampered = `${token.slice(0, 10)}${token[10] === "A" ? "B" : "A"}${token.slice(11)}`;
      expect((await rpcError(admin.listAuditEvents({ filter, pageToken: tampered }, bearer(root.token)))).code).toBe(Code.InvalidArgument);

      // By the user an event is about, by organisation, by wildcard type.
      const person = await signUp("audited");
      const own = await admin.listAuditEvents({ filter: `user_id = "${person.id}"` }, bearer(root.token));
      expect(own.events.map((e) => e.type)).toContain("user.created");
      expect(own.events.every((e) => e.userId === person.id)).toBe(true);
      const tenant = await owner("audited-org");
      const inOrganisation = await admin.listAuditEvents({ filter: `organisation_id = "${tenant.organisationId}"` }, bearer(root.token));
      expect(inOrganisation.events.map((e) => e.type)).toContain("organisation.created");
      const wildcard = await admin.listAuditEvents({ filter: `type:"security_profile.*" AND occurred_at >= "${since}"`, pageSize: 100 }, bearer(root.token));
      expect(wildcard.events.length).toBeGreaterThanOrEqual(5);
      expect(wildcard.events.every((e) => e.type.startsWith("security_profile."))).toBe(true);
      const future = await admin.listAuditEvents({ filter: `occurred_at > "2999-01-01T00:00:00Z"` }, bearer(root.token));
      expect(future.events).toEqual([]);
      expect(future.nextPageToken).toBe("");

      for (const bad of [`email = "x"`, `occurred_at > "yesterday"`, `type = `]) {
        const error = await rpcError(admin.listAuditEvents({ filter: bad }, bearer(root.token)));
        expect(error.code, bad).toBe(Code.InvalidArgument);
        expect(violatedFields(error), bad).toEqual(["filter"]);
      }
    });
  });

  describe("signing keys", () => {
    it("rotates to a new key while tokens of the previous one keep verifying", async () => {
      const kids = async () => ((await (await target.fetch(`${target.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      const person = await signUp("rotation");
      const oldKid = decodeProtectedHeader(person.token).kid!;
      expect(await kids()).toContain(oldKid);

      const rotated = await admin.rotateSigningKeys({}, bearer(root.token));
      expect(rotated.currentKid).not.toBe(oldKid);
      expect(rotated.publishedKids[0]).toBe(rotated.currentKid);
      expect(rotated.publishedKids).toContain(oldKid);
      expect(await kids()).toEqual(expect.arrayContaining([oldKid, rotated.currentKid]));

      // The old token still works, as a credential and under validation.
      expect((await auth.getCurrentUser({}, bearer(person.token))).user!.id).toBe(person.id);
      expect((await auth.validateToken({ token: person.token }, bearer(root.token))).active).toBe(true);
      // New tokens are signed with the new key.
      const fresh = await signIn(person.email);
      expect(decodeProtectedHeader(fresh).kid).toBe(rotated.currentKid);
      expect((await auth.validateToken({ token: fresh }, bearer(root.token))).active).toBe(true);
      expect((await auth.getTokenInfo({}, bearer(fresh))).header!.kid).toBe(rotated.currentKid);

      // The retired key stays published until its tokens have expired.
      const row = await target.exec("SELECT retired_at, published_until FROM signing_keys WHERE kid = ?", [oldKid]);
      const publishedFor = Number(row[0]!.published_until) - Number(row[0]!.retired_at);
      expect(publishedFor).toBeGreaterThanOrEqual(900_000);
      const audit = await target.exec("SELECT actor_id, details FROM audit_events WHERE type = 'signing_keys.rotated'");
      expect(audit.some((r) => r.actor_id === root.id && String(r.details).includes(rotated.currentKid))).toBe(true);

      // Rotating again keeps both earlier keys published.
      const again = await admin.rotateSigningKeys({}, bearer(root.token));
      expect(again.publishedKids).toEqual(expect.arrayContaining([again.currentKid, rotated.currentKid, oldKid]));
      expect((await auth.validateToken({ token: person.token }, bearer(root.token))).active).toBe(true);
      expect((await auth.validateToken({ token: fresh }, bearer(root.token))).active).toBe(true);
    });
  });
}
