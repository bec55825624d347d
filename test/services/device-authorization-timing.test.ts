/**
 * The device authorization grant against a manual clock: the interval, the
 * slow-down and the expiry at their exact boundaries, and housekeeping
 * forgetting long-expired authorizations.
 */
import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService, DeviceAuthorizationStatus } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { deviceAuthorizations } from "../../src/store/schema/index.js";
import { manualClock, startInProcess } from "../support/in-process-app.js";
import { bearer, rpcError, signInPair } from "../support/rpc-calls.js";

const clock = manualClock();
let env: Awaited<ReturnType<typeof startInProcess>>;
let auth: Client<typeof AuthService>;
let organisationId: string;

beforeAll(async () => {
  env = await startInProcess({ clock });
  auth = createClient(AuthService, env.transport);
  const { organisation } = await createClient(OrganisationService, env.transport).createOrganisation({ name: "Fleet" }, bearer(await root()));
  organisationId = organisation!.id;
});
afterAll(() => env?.stop());

/** A fresh access token of the super-admin (the clock runs past access-token lifetimes here). */
async function root(): Promise<string> {
  return (await signInPair(auth, "root@latchkey.test", "correct horse battery staple 42")).accessToken;
}

const poll = (deviceCode: string) => auth.pollDeviceAuthorization({ deviceCode });

describe("device authorization timing", () => {
  it("answers SLOW_DOWN until the interval since the last poll has passed, adding five seconds each time", async () => {
    const { deviceCode, interval } = await auth.startDeviceAuthorization({ deviceName: "Gateway", serial: "GW-1" });
    expect(interval).toBe(5);
    expect(await poll(deviceCode)).toMatchObject({ status: DeviceAuthorizationStatus.PENDING, interval: 5 });
    clock.advance(4_999);
    expect(await poll(deviceCode)).toMatchObject({ status: DeviceAuthorizationStatus.SLOW_DOWN, interval: 10 });
    // The longer interval counts from the poll that was slowed down.
    clock.advance(9_999);
    expect(await poll(deviceCode)).toMatchObject({ status: DeviceAuthorizationStatus.SLOW_DOWN, interval: 15 });
    clock.advance(15_000);
    expect(await poll(deviceCode)).toMatchObject({ status: DeviceAuthorizationStatus.PENDING, interval: 15 });
    clock.advance(15_000);
    expect(await poll(deviceCode)).toMatchObject({ status: DeviceAuthorizationStatus.PENDING, interval: 15 });
  });

  it("expires ten minutes after the start, to the device and to the approver", async () => {
    const { deviceCode, userCode, expiresIn } = await auth.startDeviceAuthorization({ deviceName: "Gateway", serial: "GW-2" });
    expect(expiresIn).toBe(600);
    clock.advance(600_000 - 1);
    expect((await poll(deviceCode)).status).toBe(DeviceAuthorizationStatus.PENDING);
    clock.advance(1);
    expect((await poll(deviceCode)).status).toBe(DeviceAuthorizationStatus.EXPIRED);
    const refused = await rpcError(auth.approveDeviceAuthorization({ userCode, approve: true, organisationId }, bearer(await root())));
    expect(refused.code).toBe(Code.NotFound);
  });

  it("hands out tokens approved just before the expiry, and nothing after it", async () => {
    const inTime = await auth.startDeviceAuthorization({ deviceName: "Gateway", serial: "GW-3" });
    const tooLate = await auth.startDeviceAuthorization({ deviceName: "Gateway", serial: "GW-4" });
    clock.advance(600_000 - 1);
    await auth.approveDeviceAuthorization({ userCode: inTime.userCode, approve: true, organisationId }, bearer(await root()));
    await auth.approveDeviceAuthorization({ userCode: tooLate.userCode, approve: true, organisationId }, bearer(await root()));
    const collected = await poll(inTime.deviceCode);
    expect(collected.status).toBe(DeviceAuthorizationStatus.APPROVED);
    expect(collected.tokens?.accessToken).toBeTruthy();
    clock.advance(1);
    const expired = await poll(tooLate.deviceCode);
    expect(expired.status).toBe(DeviceAuthorizationStatus.EXPIRED);
    expect(expired.tokens).toBeUndefined();
  });

  it("housekeeping forgets authorizations a day after they expired", async () => {
    const { deviceCode } = await auth.startDeviceAuthorization({ deviceName: "Gateway", serial: "GW-5" });
    clock.advance(600_000 + 24 * 3600 * 1000 - 1);
    await env.app.housekeeping();
    expect((await env.database.db.select().from(deviceAuthorizations).all()).map((row) => row.serial)).toEqual(["GW-5"]);
    expect((await poll(deviceCode)).status).toBe(DeviceAuthorizationStatus.EXPIRED);
    clock.advance(1);
    await env.app.housekeeping();
    expect(await env.database.db.select().from(deviceAuthorizations).all()).toHaveLength(0);
    const forgotten = await rpcError(poll(deviceCode));
    expect(forgotten.code).toBe(Code.Unauthenticated);
  });
});
