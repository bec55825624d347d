/**
 * Licences: CreateLicense, GetLicense, ListLicenses, SignLicense and
 * RevokeLicense.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { invalidField, notFound, preconditionFailed } from "../../domain/errors.js";
import { keyGrams, licenseOrder, mayMatchKey } from "../../domain/licensing/listing.js";
import { licenceFeatures, licenceTerms, newLicenseKey } from "../../domain/licensing/rules.js";
import { decodePageToken, encodePageToken, listQueryHash, pageSize } from "../../domain/listing/page-token.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import {
  anyAgreementNameLike,
  findAgreement,
  findCatalogueItems,
  findLicense,
  insertLicense,
  insertLicenseCatalogueItems,
  isLicenseKeyTaken,
  licenceViews,
  licenseCursor,
  licenseIsSignable,
  licenseIsUnrevoked,
  listAndCountLicenses,
  namesIdentify,
  releaseAllSeats,
  revokeLicense,
  signLicense,
  type LicenseListing,
  type LicenseRow,
} from "../../store/queries/licensing.js";
import { findOrganisationById } from "../../store/queries/organisations.js";
import { findUserById } from "../../store/queries/users.js";
import { actorOf, clientAddressOf } from "../caller.js";
import type { ServiceDeps } from "../deps.js";
import { organisationEvent, scopeOf } from "../organisation/caller.js";
import { authorizeLicense } from "./access.js";
import type { LicenseHandlers } from "./index.js";
import { toProtoLicense } from "./to-proto.js";

/** Attempts at a fresh licence key; with 73 random bits a second one is already rare beyond belief. */
const KEY_ATTEMPTS = 3;

