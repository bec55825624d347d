/**
 * Who is calling. The access interceptor resolves it once per request;
 * services and the access rules read it, never the raw credentials.
 */
import type { OrganisationRole, Permission } from "./access/roles.js";
import type { VerifiedAccessToken } from "./tokens/access-token.js";

interface Principal {
  userId: string;
  superAdmin: boolean;
  /** The organisation the caller acts in (token's `org` / the key's organisation). */
  organisationId: string | undefined;
  /** The caller's role in that organisation, as of this request. */
  organisationRole: OrganisationRole | undefined;
  /** Role names as of this request: "super_admin" and the organisation role. */
  roles: string[];
}

export type Actor =
  | { kind: "anonymous" }
  | (Principal & {
      kind: "user";
      sessionId: string;
      /** The verified token the user called with. */
      token: VerifiedAccessToken;
    })
  | (Principal & {
      kind: "api_key";
      apiKeyId: string;
      /** A key can do at most what these permissions and its owner's roles allow. */
      permissions: ReadonlySet<Permission>;
      /** When the key stops working (ms since the epoch); undefined for no end. */
      expiresAt: number | undefined;
    })
  | DeviceActor;

/**
 * A device calling with its own access token (`typ` "device+jwt"). It acts
 * for no user: only RPCs declared for devices (CALLER_KIND_DEVICE) admit it.
 */
export interface DeviceActor {
  kind: "device";
  deviceId: string;
  /** The device's organisation (the token's `org`). */
  organisationId: string;
  sessionId: string;
  token: VerifiedAccessToken;
}

/** A user, or an API key acting for its user: every caller but anonymous ones and devices. */
export type AuthenticatedActor = Exclude<Actor, { kind: "anonymous" } | { kind: "device" }>;

export const anonymous: Actor = Object.freeze({ kind: "anonymous" });

export const SUPER_ADMIN_ROLE = "super_admin";

export function roleNames(superAdmin: boolean, organisationRole: OrganisationRole | undefined): string[] {
  const roles: string[] = [];
  if (superAdmin) roles.push(SUPER_ADMIN_ROLE);
  if (organisationRole) roles.push(organisationRole);
  return roles;
}

/** Whether the actor may use `permission`: keys need it listed, users have what their role allows. */
export function holds(actor: AuthenticatedActor, permission: Permission | ""): boolean {
  if (permission === "") return true;
  if (actor.kind === "api_key") return actor.permissions.has(permission);
  return true;
}
