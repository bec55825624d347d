/**
 * Per-user settings. The user and those who manage them (see
 * user-access.ts) read and write them; read-only settings are created,
 * changed and deleted only by admins of one of the user's organisations and
 * super-admins, and the user sees them but cannot touch them. The read-only
 * check is repeated inside each write, so a setting made read-only a moment
 * earlier is never overwritten by the user.
 */
import { not } from "drizzle-orm";
import { decideUserAccess } from "../../domain/access/user-access.js";
import { DomainError, Reason, notFound } from "../../domain/errors.js";
import { checkSetting, settingKeyViolations } from "../../domain/users/settings.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import { deleteSetting, findSetting, listSettings, settingExists, upsertSetting, type SettingKey } from "../../store/queries/settings.js";
import { actorOf } from "../caller.js";
import { userEvent } from "./audit.js";
import type { ServiceDeps } from "../deps.js";
import type { UserHandlers } from "./index.js";
import { authorizedTarget, type LoadedTarget } from "./target.js";
import { settingTypeName, toProtoSetting } from "./to-proto.js";

function readOnlyRefusal(): DomainError {
  return new DomainError("permission_denied", Reason.PERMISSION_DENIED, "the setting is read-only; only an administrator can change it");
}

/** Whether the caller may create, change and delete read-only settings of the target. */
function administers(target: LoadedTarget): boolean {
  return decideUserAccess(target.caller, target.access, "manage_read_only_settings") === "allowed";
}

/** What the audit trail keeps of a setting: its address, never its value. */
function settingDetails(key: SettingKey, readOnly: boolean) {
  return { category: key.category, group: key.group, name: key.name, read_only: readOnly };
}

export function createSettingHandlers(deps: ServiceDeps): UserHandlers<"listSettings" | "setSetting" | "deleteSetting"> {
  const { database, clock, random } = deps;
  const db = database.db;

  return {
    async listSettings(req, ctx) {
      const target = await authorizedTarget(db, actorOf(ctx), req.userId, "read");
      const rows = await listSettings(db, target.row.id, req.category || undefined);
      return { settings: rows.map(toProtoSetting) };
    },

    async setSetting(req, ctx) {
      const actor = actorOf(ctx);
      const setting = req.setting!;
      const type = settingTypeName(setting.type);
      checkSetting({ ...setting, type }, "setting.");
      const target = await authorizedTarget(db, actor, req.userId, "update");
      const admin = administers(target);
      if (setting.readOnly && !admin) {
        throw new DomainError("permission_denied", Reason.PERMISSION_DENIED, "setting.read_only: only an administrator can make a setting read-only", {
          violations: [{ field: "setting.read_only", description: "only an administrator can make a setting read-only" }],
        });
      }
      const key: SettingKey = { userId: target.row.id, category: setting.category, group: setting.group, name: setting.name };
      if (!admin && (await findSetting(db, key))?.readOnly) throw readOnlyRefusal();

      const now = clock.now();
      const row = { ...key, value: setting.value, type, description: setting.description, readOnly: setting.readOnly, updatedAt: now };
      const event = userEvent(random, ctx, { type: "setting.set", userId: key.userId, now, details: settingDetails(key, setting.readOnly) });
      // An administrator's write always happens; a user's only while the
      // setting is not read-only, and its audit row under the same condition.
      const [, stored] = await database.batch([
        admin ? insertAuditEvent(db, event) : insertAuditEventIf(db, event, not(settingExists(db, key, true))),
        upsertSetting(db, row, !admin),
      ]);
      if (!stored[0]) throw readOnlyRefusal();
      return { setting: toProtoSetting(stored[0]) };
    },

    async deleteSetting(req, ctx) {
      const actor = actorOf(ctx);
      const violations = settingKeyViolations(req, "");
      if (violations.length > 0) throw new DomainError("invalid_argument", Reason.INVALID_FIELD, `${violations[0]!.field}: ${violations[0]!.description}`, { violations });
      const target = await authorizedTarget(db, actor, req.userId, "update");
      const admin = administers(target);
      const key: SettingKey = { userId: target.row.id, category: req.category, group: req.group, name: req.name };
      const existing = await findSetting(db, key);
      if (!existing) throw notFound("setting");
      if (existing.readOnly && !admin) throw readOnlyRefusal();

      const now = clock.now();
      const [, deleted] = await database.batch([
        insertAuditEventIf(
          db,
          userEvent(random, ctx, { type: "setting.deleted", userId: key.userId, now, details: settingDetails(key, existing.readOnly) }),
          settingExists(db, key, admin ? undefined : false),
        ),
        deleteSetting(db, key, !admin),
      ]);
      if (deleted.length === 0) {
        const current = await findSetting(db, key);
        throw current ? readOnlyRefusal() : notFound("setting");
      }
      return {};
    },
  };
}
