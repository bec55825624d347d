/**
 * The device authorization grant (RFC 8628) on AuthService:
 *
 * - StartDeviceAuthorization (anyone, rate-limited per client address)
 *   stores the hashes of a fresh device code and user code and answers both.
 * - PollDeviceAuthorization (the device, with its device code) answers where
 *   the authorization stands; polling faster than the interval answers
 *   SLOW_DOWN and lengthens it; an approval hands out device tokens once.
 * - ApproveDeviceAuthorization (an admin or owner of the organisation the
 *   device joins, or a super-admin) approves or denies by the user code.
 *   Wrong, expired and used codes answer the same `not_found` and count
 *   against the caller, so user codes cannot be guessed.
 *
 * The rules are in src/domain/devices/device-authorization.ts; each change
 * of state is a guarded statement (src/store/queries/device-authorizations.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { DeviceAuthorizationStatus, type AuthService } from "../../../gen/latchkey/auth/v1/auth_service_pb.js";
import { mayAct, rolesAtLeast } from "../../domain/access/organisation-rules.js";
import type { OrganisationRole } from "../../domain/access/roles.js";
import {
  DEVICE_AUTHORIZATION_TTL_MS,
  DEVICE_CODE_PREFIX,
  POLL_INTERVAL_SECONDS,
  SLOW_DOWN_STEP_SECONDS,
  START_RULE,
  WRONG_USER_CODE_RULE,
  decidePoll,
  deviceAuthorizationThrottleKeys,
  expiresInSeconds,
  formatUserCode,
  generateDeviceCode,
  generateUserCode,
  hashDeviceCode,
  hashUserCode,
  mayDecide,
  normaliseUserCode,
  verificationUris,
} from "../../domain/devices/device-authorization.js";
import { invalidCredentials, invalidField, notFound, permissionDenied } from "../../domain/errors.js";
import { insertAuditEventIf } from "../../store/queries/audit-events.js";
import {
  approveDeviceAuthorization,
  collectDeviceAuthorization,
  denyDeviceAuthorization,
  findDeviceAuthorizationByDeviceCodeHash,
  findDeviceAuthorizationByUserCodeHash,
  insertDeviceAuthorization,
  pendingExists,
  recordPollIfDue,
  slowDown,
  uncollectDeviceAuthorization,
  type DeviceAuthorizationRow,
} from "../../store/queries/device-authorizations.js";
import { findMembershipRole, holdsRole } from "../../store/queries/memberships.js";
import { actorOf, clientOf } from "../caller.js";
import type { ServiceDeps } from "../deps.js";
import { issueDeviceTokens, registerOrFindDevice } from "../devices/device-tokens.js";
import { actingMember } from "../organisation/caller.js";
import { createThrottles } from "../throttle.js";
import { toProtoTokenPair } from "./to-proto.js";

/** Draws of a fresh user code before giving up; a clash with a stored one is already rare. */
const USER_CODE_DRAWS = 4;

