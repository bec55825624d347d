/**
 * The device authorization grant (RFC 8628) on AuthService, written once and
 * run against the Node server (test/e2e) and the Worker inside workerd
 * (test/worker). The interval between polls is five seconds; instead of
 * waiting, tests move the last poll back in the database.
 */
import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AuthService, DeviceAuthorizationStatus, type StartDeviceAuthorizationResponse } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { SubjectKind } from "../../gen/latchkey/auth/v1/token_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { bearer, joinByInvitation, rpcError, signInPair, unique } from "../support/rpc-calls.js";
import type { RpcTarget } from "../support/target.js";
import { ADMIN } from "./auth-suite.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
/** The issuer the suite's targets are started with. */
export const DEVICE_FLOW_ISSUER = "https://id.latchkey.test";
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

interface Person {
  id: string;
  email: string;
  token: string;
}

export function defineDeviceFlowSuite(start: () => Promise<RpcTarget>): void {
  let target: RpcTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;
  let orgs: Client<typeof OrganisationService>;
  let root: string;
  /** Owner of organisation A, with A active in the token. */
  let ownerA: Person;
  let orgA: string;
  /** Owner of organisation B. */
  let ownerB: Person;
  let orgB: string;
  /** A plain member of organisation A. */
  let memberA: Person;

  async function signUp(tag: string): Promise<Person> {
    const email = `${unique(tag)}@example.com`;
    const { user } = await users.createUser({ email, name: `User ${tag}`, password: PASSWORD });
    return { id: user!.id, email, token: (await signInPair(auth, email, PASSWORD)).accessToken };
  }

  /** A new user owning a new organisation, holding a token that names it. */
  async function owner(tag: string): Promise<{ person: Person; organisationId: string }> {
    const person = await signUp(tag);
    const { organisation } = await orgs.createOrganisation({ name: unique(`${tag}-org`) }, bearer(person.token));
    const { tokens } = await auth.switchOrganisation({ organisationId: organisation!.id }, bearer(person.token));
    return { person: { ...person, token: tokens!.accessToken }, organisationId: organisation!.id };
  }

  async function joinAsMember(by: Person, organisationId: string): Promise<Person> {
    const person = await signUp("member");
    await joinByInvitation(target, orgs, { by, person, organisationId });
    const { tokens } = await auth.switchOrganisation({ organisationId }, bearer(person.token));
    return { ...person, token: tokens!.accessToken };
  }

  async function startFlow(tag = "device"): Promise<StartDeviceAuthorizationResponse & { serial: string }> {
    const serial = unique(`serial-${tag}`);
    const started = await auth.startDeviceAuthorization({ deviceName: `Camera ${tag}`, serial });
    return Object.assign(started, { serial });
  }

  /** As if the device had waited its interval since the last poll. */
  async function letIntervalPass(serial: string): Promise<void> {
    await target.exec("UPDATE device_authorizations SET last_polled_at = NULL WHERE serial = ?", [serial]);
  }

  async function row(serial: string): Promise<Record<string, unknown>> {
    const rows = await target.exec("SELECT * FROM device_authorizations WHERE serial = ?", [serial]);
    expect(rows).toHaveLength(1);
    return rows[0]!;
  }

  async function devicesWithSerial(serial: string): Promise<Record<string, unknown>[]> {
    return target.exec("SELECT id, organisation_id, name FROM devices WHERE serial = ?", [serial]);
  }

  beforeAll(async () => {
    target = await start();
    auth = createClient(AuthService, target.transports.connect);
    users = createClient(UserService, target.transports.connect);
    orgs = createClient(OrganisationService, target.transports.connect);
    root = (await signInPair(auth, ADMIN.email, ADMIN.password)).accessToken;
    ({ person: ownerA, organisationId: orgA } = await owner("owner-a"));
    ({ person: ownerB, organisationId: orgB } = await owner("owner-b"));
    memberA = await joinAsMember(ownerA, orgA);
  });

  afterAll(async () => {
    await target?.stop();
  });

  describe("device authorization grant", () => {
    it("starts with a typeable user code, a 256-bit device code and the verification URIs, and stores only hashes", async () => {
      const started = await startFlow("start");
      expect(started.userCode).toMatch(USER_CODE);
      expect(started.deviceCode).toMatch(/^lkda_[A-Za-z0-9_-]{43}$/);
      expect(started.interval).toBe(5);
      expect(started.expiresIn).toBe(600);
      expect(started.verificationUri).toBe(`${DEVICE_FLOW_ISSUER}/device`);
      expect(started.verificationUriComplete).toBe(`${DEVICE_FLOW_ISSUER}/device?user_code=${started.userCode}`);

      const stored = await row(started.serial);
      expect(stored.status).toBe("pending");
      expect(stored.device_code_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(stored.user_code_hash).toMatch(/^[0-9a-f]{64}$/);
      const dump = JSON.stringify(stored);
      expect(dump).not.toContain(started.deviceCode);
      expect(dump).not.toContain(started.userCode);
      expect(dump).not.toContain(started.userCode.replace("-", ""));
    });

    it("happy path: pending, approved by an admin, tokens handed out once, then expired", async () => {
      const started = await startFlow("happy");
      const first = await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode });
      expect(first.status).toBe(DeviceAuthorizationStatus.PENDING);
      expect(first.tokens).toBeUndefined();

      // Case, dashes and spaces do not matter.
      const typed = ` ${started.userCode.replace("-", "").toLowerCase()} `;
      const approved = await auth.approveDeviceAuthorization({ userCode: typed, approve: true }, bearer(ownerA.token));
      expect(approved.deviceName).toBe("Camera happy");
      expect(approved.serial).toBe(started.serial);
      expect(approved.deviceId).not.toBe("");
      expect(await devicesWithSerial(started.serial)).toEqual([{ id: approved.deviceId, organisation_id: orgA, name: "Camera happy" }]);

      await letIntervalPass(started.serial);
      const collected = await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode });
      expect(collected.status).toBe(DeviceAuthorizationStatus.APPROVED);
      expect(collected.deviceId).toBe(approved.deviceId);
      expect(collected.tokens?.accessToken).toBeTruthy();
      expect(collected.tokens?.refreshToken).toBeTruthy();
      expect(collected.tokens?.tokenType).toBe("Bearer");
      expect((await row(started.serial)).status).toBe("collected");

      await letIntervalPass(started.serial);
      const later = await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode });
      expect(later.status).toBe(DeviceAuthorizationStatus.EXPIRED);
      expect(later.tokens).toBeUndefined();

      // The access token is a device's, in organisation A.
      const validated = await auth.validateToken({ token: collected.tokens!.accessToken }, bearer(root));
      expect(validated.active).toBe(true);
      expect(validated.subjectKind).toBe(SubjectKind.DEVICE);
      expect(validated.subject).toBe(approved.deviceId);
      expect(validated.organisationId).toBe(orgA);

      // A device cannot approve devices, not even with a fresh code.
      const other = await startFlow("by-device");
      const byDevice = await rpcError(auth.approveDeviceAuthorization({ userCode: other.userCode, approve: true }, bearer(collected.tokens!.accessToken)));
      expect(byDevice.code).toBe(Code.PermissionDenied);
      expect((await row(other.serial)).status).toBe("pending");

      // The user code is spent.
      const again = await rpcError(auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }, bearer(ownerA.token)));
      expect(again.code).toBe(Code.NotFound);
    });

    it("an approval reuses the device already registered with that serial in the organisation", async () => {
      const first = await startFlow("again");
      const approvedOnce = await auth.approveDeviceAuthorization({ userCode: first.userCode, approve: true }, bearer(ownerA.token));
      const second = await auth.startDeviceAuthorization({ deviceName: "Camera again, reset", serial: first.serial });
      const approvedTwice = await auth.approveDeviceAuthorization({ userCode: second.userCode, approve: true }, bearer(ownerA.token));
      expect(approvedTwice.deviceId).toBe(approvedOnce.deviceId);
      expect(await devicesWithSerial(first.serial)).toHaveLength(1);
    });

    it("polling before the interval has passed answers SLOW_DOWN and adds five seconds each time", async () => {
      const started = await startFlow("slow");
      expect((await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode })).status).toBe(DeviceAuthorizationStatus.PENDING);
      const slowed = await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode });
      expect(slowed.status).toBe(DeviceAuthorizationStatus.SLOW_DOWN);
      expect(slowed.interval).toBe(10);
      const slower = await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode });
      expect(slower.status).toBe(DeviceAuthorizationStatus.SLOW_DOWN);
      expect(slower.interval).toBe(15);
      expect(Number((await row(started.serial)).interval_seconds)).toBe(15);

      // Once the (longer) interval has passed, the device polls normally again.
      await letIntervalPass(started.serial);
      const pending = await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode });
      expect(pending.status).toBe(DeviceAuthorizationStatus.PENDING);
      expect(pending.interval).toBe(15);
    });

    it("of concurrent polls only one passes the interval", async () => {
      const started = await startFlow("race");
      const answers = await Promise.all(Array.from({ length: 6 }, () => auth.pollDeviceAuthorization({ deviceCode: started.deviceCode })));
      const statuses = answers.map((answer) => answer.status);
      expect(statuses.filter((status) => status === DeviceAuthorizationStatus.PENDING)).toHaveLength(1);
      expect(statuses.filter((status) => status === DeviceAuthorizationStatus.SLOW_DOWN)).toHaveLength(5);
    });

    it("of concurrent polls after approval exactly one gets the tokens", async () => {
      const started = await startFlow("collect-race");
      await auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }, bearer(ownerA.token));
      const answers = await Promise.all(Array.from({ length: 5 }, () => auth.pollDeviceAuthorization({ deviceCode: started.deviceCode })));
      expect(answers.filter((answer) => answer.status === DeviceAuthorizationStatus.APPROVED)).toHaveLength(1);
      expect(answers.filter((answer) => answer.tokens !== undefined)).toHaveLength(1);
      const sessions = await target.exec("SELECT count(*) AS n FROM device_sessions WHERE device_id = (SELECT device_id FROM device_authorizations WHERE serial = ?)", [started.serial]);
      expect(Number(sessions[0]?.n)).toBe(1);
    });

    it("expired codes answer EXPIRED to the device and not_found to the approver", async () => {
      const started = await startFlow("expired");
      await target.exec("UPDATE device_authorizations SET expires_at = ? WHERE serial = ?", [Date.now() - 1000, started.serial]);
      const polled = await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode });
      expect(polled.status).toBe(DeviceAuthorizationStatus.EXPIRED);
      const refused = await rpcError(auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }, bearer(ownerA.token)));
      expect(refused.code).toBe(Code.NotFound);
      expect(await devicesWithSerial(started.serial)).toHaveLength(0);
    });

    it("an approved code that expires before it is collected hands out nothing", async () => {
      const started = await startFlow("late");
      await auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }, bearer(ownerA.token));
      await target.exec("UPDATE device_authorizations SET expires_at = ? WHERE serial = ?", [Date.now() - 1000, started.serial]);
      const polled = await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode });
      expect(polled.status).toBe(DeviceAuthorizationStatus.EXPIRED);
      expect(polled.tokens).toBeUndefined();
    });

    it("a denied code answers DENIED, registers nothing and cannot be approved afterwards", async () => {
      const started = await startFlow("denied");
      const denied = await auth.approveDeviceAuthorization({ userCode: started.userCode, approve: false }, bearer(ownerA.token));
      expect(denied.deviceId).toBe("");
      expect(denied.serial).toBe(started.serial);
      const polled = await auth.pollDeviceAuthorization({ deviceCode: started.deviceCode });
      expect(polled.status).toBe(DeviceAuthorizationStatus.DENIED);
      expect(polled.tokens).toBeUndefined();
      const refused = await rpcError(auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }, bearer(ownerA.token)));
      expect(refused.code).toBe(Code.NotFound);
      expect(await devicesWithSerial(started.serial)).toHaveLength(0);
      const events = await target.exec("SELECT type FROM audit_events WHERE type LIKE 'device_authorization.%' AND details LIKE ?", [`%${started.serial}%`]);
      expect(events.map((event) => event.type)).toEqual(["device_authorization.denied"]);
    });

    it("an unknown device code is unauthenticated", async () => {
      const unknown = await rpcError(auth.pollDeviceAuthorization({ deviceCode: `lkda_${"A".repeat(43)}` }));
      expect(unknown.code).toBe(Code.Unauthenticated);
      const garbage = await rpcError(auth.pollDeviceAuthorization({ deviceCode: "not-a-device-code" }));
      expect(garbage.code).toBe(Code.Unauthenticated);
    });

    it("wrong user codes answer not_found, and ten of them block the approver with a retry delay", async () => {
      const { person: guesser } = await owner("guesser");
      const started = await startFlow("guessed");
      // Malformed (vowels, wrong length) and well-formed wrong codes count alike.
      const wrong = ["AEIO-UAEI", "BCDF", ...Array.from({ length: 8 }, (_, i) => `ZZZZ-ZZZ${"BCDFGHJK"[i]}`)];
      for (const userCode of wrong) {
        const refused = await rpcError(auth.approveDeviceAuthorization({ userCode, approve: true }, bearer(guesser.token)));
        expect(refused.code).toBe(Code.NotFound);
      }
      // Blocked now, even with the right code.
      const blocked = await rpcError(auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }, bearer(guesser.token)));
      expect(blocked.code).toBe(Code.ResourceExhausted);
      const delay = blocked.findDetails(RetryInfoSchema)[0]?.retryDelay;
      expect(Number(delay?.seconds ?? 0)).toBeGreaterThan(0);
      expect(await devicesWithSerial(started.serial)).toHaveLength(0);
      expect((await row(started.serial)).status).toBe("pending");
      // Another approver is not affected.
      await auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true, organisationId: orgA }, bearer(ownerA.token));
      expect((await devicesWithSerial(started.serial))[0]?.organisation_id).toBe(orgA);
    });

    it("a plain member cannot approve, and the code stays pending", async () => {
      const started = await startFlow("member");
      const refused = await rpcError(auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }, bearer(memberA.token)));
      expect(refused.code).toBe(Code.PermissionDenied);
      const alsoRefused = await rpcError(auth.approveDeviceAuthorization({ userCode: started.userCode, approve: false }, bearer(memberA.token)));
      expect(alsoRefused.code).toBe(Code.PermissionDenied);
      expect((await row(started.serial)).status).toBe("pending");
    });

    it("a user code approves only into an organisation the caller administers", async () => {
      const started = await startFlow("scoped");
      // Owner A names organisation B: not theirs.
      const refused = await rpcError(auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true, organisationId: orgB }, bearer(ownerA.token)));
      expect(refused.code).toBe(Code.PermissionDenied);
      expect(await devicesWithSerial(started.serial)).toHaveLength(0);
      // Without a name, the caller's active organisation.
      const approved = await auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }, bearer(ownerB.token));
      expect(await devicesWithSerial(started.serial)).toEqual([{ id: approved.deviceId, organisation_id: orgB, name: "Camera scoped" }]);
      const stored = await row(started.serial);
      expect(stored.organisation_id).toBe(orgB);
      expect(stored.approved_by).toBe(ownerB.id);
    });

    it("a super-admin approves into any organisation it names", async () => {
      const started = await startFlow("root");
      const approved = await auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true, organisationId: orgB }, bearer(root));
      expect((await devicesWithSerial(started.serial))[0]).toEqual({ id: approved.deviceId, organisation_id: orgB, name: "Camera root" });
      const events = await target.exec("SELECT organisation_id FROM audit_events WHERE type = 'device_authorization.approved' AND details LIKE ?", [`%${started.serial}%`]);
      expect(events).toEqual([{ organisation_id: orgB }]);
    });

    it("an API key holding devices.write approves only in its own organisation", async () => {
      const { key } = await auth.createApiKey({ name: unique("provisioning"), permissions: ["devices.write"] }, bearer(ownerA.token));
      const started = await startFlow("keyed");
      const elsewhere = await rpcError(auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true, organisationId: orgB }, { headers: { "x-api-key": key } }));
      expect(elsewhere.code).toBe(Code.PermissionDenied);
      const approved = await auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }, { headers: { "x-api-key": key } });
      expect(await devicesWithSerial(started.serial)).toEqual([{ id: approved.deviceId, organisation_id: orgA, name: "Camera keyed" }]);

      const { key: readOnly } = await auth.createApiKey({ name: unique("read-only"), permissions: ["devices.read"] }, bearer(ownerA.token));
      const other = await startFlow("read-only");
      const refused = await rpcError(auth.approveDeviceAuthorization({ userCode: other.userCode, approve: true }, { headers: { "x-api-key": readOnly } }));
      expect(refused.code).toBe(Code.PermissionDenied);
    });

    it("starting is rate-limited per client address", async () => {
      await startFlow("limit");
      const keys = await target.exec("SELECT key FROM throttles WHERE key LIKE 'device_authorization:address:%'");
      expect(keys.length).toBeGreaterThan(0);
      const until = Date.now() + 60_000;
      for (const { key } of keys) await target.exec("UPDATE throttles SET blocked_until = ? WHERE key = ?", [until, String(key)]);
      try {
        const refused = await rpcError(startFlow("limited"));
        expect(refused.code).toBe(Code.ResourceExhausted);
        expect(Number(refused.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds ?? 0)).toBeGreaterThan(0);
      } finally {
        for (const { key } of keys) await target.exec("UPDATE throttles SET blocked_until = NULL WHERE key = ?", [String(key)]);
      }
      await startFlow("after-limit");
    });

    it("approving needs a signed-in caller", async () => {
      const started = await startFlow("anonymous");
      const refused = await rpcError(auth.approveDeviceAuthorization({ userCode: started.userCode, approve: true }));
      expect(refused.code).toBe(Code.Unauthenticated);
    });
  });
}
