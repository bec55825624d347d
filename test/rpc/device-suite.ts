/**
 * LicenseService devices, seats, device sign-in and licence checks, written
 * once and run against the Node server (test/e2e) and the Worker inside
 * workerd (test/worker).
 */
import { toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createHash } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/latchkey/admin/v1/admin_service_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { SubjectKind } from "../../gen/latchkey/auth/v1/token_pb.js";
import { DeviceSchema, type License } from "../../gen/latchkey/license/v1/license_pb.js";
import { LicenseService } from "../../gen/latchkey/license/v1/license_service_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { verifyLicenseCertificate } from "../../src/license-certificate.js";
import { bearer, joinByInvitation, rpcError, signInPair, unique } from "../support/rpc-calls.js";
import type { RpcTarget } from "../support/target.js";
import { ADMIN } from "./auth-suite.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
const UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead";
const DAY = 86_400_000;

interface Person {
  id: string;
  email: string;
  token: string;
  refreshToken: string;
}

interface Org {
  id: string;
  owner: Person;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function defineDeviceSuite(start: () => Promise<RpcTarget>): void {
  let target: RpcTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;
  let orgs: Client<typeof OrganisationService>;
  let licenses: Client<typeof LicenseService>;
  let admin: Client<typeof AdminService>;
  let rootToken: string;
  let provider: Org;
  let customer: Org;
  let outsider: Org;
  let member: Person;

  async function signUp(tag: string): Promise<Person> {
    const email = `${unique(tag)}@example.com`;
    const { user } = await users.createUser({ email, name: `User ${tag}`, password: PASSWORD });
    const pair = await signInPair(auth, email, PASSWORD);
    return { id: user!.id, email, token: pair.accessToken, refreshToken: pair.refreshToken };
  }

  async function organisationWithOwner(tag: string): Promise<Org> {
    const owner = await signUp(`${tag}-owner`);
    const { organisation } = await orgs.createOrganisation({ name: unique(tag) }, bearer(owner.token));
    const pair = await signInPair(auth, owner.email, PASSWORD);
    return { id: organisation!.id, owner: { ...owner, token: pair.accessToken, refreshToken: pair.refreshToken } };
  }

  async function join(by: Person, organisationId: string): Promise<Person> {
    const person = await signUp("member");
    await joinByInvitation(target, orgs, { by, person, organisationId });
    const pair = await signInPair(auth, person.email, PASSWORD);
    return { ...person, token: pair.accessToken, refreshToken: pair.refreshToken };
  }

  /** A licence of the provider to the customer granting `provides`; signed by the member unless `signed` is false. */
  async function licence(provides: string[], options: { maxDevices?: number; signed?: boolean; startsAt?: number; expiresAt?: number } = {}): Promise<License> {
    const p = bearer(provider.owner.token);
    const { agreement: draft } = await licenses.createAgreement({ providerOrganisationId: provider.id, name: unique("Agreement"), kind: "subscription", provides, summary: "Terms." }, p);
    await licenses.publishAgreement({ uuid: draft!.uuid }, p);
    const { license } = await licenses.createLicense(
      {
        providerOrganisationId: provider.id,
        organisationId: customer.id,
        agreementUuid: draft!.uuid,
        maxDevices: options.maxDevices ?? 10,
        startsAt: timestampFromMs(options.startsAt ?? Date.now() - DAY),
        ...(options.expiresAt === undefined ? {} : { expiresAt: timestampFromMs(options.expiresAt) }),
      },
      p,
    );
    if (options.signed === false) return license!;
    return (await licenses.signLicense({ uuid: license!.uuid }, bearer(member.token))).license!;
  }

  async function register(org: Org, tag = "edge"): Promise<{ id: string; serial: string; credential: string }> {
    const serial = unique(`SN-${tag}`);
    const { device, credential } = await licenses.registerDevice({ organisationId: org.id, name: `Camera ${tag}`, serial }, bearer(org.owner.token));
    return { id: device!.uuid, serial, credential };
  }

  async function deviceTokens(device: { id: string; credential: string }) {
    const { tokens, deviceId } = await licenses.deviceSignIn({ method: { case: "device", value: { deviceId: device.id, credential: device.credential } } });
    expect(deviceId).toBe(device.id);
    return tokens!;
  }

  async function seatCount(licenseId: string): Promise<{ counter: number; rows: number }> {
    const [row] = await target.exec(
      "SELECT devices_assigned AS counter, (SELECT count(*) FROM device_licenses WHERE license_id = licenses.id) AS seats FROM licenses WHERE id = ?",
      [licenseId],
    );
    return { counter: Number(row!.counter), rows: Number(row!.seats) };
  }

  async function jwks(): Promise<JSONWebKeySet> {
    const response = await target.fetch(`${target.baseUrl}/.well-known/jwks.json`);
    return (await response.json()) as JSONWebKeySet;
  }

  beforeAll(async () => {
    target = await start();
    auth = createClient(AuthService, target.transports.connect);
    users = createClient(UserService, target.transports.connect);
    orgs = createClient(OrganisationService, target.transports.connect);
    licenses = createClient(LicenseService, target.transports.connect);
    admin = createClient(AdminService, target.transports.connect);
    rootToken = (await signInPair(auth, ADMIN.email, ADMIN.password)).accessToken;
    [provider, customer, outsider] = await Promise.all([organisationWithOwner("provider"), organisationWithOwner("customer"), organisationWithOwner("outsider")]);
    member = await join(customer.owner, customer.id);
  });
  afterAll(async () => {
    await target?.stop();
  });

  describe("devices", () => {
    it("registers a device with a credential shown once and stored as its SHA-256", async () => {
      const device = await register(customer);
      expect(device.credential).toMatch(/^lkdc_[A-Za-z0-9_-]{43}$/);
      const [row] = await target.exec("SELECT credential_hash FROM devices WHERE id = ?", [device.id]);
      expect(row!.credential_hash).toBe(sha256(device.credential));
      const { device: got } = await licenses.getDevice({ uuid: device.id }, bearer(member.token));
      expect(got).toMatchObject({ uuid: device.id, serial: device.serial, organisationId: customer.id, licenseUuids: [] });
      expect(toJsonString(DeviceSchema, got!)).not.toContain(device.credential);

      const again = await rpcError(licenses.registerDevice({ organisationId: customer.id, name: "Twin", serial: device.serial }, bearer(customer.owner.token)));
      expect(again.code).toBe(Code.AlreadyExists);
      // Serials are unique per organisation only.
      const elsewhere = await licenses.registerDevice({ organisationId: outsider.id, name: "Twin", serial: device.serial }, bearer(outsider.owner.token));
      expect(elsewhere.device!.organisationId).toBe(outsider.id);
    });

    it("members read their organisation's devices, admins change them, other organisations see nothing", async () => {
      const device = await register(customer, "isolated");
      const listed = await licenses.listDevices({ organisationId: customer.id, pageSize: 1000 }, bearer(member.token));
      expect(listed.devices.map((d) => d.uuid)).toContain(device.id);
      expect(listed.devices.every((d) => d.organisationId === customer.id)).toBe(true);

      // A member reads but does not change.
      expect((await rpcError(licenses.registerDevice({ organisationId: customer.id, name: "x", serial: unique("SN") }, bearer(member.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(licenses.deleteDevice({ uuid: device.id }, bearer(member.token)))).code).toBe(Code.PermissionDenied);

      // Another organisation's owner: the device is not there.
      const o = bearer(outsider.owner.token);
      expect((await rpcError(licenses.getDevice({ uuid: device.id }, o))).code).toBe(Code.NotFound);
      expect((await rpcError(licenses.deleteDevice({ uuid: device.id }, o))).code).toBe(Code.NotFound);
      expect((await rpcError(licenses.getDevice({ uuid: UNKNOWN_ID }, o))).code).toBe(Code.NotFound);
      expect((await rpcError(licenses.listDevices({ organisationId: customer.id }, o))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(licenses.registerDevice({ organisationId: customer.id, name: "x", serial: unique("SN") }, o))).code).toBe(Code.PermissionDenied);
      const own = await licenses.listDevices({}, o);
      expect(own.devices.map((d) => d.uuid)).not.toContain(device.id);

      // A super-admin reaches every organisation.
      expect((await licenses.getDevice({ uuid: device.id }, bearer(rootToken))).device!.uuid).toBe(device.id);
    });

    it("pages devices by name", async () => {
      const org = await organisationWithOwner("paging");
      for (const tag of ["c", "a", "b"]) await licenses.registerDevice({ organisationId: org.id, name: `Device ${tag}`, serial: unique(`SN-${tag}`) }, bearer(org.owner.token));
      const first = await licenses.listDevices({ organisationId: org.id, pageSize: 2 }, bearer(org.owner.token));
      expect(first.devices.map((d) => d.name)).toEqual(["Device a", "Device b"]);
      const second = await licenses.listDevices({ organisationId: org.id, pageSize: 2, pageToken: first.nextPageToken }, bearer(org.owner.token));
      expect(second.devices.map((d) => d.name)).toEqual(["Device c"]);
      expect(second.nextPageToken).toBe("");
    });

    it("deleting a device frees its seats and ends its sessions at once", async () => {
      const [a, b] = await Promise.all([licence(["inference"], { maxDevices: 3 }), licence(["analytics"], { maxDevices: 3 })]);
      const device = await register(customer, "doomed");
      const o = bearer(customer.owner.token);
      await licenses.assignLicense({ deviceUuid: device.id, licenseUuid: a.uuid }, o);
      await licenses.assignLicense({ deviceUuid: device.id, licenseUuid: b.uuid }, o);
      expect((await licenses.getDevice({ uuid: device.id }, o)).device!.licenseUuids.sort()).toEqual([a.uuid, b.uuid].sort());
      const tokens = await deviceTokens(device);
      expect((await auth.validateToken({ token: tokens.accessToken }, bearer(rootToken))).active).toBe(true);

      await licenses.deleteDevice({ uuid: device.id }, o);
      expect(await seatCount(a.uuid)).toEqual({ counter: 0, rows: 0 });
      expect(await seatCount(b.uuid)).toEqual({ counter: 0, rows: 0 });
      expect((await rpcError(licenses.getDevice({ uuid: device.id }, o))).code).toBe(Code.NotFound);
      expect((await auth.validateToken({ token: tokens.accessToken }, bearer(rootToken))).active).toBe(false);
      expect((await rpcError(auth.refreshToken({ refreshToken: tokens.refreshToken }))).code).toBe(Code.Unauthenticated);
      const audit = await target.exec("SELECT type FROM audit_events WHERE details LIKE ? ORDER BY occurred_at", [`%${device.id}%`]);
      expect(audit.map((r) => r.type)).toEqual(expect.arrayContaining(["device.registered", "license.seat_assigned", "device.signed_in", "device.deleted"]));
    });
  });

  describe("seats", () => {
    it("of 20 concurrent assignments to a licence of 5 seats, exactly 5 succeed", async () => {
      const seats = await licence(["inference"], { maxDevices: 5 });
      const devices = await Promise.all(Array.from({ length: 20 }, (_, i) => register(customer, `race-${i}`)));
      const o = bearer(customer.owner.token);
      const results = await Promise.allSettled(devices.map((d) => licenses.assignLicense({ deviceUuid: d.id, licenseUuid: seats.uuid }, o)));
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won).toHaveLength(5);
      expect(lost.map((r) => (r.reason as { code: Code }).code)).toEqual(Array(15).fill(Code.ResourceExhausted));
      expect(await seatCount(seats.uuid)).toEqual({ counter: 5, rows: 5 });

      // Assigning a held seat changes nothing.
      const holder = devices[results.findIndex((r) => r.status === "fulfilled")]!;
      const again = await licenses.assignLicense({ deviceUuid: holder.id, licenseUuid: seats.uuid }, o);
      expect(again.license!.devicesAssigned).toBe(5);
      expect(await seatCount(seats.uuid)).toEqual({ counter: 5, rows: 5 });

      // Releasing frees exactly one seat, once.
      await licenses.releaseLicense({ deviceUuid: holder.id, licenseUuid: seats.uuid }, o);
      expect(await seatCount(seats.uuid)).toEqual({ counter: 4, rows: 4 });
      expect((await rpcError(licenses.releaseLicense({ deviceUuid: holder.id, licenseUuid: seats.uuid }, o))).code).toBe(Code.NotFound);
      expect(await seatCount(seats.uuid)).toEqual({ counter: 4, rows: 4 });
      const loser = devices[results.findIndex((r) => r.status === "rejected")]!;
      expect((await licenses.assignLicense({ deviceUuid: loser.id, licenseUuid: seats.uuid }, o)).license!.devicesAssigned).toBe(5);
    });

    it("seats are only of the device's organisation's licences, and only admins assign them", async () => {
      const seats = await licence(["inference"]);
      const foreign = await register(outsider, "foreign");
      const own = await register(customer, "own");
      expect((await rpcError(licenses.assignLicense({ deviceUuid: foreign.id, licenseUuid: seats.uuid }, bearer(outsider.owner.token)))).code).toBe(Code.NotFound);
      expect((await rpcError(licenses.assignLicense({ deviceUuid: own.id, licenseUuid: seats.uuid }, bearer(member.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(licenses.assignLicense({ deviceUuid: own.id, licenseUuid: UNKNOWN_ID }, bearer(customer.owner.token)))).code).toBe(Code.NotFound);
      expect(await seatCount(seats.uuid)).toEqual({ counter: 0, rows: 0 });
    });
  });

  describe("device sign-in and device tokens", () => {
    it("signs a device in with its credential; the tokens name the device and rotate through RefreshToken", async () => {
      const device = await register(customer, "signin");
      const tokens = await deviceTokens(device);
      expect(decodeProtectedHeader(tokens.accessToken).typ).toBe("device+jwt");
      expect(decodeJwt(tokens.accessToken)).toMatchObject({ sub: device.id, org: customer.id });
      expect(tokens.refreshToken).toMatch(/^lkd_[A-Za-z0-9_-]{43}$/);
      const [row] = await target.exec("SELECT count(*) AS n FROM device_refresh_tokens WHERE token_hash = ?", [sha256(tokens.refreshToken)]);
      expect(Number(row!.n)).toBe(1);
      const [seen] = await target.exec("SELECT last_seen_at FROM devices WHERE id = ?", [device.id]);
      expect(Number(seen!.last_seen_at)).toBeGreaterThan(Date.now() - 60_000);

      const introspected = await auth.validateToken({ token: tokens.accessToken }, bearer(rootToken));
      expect(introspected).toMatchObject({ active: true, subject: device.id, subjectKind: SubjectKind.DEVICE, organisationId: customer.id });

      const next = (await auth.refreshToken({ refreshToken: tokens.refreshToken })).tokens!;
      expect(next.refreshToken).not.toBe(tokens.refreshToken);
      expect(decodeJwt(next.accessToken)).toMatchObject({ sub: device.id, org: customer.id, sid: decodeJwt(tokens.accessToken).sid });
      // A retry within the grace window gets the same pair back.
      expect((await auth.refreshToken({ refreshToken: tokens.refreshToken })).tokens!.refreshToken).toBe(next.refreshToken);
      const third = (await auth.refreshToken({ refreshToken: next.refreshToken })).tokens!;
      // Presenting a token whose successor was used is reuse: the session ends.
      expect((await rpcError(auth.refreshToken({ refreshToken: tokens.refreshToken }))).code).toBe(Code.Unauthenticated);
      expect((await auth.validateToken({ token: third.accessToken }, bearer(rootToken))).active).toBe(false);
      expect((await rpcError(auth.refreshToken({ refreshToken: third.refreshToken }))).code).toBe(Code.Unauthenticated);
    });

    it("refuses wrong credentials with the one unauthenticated error", async () => {
      const device = await register(customer, "wrong");
      const other = await register(customer, "other");
      for (const value of [
        { deviceId: device.id, credential: other.credential },
        { deviceId: device.id, credential: `${device.credential.slice(0, -1)}${device.credential.endsWith("A") ? "B" : "A"}` },
        { deviceId: UNKNOWN_ID, credential: device.credential },
      ]) {
        const error = await rpcError(licenses.deviceSignIn({ method: { case: "device", value } }));
        expect(error.code).toBe(Code.Unauthenticated);
        expect(error.rawMessage).toBe("invalid credentials");
      }
      expect((await rpcError(licenses.deviceSignIn({}))).code).toBe(Code.Unauthenticated);
    });

    it("signs a device in as an edge plugin with a member's refresh token, without using it up", async () => {
      const device = await register(customer, "plugin");
      const { tokens, deviceId } = await licenses.deviceSignIn({ method: { case: "plugin", value: { refreshToken: member.refreshToken, systemId: device.serial } } });
      expect(deviceId).toBe(device.id);
      expect(decodeJwt(tokens!.accessToken)).toMatchObject({ sub: device.id, org: customer.id });
      // The member's own refresh token still works.
      const rotated = (await auth.refreshToken({ refreshToken: member.refreshToken })).tokens!;
      member = { ...member, token: rotated.accessToken, refreshToken: rotated.refreshToken };

      const fail = (refreshToken: string, systemId: string) => rpcError(licenses.deviceSignIn({ method: { case: "plugin", value: { refreshToken, systemId } } }));
      // Someone outside the organisation, an unknown serial, a used-up token.
      expect((await fail(outsider.owner.refreshToken, device.serial)).code).toBe(Code.Unauthenticated);
      expect((await fail(member.refreshToken, unique("SN-none"))).code).toBe(Code.Unauthenticated);
      const consumed = await join(customer.owner, customer.id);
      await auth.refreshToken({ refreshToken: consumed.refreshToken });
      expect((await fail(consumed.refreshToken, device.serial)).code).toBe(Code.Unauthenticated);
    });

    it("device tokens call only device RPCs, and device RPCs take only devices", async () => {
      const device = await register(customer, "kinds");
      const tokens = await deviceTokens(device);
      const d = bearer(tokens.accessToken);
      expect((await rpcError(licenses.listDevices({}, d))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(licenses.getDevice({ uuid: device.id }, d))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(auth.getCurrentUser({}, d))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(licenses.checkLicense({ feature: "inference" }, bearer(customer.owner.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(licenses.checkLicense({ feature: "inference" }))).code).toBe(Code.Unauthenticated);
      expect((await licenses.checkLicense({ feature: "inference" }, d)).entitled).toBe(false);
      // A revoked device session stops at once.
      await auth.revokeToken({ token: tokens.refreshToken });
      expect((await rpcError(licenses.checkLicense({ feature: "inference" }, d))).code).toBe(Code.Unauthenticated);
      expect((await auth.validateToken({ token: tokens.accessToken }, bearer(rootToken))).active).toBe(false);
    });
  });

  describe("licence checks and certificates", () => {
    it("entitles by signed, unrevoked, started, unexpired seats that grant the feature", async () => {
      const device = await register(customer, "check");
      const o = bearer(customer.owner.token);
      const [granted, unsigned, expiring, revocable, future, unassigned] = await Promise.all([
        licence(["inference", "camera.read"]),
        licence(["analytics"], { signed: false }),
        licence(["tracking"]),
        licence(["counting"]),
        licence(["zoom"], { startsAt: Date.now() + 10 * DAY }),
        licence(["audio"]),
      ]);
      for (const l of [granted, unsigned, expiring, revocable, future]) await licenses.assignLicense({ deviceUuid: device.id, licenseUuid: l.uuid }, o);
      expect(unassigned.uuid).not.toBe("");
      const d = bearer((await deviceTokens(device)).accessToken);

      const yes = await licenses.checkLicense({ feature: "inference" }, d);
      expect(yes.entitled).toBe(true);
      expect(yes.licenses.map((l) => l.uuid)).toEqual([granted.uuid]);
      expect(yes.certificate).not.toBe("");
      const claims = decodeJwt(yes.certificate);
      expect(claims).toMatchObject({ sub: device.id, org: customer.id, aud: claims.iss });
      expect((claims.features as string[]).sort()).toEqual(["camera.read", "counting", "inference", "tracking"]);
      expect((claims.licenses as string[]).sort()).toEqual([granted.uuid, expiring.uuid, revocable.uuid].sort());
      expect(Number(yes.certificateExpiresAt!.seconds)).toBe(claims.exp);
      expect(Number(yes.graceUntil!.seconds)).toBe(claims.grace_until);

      for (const feature of ["analytics", "zoom", "audio", "unheard-of"]) {
        const no = await licenses.checkLicense({ feature }, d);
        expect(no).toMatchObject({ entitled: false, licenses: [], certificate: "" });
      }

      // Expired licences stop entitling.
      await target.exec("UPDATE licenses SET expires_at = ? WHERE id = ?", [Date.now() - 1000, expiring.uuid]);
      expect((await licenses.checkLicense({ feature: "tracking" }, d)).entitled).toBe(false);
      // A revoked licence stops at once and no certificate names it.
      expect((await licenses.checkLicense({ feature: "counting" }, d)).entitled).toBe(true);
      await licenses.revokeLicense({ uuid: revocable.uuid }, bearer(provider.owner.token));
      expect((await licenses.checkLicense({ feature: "counting" }, d)).entitled).toBe(false);
      const after = decodeJwt((await licenses.checkLicense({ feature: "inference" }, d)).certificate);
      expect(after.licenses).toEqual([granted.uuid]);
      expect((after.features as string[]).sort()).toEqual(["camera.read", "inference"]);

      // A device without seats is entitled to nothing.
      const bare = bearer((await deviceTokens(await register(customer, "bare"))).accessToken);
      expect((await licenses.checkLicense({ feature: "inference" }, bare)).entitled).toBe(false);
    });

    it("a certificate verifies offline with the JWKS alone, goes stale after exp and dies after grace_until or with its key", async () => {
      const expiresAt = Date.now() + 3 * DAY;
      const seat = await licence(["inference"], { expiresAt });
      const device = await register(customer, "offline");
      await licenses.assignLicense({ deviceUuid: device.id, licenseUuid: seat.uuid }, bearer(customer.owner.token));
      const tokens = await deviceTokens(device);
      const answer = await licenses.checkLicense({ feature: "inference" }, bearer(tokens.accessToken));
      const keys = await jwks();
      const issuer = String(decodeJwt(answer.certificate).iss);

      const fresh = await verifyLicenseCertificate(answer.certificate, keys, { now: Date.now(), issuer });
      expect(fresh).toMatchObject({ valid: true, stale: false, claims: { sub: device.id, org: customer.id, licenses: [seat.uuid], features: ["inference"] } });
      if (!fresh.valid) throw new Error("unreachable");
      const { exp, grace_until: graceUntil } = fresh.claims;
      expect(exp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 86_400);
      // The grace period never outlasts the licence.
      expect(graceUntil).toBe(Math.floor(expiresAt / 1000));
      expect(graceUntil).toBeGreaterThan(exp);

      expect(await verifyLicenseCertificate(answer.certificate, keys, { now: (exp + 60) * 1000, issuer })).toMatchObject({ valid: true, stale: true });
      expect(await verifyLicenseCertificate(answer.certificate, keys, { now: (graceUntil + 60) * 1000, issuer })).toEqual({ valid: false, reason: "expired" });
      const kid = decodeProtectedHeader(answer.certificate).kid;
      const withoutKey = { keys: keys.keys.filter((k) => k.kid !== kid) };
      expect(await verifyLicenseCertificate(answer.certificate, withoutKey, { now: Date.now(), issuer })).toEqual({ valid: false, reason: "unknown_key" });
      expect(await verifyLicenseCertificate(answer.certificate, keys, { now: Date.now(), issuer: "https://elsewhere.example" })).toEqual({ valid: false, reason: "wrong_issuer" });
      // An access token signed by the same key is not a certificate.
      expect(await verifyLicenseCertificate(tokens.accessToken, keys, { now: Date.now(), issuer })).toEqual({ valid: false, reason: "malformed" });
      const [head, body, signature] = answer.certificate.split(".");
      const forged = `${head}.${Buffer.from(JSON.stringify({ ...decodeJwt(answer.certificate), features: ["everything"] })).toString("base64url")}.${signature}`;
      expect(body).not.toBe(forged.split(".")[1]);
      expect(await verifyLicenseCertificate(forged, keys, { now: Date.now(), issuer })).toEqual({ valid: false, reason: "bad_signature" });

      // After AdminService rotates the signing keys, new certificates carry the new key; the old one
      // verifies against the served JWKS while its retired key stays published, and not with the
      // current key alone (what a device holds once the retired key is withdrawn).
      const rotated = await admin.rotateSigningKeys({}, bearer(rootToken));
      expect(rotated.currentKid).not.toBe(kid);
      const renewed = await licenses.checkLicense({ feature: "inference" }, bearer(tokens.accessToken));
      expect(decodeProtectedHeader(renewed.certificate).kid).toBe(rotated.currentKid);
      const served = await jwks();
      expect(served.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([kid, rotated.currentKid]));
      expect(await verifyLicenseCertificate(renewed.certificate, served, { now: Date.now(), issuer })).toMatchObject({ valid: true, stale: false });
      expect(await verifyLicenseCertificate(answer.certificate, served, { now: Date.now(), issuer })).toMatchObject({ valid: true, stale: false });
      const currentOnly = { keys: served.keys.filter((k) => k.kid === rotated.currentKid) };
      expect(await verifyLicenseCertificate(answer.certificate, currentOnly, { now: Date.now(), issuer })).toEqual({ valid: false, reason: "unknown_key" });
      expect(await verifyLicenseCertificate(renewed.certificate, currentOnly, { now: Date.now(), issuer })).toMatchObject({ valid: true });
    });
  });
}
