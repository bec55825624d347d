/**
 * Device authorizations (RFC 8628). Every change of state is one guarded
 * statement whose WHERE clause repeats the decision it carries out, so two
 * concurrent polls cannot both pass the interval, an approval cannot land
 * on an expired or already decided code, and the tokens of an approval are
 * collected exactly once.
 */
import { and, eq, exists, gt, isNull, lte, or, sql, type SQL } from "drizzle-orm";
import { perDatabase, type Db } from "../database.js";
import { deviceAuthorizations } from "../schema/index.js";

export type DeviceAuthorizationRow = typeof deviceAuthorizations.$inferSelect;

/** Inserts the authorization; answers nothing when a code hash is already taken (the caller draws again). */
export function insertDeviceAuthorization(db: Db, row: typeof deviceAuthorizations.$inferInsert) {
  return db.insert(deviceAuthorizations).values(row).onConflictDoNothing().returning({ id: deviceAuthorizations.id });
}

const byDeviceCodeHashQuery = perDatabase((db) =>
  db
    .select()
    .from(deviceAuthorizations)
    .where(eq(deviceAuthorizations.deviceCodeHash, sql.placeholder("hash")))
    .prepare(),
);

export async function findDeviceAuthorizationByDeviceCodeHash(db: Db, hash: string): Promise<DeviceAuthorizationRow | undefined> {
  return byDeviceCodeHashQuery(db).get({ hash });
}

export async function findDeviceAuthorizationByUserCodeHash(db: Db, hash: string): Promise<DeviceAuthorizationRow | undefined> {
  return db.select().from(deviceAuthorizations).where(eq(deviceAuthorizations.userCodeHash, hash)).get();
}

/**
 * Records a poll at `now` only if the interval since the last one has
 * passed; answers the row as it is after the poll, or nothing when the poll
 * came too soon (or lost the race to a concurrent one).
 */
export function recordPollIfDue(db: Db, id: string, now: number) {
  return db
    .update(deviceAuthorizations)
    .set({ lastPolledAt: now })
    .where(
      and(
        eq(deviceAuthorizations.id, id),
        or(isNull(deviceAuthorizations.lastPolledAt), lte(sql`${deviceAuthorizations.lastPolledAt} + ${deviceAuthorizations.intervalSeconds} * 1000`, now)),
      ),
    )
    .returning();
}

/** A poll that came too soon: the interval grows by `stepSeconds`, counted from this poll. */
export function slowDown(db: Db, id: string, now: number, stepSeconds: number) {
  return db
    .update(deviceAuthorizations)
    .set({ intervalSeconds: sql`${deviceAuthorizations.intervalSeconds} + ${stepSeconds}`, lastPolledAt: now })
    .where(eq(deviceAuthorizations.id, id))
    .returning({ intervalSeconds: deviceAuthorizations.intervalSeconds });
}

/** Condition: the authorization is still pending and unexpired at `now`. */
export function stillPending(id: string, now: number): SQL {
  return and(eq(deviceAuthorizations.id, id), eq(deviceAuthorizations.status, "pending"), gt(deviceAuthorizations.expiresAt, now))!;
}

/** Condition, for INSERT … SELECT guards: the authorization is pending and unexpired at `now` (and `extra` holds). */
export function pendingExists(db: Db, id: string, now: number, extra?: SQL): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(deviceAuthorizations)
      .where(and(stillPending(id, now), extra)),
  );
}

/** Approves a pending, unexpired authorization (and `guard`); answers the row when it did. */
export function approveDeviceAuthorization(db: Db, args: { id: string; organisationId: string; deviceId: string; approvedBy: string; now: number; guard?: SQL | undefined }) {
  return db
    .update(deviceAuthorizations)
    .set({ status: "approved", organisationId: args.organisationId, deviceId: args.deviceId, approvedBy: args.approvedBy })
    .where(and(stillPending(args.id, args.now), args.guard))
    .returning();
}

/** Denies a pending, unexpired authorization (and `guard`); answers the row when it did. */
export function denyDeviceAuthorization(db: Db, args: { id: string; organisationId: string; deniedBy: string; now: number; guard?: SQL | undefined }) {
  return db
    .update(deviceAuthorizations)
    .set({ status: "denied", organisationId: args.organisationId, approvedBy: args.deniedBy })
    .where(and(stillPending(args.id, args.now), args.guard))
    .returning();
}

/**
 * Marks an approved, unexpired authorization collected: the one poll whose
 * statement changes the row hands out the tokens; every other gets nothing.
 */
export function collectDeviceAuthorization(db: Db, id: string, now: number) {
  return db
    .update(deviceAuthorizations)
    .set({ status: "collected" })
    .where(and(eq(deviceAuthorizations.id, id), eq(deviceAuthorizations.status, "approved"), gt(deviceAuthorizations.expiresAt, now)))
    .returning();
}

/** Undoes a collection whose tokens could not be issued, so the device may poll again. */
export function uncollectDeviceAuthorization(db: Db, id: string) {
  return db
    .update(deviceAuthorizations)
    .set({ status: "approved" })
    .where(and(eq(deviceAuthorizations.id, id), eq(deviceAuthorizations.status, "collected")));
}

/** Forgets authorizations expired before `before`. */
export function deleteExpiredDeviceAuthorizations(db: Db, before: number) {
  return db.delete(deviceAuthorizations).where(lte(deviceAuthorizations.expiresAt, before)).returning({ id: deviceAuthorizations.id });
}