export function createDeviceAuthorizationHandlers(
  deps: ServiceDeps,
): Pick<ServiceImpl<typeof AuthService>, "startDeviceAuthorization" | "pollDeviceAuthorization" | "approveDeviceAuthorization"> {
  const { database, clock, random, config } = deps;
  const db = database.db;
  const throttles = createThrottles({ database, clock });

  /** The same answer for every wrong, expired, used or malformed code, counted against the caller. */
  async function wrongUserCode(key: string): Promise<never> {
    await throttles.recordFailure(key, WRONG_USER_CODE_RULE);
    throw notFound("device authorization");
  }

  return {
    async startDeviceAuthorization(req, ctx) {
      const client = clientOf(ctx);
      await throttles.consume(deviceAuthorizationThrottleKeys.start(client.clientAddress), START_RULE);
      const deviceCode = generateDeviceCode(random);
      const deviceCodeHash = await hashDeviceCode(deviceCode);
      for (let draw = 0; draw < USER_CODE_DRAWS; draw++) {
        const userCode = generateUserCode(random);
        const now = clock.now();
        const expiresAt = now + DEVICE_AUTHORIZATION_TTL_MS;
        const inserted = await insertDeviceAuthorization(db, {
          id: random.uuid(),
          deviceCodeHash,
          userCodeHash: await hashUserCode(userCode),
          deviceName: req.deviceName,
          serial: req.serial,
          status: "pending",
          intervalSeconds: POLL_INTERVAL_SECONDS,
          createdAt: now,
          expiresAt,
        });
        if (inserted.length === 0) continue;
        return {
          deviceCode,
          userCode: formatUserCode(userCode),
          ...verificationUris(config.issuer, userCode),
          interval: POLL_INTERVAL_SECONDS,
          expiresIn: expiresInSeconds(expiresAt, now),
        };
      }
      throw new Error("no free user code after several draws");
    },

    async pollDeviceAuthorization(req, ctx) {
      if (!req.deviceCode.startsWith(`${DEVICE_CODE_PREFIX}_`)) throw invalidCredentials();
      const found = await findDeviceAuthorizationByDeviceCodeHash(db, await hashDeviceCode(req.deviceCode));
      if (!found) throw invalidCredentials();
      const now = clock.now();
      const expired = { status: DeviceAuthorizationStatus.EXPIRED, interval: found.intervalSeconds };
      if (decidePoll({ ...found, lastPolledAt: null }, now) === "expired") return expired;

      // The interval is decided by the statement that records the poll, so
      // of two polls at once only one passes.
      const [polled] = await recordPollIfDue(db, found.id, now);
      if (!polled) {
        const [slowed] = await slowDown(db, found.id, now, SLOW_DOWN_STEP_SECONDS);
        return { status: DeviceAuthorizationStatus.SLOW_DOWN, interval: slowed?.intervalSeconds ?? found.intervalSeconds + SLOW_DOWN_STEP_SECONDS };
      }
      const interval = polled.intervalSeconds;
      switch (decidePoll({ ...polled, lastPolledAt: null }, now)) {
        case "pending":
          return { status: DeviceAuthorizationStatus.PENDING, interval };
        case "denied":
          return { status: DeviceAuthorizationStatus.DENIED, interval };
        case "approved":
          return collect(polled, now, clientOf(ctx));
        default:
          return { status: DeviceAuthorizationStatus.EXPIRED, interval };
      }
    },

    async approveDeviceAuthorization(req, ctx) {
      const actor = actorOf(ctx);
      const client = clientOf(ctx);
      const organisationId = req.organisationId || actor.organisationId;
      if (!organisationId) throw invalidField("organisation_id", "is required when no organisation is active");
      // A key acts only in its own organisation.
      if (actor.kind === "api_key" && organisationId !== actor.organisationId && !actor.superAdmin) throw permissionDenied();
      const role: OrganisationRole | undefined = organisationId === actor.organisationId ? actor.organisationRole : await findMembershipRole(db, organisationId, actor.userId);
      if (!mayAct(actingMember(actor, role), "admin")) throw permissionDenied();

      const throttleKey = deviceAuthorizationThrottleKeys.wrongUserCode(actor.userId);
      await throttles.assertOpen([throttleKey]);
      const userCode = normaliseUserCode(req.userCode);
      if (!userCode) return wrongUserCode(throttleKey);
      const found = await findDeviceAuthorizationByUserCodeHash(db, await hashUserCode(userCode));
      const now = clock.now();
      if (!found || !mayDecide(found, now)) return wrongUserCode(throttleKey);

      // The caller's role is checked again inside the batch, so an approval
      // decided on a role just taken away is never committed.
      const roleGuard = actor.superAdmin ? undefined : holdsRole(db, organisationId, actor.userId, rolesAtLeast("admin"));
      const event = (type: string, details: Record<string, string>) =>
        insertAuditEventIf(
          db,
          { id: random.uuid(), occurredAt: now, type, actorId: actor.userId, userId: actor.userId, organisationId, ipAddress: client.clientAddress, details: { authorization_id: found.id, serial: found.serial, ...details } },
          pendingExists(db, found.id, now, roleGuard),
        );

      if (!req.approve) {
        const [, [denied]] = await database.batch([event("device_authorization.denied", {}), denyDeviceAuthorization(db, { id: found.id, organisationId, deniedBy: actor.userId, now, guard: roleGuard })]);
        if (!denied) throw notFound("device authorization");
        return { deviceName: found.deviceName, serial: found.serial, deviceId: "" };
      }

      const device = await registerOrFindDevice(deps, { organisationId, name: found.deviceName, serial: found.serial, actorId: actor.userId }, client);
      const results = await database.batch([
        event("device_authorization.approved", { device_id: device.deviceId }),
        ...device.statements,
        approveDeviceAuthorization(db, { id: found.id, organisationId, deviceId: device.deviceId, approvedBy: actor.userId, now, guard: roleGuard }),
      ]);
      const approved = results[results.length - 1] as DeviceAuthorizationRow[];
      if (approved.length === 0) throw notFound("device authorization");
      return { deviceName: found.deviceName, serial: found.serial, deviceId: device.deviceId };
    },
  };

  /**
   * Hands out the tokens of an approval: only the poll whose statement marks
   * it collected gets them. If issuing fails after that, the mark is undone
   * so the device can poll again.
   */
  async function collect(row: DeviceAuthorizationRow, now: number, client: ReturnType<typeof clientOf>) {
    const interval = row.intervalSeconds;
    const [collected] = await collectDeviceAuthorization(db, row.id, now);
    if (!collected?.deviceId || !collected.organisationId) return { status: DeviceAuthorizationStatus.EXPIRED, interval };
    try {
      const pair = await issueDeviceTokens(deps, { deviceId: collected.deviceId, organisationId: collected.organisationId }, client);
      return { status: DeviceAuthorizationStatus.APPROVED, tokens: toProtoTokenPair(pair), deviceId: collected.deviceId, interval };
    } catch (error) {
      await uncollectDeviceAuthorization(db, row.id);
      throw error;
    }
  }
}
