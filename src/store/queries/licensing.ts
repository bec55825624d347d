/**
 * Agreements, catalogue items and licences. Licences carry their
 * agreement's name and kind and their features (copied in at creation), so
 * listing and checks read one table; the page of a listing is then joined
 * with its agreements, organisations and catalogue items in a few small
 * queries (`licenceViews`).
 */
import { and, asc, count, eq, exists, getTableColumns, gt, inArray, isNotNull, isNull, ne, or, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import { OPEN_ENDED } from "../../domain/licensing/rules.js";
import type { OrderTerm } from "../../domain/listing/order-by.js";
import type { CursorValue } from "../../domain/listing/page-token.js";
import { violatesUnique, type Db } from "../database.js";
import { afterCursor, likePattern, toOrderBy, type ListingColumns } from "../listing-sql.js";
import { agreements, catalogueItems, deviceLicenses, licenseCatalogueItems, licenseKeyGrams, licenses, licenseTallies, memberships, organisations } from "../schema/index.js";

export type AgreementRow = typeof agreements.$inferSelect;
export type CatalogueItemRow = typeof catalogueItems.$inferSelect;
export type LicenseRow = typeof licenses.$inferSelect;

/** A licence with what the API shows alongside it. */
export interface LicenseView {
  license: LicenseRow;
  agreement: AgreementRow;
  providerName: string;
  holderName: string;
  catalogueIds: string[];
}

// ── agreements ──────────────────────────────────────────────────────────

export function insertAgreement(db: Db, row: typeof agreements.$inferInsert) {
  return db.insert(agreements).values(row);
}

export async function findAgreement(db: Db, id: string): Promise<AgreementRow | undefined> {
  return db.select().from(agreements).where(eq(agreements.id, id)).get();
}

/** Publishes a draft; matches nothing if it is published already. */
export function publishAgreement(db: Db, id: string, now: number) {
  return db
    .update(agreements)
    .set({ publishedAt: now })
    .where(and(eq(agreements.id, id), isNull(agreements.publishedAt)))
    .returning({ id: agreements.id });
}

export function agreementIsDraft(db: Db, id: string): SQL {
  return exists(db.select({ one: sql`1` }).from(agreements).where(and(eq(agreements.id, id), isNull(agreements.publishedAt))));
}

export const AGREEMENT_COLUMNS: ListingColumns = { name: agreements.name, id: agreements.id };
export const CATALOGUE_ITEM_COLUMNS: ListingColumns = { name: catalogueItems.name, id: catalogueItems.id };

/** Who sees which drafts: everyone's (undefined), or those of the member's / key's organisations. */
export interface DraftReach {
  memberUserId: string;
  /** An API key sees the drafts of its own organisation only. */
  keyOrganisationId: string | undefined;
}

export async function listAgreements(
  db: Db,
  filter: { providerId: string | undefined; kind: string | undefined; drafts: DraftReach | undefined },
  order: readonly OrderTerm[],
  limit: number,
  after: readonly CursorValue[] | undefined,
): Promise<AgreementRow[]> {
  const conditions: (SQL | undefined)[] = [
    filter.providerId ? eq(agreements.providerOrganisationId, filter.providerId) : undefined,
    filter.kind ? eq(agreements.kind, filter.kind) : undefined,
    after ? afterCursor(order, AGREEMENT_COLUMNS, after) : undefined,
  ];
  if (filter.drafts) {
    const own = filter.drafts.keyOrganisationId
      ? eq(agreements.providerOrganisationId, filter.drafts.keyOrganisationId)
      : inArray(agreements.providerOrganisationId, db.select({ id: memberships.organisationId }).from(memberships).where(eq(memberships.userId, filter.drafts.memberUserId)));
    conditions.push(or(isNotNull(agreements.publishedAt), own));
  }
  return db
    .select()
    .from(agreements)
    .where(and(...conditions))
    .orderBy(...toOrderBy(order, AGREEMENT_COLUMNS))
    .limit(limit);
}

export function isAgreementNameTaken(error: unknown): boolean {
  return violatesUnique(error, "agreements", ["provider_organisation_id", "name_key"]);
}

// ── catalogue items ─────────────────────────────────────────────────────

export function insertCatalogueItem(db: Db, row: CatalogueItemRow) {
  return db.insert(catalogueItems).values(row);
}

export async function findCatalogueItems(db: Db, ids: readonly string[]): Promise<CatalogueItemRow[]> {
  if (ids.length === 0) return [];
  return db.select().from(catalogueItems).where(inArray(catalogueItems.id, [...ids]));
}

export async function listCatalogueItems(db: Db, providerId: string | undefined, order: readonly OrderTerm[], limit: number, after: readonly CursorValue[] | undefined): Promise<CatalogueItemRow[]> {
  return db
    .select()
    .from(catalogueItems)
    .where(and(providerId ? eq(catalogueItems.providerOrganisationId, providerId) : undefined, after ? afterCursor(order, CATALOGUE_ITEM_COLUMNS, after) : undefined))
    .orderBy(...toOrderBy(order, CATALOGUE_ITEM_COLUMNS))
    .limit(limit);
}

export function isCatalogueItemNameTaken(error: unknown): boolean {
  return violatesUnique(error, "catalogue_items", ["provider_organisation_id", "name_key"]);
}

// ── licences ────────────────────────────────────────────────────────────

/** Answers the stored row, defaults filled in. */
export function insertLicense(db: Db, row: typeof licenses.$inferInsert) {
  return db.insert(licenses).values(row).returning();
}

export function insertLicenseCatalogueItems(db: Db, licenseId: string, itemIds: readonly string[]) {
  return db.insert(licenseCatalogueItems).values(itemIds.map((catalogueItemId) => ({ licenseId, catalogueItemId })));
}

export function isLicenseKeyTaken(error: unknown): boolean {
  return violatesUnique(error, "licenses", ["license_key"]);
}

export async function findLicense(db: Db, id: string): Promise<LicenseRow | undefined> {
  return db.select().from(licenses).where(eq(licenses.id, id)).get();
}

/** The licences of `rows` with their agreements, organisation names and catalogue items, in the same order. */
export async function licenceViews(db: Db, rows: readonly LicenseRow[]): Promise<LicenseView[]> {
  if (rows.length === 0) return [];
  const agreementIds = [...new Set(rows.map((row) => row.agreementId))];
  const organisationIds = [...new Set(rows.flatMap((row) => [row.organisationId, row.providerOrganisationId]))];
  const [agreementRows, organisationRows, itemRows] = await Promise.all([
    db.select().from(agreements).where(inArray(agreements.id, agreementIds)),
    db.select({ id: organisations.id, name: organisations.name }).from(organisations).where(inArray(organisations.id, organisationIds)),
    db
      .select()
      .from(licenseCatalogueItems)
      .where(
        inArray(
          licenseCatalogueItems.licenseId,
          rows.map((row) => row.id),
        ),
      )
      .orderBy(asc(licenseCatalogueItems.licenseId), asc(licenseCatalogueItems.catalogueItemId)),
  ]);
  const agreementById = new Map(agreementRows.map((row) => [row.id, row]));
  const nameById = new Map(organisationRows.map((row) => [row.id, row.name]));
  const itemsByLicence = new Map<string, string[]>();
  for (const item of itemRows) itemsByLicence.set(item.licenseId, [...(itemsByLicence.get(item.licenseId) ?? []), item.catalogueItemId]);
  return rows.map((license) => ({
    license,
    agreement: agreementById.get(license.agreementId)!,
    providerName: nameById.get(license.providerOrganisationId) ?? "",
    holderName: nameById.get(license.organisationId) ?? "",
    catalogueIds: itemsByLicence.get(license.id) ?? [],
  }));
}

/** The views of these licences, in the order asked; a licence no longer there is left out. */
export async function licenceViewsByIds(db: Db, ids: readonly string[]): Promise<LicenseView[]> {
  if (ids.length === 0) return [];
  const rows = await db.select().from(licenses).where(inArray(licenses.id, [...ids]));
  const byId = new Map(rows.map((row) => [row.id, row]));
  return licenceViews(
    db,
    ids.flatMap((id) => byId.get(id) ?? []),
  );
}

export async function findLicenseView(db: Db, id: string): Promise<LicenseView | undefined> {
  return (await licenceViewsByIds(db, [id]))[0];
}

/** Records the signature and answers the signed row; matches nothing if the licence is signed or revoked already. */
export function signLicense(db: Db, id: string, signer: { userId: string; name: string }, now: number) {
  return db
    .update(licenses)
    .set({ signedUserId: signer.userId, signedUserName: signer.name, signedUserAt: now, updatedAt: now })
    .where(and(eq(licenses.id, id), isNull(licenses.signedUserAt), isNull(licenses.revokedAt)))
    .returning();
}

export function licenseIsSignable(db: Db, id: string): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(licenses)
      .where(and(eq(licenses.id, id), isNull(licenses.signedUserAt), isNull(licenses.revokedAt))),
  );
}

