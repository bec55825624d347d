import { and, count, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { parseFilter, type FilterExpression } from "../../src/domain/listing/filter.js";
import { parseOrderBy, type OrderTerm } from "../../src/domain/listing/order-by.js";
import { decodePageToken, encodePageToken, listQueryHash, type CursorValue } from "../../src/domain/listing/page-token.js";
import { afterCursor, toOrderBy, toWhere, type ListingColumns } from "../../src/store/listing-sql.js";
import { USER_FILTER_SCHEMA, USER_ORDER_FIELDS } from "../../src/domain/users/listing.js";
import { USER_COLUMNS, chooseMemberReach, countListedUsers, listUserKeys, listUserKeysQuery, listUsers, listUsersQuery, type MemberReach } from "../../src/store/queries/users.js";
import { memberships, organisations, users } from "../../src/store/schema/index.js";
import { queryPlan } from "../support/query-plan.js";
import { useMigratedFile } from "../support/migrated-file.js";

// The ListUsers contract and its column map, as the service uses them.
const schema = USER_FILTER_SCHEMA;
const columns = USER_COLUMNS;
const ORDER_FIELDS = USER_ORDER_FIELDS;
const DEFAULT_PROFILE = "00000000-0000-4000-8000-000000000001";
const key = new Uint8Array(32).fill(42);

type UserRow = typeof users.$inferSelect;
type View = Record<string, string | number | boolean>;

/** A row as the filter sees it: API field names, booleans derived like the column map does. */
function view(row: UserRow): View {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    locale: row.locale,
    title: row.title,
    department: row.department,
    state: row.state,
    suspended: row.state === "suspended",
    blocked: row.state === "blocked",
    email_verified: row.emailVerifiedAt !== null,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

// --- The reference: the same query evaluated in JS. ---

const utf8 = new TextEncoder();
/** SQLite's BINARY collation: UTF-8 bytes, which JS's UTF-16 `<` does not always agree with. */
function compareValues(a: string | number | boolean, b: string | number | boolean): number {
  if (typeof a === "string" && typeof b === "string") {
    const x = utf8.encode(a);
    const y = utf8.encode(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  }
  return Number(a) - Number(b);
}

/** SQLite's LIKE: case-insensitive for ASCII letters only. */
function globMatch(text: string, segments: readonly string[]): boolean {
  const fold = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const subject = fold(text);
  const parts = segments.map(fold);
  if (parts.length === 1) return subject === parts[0];
  const first = parts[0]!;
  const last = parts.at(-1)!;
  if (!subject.startsWith(first)) return false;
  let pos = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = subject.indexOf(middle, pos);
    if (found < 0) return false;
    pos = found + middle.length;
  }
  return subject.length - last.length >= pos && subject.endsWith(last);
}

function matches(node: FilterExpression, row: View): boolean {
  switch (node.kind) {
    case "and":
      return node.operands.every((operand) => matches(operand, row));
    case "or":
      return node.operands.some((operand) => matches(operand, row));
    case "not":
      return !matches(node.operand, row);
    case "match":
      return globMatch(String(row[node.field]), node.segments);
    case "compare": {
      const c = compareValues(row[node.field]!, node.value);
      return { "=": c === 0, "!=": c !== 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0 }[node.op];
    }
  }
}

function sortRows(rows: UserRow[], order: readonly OrderTerm[]): UserRow[] {
  return [...rows].sort((a, b) => {
    for (const term of order) {
      const c = compareValues(view(a)[term.field]!, view(b)[term.field]!);
      if (c !== 0) return term.descending ? -c : c;
    }
    return 0;
  });
}

// --- Test data: ties on name and created_at, and names that look like SQL or LIKE syntax. ---

const NAMES = ["Ann", "ann", "Ann-Marie", "Bob", "bob", "Zoë", "Émile", "émile", "O'Brien", "100% Pure", "snake_case", "back\\slash", "' OR 1=1 --", "Al Smith", "SMITHERS", "Mia", "Zed", "x\") OR (1=1"];
const DOMAINS = ["acme.com", "acme.co", "globex.com", "sub.acme.com", "acme_com.org"];
const STATES = ["active", "active", "active", "active", "suspended", "blocked"] as const;
const BASE = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;

function generate(n: number): UserRow[] {
  let seed = 0x5eed;
  const next = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const hex = (digits: number) => Array.from({ length: digits }, () => Math.floor(next() * 16).toString(16)).join("");
  return Array.from({ length: n }, (_, i) => {
    const createdAt = BASE + Math.floor(next() * 40) * DAY;
    return {
      id: `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`,
      email: `${pick(["ann", "bob", "x%y", "a_b", "smith"])}.${i}@${pick(DOMAINS)}`,
      name: pick(NAMES),
      phoneNumber: null,
      locale: pick(["en", "en-GB", "de"]),
      newsletter: next() < 0.5,
      title: pick(["", "Team Lead", "engineer", "Lead*Dev"]),
      department: pick(["", "R&D", "Sales"]),
      passwordHash: "unused",
      passwordSet: true,
      state: pick(STATES),
      superAdmin: false,
      emailVerifiedAt: next() < 0.6 ? createdAt + DAY : null,
      phoneVerifiedAt: null,
      mfaEmailEnabled: false,
      mfaSmsEnabled: false,
      activeOrganisationId: null,
      securityProfileId: DEFAULT_PROFILE,
      createdAt,
      updatedAt: createdAt + Math.floor(next() * 5) * DAY,
    };
  });
}

const store = useMigratedFile("listing");
const inserted = generate(300);

beforeAll(async () => {
  for (let i = 0; i < inserted.length; i += 50) await store.database.db.insert(users).values(inserted.slice(i, i + 50));
});


/** Walks every page the way ListUsers will: keyset, one row peeked to know whether there is more. */
async function listAll(filterText: string, orderText: string, size: number): Promise<{ rows: UserRow[]; pages: number }> {
  const filter = parseFilter(filterText, schema);
  const order = parseOrderBy(orderText, ORDER_FIELDS, "created_at");
  const queryHash = await listQueryHash({ collection: "users", filter, orderBy: order });
  const rows: UserRow[] = [];
  let token = "";
  let pages = 0;
  do {
    const after = token ? (await decodePageToken(token, key, queryHash)).after : undefined;
    const batch = await store.database.db
      .select()
      .from(users)
      .where(and(toWhere(filter, columns), after ? afterCursor(order, columns, after) : undefined))
      .orderBy(...toOrderBy(order, columns))
      .limit(size + 1)
      .all();
    const page = batch.slice(0, size);
    rows.push(...page);
    pages++;
    const last = page.at(-1);
    token = batch.length > size && last ? await encodePageToken({ queryHash, after: cursorOf(order, last) }, key) : "";
  } while (token && pages < 1000);
  return { rows, pages };
}

function cursorOf(order: readonly OrderTerm[], row: UserRow): CursorValue[] {
  return order.map((term) => view(row)[term.field] as CursorValue);
}

function expected(filterText: string, orderText: string): UserRow[] {
  const filter = parseFilter(filterText, schema);
  const order = parseOrderBy(orderText, ORDER_FIELDS, "created_at");
  return sortRows(
    inserted.filter((row) => filter === undefined || matches(filter, view(row))),
    order,
  );
}

const ids = (rows: readonly UserRow[]) => rows.map((row) => row.id);
const at = (days: number) => new Date(BASE + days * DAY).toISOString();

describe("filtered, ordered, keyset-paged listing matches the same query in JS", () => {
  it.each([
    ["", "", 7],
    ["", "name,-created_at", 13],
    ["", "-email", 300],
    ["", "-updated_at,name", 1000],
    ['email:"*@acme.com" AND suspended=false', "-created_at", 10],
    ["state = BLOCKED OR email_verified = true", "email", 50],
    [`NOT name:"*smith*" AND created_at >= ${at(20)}`, "-updated_at,name", 9],
    ['name:"ann*" OR name:"*E"', "name", 1],
    // A known first character also becomes index ranges: both cases of an
    // ASCII letter, one range for anything else.
    ['name:"z*" OR name:"1*" OR name:"\'*"', "name", 5],
    ['name:"É*" OR name:"é*" OR name:"bob"', "-created_at", 4],
    ['name > "M" AND name <= "Zz"', "-name,email", 25],
    ['department != "" AND (state = ACTIVE OR title:"*lead*")', "updated_at,-name", 11],
    ["locale = en-GB AND NOT (blocked = true OR suspended = true)", "", 17],
    [`created_at > ${at(10)} AND created_at < ${at(12)} OR updated_at = ${at(39)}`, "-created_at", 4],
    ['-email:"*acme*" AND -(title = "")', "email", 6],
    ['title = "Lead*Dev"', "", 5],
    ['email:"*.1*@*"', "name,email", 8],
    ["state:SUSPENDED AND email_verified:false", "-name,-created_at", 3],
  ])("filter %j, order %j, pages of %i", async (filterText, orderText, size) => {
    const want = expected(filterText, orderText);
    expect(want.length).toBeGreaterThan(0);
    const { rows, pages } = await listAll(filterText, orderText, size);
    expect(ids(rows)).toEqual(ids(want));
    expect(new Set(ids(rows)).size).toBe(rows.length);
    // The extra row fetched with each page means no empty last page.
    expect(pages).toBe(Math.max(1, Math.ceil(want.length / size)));
  });

  it("finds single rows by id and sees most of the data in the cases above", async () => {
    const target = inserted[123]!;
    expect(ids((await listAll(`id = "${target.id}"`, "", 10)).rows)).toEqual([target.id]);
    expect(expected('email:"*@acme.com" AND suspended=false', "").length).toBeGreaterThan(20);
    expect(expected('name:"ann*" OR name:"*E"', "").length).toBeGreaterThan(20);
  });

  it("keeps its place when rows are added or removed between pages", async () => {
    const filter = parseFilter("", schema);
    const order = parseOrderBy("name,-created_at", ORDER_FIELDS, "created_at");
    const queryHash = await listQueryHash({ collection: "users", filter, orderBy: order });
    const all = expected("", "name,-created_at");
    const first = all.slice(0, 100);
    const token = await encodePageToken({ queryHash, after: cursorOf(order, first.at(-1)!) }, key);
    // A row that sorts before the position must not shift the next page.
    const early = { ...inserted[0]!, id: "00000000-0000-4000-8000-00000000ffff", email: "early@acme.com", name: "Aaron" };
    await store.database.db.insert(users).values(early);
    try {
      const { after } = await decodePageToken(token, key, queryHash);
      const next = await store.database.db
        .select()
        .from(users)
        .where(afterCursor(order, columns, after))
        .orderBy(...toOrderBy(order, columns))
        .limit(50)
        .all();
      expect(ids(next)).toEqual(ids(all.slice(100, 150)));
    } finally {
      await store.database.db.delete(users).where(sql`${users.id} = ${early.id}`);
    }
  });
});

it("treats a missing value as matching no comparison, so NOT and != keep it", async () => {
  const nullable = { verified_at: "timestamp" } as const;
  const nullableColumns: ListingColumns = { verified_at: users.emailVerifiedAt };
  const cut = BASE + 20 * DAY;
  const idsWhere = async (text: string) => {
    const rows = await store.database.db.select({ id: users.id }).from(users).where(toWhere(parseFilter(text, nullable), nullableColumns)).all();
    return rows.map((row) => row.id).sort();
  };
  const sorted = (rows: UserRow[]) => ids(rows).sort();
  const verified = inserted.filter((row) => row.emailVerifiedAt !== null);
  expect(verified.length).toBeLessThan(inserted.length);
  expect(await idsWhere(`verified_at > ${new Date(cut).toISOString()}`)).toEqual(sorted(verified.filter((row) => row.emailVerifiedAt! > cut)));
  expect(await idsWhere(`NOT verified_at > ${new Date(cut).toISOString()}`)).toEqual(sorted(inserted.filter((row) => row.emailVerifiedAt === null || row.emailVerifiedAt <= cut)));
  expect(await idsWhere(`verified_at != ${new Date(cut).toISOString()}`)).toEqual(sorted(inserted.filter((row) => row.emailVerifiedAt !== cut)));
});

describe("values are data, never SQL", () => {
  it.each([
    ['name = "\' OR 1=1 --"', ["' OR 1=1 --"]],
    ['name = "x\\") OR (1=1"', ['x") OR (1=1']],
    ['name:"*%*"', ["100% Pure"]],
    ['name:"*_*"', ["snake_case"]],
    ['name:"*\\\\*"', ["back\\slash"]],
    ['name:"*\'*"', ["' OR 1=1 --", "O'Brien"]],
    ['name:"%"', []],
    ['name:"_"', []],
    ['name:"%ann%"', []],
    ['email:"*\' OR \'1\'=\'1*"', []],
    ['name = "a\'; DROP TABLE users; --"', []],
    // LIKE folds ASCII case only: "ÉMILE*" finds Émile but not émile, "*MILE" finds both.
    ['name:"ÉMILE*"', ["Émile"]],
    ['name:"*MILE"', ["Émile", "émile"]],
    ['name:"ANN"', []],
    ['name:"ANN*"', ["Ann", "Ann-Marie", "ann"]],
  ])("%s", async (filterText, names) => {
    const want = expected(filterText, "name");
    const got = (await listAll(filterText, "name", 1000)).rows;
    expect(ids(got)).toEqual(ids(want));
    expect([...new Set(got.map((row) => row.name))].sort()).toEqual([...names].sort());
    const total = await store.database.db.select({ n: count() }).from(users).get();
    expect(total?.n).toBe(inserted.length);
  });

  it("binds every value as a parameter", () => {
    const filter = parseFilter('name = "\' OR 1=1 --" OR email:"*%_\\\\*"', schema);
    const order = parseOrderBy("name", ORDER_FIELDS, "created_at");
    const query = store.database.db
      .select({ id: users.id })
      .from(users)
      .where(and(toWhere(filter, columns), afterCursor(order, columns, ["Robert'); --", "id'"])))
      .orderBy(...toOrderBy(order, columns))
      .toSQL();
    expect(query.sql).not.toMatch(/OR 1=1|Robert|id'|%/);
    expect(query.sql).toContain("like ? escape '\\'");
    expect(query.params).toEqual(["' OR 1=1 --", "%\\%\\_\\\\%", "Robert'); --", "Robert'); --", "Robert'); --", "id'"]);
  });
});

describe("ListUsers reads through indexes", () => {
  it("an organisation's listing starts from its memberships and reads users by key", async () => {
    for (const orderText of ["", "name,-created_at", "-updated_at"]) {
      const order = parseOrderBy(orderText, ORDER_FIELDS, "created_at");
      const query = listUsersQuery(store.database.db, { organisationId: "00000000-0000-4000-8000-0000000000aa", filter: undefined }, order, { limit: 51, offset: 0, after: undefined }).toSQL();
      const steps = (await explain(query)).join("\n");
      expect(steps, orderText).toMatch(/SEARCH scope_membership USING COVERING INDEX sqlite_autoindex_memberships_1 \(organisation_id=\?\)/);
      expect(steps, orderText).toMatch(/SEARCH users USING INDEX sqlite_autoindex_users_1 \(id=\?\)/);
      expect(steps, orderText).not.toMatch(/SCAN users/);
    }
  });

  it("every user, by the default order or by name, is read in index order", async () => {
    for (const [orderText, index] of [
      ["", "users_created_at_idx"],
      ["name,-created_at", "users_name_idx"],
    ] as const) {
      const order = parseOrderBy(orderText, ORDER_FIELDS, "created_at");
      const after = cursorOf(order, inserted[0]!);
      const query = listUsersQuery(store.database.db, { organisationId: undefined, filter: undefined }, order, { limit: 51, offset: 0, after }).toSQL();
      const steps = (await explain(query)).join("\n");
      expect(steps, orderText).toContain(`SEARCH users USING INDEX ${index}`);
      expect(steps, orderText).not.toContain("TEMP B-TREE");
    }
  });
});

describe("an organisation's members, reached from memberships or by walking users", () => {
  const ORGANISATION = "00000000-0000-4000-8000-0000000000bb";
  // Every third user, so that a walk of the users skips non-members.
  const members = inserted.filter((_, i) => i % 3 === 0);

  beforeAll(async () => {
    await store.database.db.insert(organisations).values({ id: ORGANISATION, name: "Members", nameKey: "members", securityProfileId: DEFAULT_PROFILE, createdAt: BASE, updatedAt: BASE });
    await store.database.db.insert(memberships).values(members.map((row) => ({ organisationId: ORGANISATION, userId: row.id, role: "member" as const, joinedAt: BASE })));
  });

  async function pages(reach: MemberReach, filterText: string, orderText: string, size: number, idsOnly: boolean): Promise<string[]> {
    const order = parseOrderBy(orderText, ORDER_FIELDS, "created_at");
    const listing = { organisationId: ORGANISATION, filter: parseFilter(filterText, schema), reach };
    const seen: string[] = [];
    let after: CursorValue[] | undefined;
    for (let guard = 0; guard < 1000; guard++) {
      const page = { limit: size + 1, offset: 0, after };
      const rows = idsOnly
        ? (await listUserKeys(store.database.db, listing, order, page)).map((row) => ({ id: row.id, cursor: order.map((term) => row[term.field as keyof typeof row]!) }))
        : (await listUsers(store.database.db, listing, order, page)).map(({ user }) => ({ id: user.id, cursor: cursorOf(order, user) }));
      seen.push(...rows.slice(0, size).map((row) => row.id));
      if (rows.length <= size) break;
      after = rows[size - 1]!.cursor;
    }
    return seen;
  }

  it.each([
    ["", "", 7],
    ["", "name,-created_at", 10],
    ['email:"*@acme.com" AND suspended=false', "-updated_at,name", 4],
    [`NOT name:"*smith*" AND created_at >= ${at(20)}`, "email", 9],
  ])("filter %j, order %j, pages of %i: the same rows, pages and total either way", async (filterText, orderText, size) => {
    const filter = parseFilter(filterText, schema);
    const memberIds = new Set(members.map((row) => row.id));
    const want = ids(expected(filterText, orderText).filter((row) => memberIds.has(row.id)));
    expect(want.length).toBeGreaterThan(0);
    for (const reach of ["memberships", "users"] as const) {
      expect(await pages(reach, filterText, orderText, size, false), reach).toEqual(want);
      expect(await pages(reach, filterText, orderText, size, true), `${reach}, ids only`).toEqual(want);
      expect(await countListedUsers(store.database.db, { organisationId: ORGANISATION, filter, reach }), reach).toBe(want.length);
    }
  });

  it("walking the users reads them in index order and probes each membership by key", async () => {
    for (const [orderText, index] of [
      ["", "users_created_at_idx"],
      ["name,-created_at", "users_name_idx"],
    ] as const) {
      const order = parseOrderBy(orderText, ORDER_FIELDS, "created_at");
      const listing = { organisationId: ORGANISATION, filter: undefined, reach: "users" as const };
      const after = cursorOf(order, inserted[0]!);
      const steps = (await explain(listUsersQuery(store.database.db, listing, order, { limit: 51, offset: 0, after }).toSQL())).join("\n");
      expect(steps, orderText).toMatch(new RegExp(`^SEARCH users USING INDEX ${index}`));
      expect(steps, orderText).toContain("SEARCH scope_membership USING COVERING INDEX sqlite_autoindex_memberships_1 (organisation_id=? AND user_id=?)");
      expect(steps, orderText).not.toContain("TEMP B-TREE");
      // Ids alone come from the index and the membership key, without a user row.
      const keySteps = (await explain(listUserKeysQuery(store.database.db, listing, order, { limit: 51, offset: 0, after }).toSQL())).join("\n");
      expect(keySteps, orderText).toMatch(new RegExp(`^SEARCH users USING COVERING INDEX ${index}`));
      expect(keySteps, orderText).not.toContain("TEMP B-TREE");
    }
  });

  it("small organisations are read from their memberships, large ones by walking the users", async () => {
    expect(await chooseMemberReach(store.database.db, ORGANISATION, 51)).toBe("users");
    expect(await chooseMemberReach(store.database.db, ORGANISATION, 1001)).toBe("memberships");
    expect(await chooseMemberReach(store.database.db, "00000000-0000-4000-8000-0000000000cc", 51)).toBe("memberships");
  });
});

function explain(query: { sql: string; params: unknown[] }): Promise<string[]> {
  return queryPlan(store.database.db, query);
}
