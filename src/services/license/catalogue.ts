/** Catalogue items: CreateCatalogueItem and ListCatalogueItems. */
import { featureNames, MAX_NAME_LENGTH, nameKey, oneLine } from "../../domain/licensing/rules.js";
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import { insertCatalogueItem, isCatalogueItemNameTaken, listCatalogueItems } from "../../store/queries/licensing.js";
import { clientAddressOf } from "../caller.js";
import type { ServiceDeps } from "../deps.js";
import { organisationEvent, scopeOf } from "../organisation/caller.js";
import { pageByName } from "../organisation/paging.js";
import { nameTaken } from "./agreements.js";
import type { LicenseHandlers } from "./index.js";
import { toProtoCatalogueItem } from "./to-proto.js";

export function createCatalogueHandlers(deps: ServiceDeps): LicenseHandlers<"createCatalogueItem" | "listCatalogueItems"> {
  const { database, clock, random } = deps;
  const db = database.db;

  return {
    async createCatalogueItem(req, ctx) {
      const { actor, organisationId } = scopeOf(ctx);
      const name = oneLine(req.name, "name", MAX_NAME_LENGTH);
      const provides = featureNames(req.provides, "provides", 1);
      const now = clock.now();
      const id = random.uuid();
      const row = { id, providerOrganisationId: organisationId, name, nameKey: nameKey(name), provides: JSON.stringify(provides), createdAt: now };
      try {
        await database.batch([
          insertCatalogueItem(db, row),
          insertAuditEvent(db, organisationEvent(random, { actor, organisationId, clientAddress: clientAddressOf(ctx), now }, "catalogue_item.created", { catalogue_item_id: id, name })),
        ]);
      } catch (error) {
        if (isCatalogueItemNameTaken(error)) throw nameTaken("name", "catalogue item");
        throw error;
      }
      return { item: toProtoCatalogueItem(row) };
    },

    async listCatalogueItems(req) {
      const providerId = req.providerOrganisationId || undefined;
      const { rows, nextPageToken } = await pageByName(
        req,
        { collection: "catalogue_items", scope: { provider: providerId }, key: deps.pageTokenKey },
        (order, limit, after) => listCatalogueItems(db, providerId, order, limit, after),
        (row) => [row.name, row.id],
      );
      return { items: rows.map(toProtoCatalogueItem), nextPageToken };
    },
  };
}