/** Revokes the licence, frees its seats count and answers the revoked row; matches nothing if it is revoked already. */
export function revokeLicense(db: Db, id: string, now: number) {
  return db
    .update(licenses)
    .set({ revokedAt: now, devicesAssigned: 0, updatedAt: now })
    .where(and(eq(licenses.id, id), isNull(licenses.revokedAt)))
    .returning();
}

/** Frees every seat of the licence (after `revokeLicense` in the same batch). */
export function releaseAllSeats(db: Db, id: string) {
  return db.delete(deviceLicenses).where(eq(deviceLicenses.licenseId, id));
}

export function licenseIsUnrevoked(db: Db, id: string): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(licenses)
      .where(and(eq(licenses.id, id), isNull(licenses.revokedAt))),
  );
}

// ── ListLicenses ────────────────────────────────────────────────────────

/** ListLicenses' order fields → columns; all NOT NULL in practice ("no end" is stored as a far date). */
export const LICENSE_COLUMNS: ListingColumns = {
  agreement_name: licenses.agreementName,
  license_key: licenses.licenseKey,
  starts_at: licenses.startsAt,
  expires_at: licenses.expiresAt,
  id: licenses.id,
};

export interface LicenseListing {
  /** Licences this organisation holds or provides. */
  organisationId: string;
  /** Substring of the key or agreement name, any ASCII case; see `textMatch`. */
  q: string | undefined;
  /** Where `q` can occur: a key can only hold key symbols, so a `q` with other characters only matches names. */
  qIn: "key" | "name" | "both";
  /**
   * The fragments of `q` that license_key_grams indexes (see `keyGrams`):
   * when there are some, the keys holding `q` are looked up through them
   * instead of testing every key.
   */
  keyGrams: readonly string[];
  deviceId: string | undefined;
  kind: string | undefined;
  agreementId: string | undefined;
  /**
   * Whether `kind` and `agreementId` may be matched through the agreement
   * name (see `namesIdentify`), which the (organisation, agreement_name, id)
   * indexes hold, so that counting reads an index alone.
   */
  byName: { kind: boolean; agreement: boolean };
}

