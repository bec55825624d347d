import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UserSchema, UserState, type User } from "../../../gen/latchkey/user/v1/user_pb.js";
import type { UserRow } from "../../store/queries/users.js";
import { roleNames } from "../../domain/actor.js";

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
