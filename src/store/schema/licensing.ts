import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { organisations } from "./organisations.js";
import { users } from "./users.js";

/** Terms a provider organisation licenses features under; frozen once published. */
export const agreements = sqliteTable(
  "agreements",
  {
    id: text().primaryKey(),
    providerOrganisationId: text()
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    kind: text().notNull(),
    name: text().notNull(),
    /** Lower-cased NFC name: names are unique per provider, case-insensitively. */
    nameKey: text().notNull(),
    /** JSON array of feature names. */
    provides: text().notNull(),
    summary: text().notNull(),
    publishedAt: integer(),
    createdAt: integer().notNull(),
  },
  (t) => [uniqueIndex("agreements_provider_name_idx").on(t.providerOrganisationId, t.nameKey), index("agreements_name_idx").on(t.name, t.id)],
);

/** Things a provider sells that add features to a licence. */
export const catalogueItems = sqliteTable(
  "catalogue_items",
  {
    id: text().primaryKey(),
    providerOrganisationId: text()
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    name: text().notNull(),
    nameKey: text().notNull(),
    /** JSON array of feature names. */
    provides: text().notNull(),
    createdAt: integer().notNull(),
  },
  (t) => [uniqueIndex("catalogue_items_provider_name_idx").on(t.providerOrganisationId, t.nameKey)],
);

/**
 * A provider's grant of an agreement to a customer organisation. The
 * agreement's name and kind and the granted features are copied in at
 * creation (the agreement is frozen by then), so that listing, ordering and
 * licence checks read one row. `devicesAssigned` counts seats: a seat is
 * taken only by a guarded `devices_assigned < max_devices` update.
 */
export const licenses = sqliteTable(
  "licenses",
  {
    id: text().primaryKey(),
    licenseKey: text().notNull().unique(),
    agreementId: text()
      .notNull()
      .references(() => agreements.id),
    agreementName: text().notNull(),
    agreementKind: text().notNull(),
    /** JSON array: the agreement's and catalogue items' features. */
    features: text().notNull(),
    providerOrganisationId: text()
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    organisationId: text()
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    amountPerMonth: integer().notNull(),
    discountBp: integer().notNull(),
    startsAt: integer().notNull(),
    expiresAt: integer(),
    paidUntilAt: integer(),
    signedUserId: text().references(() => users.id, { onDelete: "set null" }),
    signedUserName: text(),
    signedUserAt: integer(),
    maxDevices: integer().notNull(),
    devicesAssigned: integer().notNull().default(0),
    revokedAt: integer(),
    createdAt: integer().notNull(),
    updatedAt: integer().notNull(),
  },
  // ListLicenses reads one organisation's licences (held or provided) in one
  // of four orders, always ending with `id`. The agreement name rides along
  // in each, so that a filter on it (kind, agreement, a name-only `q`) is
  // tested on the index entries of the walk, not on their rows. The key
  // indexes hold every order field, so that the licences found by key
  // (through license_key_grams) are sorted from index entries alone. Licences
  // without an end (stored as a far date) all lead an order by expiry, so
  // that a walk filtered on names may pass thousands of them first: the
  // (organisation, agreement_name, expires_at, id) indexes read each
  // matching name's licences in expiry order instead.
  (t) => [
    index("licenses_org_key_idx").on(t.organisationId, t.licenseKey, t.id, t.agreementName, t.startsAt, t.expiresAt),
    index("licenses_org_agreement_name_idx").on(t.organisationId, t.agreementName, t.id),
    index("licenses_org_starts_idx").on(t.organisationId, t.startsAt, t.id, t.agreementName),
    index("licenses_org_expires_idx").on(t.organisationId, t.expiresAt, t.id, t.agreementName),
    index("licenses_org_agreement_expires_idx").on(t.organisationId, t.agreementName, t.expiresAt, t.id),
    index("licenses_provider_key_idx").on(t.providerOrganisationId, t.licenseKey, t.id, t.agreementName, t.startsAt, t.expiresAt),
    index("licenses_provider_agreement_name_idx").on(t.providerOrganisationId, t.agreementName, t.id),
    index("licenses_provider_starts_idx").on(t.providerOrganisationId, t.startsAt, t.id, t.agreementName),
    index("licenses_provider_expires_idx").on(t.providerOrganisationId, t.expiresAt, t.id, t.agreementName),
    index("licenses_provider_agreement_expires_idx").on(t.providerOrganisationId, t.agreementName, t.expiresAt, t.id),
    index("licenses_agreement_idx").on(t.agreementId),
  ],
);

/**
 * How many licences each organisation holds and provides, per agreement
 * name, kind and id as the licences carry them. Triggers on `licenses` keep
 * it (migration 0007_license_tallies), so that ListLicenses' total_size over
 * no filter, or over kind, agreement and a name-only `q`, adds up a few rows
 * instead of counting an organisation's index range.
 */
export const licenseTallies = sqliteTable(
  "license_tallies",
  {
    organisationId: text()
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    /** "held" counts licences by organisation_id, "provided" by provider_organisation_id. */
    side: text({ enum: ["held", "provided"] }).notNull(),
    agreementName: text().notNull(),
    agreementKind: text().notNull(),
    agreementId: text().notNull(),
    count: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.side, t.agreementName, t.agreementKind, t.agreementId] })],
);

/**
 * Every two-character fragment of each licence key that holds no dash,
 * upper-cased: ListLicenses finds the licences whose key holds a `q` of two
 * or more key symbols from the fragments' entries instead of testing every
 * key, then confirms each with the same LIKE. Triggers on `licenses` keep it
 * (migration 0009_license_key_grams); it has no rowid, so an entry is its
 * key alone.
 */
export const licenseKeyGrams = sqliteTable(
  "license_key_grams",
  {
    gram: text().notNull(),
    licenseKey: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.gram, t.licenseKey] })],
);

export const licenseCatalogueItems = sqliteTable(
  "license_catalogue_items",
  {
    licenseId: text()
      .notNull()
      .references(() => licenses.id, { onDelete: "cascade" }),
    catalogueItemId: text()
      .notNull()
      .references(() => catalogueItems.id),
  },
  (t) => [primaryKey({ columns: [t.licenseId, t.catalogueItemId] })],
);