function filters(db: Db, listing: LicenseListing): (SQL | undefined)[] {
  const pattern = listing.q ? likePattern(["", listing.q, ""]) : undefined;
  const key = sql`${licenses.licenseKey} like ${pattern} escape '\\'`;
  const name = sql`${licenses.agreementName} like ${pattern} escape '\\'`;
  return [
    pattern ? (listing.qIn === "key" ? key : listing.qIn === "name" ? name : or(key, name)) : undefined,
    !listing.kind
      ? undefined
      : listing.byName.kind
        ? inArray(licenses.agreementName, db.select({ name: agreements.name }).from(agreements).where(eq(agreements.kind, listing.kind)))
        : eq(licenses.agreementKind, listing.kind),
    !listing.agreementId
      ? undefined
      : listing.byName.agreement
        ? inArray(licenses.agreementName, db.select({ name: agreements.name }).from(agreements).where(eq(agreements.id, listing.agreementId)))
        : eq(licenses.agreementId, listing.agreementId),
    listing.deviceId
      ? inArray(
          licenses.id,
          db
            .select({ id: deviceLicenses.licenseId })
            .from(deviceLicenses)
            .where(eq(deviceLicenses.deviceId, listing.deviceId)),
        )
      : undefined,
  ];
}

/**
 * The two halves of "held or provided": licences the organisation holds,
 * and those it provides (never to itself, so the halves are disjoint). Each
 * half is one index range ((organisation_id | provider_organisation_id),
 * <order column>, id), so each reads in order and stops at its limit, and a
 * count over a key-only or name-only `q` reads an index alone.
 */
function halves(db: Db, listing: LicenseListing): [SQL, SQL] {
  const [held, provided] = sides(listing);
  const rest = and(...filters(db, listing));
  return [and(held, rest)!, and(provided, rest)!];
}

/** The tally side of each of `sides`' halves, in the same order. */
const SIDES = ["held", "provided"] as const;

