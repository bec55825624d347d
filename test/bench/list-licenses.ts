/**
 * ListLicenses over one organisation holding 100,000 licences, written
 * straight into the server's database file in SQL, then each listing shape
 * (filtered by kind or free text, ordered by expiry, paged deep) measured
 * over Connect JSON on one connection, as one caller would see it.
 */
import { randomUUID } from "node:crypto";
import { METHODS, tokensOf, type RpcClient } from "./client.js";
import { runFixed, type CpuProbe, type LoadFigures } from "./loads.js";
import { seedInOneTransaction } from "./bulk-seed.js";
import { seededRandom } from "./seeded-random.js";

export const LIST_LICENSES = {
  licenses: 100_000,
  rowsPerInsert: 500,
  password: "violet-anchor-meadow-71-quartz",
} as const;

const LIST_LICENSES_METHOD = "latchkey.license.v1.LicenseService/ListLicenses";
const DAY = 86_400_000;
/** Stored "no end" (see src/domain/licensing/rules.ts). */
const OPEN_ENDED = 253_402_300_799_999;
const KEY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
const AGREEMENTS = [
  { name: "Vision Pro", kind: "subscription", provides: ["inference", "camera.read"] },
  { name: "Edge Basic", kind: "subscription", provides: ["inference"] },
  { name: "Field Trial", kind: "trial", provides: ["inference"] },
  { name: "Perpetual Site", kind: "perpetual", provides: ["inference", "analytics"] },
] as const;

export interface ListLicensesFixture {
  /** The organisation holding every seeded licence. */
  holderId: string;
  /** The organisation providing them. */
  providerId: string;
  /** An access token of the owner of both. */
  ownerAccess: string;
  seeded: number;
  seedMs: number;
  /** How many seeded licences are of the "trial" kind. */
  trials: number;
}

/**
 * An owner with a provider and a holder organisation through the API, then
 * four published agreements of the provider and LIST_LICENSES.licenses
 * licences to the holder inserted in SQL, in one transaction.
 */
export async function seedListLicenses(client: RpcClient, databaseFile: string): Promise<ListLicensesFixture> {
  const email = "bench-licensor@latchkey.test";
  await client.ok(METHODS.createUser, { email, name: "Bench Licensor", password: LIST_LICENSES.password });
  const first = tokensOf(await client.ok(METHODS.signIn, { email, password: LIST_LICENSES.password }));
  const headers = { authorization: `Bearer ${first.accessToken}` };
  const orgId = (answer: Record<string, unknown>) => {
    const id = (answer.organisation as { id?: string } | undefined)?.id;
    if (!id) throw new Error(`CreateOrganisation answered no id: ${JSON.stringify(answer)}`);
    return id;
  };
  const holderId = orgId(await client.ok(METHODS.createOrganisation, { name: "Bench Licence Holder" }, headers));
  const providerId = orgId(await client.ok(METHODS.createOrganisation, { name: "Bench Licence Provider" }, headers));
  const ownerAccess = tokensOf(await client.ok(METHODS.signIn, { email, password: LIST_LICENSES.password, deviceName: "licences" })).accessToken;

  const started = performance.now();
  const now = Date.now();
  const random = seededRandom(7);
  let trials = 0;
  seedInOneTransaction(databaseFile, (db) => {
    const agreementIds = AGREEMENTS.map(() => randomUUID());
    const insertAgreement = db.prepare(
      "INSERT INTO agreements (id, provider_organisation_id, kind, name, name_key, provides, summary, published_at, created_at) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?)",
    );
    const columns =
      "(id, license_key, agreement_id, agreement_name, agreement_kind, features, provider_organisation_id, organisation_id, amount_per_month, discount_bp, starts_at, expires_at, paid_until_at, signed_user_id, signed_user_name, signed_user_at, max_devices, devices_assigned, revoked_at, created_at, updated_at)";
    const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, NULL, NULL, NULL, NULL, ?, 0, NULL, ?, ?)";
    const insertLicenses = db.prepare(`INSERT INTO licenses ${columns} VALUES ${Array(LIST_LICENSES.rowsPerInsert).fill(row).join(", ")}`);
    const keys = new Set<string>();
    const key = () => {
      for (;;) {
        const symbols = Array.from({ length: 15 }, () => KEY_ALPHABET[Math.floor(random() * KEY_ALPHABET.length)]).join("");
        const candidate = `LK-${symbols.slice(0, 5)}-${symbols.slice(5, 10)}-${symbols.slice(10)}`;
        if (!keys.has(candidate)) {
          keys.add(candidate);
          return candidate;
        }
      }
    };
    AGREEMENTS.forEach((agreement, i) =>
      insertAgreement.run(agreementIds[i], providerId, agreement.kind, agreement.name, agreement.name.toLowerCase(), JSON.stringify(agreement.provides), now, now),
    );
    for (let start = 0; start < LIST_LICENSES.licenses; start += LIST_LICENSES.rowsPerInsert) {
      const values: unknown[] = [];
      for (let i = start; i < start + LIST_LICENSES.rowsPerInsert; i++) {
        const a = Math.floor(random() * AGREEMENTS.length);
        const agreement = AGREEMENTS[a]!;
        if (agreement.kind === "trial") trials++;
        const startsAt = now - Math.floor(random() * 730) * DAY;
        const expiresAt = agreement.kind === "perpetual" ? OPEN_ENDED : startsAt + (30 + Math.floor(random() * 1000)) * DAY;
        const createdAt = startsAt;
        values.push(randomUUID(), key(), agreementIds[a], agreement.name, agreement.kind, JSON.stringify(agreement.provides), providerId, holderId, 4900, startsAt, expiresAt, 1 + (i % 20), createdAt, createdAt);
      }
      insertLicenses.run(...values);
    }
  });
  return { holderId, providerId, ownerAccess, seeded: LIST_LICENSES.licenses, seedMs: performance.now() - started, trials };
}