export function createLicenseHandlers(deps: ServiceDeps): LicenseHandlers<"createLicense" | "getLicense" | "listLicenses" | "signLicense" | "revokeLicense"> {
  const { database, clock, random } = deps;
  const db = database.db;

  /** The licence as answered, from a row just read or returned by the write. */
  async function shown(row: LicenseRow) {
    const [view] = await licenceViews(db, [row]);
    return toProtoLicense(view!);
  }

  async function found(id: string): Promise<LicenseRow> {
    const row = await findLicense(db, id);
    if (!row) throw notFound("license");
    return row;
  }

  return {
    async createLicense(req, ctx) {
      const { actor, organisationId: providerId } = scopeOf(ctx);
      const now = clock.now();
      const terms = licenceTerms(
        {
          amountPerMonth: req.amountPerMonth,
          discountBp: req.discountBp,
          startsAt: req.startsAt ? timestampMs(req.startsAt) : undefined,
          expiresAt: req.expiresAt ? timestampMs(req.expiresAt) : undefined,
          paidUntilAt: req.paidUntilAt ? timestampMs(req.paidUntilAt) : undefined,
          maxDevices: req.maxDevices,
        },
        now,
      );
      const itemIds = [...new Set(req.catalogueUuids)];
      const [holder, agreement, items] = await Promise.all([findOrganisationById(db, req.organisationId), findAgreement(db, req.agreementUuid), findCatalogueItems(db, itemIds)]);
      if (!holder) throw notFound("organisation");
      if (holder.organisation.id === providerId) throw invalidField("organisation_id", "must be another organisation than the provider");
      if (!agreement || (agreement.providerOrganisationId !== providerId && agreement.publishedAt === null)) throw notFound("agreement");
      if (agreement.providerOrganisationId !== providerId) throw invalidField("agreement_uuid", "is an agreement of another provider");
      if (agreement.publishedAt === null) throw preconditionFailed("the agreement is a draft; publish it before licensing it");
      itemIds.forEach((itemId) => {
        const item = items.find((candidate) => candidate.id === itemId);
        if (!item || item.providerOrganisationId !== providerId) {
          throw invalidField(`catalogue_uuids[${req.catalogueUuids.indexOf(itemId)}]`, "is not a catalogue item of the provider");
        }
      });
      const features = licenceFeatures(
        JSON.parse(agreement.provides) as string[],
        itemIds.map((itemId) => JSON.parse(items.find((item) => item.id === itemId)!.provides) as string[]),
      );

      const id = random.uuid();
      const change = { actor, organisationId: providerId, clientAddress: clientAddressOf(ctx), now };
      let inserted: LicenseRow | undefined;
      for (let attempt = 1; !inserted; attempt++) {
        const licenseKey = newLicenseKey((length) => random.bytes(length));
        const row = {
          id,
          licenseKey,
          agreementId: agreement.id,
          agreementName: agreement.name,
          agreementKind: agreement.kind,
          features: JSON.stringify(features),
          providerOrganisationId: providerId,
          organisationId: holder.organisation.id,
          ...terms,
          devicesAssigned: 0,
          createdAt: now,
          updatedAt: now,
        };
        const event = organisationEvent(random, change, "license.created", { license_id: id, license_key: licenseKey, holder_organisation_id: holder.organisation.id, agreement_id: agreement.id });
        try {
          [[inserted]] =
            itemIds.length > 0
              ? await database.batch([insertLicense(db, row), insertLicenseCatalogueItems(db, id, itemIds), insertAuditEvent(db, event)])
              : await database.batch([insertLicense(db, row), insertAuditEvent(db, event)]);
        } catch (error) {
          if (!isLicenseKeyTaken(error) || attempt >= KEY_ATTEMPTS) throw error;
        }
      }
      return { license: await shown(inserted) };
    },

    async getLicense(req, ctx) {
      const licence = await found(req.uuid);
      await authorizeLicense(db, actorOf(ctx), licence, "read");
      return { license: await shown(licence) };
    },

    async listLicenses(req, ctx) {
      const { organisationId } = scopeOf(ctx);
      if (req.offset < 0) throw invalidField("offset", "must not be negative");
      if (req.limit < 0) throw invalidField("limit", "must not be negative");
      const limit = req.limit > 0 ? pageSize(req.limit) : pageSize(req.pageSize);
      const order = licenseOrder(req.orderBy);
      const q = req.q.trim() || undefined;
      const kind = req.kind || undefined;
      const agreementId = req.agreement || undefined;
      const [qIn, byName] = await Promise.all([
        q === undefined || !mayMatchKey(q) ? ("name" as const) : anyAgreementNameLike(db, q).then((named) => (named ? ("both" as const) : ("key" as const))),
        namesIdentify(db, { kind, agreementId }),
      ]);
      const listing: LicenseListing = { organisationId, q, qIn, keyGrams: q === undefined || qIn === "name" ? [] : keyGrams(q), deviceId: req.device || undefined, kind, agreementId, byName };
      const queryHash = await listQueryHash({
        collection: "licenses",
        filter: undefined,
        orderBy: order,
        scope: { organisationId, q: listing.q, device: listing.deviceId, kind: listing.kind, agreement: listing.agreementId },
      });
      const after = req.pageToken ? (await decodePageToken(req.pageToken, deps.pageTokenKey, queryHash)).after : undefined;
      if (after && after.length !== order.length) throw invalidField("page_token", "is not a valid page token; start again without page_token");

      // One row more than the page tells whether another page follows.
      const { rows, total } = await listAndCountLicenses(db, listing, order, { limit: limit + 1, offset: req.offset, after });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const nextPageToken = rows.length > limit && last ? await encodePageToken({ queryHash, after: licenseCursor(last, order) }, deps.pageTokenKey) : "";
      return { licenses: (await licenceViews(db, page)).map(toProtoLicense), nextPageToken, totalSize: total };
    },

    async signLicense(req, ctx) {
      const actor = actorOf(ctx);
      const licence = await found(req.uuid);
      await authorizeLicense(db, actor, licence, "sign");
      if (licence.signedUserAt !== null) throw preconditionFailed("the licence is signed already");
      if (licence.revokedAt !== null) throw preconditionFailed("the licence is revoked");
      const signer = await findUserById(db, actor.userId);
      if (!signer) throw notFound("user");
      const now = clock.now();
      const change = { actor, organisationId: licence.organisationId, clientAddress: clientAddressOf(ctx), now };
      const [, [signed]] = await database.batch([
        insertAuditEventIf(db, organisationEvent(random, change, "license.signed", { license_id: licence.id, license_key: licence.licenseKey }), licenseIsSignable(db, licence.id)),
        signLicense(db, licence.id, { userId: signer.id, name: signer.name }, now),
      ]);
      if (!signed) throw preconditionFailed("the licence is signed or revoked already");
      return { license: await shown(signed) };
    },

    async revokeLicense(req, ctx) {
      const actor = actorOf(ctx);
      const licence = await found(req.uuid);
      await authorizeLicense(db, actor, licence, "revoke");
      if (licence.revokedAt !== null) throw preconditionFailed("the licence is revoked already");
      const now = clock.now();
      const change = { actor, organisationId: licence.providerOrganisationId, clientAddress: clientAddressOf(ctx), now };
      const [, [revoked]] = await database.batch([
        insertAuditEventIf(
          db,
          organisationEvent(random, change, "license.revoked", { license_id: licence.id, license_key: licence.licenseKey, holder_organisation_id: licence.organisationId }),
          licenseIsUnrevoked(db, licence.id),
        ),
        revokeLicense(db, licence.id, now),
        releaseAllSeats(db, licence.id),
      ]);
      if (!revoked) throw preconditionFailed("the licence is revoked already");
      return { license: await shown(revoked) };
    },
  };
}