/** Names a filtered order by expiry reads one range each of, at most; more are walked past together. */
const NAME_RANGES_MAX = 16;

function sides(listing: LicenseListing): [SQL, SQL] {
  return [eq(licenses.organisationId, listing.organisationId), eq(licenses.providerOrganisationId, listing.organisationId)];
}

/** Index entries a filtered page reads in order before it gives up on finding its rows among them. */
const WINDOW_MIN = 500;

/** Compares like SQLite's BINARY collation (UTF-8 bytes, i.e. code points) and numbers numerically. */
function compareValues(a: CursorValue, b: CursorValue): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const x = String(a);
  const y = String(b);
  for (let i = 0, j = 0; i < x.length && j < y.length; ) {
    const cx = x.codePointAt(i)!;
    const cy = y.codePointAt(j)!;
    if (cx !== cy) return cx - cy;
    i += cx > 0xffff ? 2 : 1;
    j += cy > 0xffff ? 2 : 1;
  }
  return x.length - y.length;
}

const ROW_VALUE: Record<string, (row: OrderKeys) => CursorValue> = {
  agreement_name: (row) => row.agreementName,
  license_key: (row) => row.licenseKey,
  starts_at: (row) => row.startsAt,
  expires_at: (row) => row.expiresAt ?? OPEN_ENDED,
  id: (row) => row.id,
};

/** The order values of a row, one per order term: what a page token points after. */
export function licenseCursor(row: OrderKeys, order: readonly OrderTerm[]): CursorValue[] {
  return order.map((term) => ROW_VALUE[term.field]!(row));
}

/** Whether every filter of the listing is on the agreement name, which the order indexes carry. */
function filtersOnNamesOnly(listing: LicenseListing): boolean {
  return (
    listing.deviceId === undefined &&
    (listing.q === undefined || listing.qIn === "name") &&
    (listing.kind === undefined || listing.byName.kind) &&
    (listing.agreementId === undefined || listing.byName.agreement)
  );
}

/** What ordering and merging need of a row, without the rest of it. */
const ORDER_KEYS = {
  id: licenses.id,
  licenseKey: licenses.licenseKey,
  agreementName: licenses.agreementName,
  startsAt: licenses.startsAt,
  expiresAt: licenses.expiresAt,
};
type OrderKeys = { [K in keyof typeof ORDER_KEYS]: LicenseRow[K] };
/** The property of a row (and of ORDER_KEYS) that holds each order field. */
const ROW_FIELD: Record<string, keyof typeof ORDER_KEYS> = {
  agreement_name: "agreementName",
  license_key: "licenseKey",
  starts_at: "startsAt",
  expires_at: "expiresAt",
  id: "id",
};

/**
 * One page of the organisation's licences in `order`, after `after`,
 * skipping `offset`. Both halves are read in order up to offset + limit rows
 * each and merged here. Rows skipped by an offset, and licences found
 * through key fragments, are read as their order keys only; the page's
 * rows are then read by id.
 */
export async function listLicenses(
  db: Db,
  listing: LicenseListing,
  order: readonly OrderTerm[],
  page: { limit: number; offset: number; after: readonly CursorValue[] | undefined },
  tally?: Tally,
): Promise<LicenseRow[]> {
  if (page.offset === 0 && !byKeyGrams(listing)) return (await listInOrder(db, listing, order, page.limit, page.after, getTableColumns(licenses))) as LicenseRow[];
  // Only the order's own columns, which its index holds (the key index
  // holds them all): skipping, and sorting licences found by key, read no rows.
  const orderKeys = Object.fromEntries(["id", ...order.map((term) => ROW_FIELD[term.field]!)].map((name) => [name, ORDER_KEYS[name as keyof typeof ORDER_KEYS]])) as typeof ORDER_KEYS;
  const ids = (await skippedInSql(db, listing, order, page)) ?? (await listInOrder(db, listing, order, page.offset + page.limit, page.after, orderKeys, tally)).slice(page.offset).map((row) => row.id);
  if (ids.length === 0) return [];
  const rows = new Map((await db.select().from(licenses).where(inArray(licenses.id, ids))).map((row) => [row.id, row]));
  return ids.map((id) => rows.get(id)).filter((row) => row !== undefined);
}

/**
 * The ids of an unfiltered page after an offset when the organisation has
 * licences on one side only (it holds them, or provides them): that side's
 * index range alone, skipped by SQLite instead of merged here. Undefined
 * when both halves must be merged.
 */
