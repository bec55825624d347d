import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  InvitationSchema,
  InvitationState,
  MemberRole,
  MemberSchema,
  OrganisationSchema,
  type Invitation,
  type Member,
  type Organisation,
} from "../../../gen/latchkey/organisation/v1/organisation_pb.js";
import type { OrganisationRole } from "../../domain/access/roles.js";
import { invalidField } from "../../domain/errors.js";
import type { InvitationRow } from "../../store/queries/invitations.js";
import type { MemberRow } from "../../store/queries/memberships.js";
import type { OrganisationView } from "../../store/queries/organisations.js";

const TO_PROTO: Record<OrganisationRole, MemberRole> = { member: MemberRole.MEMBER, admin: MemberRole.ADMIN, owner: MemberRole.OWNER };

export function toProtoRole(role: OrganisationRole): MemberRole {
  return TO_PROTO[role];
}

/**
 * The role a request asks for. UNSPECIFIED means `unspecified` when the
 * request has a default, and is refused like any unknown value otherwise.
 */
export function requestedRole(role: MemberRole, unspecified?: OrganisationRole): OrganisationRole {
  if (role === MemberRole.UNSPECIFIED && unspecified) return unspecified;
  const found = (Object.keys(TO_PROTO) as OrganisationRole[]).find((name) => TO_PROTO[name] === role);
  if (!found) throw invalidField("role", "must be MEMBER_ROLE_MEMBER, MEMBER_ROLE_ADMIN or MEMBER_ROLE_OWNER");
  return found;
}

export function toProtoOrganisation(view: OrganisationView): Organisation {
  const { organisation } = view;
  return create(OrganisationSchema, {
    id: organisation.id,
    name: organisation.name,
    securityProfile: view.securityProfile,
    createdAt: timestampFromMs(organisation.createdAt),
    updatedAt: timestampFromMs(organisation.updatedAt),
  });
}

export function toProtoMember(row: MemberRow): Member {
  return create(MemberSchema, {
    userId: row.userId,
    organisationId: row.organisationId,
    email: row.email,
    name: row.name,
    role: toProtoRole(row.role),
    joinedAt: timestampFromMs(row.joinedAt),
  });
}

export function toProtoInvitation(row: InvitationRow, now: number): Invitation {
  const state = row.acceptedAt !== null ? InvitationState.ACCEPTED : row.expiresAt <= now ? InvitationState.EXPIRED : InvitationState.PENDING;
  return create(InvitationSchema, {
    id: row.id,
    organisationId: row.organisationId,
    email: row.email,
    role: toProtoRole(row.role),
    state,
    invitedBy: row.invitedBy,
    createdAt: timestampFromMs(row.createdAt),
    expiresAt: timestampFromMs(row.expiresAt),
  });
}
