/**
 * The caller of a LicenseService RPC that names an agreement or licence by
 * id: their roles in the organisations concerned, loaded here, and the
 * decision of src/domain/access/license-rules.ts turned into the answer.
 */
import { decideAgreementPublish, decideLicenseAccess, type LicenseAction, type LicenseCaller } from "../../domain/access/license-rules.js";
import type { OrganisationRole } from "../../domain/access/roles.js";
import type { AuthenticatedActor } from "../../domain/actor.js";
import { notFound, permissionDenied } from "../../domain/errors.js";
import type { Db } from "../../store/database.js";
import { findMembershipRole } from "../../store/queries/memberships.js";
import type { AgreementRow, LicenseRow } from "../../store/queries/licensing.js";

/** Super-admin power needs a signed-in super-admin; a key acts in its own organisation only. */
export function licenseCallerOf(actor: AuthenticatedActor): LicenseCaller {
  return { superAdmin: actor.kind === "user" && actor.superAdmin, keyOrganisationId: actor.kind === "api_key" ? actor.organisationId : undefined };
}

/** The caller's role in an organisation, as of this request. */
export async function roleIn(db: Db, actor: AuthenticatedActor, organisationId: string): Promise<OrganisationRole | undefined> {
  if (organisationId === actor.organisationId) return actor.organisationRole;
  if (actor.kind === "api_key") return undefined;
  return findMembershipRole(db, organisationId, actor.userId);
}

/** Throws `not_found` or `permission_denied` unless the caller may do `action` to the licence. */
export async function authorizeLicense(db: Db, actor: AuthenticatedActor, licence: LicenseRow, action: LicenseAction): Promise<void> {
  const caller = licenseCallerOf(actor);
  const [holderRole, providerRole] = caller.superAdmin
    ? [undefined, undefined]
    : await Promise.all([roleIn(db, actor, licence.organisationId), roleIn(db, actor, licence.providerOrganisationId)]);
  const outcome = decideLicenseAccess(caller, { holderId: licence.organisationId, providerId: licence.providerOrganisationId, holderRole, providerRole }, action);
  if (outcome === "not_found") throw notFound("license");
  if (outcome === "forbidden") throw permissionDenied();
}

export async function authorizePublish(db: Db, actor: AuthenticatedActor, agreement: AgreementRow): Promise<void> {
  const caller = licenseCallerOf(actor);
  const role = caller.superAdmin ? undefined : await roleIn(db, actor, agreement.providerOrganisationId);
  const outcome = decideAgreementPublish(caller, agreement.providerOrganisationId, role);
  if (outcome === "not_found") throw notFound("agreement");
  if (outcome === "forbidden") throw permissionDenied();
}