async function skippedInSql(
  db: Db,
  listing: LicenseListing,
  order: readonly OrderTerm[],
  page: { limit: number; offset: number; after: readonly CursorValue[] | undefined },
): Promise<string[] | undefined> {
  if (page.offset === 0 || filters(db, listing).some((condition) => condition !== undefined)) return undefined;
  const occupied = await occupiedSides(db, listing.organisationId);
  if (occupied.size > 1) return undefined;
  const side = sides(listing)[SIDES.findIndex((name) => occupied.has(name))];
  if (side === undefined) return [];
  const rows = await db
    .select({ id: licenses.id })
    .from(licenses)
    .where(and(side, page.after ? afterCursor(order, LICENSE_COLUMNS, page.after) : undefined))
    .orderBy(...toOrderBy(order, LICENSE_COLUMNS))
    .limit(page.limit)
    .offset(page.offset);
  return rows.map((row) => row.id);
}

/** The first `wanted` rows of both halves in `order`, merged: whole rows or their order keys, as `columns` says. */
async function listInOrder(
  db: Db,
  listing: LicenseListing,
  order: readonly OrderTerm[],
  wanted: number,
  after: readonly CursorValue[] | undefined,
  columns: typeof ORDER_KEYS | ReturnType<typeof getTableColumns<typeof licenses>>,
  tally?: Tally,
): Promise<OrderKeys[]> {
  const selected = columns as typeof ORDER_KEYS;
  const seek = after ? afterCursor(order, LICENSE_COLUMNS, after) : undefined;
  const orderBy = toOrderBy(order, LICENSE_COLUMNS);
  const compare = (a: OrderKeys, b: OrderKeys) => {
    for (const term of order) {
      const c = compareValues(ROW_VALUE[term.field]!(a), ROW_VALUE[term.field]!(b));
      if (c !== 0) return term.descending ? -c : c;
    }
    return 0;
  };
  const rest = and(...filters(db, listing));
  const occupied = byKeyGrams(listing) ? await occupiedSides(db, listing.organisationId) : undefined;
  const matchingIds = (side: SQL) => inArray(licenses.id, db.select({ id: licenses.id }).from(licenses).where(and(side, rest)));
  const [held, provided] = await Promise.all(
    sides(listing).map(async (side, i) => {
      const inOrder = (where: SQL | undefined, limit: number) =>
        db
          .select(selected)
          .from(licenses)
          .where(and(side, seek, where))
          .orderBy(...orderBy)
          .limit(limit);
      // A filter on agreement names is tested on the order index's entries
      // as it is walked: filter as the rows come.
      if (rest === undefined) return inOrder(rest, wanted);
      if (filtersOnNamesOnly(listing)) {
        // Licences without an end lead an order by expiry, all of one
        // name: rather than walk past them, each matching name's licences
        // are read in order from its own range and merged.
        if (order.length === 2 && order[0]!.field === "expires_at") {
          const names = await db
            .selectDistinct({ name: licenseTallies.agreementName })
            .from(licenseTallies)
            .where(and(talliedWhere(listing), eq(licenseTallies.side, SIDES[i]!), gt(licenseTallies.count, 0)));
          if (names.length <= NAME_RANGES_MAX) {
            const ranges = await Promise.all(names.map(({ name }) => inOrder(and(eq(licenses.agreementName, name), rest), wanted)));
            return ranges.flat().sort(compare).slice(0, wanted);
          }
        }
        return inOrder(rest, wanted);
      }
      // Keys holding `q` are few (two symbols already narrow them to about
      // one in seventy): read them through their fragments' entries, then
      // sort what matches.
      if (byKeyGrams(listing)) {
        if (!occupied!.has(SIDES[i]!)) return [];
        // Every match is visited for the sort anyway: from the first page
        // on, they are counted in the same pass.
        const counting = tally !== undefined && seek === undefined;
        const found = await db
          .select({ ...selected, matched: counting ? sql<number>`count(*) over ()` : sql<number>`0` })
          .from(licenseKeyGrams)
          .crossJoin(licenses)
          .where(and(keyGramsHold(db, listing), side, seek, rest))
          .orderBy(...orderBy)
          .limit(wanted);
        if (counting) tally.total = (tally.total ?? 0) + (found[0]?.matched ?? 0);
        return found;
      }
      // Orders of several fields need a sort whatever the index: the
      // matching ids first (from an index alone when the filter is on the
      // key), then only their rows are read and sorted.
      if (order.length > 2) return inOrder(matchingIds(side), wanted);
      // One field and the id in its direction are one index range. A
      // filtered page is first looked for among the next rows in order,
      // read lazily from the order index and filtered as they come (the
      // window keeps the table name, so the filters apply to it unchanged;
      // its rows come in order, sorted again below). That finds the page at
      // once unless the filter is selective or its matches lie far along.
      const window = db
        .select()
        .from(licenses)
        .where(and(side, seek))
        .orderBy(...orderBy)
        .limit(Math.max(WINDOW_MIN, 4 * wanted))
        .as("licenses");
      const nearby = await db.select(selected).from(window).where(rest).limit(wanted);
      if (nearby.length === wanted) return nearby.sort(compare);
      // Otherwise the matching ids are gathered first (from an index alone
      // when the filter is on the key) and the order index is walked
      // checking each id against them, reading only rows that match.
      return inOrder(matchingIds(side), wanted);
    }),
  );
  const merged: OrderKeys[] = [];
  let i = 0;
  let j = 0;
  while (merged.length < wanted && (i < held!.length || j < provided!.length)) {
    if (j >= provided!.length || (i < held!.length && compare(held![i]!, provided![j]!) <= 0)) merged.push(held![i++]!);
    else merged.push(provided![j++]!);
  }
  return merged;
}

