/**
 * Device tokens: opening a device session (DeviceSignIn, the device
 * authorization grant) and registering a device found or created by serial.
 * The tokens themselves, and their rotation, live in the token service.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { newOpaqueToken, sha256Hex } from "../../domain/tokens/secrets.js";
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import { findDeviceBySerial, insertDevice } from "../../store/queries/devices.js";
import type { ServiceDeps } from "../deps.js";
import type { ClientInfo, DeviceSubject, IssuedPair } from "../tokens/token-service.js";

export const DEVICE_CREDENTIAL_PREFIX = "lkdc";

type Deps = Pick<ServiceDeps, "database" | "tokens" | "random" | "clock">;

/**
 * The statements that open a session for the device (and its audit row), to
 * commit in one batch with the caller's own, and the pair to hand out once
 * that batch has committed.
 */
export async function prepareDeviceTokens(deps: Deps, subject: DeviceSubject, client: ClientInfo, how: string): Promise<{ statements: BatchItem<"sqlite">[]; pair: IssuedPair }> {
  const opened = await deps.tokens.openDeviceSession(subject, client);
  return {
    statements: [
      ...opened.statements,
      insertAuditEvent(deps.database.db, {
        id: deps.random.uuid(),
        occurredAt: deps.clock.now(),
        type: "device.signed_in",
        organisationId: subject.organisationId,
        ipAddress: client.clientAddress,
        details: { device_id: subject.deviceId, session_id: opened.sessionId, method: how },
      }),
    ],
    pair: opened.pair,
  };
}

/** Opens a session for an approved or authenticated device and answers its token pair. */
export async function issueDeviceTokens(deps: Deps, subject: DeviceSubject, client: ClientInfo, how = "device_authorization"): Promise<IssuedPair> {
  const { statements, pair } = await prepareDeviceTokens(deps, subject, client, how);
  const [first, ...rest] = statements;
  await deps.database.batch([first!, ...rest]);
  return pair;
}

/** A new device credential (256 random bits) and the hash stored for it. */
export async function newDeviceCredential(deps: Pick<ServiceDeps, "random">): Promise<{ credential: string; hash: string }> {
  const credential = newOpaqueToken(deps.random, DEVICE_CREDENTIAL_PREFIX);
  return { credential, hash: await sha256Hex(credential) };
}

/**
 * The device with this serial in the organisation, or the statements that
 * register it (with its audit row) for the caller's batch. A device
 * registered this way has a credential nobody was shown: it signs in through
 * the tokens issued with it.
 */
export async function registerOrFindDevice(
  deps: Pick<ServiceDeps, "database" | "random" | "clock">,
  args: { organisationId: string; name: string; serial: string; actorId: string | null },
  client: ClientInfo,
): Promise<{ deviceId: string; created: boolean; statements: BatchItem<"sqlite">[] }> {
  const db = deps.database.db;
  const existing = await findDeviceBySerial(db, args.organisationId, args.serial);
  if (existing) return { deviceId: existing.id, created: false, statements: [] };
  const deviceId = deps.random.uuid();
  const now = deps.clock.now();
  const { hash } = await newDeviceCredential(deps);
  return {
    deviceId,
    created: true,
    statements: [
      insertDevice(db, { id: deviceId, organisationId: args.organisationId, name: args.name, serial: args.serial, credentialHash: hash, createdAt: now }),
      insertAuditEvent(db, {
        id: deps.random.uuid(),
        occurredAt: now,
        type: "device.registered",
        actorId: args.actorId,
        organisationId: args.organisationId,
        ipAddress: client.clientAddress,
        details: { device_id: deviceId, serial: args.serial },
      }),
    ],
  };
}
