/**
 * LicenseService.DeviceSignIn: a device proves itself with its id and
 * credential, or an edge plugin with a user's live refresh token (checked,
 * not used up) and the device's serial. Either way the answer is a new device
 * session's token pair; every failure is the one `unauthenticated` error.
 */
import { invalidCredentials } from "../../domain/errors.js";
import { constantTimeEqual, sha256Hex } from "../../domain/tokens/secrets.js";
import { findDeviceById, findMemberDeviceBySerial, touchDevice, type DeviceRow } from "../../store/queries/devices.js";
import { findRefreshTokenByHash } from "../../store/queries/sessions.js";
import { clientOf } from "../caller.js";
import type { ServiceDeps } from "../deps.js";
import { DEVICE_CREDENTIAL_PREFIX, prepareDeviceTokens } from "../devices/device-tokens.js";
import { REFRESH_TOKEN_PREFIX } from "../tokens/token-service.js";
import { toProtoTokenPair } from "../auth/to-proto.js";
import type { LicenseHandlers } from "./index.js";

/** last_seen_at is written at most this often per device. */
const LAST_SEEN_THROTTLE_MS = 60_000;
/** Compared against when the device is unknown, so both cases take the same time. */
const NO_HASH = "0".repeat(64);

export function createDeviceSignInHandlers(deps: ServiceDeps): LicenseHandlers<"deviceSignIn"> {
  const { database, clock } = deps;
  const db = database.db;

  async function byCredential(deviceId: string, credential: string): Promise<DeviceRow> {
    const [device, presented] = await Promise.all([findDeviceById(db, deviceId), sha256Hex(credential)]);
    const matches = constantTimeEqual(device?.credentialHash ?? NO_HASH, presented);
    if (!device || !matches || !credential.startsWith(`${DEVICE_CREDENTIAL_PREFIX}_`)) throw invalidCredentials();
    return device;
  }

  async function byPlugin(refreshToken: string, serial: string): Promise<DeviceRow> {
    if (!refreshToken.startsWith(`${REFRESH_TOKEN_PREFIX}_`)) throw invalidCredentials();
    const context = await findRefreshTokenByHash(db, await sha256Hex(refreshToken));
    const now = clock.now();
    if (!context) throw invalidCredentials();
    const { token, session } = context;
    const live = token.consumedAt === null && token.expiresAt > now && session.revokedAt === null && session.expiresAt > now && context.userState === "active";
    if (!live) throw invalidCredentials();
    const device = await findMemberDeviceBySerial(db, session.userId, serial, session.organisationId);
    if (!device) throw invalidCredentials();
    return device;
  }

  return {
    async deviceSignIn(req, ctx) {
      const method = req.method;
      let device: DeviceRow;
      switch (method.case) {
        case "device":
          device = await byCredential(method.value.deviceId, method.value.credential);
          break;
        case "plugin":
          device = await byPlugin(method.value.refreshToken, method.value.systemId);
          break;
        default:
          throw invalidCredentials();
      }
      const client = clientOf(ctx);
      const { statements, pair } = await prepareDeviceTokens(deps, { deviceId: device.id, organisationId: device.organisationId }, client, method.case);
      await database.batch([touchDevice(db, device.id, clock.now(), LAST_SEEN_THROTTLE_MS), ...statements]);
      return { tokens: toProtoTokenPair(pair), deviceId: device.id };
    },
  };
}