/** What a listing counted while it listed, if it did. */
interface Tally {
  total?: number;
}

/**
 * A page of the listing (see `listLicenses`) and the total number of
 * matches (see `countLicenses`), counted while listing where that is the
 * same work.
 */
export async function listAndCountLicenses(
  db: Db,
  listing: LicenseListing,
  order: readonly OrderTerm[],
  page: { limit: number; offset: number; after: readonly CursorValue[] | undefined },
): Promise<{ rows: LicenseRow[]; total: number }> {
  if (byKeyGrams(listing) && page.after === undefined) {
    const tally: Tally = {};
    const rows = await listLicenses(db, listing, order, page, tally);
    return { rows, total: tally.total ?? 0 };
  }
  const [rows, total] = await Promise.all([listLicenses(db, listing, order, page), countLicenses(db, listing)]);
  return { rows, total };
}

/**
 * The sides ("held", "provided") on which the organisation has licences,
 * from its tallies: a lookup through license_key_grams passes every
 * organisation's keys with the fragment, so a side with none is skipped.
 */
async function occupiedSides(db: Db, organisationId: string): Promise<Set<string>> {
  const rows = await db
    .select({ side: licenseTallies.side })
    .from(licenseTallies)
    .where(and(eq(licenseTallies.organisationId, organisationId), gt(licenseTallies.count, 0)))
    .groupBy(licenseTallies.side);
  return new Set(rows.map((row) => row.side));
}

/** Whether `q` matches keys only and can be looked up through license_key_grams. */
function byKeyGrams(listing: LicenseListing): boolean {
  return listing.qIn === "key" && listing.keyGrams.length > 0;
}

/** Extra fragments checked per candidate key; the LIKE that follows is exact anyway. */
const MORE_GRAMS = 2;

/**
 * Joins license_key_grams (first in the FROM, as the outer loop of a
 * CROSS JOIN) to `licenses` by key: the keys with `q`'s first fragment that
 * also hold its next few.
 */
function keyGramsHold(db: Db, listing: LicenseListing): SQL {
  const [first, ...more] = listing.keyGrams;
  const other = alias(licenseKeyGrams, "other_gram");
  return and(
    eq(licenseKeyGrams.gram, first!),
    eq(licenses.licenseKey, licenseKeyGrams.licenseKey),
    ...more.slice(0, MORE_GRAMS).map((gram) =>
      exists(
        db
          .select({ one: sql`1` })
          .from(other)
          .where(and(eq(other.gram, gram), eq(other.licenseKey, licenses.licenseKey))),
      ),
    ),
  )!;
}

/**
 * Whether any agreement's name holds `q` (as ListLicenses matches it): the
 * licences' agreement names are copies of these, so when none does, `q`
 * can only match licence keys.
 */
