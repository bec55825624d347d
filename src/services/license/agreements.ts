/** Agreements: CreateAgreement, ListAgreements and PublishAgreement. */
import { DomainError, alreadyExists, notFound, preconditionFailed } from "../../domain/errors.js";
import { agreementKind, agreementSummary, featureNames, MAX_NAME_LENGTH, nameKey, oneLine } from "../../domain/licensing/rules.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import { agreementIsDraft, findAgreement, insertAgreement, isAgreementNameTaken, listAgreements, publishAgreement } from "../../store/queries/licensing.js";
import { actorOf, clientAddressOf } from "../caller.js";
import type { ServiceDeps } from "../deps.js";
import { organisationEvent, scopeOf } from "../organisation/caller.js";
import { pageByName } from "../organisation/paging.js";
import { authorizePublish, licenseCallerOf } from "./access.js";
import type { LicenseHandlers } from "./index.js";
import { toProtoAgreement } from "./to-proto.js";

export function nameTaken(field: string, what: string): DomainError {
  return alreadyExists(field, `is already used by another ${what} of the provider`);
}

export function createAgreementHandlers(deps: ServiceDeps): LicenseHandlers<"createAgreement" | "listAgreements" | "publishAgreement"> {
  const { database, clock, random } = deps;
  const db = database.db;

  return {
    async createAgreement(req, ctx) {
      const { actor, organisationId } = scopeOf(ctx);
      const kind = agreementKind(req.kind);
      const name = oneLine(req.name, "name", MAX_NAME_LENGTH);
      const provides = featureNames(req.provides, "provides", 1);
      const summary = agreementSummary(req.summary);
      const now = clock.now();
      const id = random.uuid();
      const row = { id, providerOrganisationId: organisationId, kind, name, nameKey: nameKey(name), provides: JSON.stringify(provides), summary, publishedAt: null, createdAt: now };
      try {
        await database.batch([
          insertAgreement(db, row),
          insertAuditEvent(db, organisationEvent(random, { actor, organisationId, clientAddress: clientAddressOf(ctx), now }, "agreement.created", { agreement_id: id, name, kind })),
        ]);
      } catch (error) {
        if (isAgreementNameTaken(error)) throw nameTaken("name", "agreement");
        throw error;
      }
      return { agreement: toProtoAgreement(row) };
    },

    async listAgreements(req, ctx) {
      const actor = actorOf(ctx);
      const caller = licenseCallerOf(actor);
      const drafts = caller.superAdmin ? undefined : { memberUserId: actor.userId, keyOrganisationId: caller.keyOrganisationId };
      const filter = { providerId: req.providerOrganisationId || undefined, kind: req.kind || undefined, drafts };
      const { rows, nextPageToken } = await pageByName(
        req,
        {
          collection: "agreements",
          scope: { provider: filter.providerId, kind: filter.kind, viewer: caller.superAdmin ? "*" : (caller.keyOrganisationId ?? actor.userId) },
          key: deps.pageTokenKey,
        },
        (order, limit, after) => listAgreements(db, filter, order, limit, after),
        (row) => [row.name, row.id],
      );
      return { agreements: rows.map(toProtoAgreement), nextPageToken };
    },

    async publishAgreement(req, ctx) {
      const actor = actorOf(ctx);
      const agreement = await findAgreement(db, req.uuid);
      if (!agreement) throw notFound("agreement");
      await authorizePublish(db, actor, agreement);
      if (agreement.publishedAt !== null) throw preconditionFailed("the agreement is published already");
      const now = clock.now();
      const change = { actor, organisationId: agreement.providerOrganisationId, clientAddress: clientAddressOf(ctx), now };
      const [, published] = await database.batch([
        insertAuditEventIf(db, organisationEvent(random, change, "agreement.published", { agreement_id: agreement.id, name: agreement.name }), agreementIsDraft(db, agreement.id)),
        publishAgreement(db, agreement.id, now),
      ]);
      if (published.length === 0) throw preconditionFailed("the agreement is published already");
      return { agreement: toProtoAgreement({ ...agreement, publishedAt: now }) };
    },
  };
}
