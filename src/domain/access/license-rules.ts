/**
 * Who may see and change which agreement and licence, for the RPCs that
 * name them by id alone (PublishAgreement, GetLicense, SignLicense,
 * RevokeLicense). Pure decisions: the service loads the caller's role in the
 * organisations concerned and asks here.
 *
 * The rules:
 * - members of the holding or the providing organisation read a licence;
 * - any member of the holder signs (accepts the agreement of) a licence;
 * - admins and owners of the provider revoke its licences and publish its
 *   agreements;
 * - super-admins (signed in, not through a key) may do all of it;
 * - an API key reaches only its own organisation, with its owner's role there;
 * - anyone else learns nothing: `not_found`, whether or not it exists.
 *   A member who may see a licence but not do the action gets
 *   `permission_denied`.
 */
import { atLeast, type OrganisationRole } from "./roles.js";

export type LicenseAction = "read" | "sign" | "revoke";
export type LicenseAccessOutcome = "allowed" | "not_found" | "forbidden";

/** The caller, as these rules see them. */
export interface LicenseCaller {
  /** Super-admin power for this call: a signed-in super-admin. */
  superAdmin: boolean;
  /** The organisation an API key is bound to; undefined for a signed-in user. */
  keyOrganisationId: string | undefined;
}

/** The caller's roles in the organisations a licence names. */
export interface LicenseParties {
  holderId: string;
  providerId: string;
  /** The caller's role in the holding organisation, if a member. */
  holderRole: OrganisationRole | undefined;
  /** The caller's role in the providing organisation, if a member. */
  providerRole: OrganisationRole | undefined;
}

/** The roles that count for this caller: a key only has those of its own organisation. */
function effectiveRole(caller: LicenseCaller, organisationId: string, role: OrganisationRole | undefined): OrganisationRole | undefined {
  if (caller.keyOrganisationId !== undefined && caller.keyOrganisationId !== organisationId) return undefined;
  return role;
}

export function decideLicenseAccess(caller: LicenseCaller, licence: LicenseParties, action: LicenseAction): LicenseAccessOutcome {
  if (caller.superAdmin) return "allowed";
  const holder = effectiveRole(caller, licence.holderId, licence.holderRole);
  const provider = effectiveRole(caller, licence.providerId, licence.providerRole);
  if (!holder && !provider) return "not_found";
  switch (action) {
    case "read":
      return "allowed";
    case "sign":
      return holder ? "allowed" : "forbidden";
    case "revoke":
      return atLeast(provider, "admin") ? "allowed" : "forbidden";
  }
}

/**
 * Publishing an agreement: admins of its provider. Drafts are visible only
 * to the provider's members, so anyone else gets `not_found`.
 */
export function decideAgreementPublish(caller: LicenseCaller, providerId: string, providerRole: OrganisationRole | undefined): LicenseAccessOutcome {
  if (caller.superAdmin) return "allowed";
  const role = effectiveRole(caller, providerId, providerRole);
  if (!role) return "not_found";
  return atLeast(role, "admin") ? "allowed" : "forbidden";
}