export interface ListLicensesCase {
  name: string;
  body: Record<string, unknown>;
  /** What total_size must be, when the case knows it. */
  expectTotal?: number;
}

/** The token of the page that ends `depth` rows into the holder's list in `orderBy`. */
async function tokenAt(client: RpcClient, fixture: ListLicensesFixture, orderBy: string, depth: number): Promise<string> {
  const answer = await client.ok(LIST_LICENSES_METHOD, { organisationId: fixture.holderId, orderBy, offset: depth - 1, limit: 1 }, { authorization: `Bearer ${fixture.ownerAccess}` });
  const token = answer.nextPageToken;
  if (typeof token !== "string" || token === "") throw new Error(`no page token ${depth} rows in: ${JSON.stringify(answer).slice(0, 200)}`);
  return token;
}

export async function listLicensesCases(client: RpcClient, fixture: ListLicensesFixture): Promise<ListLicensesCase[]> {
  const holder = fixture.holderId;
  const all = fixture.seeded;
  return [
    { name: "first page (50, by license_key)", body: { organisationId: holder }, expectTotal: all },
    { name: "order_by -expires_at", body: { organisationId: holder, orderBy: "-expires_at" }, expectTotal: all },
    { name: `kind "trial", order_by -expires_at`, body: { organisationId: holder, kind: "trial", orderBy: "-expires_at" }, expectTotal: fixture.trials },
    { name: `q "pro", order_by -expires_at`, body: { organisationId: holder, q: "pro", orderBy: "-expires_at" } },
    { name: `q "X7", order_by agreement_name,-starts_at`, body: { organisationId: holder, q: "X7", orderBy: "agreement_name,-starts_at" } },
    { name: "page 50,000 rows deep (page_token), -expires_at", body: { organisationId: holder, orderBy: "-expires_at", pageToken: await tokenAt(client, fixture, "-expires_at", all / 2) }, expectTotal: all },
    { name: "offset 1,000 + limit 50, starts_at", body: { organisationId: holder, orderBy: "starts_at", offset: 1000, limit: 50 }, expectTotal: all },
    { name: "as the provider, order_by -starts_at", body: { organisationId: fixture.providerId, orderBy: "-starts_at" }, expectTotal: all },
  ];
}

/** One call first, so a broken case fails loudly instead of timing error answers. */
export async function checkListLicensesCase(client: RpcClient, fixture: ListLicensesFixture, c: ListLicensesCase): Promise<{ totalSize: number; returned: number }> {
  const answer = await client.ok(LIST_LICENSES_METHOD, c.body, { authorization: `Bearer ${fixture.ownerAccess}` });
  const totalSize = Number(answer.totalSize ?? 0);
  const returned = Array.isArray(answer.licenses) ? answer.licenses.length : 0;
  if (returned === 0) throw new Error(`ListLicenses ${c.name} returned no licences`);
  if (c.expectTotal !== undefined && totalSize !== c.expectTotal) throw new Error(`ListLicenses ${c.name}: total_size ${totalSize}, expected ${c.expectTotal}`);
  return { totalSize, returned };
}

export function measureListLicensesCase(url: string, fixture: ListLicensesFixture, c: ListLicensesCase, seconds: number, probe?: CpuProbe): Promise<LoadFigures> {
  return runFixed(
    {
      url: `${url}/${LIST_LICENSES_METHOD}`,
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${fixture.ownerAccess}` },
      body: JSON.stringify(c.body),
      connections: 1,
      seconds,
      warmupSeconds: 0.5,
    },
    probe,
  );
}
