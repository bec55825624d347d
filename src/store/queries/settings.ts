import { and, asc, eq, exists, sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { settings } from "../schema/index.js";

export type SettingRow = typeof settings.$inferSelect;

/** A setting's address. */
export interface SettingKey {
  userId: string;
  category: string;
  group: string;
  name: string;
}

function at(key: SettingKey): SQL {
  return and(eq(settings.userId, key.userId), eq(settings.category, key.category), eq(settings.group, key.group), eq(settings.name, key.name))!;
}

/** A user's settings (optionally of one category), ordered by category, group and name: the primary key's order. */
export async function listSettings(db: Db, userId: string, category: string | undefined): Promise<SettingRow[]> {
  return db
    .select()
    .from(settings)
    .where(category ? and(eq(settings.userId, userId), eq(settings.category, category)) : eq(settings.userId, userId))
    .orderBy(asc(settings.category), asc(settings.group), asc(settings.name))
    .all();
}

export async function findSetting(db: Db, key: SettingKey): Promise<SettingRow | undefined> {
  return db.select().from(settings).where(at(key)).get();
}

/**
 * Creates or replaces a setting. With `onlyIfWritable`, an existing
 * read-only setting is left as it is and nothing is returned: the check is
 * part of the write, so a setting made read-only a moment earlier stays so.
 */
export function upsertSetting(db: Db, row: SettingRow, onlyIfWritable: boolean) {
  const { userId: _userId, category: _category, group: _group, name: _name, ...change } = row;
  return db
    .insert(settings)
    .values(row)
    .onConflictDoUpdate({
      target: [settings.userId, settings.category, settings.group, settings.name],
      set: change,
      ...(onlyIfWritable ? { setWhere: sql`${settings.readOnly} = 0` } : {}),
    })
    .returning();
}

/** Deletes a setting; with `onlyIfWritable`, only when it is not read-only. */
export function deleteSetting(db: Db, key: SettingKey, onlyIfWritable: boolean) {
  return db
    .delete(settings)
    .where(onlyIfWritable ? and(at(key), eq(settings.readOnly, false)) : at(key))
    .returning({ userId: settings.userId });
}

/** Condition: a setting exists at `key` (and, when `readOnly` is given, has that flag) right now. */
export function settingExists(db: Db, key: SettingKey, readOnly?: boolean): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(settings)
      .where(readOnly === undefined ? at(key) : and(at(key), eq(settings.readOnly, readOnly))),
  );
}
