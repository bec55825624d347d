/**
 * ListUsers over a large organisation: 100,000 users written straight into
 * the server's database file in SQL (far faster than 100,000 CreateUser
 * calls, which would each pay for an argon2id hash), then each listing
 * shape measured over Connect JSON on one connection, as one caller would
 * see it, against the latency of the Connect floor (gRPC health Check, whose
 * handler runs `select 1`) measured alongside.
 */
import { hash, type Algorithm } from "@node-rs/argon2";
import { randomUUID } from "node:crypto";
import { ARGON2_HASH_LENGTH, ARGON2ID_PARAMS } from "../../src/domain/passwords/phc.js";
import { METHODS, tokensOf, type RpcClient } from "./client.js";
import { runFixed, type CpuProbe, type LoadFigures } from "./loads.js";
import { seedInOneTransaction } from "./bulk-seed.js";
import { seededRandom } from "./seeded-random.js";

// Algorithm is a const enum in the package's types; 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;

export const LIST_USERS = {
  users: 100_000,
  /** Rows per INSERT statement. */
  rowsPerInsert: 500,
  /** created_at is spread evenly over this many days before now. */
  spreadDays: 730,
  password: "violet-anchor-meadow-71-quartz",
} as const;

const FIRST_NAMES = [
  "Aaliyah", "Adam", "Ben", "Chloé", "Daan", "Eva", "Finn", "Grace", "Hugo", "Isla", "Jonas", "Kai", "Lena", "Liam",
  "Mila", "Noah", "Olivia", "Pieter", "Quinn", "Rosa", "Sam", "Tess", "Uma", "Victor", "Wim", "Xena", "Yara", "Zoë",
];
const LAST_NAMES = [
  "Andersen", "Bakker", "Claes", "de Vries", "Evans", "Fischer", "García", "Hoekstra", "Ivanova", "Jansen", "Kowalski", "Lambert",
  "Müller", "Nielsen", "O'Brien", "Peeters", "Rossi", "Smit", "Tanaka", "Visser", "Williams", "Young",
];

export interface ListUsersFixture {
  organisationId: string;
  /** An access token of the organisation's owner, naming the organisation. */
  ownerAccess: string;
  /** A super-admin's access token without an active organisation: lists every user. */
  superAdminAccess: string;
  seeded: number;
  seedMs: number;
  /** created_at (ms) of the oldest and newest seeded user. */
  from: number;
  to: number;
}

/**
 * An owner and their organisation through the API, then LIST_USERS.users
 * members of it inserted in SQL: multi-row INSERTs in one transaction, all
 * sharing one argon2id hash computed here once.
 */
export async function seedListUsers(client: RpcClient, databaseFile: string, superAdminAccess: string): Promise<ListUsersFixture> {
  const email = "bench-owner@latchkey.test";
  await client.ok(METHODS.createUser, { email, name: "Bench Owner", password: LIST_USERS.password });
  const first = tokensOf(await client.ok(METHODS.signIn, { email, password: LIST_USERS.password }));
  const created = await client.ok(METHODS.createOrganisation, { name: "Bench Large Organisation" }, { authorization: `Bearer ${first.accessToken}` });
  const organisationId = (created.organisation as { id?: string } | undefined)?.id;
  if (!organisationId) throw new Error(`CreateOrganisation answered no id: ${JSON.stringify(created)}`);
  // The first organisation becomes the owner's active one; a new session starts there.
  const ownerAccess = tokensOf(await client.ok(METHODS.signIn, { email, password: LIST_USERS.password, deviceName: "list" })).accessToken;

  const passwordHash = await hash(LIST_USERS.password, { algorithm: ARGON2ID, ...ARGON2ID_PARAMS, outputLen: ARGON2_HASH_LENGTH });
  const to = Date.now() - 60_000;
  const from = to - LIST_USERS.spreadDays * 86_400_000;
  const started = performance.now();
  seedInOneTransaction(databaseFile, (db) => {
    const profile = db.prepare("SELECT security_profile_id AS id FROM organisations WHERE id = ?").get(organisationId) as { id: string } | undefined;
    if (!profile) throw new Error("the bench organisation is not in the database file");

    const userColumns = "(id, email, name, locale, newsletter, title, department, password_hash, state, super_admin, email_verified_at, active_organisation_id, security_profile_id, created_at, updated_at)";
    const userRow = `(?, ?, ?, 'en', 0, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`;
    const memberRow = `(?, ?, 'member', ?)`;
    const insertUsers = db.prepare(`INSERT INTO users ${userColumns} VALUES ${Array(LIST_USERS.rowsPerInsert).fill(userRow).join(", ")}`);
    const insertMembers = db.prepare(`INSERT INTO memberships (organisation_id, user_id, role, joined_at) VALUES ${Array(LIST_USERS.rowsPerInsert).fill(memberRow).join(", ")}`);

    const random = seededRandom(42);
    const step = (to - from) / LIST_USERS.users;
    const departments = ["", "Engineering", "Sales", "Support", "Field service"];
    for (let start = 0; start < LIST_USERS.users; start += LIST_USERS.rowsPerInsert) {
      const userValues: unknown[] = [];
      const memberValues: unknown[] = [];
      for (let i = start; i < start + LIST_USERS.rowsPerInsert; i++) {
        const id = randomUUID();
        const createdAt = Math.round(from + i * step);
        const name = `${FIRST_NAMES[Math.floor(random() * FIRST_NAMES.length)]} ${LAST_NAMES[Math.floor(random() * LAST_NAMES.length)]}`;
        const state = i % 97 === 0 ? "suspended" : "active";
        const verifiedAt = random() < 0.8 ? createdAt + 3_600_000 : null;
        userValues.push(id, `user-${i}@bench.example`, name, i % 7 === 0 ? "Technician" : "", departments[i % departments.length], passwordHash, state, verifiedAt, organisationId, profile.id, createdAt, createdAt);
        memberValues.push(organisationId, id, createdAt);
      }
      insertUsers.run(...userValues);
      insertMembers.run(...memberValues);
    }
  });
  return { organisationId, ownerAccess, superAdminAccess, seeded: LIST_USERS.users, seedMs: performance.now() - started, from, to };
}

