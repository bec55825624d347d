import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UserSchema, UserState, type User } from "../../../gen/latchkey/user/v1/user_pb.js";
import { AvatarSchema, type Avatar } from "../../../gen/latchkey/user/v1/avatar_pb.js";
import { SettingSchema, SettingType, type Setting } from "../../../gen/latchkey/user/v1/setting_pb.js";
import type { OrganisationRole } from "../../domain/access/roles.js";
import { roleNames } from "../../domain/actor.js";
import { avatarEtag } from "../../domain/users/avatar-image.js";
import type { SettingTypeName } from "../../domain/users/settings.js";
import type { AvatarMeta } from "../../store/queries/avatars.js";
import type { SettingRow } from "../../store/queries/settings.js";
import type { UserRow } from "../../store/queries/users.js";

const STATES = { active: UserState.ACTIVE, suspended: UserState.SUSPENDED, blocked: UserState.BLOCKED } as const;

export function toProtoUser(row: UserRow, overrides: { organisationId?: string | undefined; roles?: string[] } = {}): User {
  return create(UserSchema, {
    id: row.id,
    email: row.email,
    name: row.name,
    phoneNumber: row.phoneNumber ?? "",
    locale: row.locale,
    newsletter: row.newsletter,
    title: row.title,
    department: row.department,
    organisationId: overrides.organisationId ?? row.activeOrganisationId ?? "",
    roles: overrides.roles ?? roleNames(row.superAdmin, undefined),
    emailVerified: row.emailVerifiedAt !== null,
    phoneVerified: row.phoneVerifiedAt !== null,
    state: STATES[row.state],
    createdAt: timestampFromMs(row.createdAt),
    updatedAt: timestampFromMs(row.updatedAt),
  });
}

/**
 * A user as another caller sees them: the active organisation and the role
 * there only when the caller may see that organisation (see
 * seesActiveOrganisation), and none once the user has left it.
 */
export function toProtoUserAsSeen(row: UserRow, activeRole: OrganisationRole | null, showOrganisation: boolean): User {
  const role = showOrganisation && row.activeOrganisationId !== null ? (activeRole ?? undefined) : undefined;
  return toProtoUser(row, { organisationId: role ? (row.activeOrganisationId ?? "") : "", roles: roleNames(row.superAdmin, role) });
}

const SETTING_TYPES: Record<SettingTypeName, SettingType> = { string: SettingType.STRING, bool: SettingType.BOOL, int: SettingType.INT, json: SettingType.JSON };

/** The stored name of a setting type; an unspecified type is free text. */
export function settingTypeName(type: SettingType): SettingTypeName {
  return (Object.keys(SETTING_TYPES) as SettingTypeName[]).find((name) => SETTING_TYPES[name] === type) ?? "string";
}

export function toProtoSetting(row: SettingRow): Setting {
  return create(SettingSchema, {
    category: row.category,
    group: row.group,
    name: row.name,
    value: row.value,
    type: SETTING_TYPES[row.type],
    description: row.description,
    readOnly: row.readOnly,
    updatedAt: timestampFromMs(row.updatedAt),
  });
}

export function toProtoAvatar(row: AvatarMeta): Avatar {
  return create(AvatarSchema, {
    userId: row.userId,
    contentType: row.contentType,
    sizeBytes: BigInt(row.sizeBytes),
    etag: avatarEtag(row.etag),
    url: `/avatars/${row.userId}`,
    updatedAt: timestampFromMs(row.updatedAt),
  });
}
