/** Stored agreements, catalogue items and licences as the API shows them. */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AgreementSchema, CatalogueItemSchema, LicenseSchema, type Agreement, type CatalogueItem, type License } from "../../../gen/latchkey/license/v1/license_pb.js";
import { shownExpiry } from "../../domain/licensing/rules.js";
import type { AgreementRow, CatalogueItemRow, LicenseView } from "../../store/queries/licensing.js";

function features(json: string): string[] {
  return JSON.parse(json) as string[];
}

export function toProtoAgreement(row: AgreementRow): Agreement {
  return create(AgreementSchema, {
    uuid: row.id,
    kind: row.kind,
    name: row.name,
    provides: features(row.provides),
    summary: row.summary,
    publishedAt: row.publishedAt === null ? undefined : timestampFromMs(row.publishedAt),
    providerOrganisationId: row.providerOrganisationId,
    createdAt: timestampFromMs(row.createdAt),
  });
}

export function toProtoCatalogueItem(row: CatalogueItemRow): CatalogueItem {
  return create(CatalogueItemSchema, {
    uuid: row.id,
    name: row.name,
    provides: features(row.provides),
    providerOrganisationId: row.providerOrganisationId,
    createdAt: timestampFromMs(row.createdAt),
  });
}

export function toProtoLicense(view: LicenseView): License {
  const { license } = view;
  const expiresAt = shownExpiry(license.expiresAt);
  return create(LicenseSchema, {
    uuid: license.id,
    licenseKey: license.licenseKey,
    agreement: toProtoAgreement(view.agreement),
    catalogueUuids: view.catalogueIds,
    providerOrganisation: { uuid: license.providerOrganisationId, name: view.providerName },
    organisation: { uuid: license.organisationId, name: view.holderName },
    amountPerMonth: BigInt(license.amountPerMonth),
    discountBp: license.discountBp,
    startsAt: timestampFromMs(license.startsAt),
    expiresAt: expiresAt === undefined ? undefined : timestampFromMs(expiresAt),
    paidUntilAt: license.paidUntilAt === null ? undefined : timestampFromMs(license.paidUntilAt),
    signedUser: license.signedUserAt === null ? undefined : { uuid: license.signedUserId ?? "", name: license.signedUserName ?? "" },
    signedUserAt: license.signedUserAt === null ? undefined : timestampFromMs(license.signedUserAt),
    maxDevices: license.maxDevices,
    devicesAssigned: license.devicesAssigned,
    revokedAt: license.revokedAt === null ? undefined : timestampFromMs(license.revokedAt),
    createdAt: timestampFromMs(license.createdAt),
    features: features(license.features),
  });
}
