/**
 * Devices, their seats and their sessions. Seats are taken and freed only by
 * guarded statements committed in one batch with the seat row, so the counter
 * `licenses.devices_assigned` always equals the number of seat rows and never
 * exceeds `max_devices`, however many assignments race.
 */
import { and, asc, eq, inArray, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { OrderTerm } from "../../domain/listing/order-by.js";
import type { CursorValue } from "../../domain/listing/page-token.js";
import { perDatabase, violatesUnique, type Db } from "../database.js";
import { afterCursor, toOrderBy, type ListingColumns } from "../listing-sql.js";
import { deviceLicenses, deviceRefreshTokens, deviceSessions, devices, licenses, memberships } from "../schema/index.js";

export type DeviceRow = typeof devices.$inferSelect;
export type DeviceSessionRow = typeof deviceSessions.$inferSelect;

export function insertDevice(db: Db, row: typeof devices.$inferInsert) {
  return db.insert(devices).values(row);
}

const deviceByIdQuery = perDatabase((db) =>
  db
    .select()
    .from(devices)
    .where(eq(devices.id, sql.placeholder("id")))
    .limit(1)
    .prepare(),
);

export async function findDeviceById(db: Db, id: string): Promise<DeviceRow | undefined> {
  return deviceByIdQuery(db).get({ id });
}

export async function findDeviceBySerial(db: Db, organisationId: string, serial: string): Promise<DeviceRow | undefined> {
  return db
    .select()
    .from(devices)
    .where(and(eq(devices.organisationId, organisationId), eq(devices.serial, serial)))
    .get();
}

export const DEVICE_COLUMNS: ListingColumns = { name: devices.name, id: devices.id };

/** Devices of an organisation in `order`, after the cursor. */
export async function listDevices(db: Db, organisationId: string, order: readonly OrderTerm[], limit: number, after: readonly CursorValue[] | undefined): Promise<DeviceRow[]> {
  return db
    .select()
    .from(devices)
    .where(and(eq(devices.organisationId, organisationId), after ? afterCursor(order, DEVICE_COLUMNS, after) : undefined))
    .orderBy(...toOrderBy(order, DEVICE_COLUMNS))
    .limit(limit)
    .all();
}

/**
 * Frees every seat the device holds: run before deleting the device, in the
 * same batch, so the counters drop by exactly the seat rows that go.
 */
export function releaseAllSeatsOf(db: Db, deviceId: string, guard?: SQL) {
  return db
    .update(licenses)
    .set({ devicesAssigned: sql`${licenses.devicesAssigned} - 1` })
    .where(and(sql`${licenses.id} in (select ${deviceLicenses.licenseId} from ${deviceLicenses} where ${deviceLicenses.deviceId} = ${deviceId})`, guard));
}

/** Deletes the device while `guard` (the caller's right, re-checked) holds; its seats and sessions go by cascade. */
export function deleteDevice(db: Db, deviceId: string, guard?: SQL) {
  return db
    .delete(devices)
    .where(and(eq(devices.id, deviceId), guard))
    .returning({ id: devices.id });
}

/** Condition: the device holds a seat of the licence right now. */
function seatHeld(deviceId: string, licenseId: string) {
  return sql`exists (select 1 from ${deviceLicenses} where ${deviceLicenses.deviceId} = ${deviceId} and ${deviceLicenses.licenseId} = ${licenseId})`;
}

/**
 * Takes a seat: counts it only while one is free, the licence is not revoked
 * and belongs to the device's organisation, and the device does not already
 * hold one. Returns the licence row when it counted.
 */
export function takeSeat(db: Db, args: { deviceId: string; licenseId: string; organisationId: string; now: number }, guard?: SQL) {
  return db
    .update(licenses)
    .set({ devicesAssigned: sql`${licenses.devicesAssigned} + 1`, updatedAt: args.now })
    .where(
      and(
        eq(licenses.id, args.licenseId),
        eq(licenses.organisationId, args.organisationId),
        isNull(licenses.revokedAt),
        lt(licenses.devicesAssigned, licenses.maxDevices),
        sql`not ${seatHeld(args.deviceId, args.licenseId)}`,
        sql`exists (select 1 from ${devices} where ${devices.id} = ${args.deviceId})`,
        guard,
      ),
    )
    .returning();
}

/**
 * Inserts the seat row only when the statement just before it, this batch's
 * takeSeat, counted it (`changes()` is that statement's row count): a lost
 * race, a full or revoked licence, or a held seat inserts nothing.
 */
export function insertSeatIfTaken(db: Db, args: { deviceId: string; licenseId: string; now: number }) {
  return db.insert(deviceLicenses).select(sql`select ${args.deviceId}, ${args.licenseId}, ${args.now} where changes() = 1`);
}

/** Frees one seat, counting it down only if the seat row exists (placed before the delete). */
export function releaseSeat(db: Db, deviceId: string, licenseId: string, now: number, guard?: SQL) {
  return db
    .update(licenses)
    .set({ devicesAssigned: sql`${licenses.devicesAssigned} - 1`, updatedAt: now })
    .where(and(eq(licenses.id, licenseId), seatHeld(deviceId, licenseId), guard))
    .returning({ id: licenses.id });
}

export function deleteSeat(db: Db, deviceId: string, licenseId: string, guard?: SQL) {
  return db
    .delete(deviceLicenses)
    .where(and(eq(deviceLicenses.deviceId, deviceId), eq(deviceLicenses.licenseId, licenseId), guard))
    .returning({ deviceId: deviceLicenses.deviceId });
}

export async function seatExists(db: Db, deviceId: string, licenseId: string): Promise<boolean> {
  const row = await db
    .select({ one: sql`1` })
    .from(deviceLicenses)
    .where(and(eq(deviceLicenses.deviceId, deviceId), eq(deviceLicenses.licenseId, licenseId)))
    .get();
  return row !== undefined;
}

// CheckLicense: the device's seats of licences that entitle now, one indexed
// join reading only what the decision needs (views are read on a miss).
const entitlingLicensesQuery = perDatabase((db) =>
  db
    .select({ id: licenses.id, updatedAt: licenses.updatedAt, features: licenses.features, expiresAt: licenses.expiresAt })
    .from(deviceLicenses)
    .innerJoin(licenses, eq(licenses.id, deviceLicenses.licenseId))
    .where(
      and(
        eq(deviceLicenses.deviceId, sql.placeholder("deviceId")),
        isNull(licenses.revokedAt),
        sql`${licenses.signedUserAt} is not null`,
        sql`${licenses.startsAt} <= ${sql.placeholder("now")}`,
        sql`(${licenses.expiresAt} is null or ${licenses.expiresAt} > ${sql.placeholder("now")})`,
        eq(licenses.organisationId, sql.placeholder("organisationId")),
      ),
    )
    .orderBy(asc(licenses.id))
    .prepare(),
);

/** A licence that entitles a device now: its id, last change, features (a JSON array) and end. */
export interface EntitlingLicense {
  id: string;
  updatedAt: number;
  features: string;
  expiresAt: number | null;
}

/** Licences of the device's seats that are signed, unrevoked, started and unexpired at `now`. */
export async function findEntitlingLicenses(db: Db, deviceId: string, organisationId: string, now: number): Promise<EntitlingLicense[]> {
  return entitlingLicensesQuery(db).all({ deviceId, organisationId, now });
}

export function insertDeviceSession(db: Db, row: typeof deviceSessions.$inferInsert) {
  return db.insert(deviceSessions).values(row);
}

export function insertDeviceRefreshToken(db: Db, row: typeof deviceRefreshTokens.$inferInsert) {
  return db.insert(deviceRefreshTokens).values(row);
}

/** What a device access token's validity depends on, in one indexed lookup. */
export interface DeviceSessionStatus {
  sessionId: string;
  deviceId: string;
  organisationId: string;
  revokedAt: number | null;
  expiresAt: number;
  lastSeenAt: number | null;
}

const deviceSessionStatusQuery = perDatabase((db) =>
  db
    .select({
      sessionId: deviceSessions.id,
      deviceId: devices.id,
      organisationId: devices.organisationId,
      revokedAt: deviceSessions.revokedAt,
      expiresAt: deviceSessions.expiresAt,
      lastSeenAt: devices.lastSeenAt,
    })
    .from(deviceSessions)
    .innerJoin(devices, eq(devices.id, deviceSessions.deviceId))
    .where(eq(deviceSessions.id, sql.placeholder("sessionId")))
    .limit(1)
    .prepare(),
);

export async function findDeviceSessionStatus(db: Db, sessionId: string): Promise<DeviceSessionStatus | undefined> {
  return deviceSessionStatusQuery(db).get({ sessionId });
}

export interface DeviceRefreshTokenContext {
  token: typeof deviceRefreshTokens.$inferSelect;
  session: DeviceSessionRow;
  organisationId: string;
}

const deviceRefreshTokenByHashQuery = perDatabase((db) =>
  db
    .select({ token: deviceRefreshTokens, session: deviceSessions, organisationId: devices.organisationId })
    .from(deviceRefreshTokens)
    .innerJoin(deviceSessions, eq(deviceSessions.id, deviceRefreshTokens.sessionId))
    .innerJoin(devices, eq(devices.id, deviceSessions.deviceId))
    .where(eq(deviceRefreshTokens.tokenHash, sql.placeholder("tokenHash")))
    .limit(1)
    .prepare(),
);

export async function findDeviceRefreshTokenByHash(db: Db, tokenHash: string): Promise<DeviceRefreshTokenContext | undefined> {
  return deviceRefreshTokenByHashQuery(db).get({ tokenHash });
}

/** Records that the device was seen, at most once per `throttleMs`. */
export function touchDevice(db: Db, deviceId: string, now: number, throttleMs: number) {
  return db
    .update(devices)
    .set({ lastSeenAt: now })
    .where(and(eq(devices.id, deviceId), or(isNull(devices.lastSeenAt), lt(devices.lastSeenAt, now - throttleMs))));
}

export function isDeviceSerialTaken(error: unknown): boolean {
  return violatesUnique(error, "devices", ["organisation_id", "serial"]);
}

/** The licences each device holds a seat of. */
export async function seatsOf(db: Db, deviceIds: readonly string[]): Promise<Map<string, string[]>> {
  const seats = new Map<string, string[]>();
  if (deviceIds.length === 0) return seats;
  const rows = await db
    .select({ deviceId: deviceLicenses.deviceId, licenseId: deviceLicenses.licenseId })
    .from(deviceLicenses)
    .where(inArray(deviceLicenses.deviceId, [...deviceIds]))
    .orderBy(asc(deviceLicenses.licenseId))
    .all();
  for (const row of rows) seats.set(row.deviceId, [...(seats.get(row.deviceId) ?? []), row.licenseId]);
  return seats;
}

/**
 * The device with this serial in an organisation `userId` belongs to; the
 * one in `preferredOrganisationId` first when several organisations have it.
 */
export async function findMemberDeviceBySerial(db: Db, userId: string, serial: string, preferredOrganisationId: string | null): Promise<DeviceRow | undefined> {
  const rows = await db
    .select({ device: devices })
    .from(devices)
    .innerJoin(memberships, and(eq(memberships.organisationId, devices.organisationId), eq(memberships.userId, userId)))
    .where(eq(devices.serial, serial))
    .orderBy(sql`${devices.organisationId} = ${preferredOrganisationId ?? ""} desc`, asc(devices.organisationId))
    .limit(1)
    .all();
  return rows[0]?.device;
}