export interface ListUsersCase {
  name: string;
  body: Record<string, unknown>;
  access: string;
  /** What total_size must be, when the case knows it. */
  expectTotal?: number;
}

/** The keyset position `depth` rows into the organisation's default order: `offset` once, then the token of that page. */
async function tokenAt(client: RpcClient, access: string, depth: number): Promise<string> {
  const answer = await client.ok(METHODS.listUsers, { offset: depth - 1, pageSize: 1, readMask: "id" }, { authorization: `Bearer ${access}` });
  const token = answer.nextPageToken;
  if (typeof token !== "string" || token === "") throw new Error(`no page token ${depth} rows in: ${JSON.stringify(answer)}`);
  return token;
}

export async function listUsersCases(client: RpcClient, fixture: ListUsersFixture): Promise<ListUsersCase[]> {
  const owner = fixture.ownerAccess;
  const members = fixture.seeded + 1;
  const midpoint = new Date((fixture.from + fixture.to) / 2).toISOString();
  return [
    { name: "first page (50, default order)", body: {}, access: owner, expectTotal: members },
    { name: "page 50,000 rows deep (page_token)", body: { pageToken: await tokenAt(client, owner, fixture.seeded / 2) }, access: owner, expectTotal: members },
    { name: `filter name:"A*" AND created_at > midpoint`, body: { filter: `name:"A*" AND created_at > "${midpoint}"` }, access: owner },
    { name: "order_by name,-created_at", body: { orderBy: "name,-created_at" }, access: owner, expectTotal: members },
    { name: "order_by -updated_at", body: { orderBy: "-updated_at" }, access: owner, expectTotal: members },
    { name: "read_mask id, 1000 per page", body: { readMask: "id", pageSize: 1000 }, access: owner, expectTotal: members },
    { name: "every user, as super-admin", body: {}, access: fixture.superAdminAccess },
    // One id per call: what remains is mostly counting total_size.
    { name: "total_size (page_size 1, read_mask id)", body: { pageSize: 1, readMask: "id" }, access: owner, expectTotal: members },
    { name: "total_size of the filter (page_size 1, read_mask id)", body: { pageSize: 1, readMask: "id", filter: `name:"A*" AND created_at > "${midpoint}"` }, access: owner },
  ];
}

/** One call first, so a broken case fails loudly instead of timing error answers. */
export async function checkListUsersCase(client: RpcClient, c: ListUsersCase): Promise<{ totalSize: number; returned: number }> {
  const answer = await client.ok(METHODS.listUsers, c.body, { authorization: `Bearer ${c.access}` });
  const totalSize = Number(answer.totalSize ?? 0);
  const returned = Array.isArray(answer.users) ? answer.users.length : 0;
  if (returned === 0) throw new Error(`ListUsers ${c.name} returned no users`);
  if (c.expectTotal !== undefined && totalSize !== c.expectTotal) throw new Error(`ListUsers ${c.name}: total_size ${totalSize}, expected ${c.expectTotal}`);
  return { totalSize, returned };
}

export function measureListUsersCase(url: string, c: ListUsersCase, seconds: number, probe?: CpuProbe): Promise<LoadFigures> {
  return runFixed(
    {
      url: `${url}/${METHODS.listUsers}`,
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${c.access}` },
      body: JSON.stringify(c.body),
      connections: 1,
      seconds,
      warmupSeconds: 0.5,
    },
    probe,
  );
}
