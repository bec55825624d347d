/**
 * LicenseService: devices and their seats (RegisterDevice, ListDevices,
 * GetDevice, DeleteDevice, AssignLicense, ReleaseLicense). Who may reach a
 * device is decided in domain/access/device-rules.ts; seats are taken and
 * freed by guarded statements in one batch (store/queries/devices.ts).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DeviceSchema, type Device } from "../../../gen/latchkey/license/v1/license_pb.js";
import { rolesAtLeast } from "../../domain/access/organisation-rules.js";
import { decideDeviceAccess, type DeviceAction } from "../../domain/access/device-rules.js";
import { atLeast } from "../../domain/access/roles.js";
import type { AuthenticatedActor } from "../../domain/actor.js";
import { DomainError, Reason, invalidField, notFound, permissionDenied, alreadyExists, preconditionFailed } from "../../domain/errors.js";
import { oneLine } from "../../domain/licensing/rules.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import {
  deleteDevice,
  deleteSeat,
  findDeviceById,
  insertDevice,
  insertSeatIfTaken,
  isDeviceSerialTaken,
  listDevices,
  releaseAllSeatsOf,
  releaseSeat,
  seatExists,
  seatsOf,
  takeSeat,
  type DeviceRow,
} from "../../store/queries/devices.js";
import { findLicense, findLicenseView, licenceViews } from "../../store/queries/licensing.js";
import { findMembershipRole, holdsRole } from "../../store/queries/memberships.js";
import { actorOf, clientAddressOf } from "../caller.js";
import { kOrganisationScope } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { newDeviceCredential } from "../devices/device-tokens.js";
import { pageByName } from "../organisation/paging.js";
import type { LicenseHandlers } from "./index.js";
import { toProtoLicense } from "./to-proto.js";
import { and, sql, type SQL } from "drizzle-orm";

export function toProtoDevice(row: DeviceRow, licenseIds: readonly string[]): Device {
  return create(DeviceSchema, {
    uuid: row.id,
    name: row.name,
    organisationId: row.organisationId,
    serial: row.serial,
    createdAt: timestampFromMs(row.createdAt),
    lastSeenAt: row.lastSeenAt === null ? undefined : timestampFromMs(row.lastSeenAt),
    licenseUuids: [...licenseIds],
  });
}

function serialOf(value: string): string {
  const serial = value.trim();
  if (serial.length === 0 || serial.length > 128 || /[\p{Cc}]/u.test(serial)) throw invalidField("serial", "must be 1 to 128 visible characters");
  return serial;
}

export function createDeviceHandlers(
  deps: ServiceDeps,
): LicenseHandlers<"registerDevice" | "listDevices" | "getDevice" | "deleteDevice" | "assignLicense" | "releaseLicense"> {
  const { database, clock, random } = deps;
  const db = database.db;

  /** The device if the caller may do `action` to it; anything else not_found or permission_denied. */
  async function reachDevice(actor: AuthenticatedActor, deviceId: string, action: DeviceAction): Promise<DeviceRow> {
    const device = await findDeviceById(db, deviceId);
    if (!device) throw notFound("device");
    const role = actor.superAdmin ? undefined : await findMembershipRole(db, device.organisationId, actor.userId);
    const outcome = decideDeviceAccess(
      { superAdmin: actor.superAdmin, keyOrganisationId: actor.kind === "api_key" ? (actor.organisationId ?? "") : undefined },
      device.organisationId,
      role,
      action,
    );
    if (outcome === "not_found") throw notFound("device");
    if (outcome === "forbidden") throw permissionDenied();
    return device;
  }

  /**
   * The caller's right to change the organisation's devices, repeated inside
   * the write batch so that a role removed since the read stops the change.
   */
  function stillMayWrite(actor: AuthenticatedActor, organisationId: string): SQL | undefined {
    return actor.superAdmin ? undefined : holdsRole(db, organisationId, actor.userId, rolesAtLeast("admin"));
  }

  return {
    async registerDevice(req, ctx) {
      const actor = actorOf(ctx);
      const name = oneLine(req.name, "name", 100);
      const serial = serialOf(req.serial);
      const now = clock.now();
      const id = random.uuid();
      const { credential, hash } = await newDeviceCredential(deps);
      const row: DeviceRow = { id, organisationId: req.organisationId, name, serial, credentialHash: hash, createdAt: now, lastSeenAt: null };
      try {
        await database.batch([
          insertDevice(db, row),
          insertAuditEvent(db, {
            id: random.uuid(),
            occurredAt: now,
            type: "device.registered",
            actorId: actor.userId,
            organisationId: req.organisationId,
            ipAddress: clientAddressOf(ctx),
            details: { device_id: id, serial },
          }),
        ]);
      } catch (error) {
        if (isDeviceSerialTaken(error)) {
          throw alreadyExists("serial", "is the serial of another device of the organisation");
        }
        throw error;
      }
      return { device: toProtoDevice(row, []), credential };
    },

    async listDevices(req, ctx) {
      actorOf(ctx);
      // The access interceptor resolved the organisation and checked membership.
      const { organisationId } = ctx.values.get(kOrganisationScope);
      if (!organisationId) throw invalidField("organisation_id", "is required when the caller has no active organisation");
      const { rows, nextPageToken } = await pageByName(
        req,
        { collection: "devices", scope: { organisationId }, key: deps.pageTokenKey },
        (order, limit, after) => listDevices(db, organisationId, order, limit, after),
        (row) => [row.name, row.id],
      );
      const seats = await seatsOf(
        db,
        rows.map((d) => d.id),
      );
      return { devices: rows.map((d) => toProtoDevice(d, seats.get(d.id) ?? [])), nextPageToken };
    },

    async getDevice(req, ctx) {
      const device = await reachDevice(actorOf(ctx), req.uuid, "read");
      const seats = await seatsOf(db, [device.id]);
      return { device: toProtoDevice(device, seats.get(device.id) ?? []) };
    },

    async deleteDevice(req, ctx) {
      const actor = actorOf(ctx);
      const device = await reachDevice(actor, req.uuid, "write");
      const now = clock.now();
      const guard = stillMayWrite(actor, device.organisationId);
      // Seats are counted down before the device (and, by cascade, its seats
      // and sessions) goes: the same batch, so the counters stay exact.
      const [, , deleted] = await database.batch([
        insertAuditEventIf(
          db,
          { id: random.uuid(), occurredAt: now, type: "device.deleted", actorId: actor.userId, organisationId: device.organisationId, ipAddress: clientAddressOf(ctx), details: { device_id: device.id, serial: device.serial } },
          and(sql`exists (select 1 from devices where id = ${device.id})`, guard)!,
        ),
        releaseAllSeatsOf(db, device.id, guard),
        deleteDevice(db, device.id, guard),
      ]);
      if (deleted.length === 0) throw notFound("device");
      return {};
    },

    async assignLicense(req, ctx) {
      const actor = actorOf(ctx);
      const device = await reachDevice(actor, req.deviceUuid, "write");
      const licence = await findLicense(db, req.licenseUuid);
      // A licence of another organisation is, for this device, not there.
      if (!licence || licence.organisationId !== device.organisationId) throw notFound("license");
      if (licence.revokedAt !== null) throw preconditionFailed("the licence is revoked");
      const now = clock.now();
      const [taken] = await database.batch([
        takeSeat(db, { deviceId: device.id, licenseId: licence.id, organisationId: device.organisationId, now }, stillMayWrite(actor, device.organisationId)),
        insertSeatIfTaken(db, { deviceId: device.id, licenseId: licence.id, now }),
        insertAuditEventIf(
          db,
          { id: random.uuid(), occurredAt: now, type: "license.seat_assigned", actorId: actor.userId, organisationId: device.organisationId, ipAddress: clientAddressOf(ctx), details: { device_id: device.id, license_id: licence.id } },
          sql`exists (select 1 from device_licenses where device_id = ${device.id} and license_id = ${licence.id} and assigned_at = ${now})`,
        ),
      ]);
      if (taken.length === 0 && !(await seatExists(db, device.id, licence.id))) {
        const latest = await findLicense(db, licence.id);
        if (!latest || latest.organisationId !== device.organisationId) throw notFound("license");
        if (latest.revokedAt !== null) throw preconditionFailed("the licence is revoked");
        if (!(await findDeviceById(db, device.id))) throw notFound("device");
        if (!actor.superAdmin && !atLeast(await findMembershipRole(db, device.organisationId, actor.userId), "admin")) throw permissionDenied();
        throw new DomainError("resource_exhausted", Reason.PRECONDITION_FAILED, `every seat of the licence is taken (${latest.maxDevices})`);
      }
      // The counted licence row, as the seat left it; a seat held already was not counted and is read.
      const [view] = taken.length > 0 ? await licenceViews(db, taken) : [await findLicenseView(db, licence.id)];
      if (!view) throw notFound("license");
      return { license: toProtoLicense(view) };
    },

    async releaseLicense(req, ctx) {
      const actor = actorOf(ctx);
      const device = await reachDevice(actor, req.deviceUuid, "write");
      const now = clock.now();
      const guard = stillMayWrite(actor, device.organisationId);
      const [, , deleted] = await database.batch([
        insertAuditEventIf(
          db,
          { id: random.uuid(), occurredAt: now, type: "license.seat_released", actorId: actor.userId, organisationId: device.organisationId, ipAddress: clientAddressOf(ctx), details: { device_id: device.id, license_id: req.licenseUuid } },
          and(sql`exists (select 1 from device_licenses where device_id = ${device.id} and license_id = ${req.licenseUuid})`, guard)!,
        ),
        releaseSeat(db, device.id, req.licenseUuid, now, guard),
        deleteSeat(db, device.id, req.licenseUuid, guard),
      ]);
      if (deleted.length === 0) throw notFound("seat");
      return {};
    },
  };
}