export async function anyAgreementNameLike(db: Db, q: string): Promise<boolean> {
  const pattern = likePattern(["", q, ""]);
  const row = await db
    .select({ id: agreements.id })
    .from(agreements)
    .where(sql`${agreements.name} like ${pattern} escape '\\'`)
    .limit(1)
    .get();
  return row !== undefined;
}

/**
 * Whether agreement names tell the licences of a kind, or of one agreement,
 * apart from all others: true when no agreement of another kind (or no
 * other agreement) has the same name as one of that kind (or as that
 * agreement). Licences copy their agreement's name and kind, and
 * agreements never change, so then matching the names is exact.
 */
export async function namesIdentify(db: Db, filter: { kind: string | undefined; agreementId: string | undefined }): Promise<{ kind: boolean; agreement: boolean }> {
  const other = alias(agreements, "other");
  /** Some agreement selected by `which` shares its name with another agreement that differs by `differs`. */
  const clash = (which: SQL, differs: SQL) =>
    db.select({ id: agreements.id }).from(agreements).innerJoin(other, and(eq(other.name, agreements.name), differs)).where(which).limit(1).get();
  const [kindClash, agreementClash] = await Promise.all([
    filter.kind ? clash(eq(agreements.kind, filter.kind), ne(other.kind, agreements.kind)) : undefined,
    filter.agreementId ? clash(eq(agreements.id, filter.agreementId), ne(other.id, agreements.id)) : undefined,
  ]);
  return { kind: filter.kind !== undefined && kindClash === undefined, agreement: filter.agreementId !== undefined && agreementClash === undefined };
}

/**
 * How many licences match the listing, across both halves. A listing whose
 * filters are all on the agreement (kind, agreement, a `q` that can only
 * match names) adds up the organisation's tallies (a few rows per
 * agreement); a `q` with key fragments counts the keys those fragments
 * find (plus, when it may match names too, the tallied name matches); any
 * other counts its index ranges.
 */
export async function countLicenses(db: Db, listing: LicenseListing): Promise<number> {
  if (listing.deviceId === undefined && (listing.q === undefined || listing.qIn === "name")) return countTallied(db, listing);
  if (listing.deviceId === undefined && listing.keyGrams.length > 0 && listing.qIn !== "name") {
    // Matches by name (tallied) plus matches by key whose name does not match.
    const pattern = likePattern(["", listing.q!, ""]);
    const occupied = await occupiedSides(db, listing.organisationId);
    const [named, ...keyed] = await Promise.all([
      listing.qIn === "both" ? countTallied(db, listing) : 0,
      ...sides(listing).map((side, i) =>
        !occupied.has(SIDES[i]!)
          ? 0
          : db
              .select({ n: count() })
              .from(licenseKeyGrams)
              .crossJoin(licenses)
              .where(
                and(
                  keyGramsHold(db, listing),
                  side,
                  sql`${licenses.licenseKey} like ${pattern} escape '\\'`,
                  listing.qIn === "both" ? sql`${licenses.agreementName} not like ${pattern} escape '\\'` : undefined,
                  ...filters(db, { ...listing, q: undefined }),
                ),
              )
              .get()
              .then((row) => row?.n ?? 0),
      ),
    ]);
    return keyed.reduce((sum, n) => sum + n, named);
  }
  const counts = await Promise.all(halves(db, listing).map((where) => db.select({ n: count() }).from(licenses).where(where).get()));
  return counts.reduce((sum, row) => sum + (row?.n ?? 0), 0);
}

/** Adds up the organisation's tallies over the agreement filters and a `q` on names. */
async function countTallied(db: Db, listing: LicenseListing): Promise<number> {
  const row = await db
    .select({ n: sql<number | null>`sum(${licenseTallies.count})` })
    .from(licenseTallies)
    .where(talliedWhere(listing))
    .get();
  return row?.n ?? 0;
}

/** The organisation's tallies of the agreements the listing's kind, agreement and `q` (on names) select. */
function talliedWhere(listing: LicenseListing): SQL {
  const pattern = listing.q ? likePattern(["", listing.q, ""]) : undefined;
  return and(
    eq(licenseTallies.organisationId, listing.organisationId),
    pattern ? sql`${licenseTallies.agreementName} like ${pattern} escape '\\'` : undefined,
    listing.kind ? eq(licenseTallies.agreementKind, listing.kind) : undefined,
    listing.agreementId ? eq(licenseTallies.agreementId, listing.agreementId) : undefined,
  )!;
}
