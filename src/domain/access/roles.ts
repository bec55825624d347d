/**
 * Roles and permissions: the one place that says what each role may do.
 * Roles are ordered; a permission held by a role is held by every role above.
 */

export const ORGANISATION_ROLES = ["member", "admin", "owner"] as const;
export type OrganisationRole = (typeof ORGANISATION_ROLES)[number];

const RANK: Record<OrganisationRole, number> = { member: 1, admin: 2, owner: 3 };

export function isOrganisationRole(value: string): value is OrganisationRole {
  return (ORGANISATION_ROLES as readonly string[]).includes(value);
}

export function rankOf(role: OrganisationRole | undefined): number {
  return role ? RANK[role] : 0;
}

/** Whether `role` is at least `minimum`. */
export function atLeast(role: OrganisationRole | undefined, minimum: OrganisationRole): boolean {
  return rankOf(role) >= RANK[minimum];
}

/**
 * Every permission an API key can hold. Access tokens of users carry no list:
 * they hold whatever their roles allow.
 */
export const PERMISSIONS = [
  "users.read",
  "users.write",
  "organisations.read",
  "organisations.write",
  "members.read",
  "members.write",
  "api_keys.read",
  "api_keys.write",
  "tokens.validate",
  "sessions.read",
  "sessions.write",
  "security_profiles.read",
  "security_profiles.write",
  "audit.read",
  "system.read",
  "system.write",
  "licenses.read",
  "licenses.write",
  "devices.read",
  "devices.write",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

/** The lowest organisation role that may hold each permission; undefined = super-admins only. */
const MINIMUM_ROLE: Record<Permission, OrganisationRole | undefined> = {
  "users.read": "member",
  "users.write": "member",
  "organisations.read": "member",
  "organisations.write": "member",
  "members.read": "member",
  "members.write": "admin",
  "api_keys.read": "member",
  "api_keys.write": "member",
  // Introspection sees tokens of every organisation: internal services only.
  "tokens.validate": undefined,
  // A user's own sessions; an organisation admin's key reaches its members'.
  "sessions.read": "member",
  "sessions.write": "member",
  // The system's settings, delivery and audit log: super-admins and their keys only.
  "security_profiles.read": undefined,
  "security_profiles.write": undefined,
  "audit.read": undefined,
  "system.read": undefined,
  "system.write": undefined,
  // Licences and devices: members see their organisation's, admins manage them.
  "licenses.read": "member",
  "licenses.write": "admin",
  "devices.read": "member",
  "devices.write": "admin",
};

/**
 * Whether a user with this role (and super-admin flag) may grant `permission`
 * to an API key. Member-level permissions cover the user's own data, so a
 * user outside any organisation may hold them too; the key's organisation
 * still bounds what it reaches.
 */
export function mayHoldPermission(permission: Permission, role: OrganisationRole | undefined, superAdmin: boolean): boolean {
  if (superAdmin) return true;
  const minimum = MINIMUM_ROLE[permission];
  if (minimum === undefined) return false;
  return minimum === "member" || atLeast(role, minimum);
}
