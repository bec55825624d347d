/**
 * The organisation member count that ListUsers' total and reach choice read
 * is kept by triggers on memberships: it must stay exact through every way a
 * membership comes and goes, cascades included.
 */
import { eq, sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { countListedUsers } from "../../src/store/queries/users.js";
import { memberships, organisations, users } from "../../src/store/schema/index.js";
import { DEFAULT_PROFILE_ID } from "../../src/store/queries/security-profiles.js";
import { userRow, useMigratedFile } from "../support/migrated-file.js";

const T = Date.UTC(2026, 0, 1);
const store = useMigratedFile("member-count");


async function counted(organisationId: string) {
  const row = await store.database.db.select({ n: organisations.memberCount }).from(organisations).where(eq(organisations.id, organisationId)).get();
  const [actual] = await store.database.db.select({ n: sql<number>`count(*)` }).from(memberships).where(eq(memberships.organisationId, organisationId));
  return { kept: row?.n, actual: actual?.n };
}

it("follows joins, removals, deleted users and deleted organisations", async () => {
  const db = store.database.db;
  await db.insert(organisations).values([
    { id: "org-a", name: "A", nameKey: "a", securityProfileId: DEFAULT_PROFILE_ID, createdAt: T, updatedAt: T },
    { id: "org-b", name: "B", nameKey: "b", securityProfileId: DEFAULT_PROFILE_ID, createdAt: T, updatedAt: T },
  ]);
  await db.insert(users).values(["u1", "u2", "u3"].map((id) => userRow(id)));
  await db.insert(memberships).values([
    { organisationId: "org-a", userId: "u1", role: "owner", joinedAt: T },
    { organisationId: "org-a", userId: "u2", role: "member", joinedAt: T },
    { organisationId: "org-a", userId: "u3", role: "member", joinedAt: T },
    { organisationId: "org-b", userId: "u3", role: "owner", joinedAt: T },
  ]);
  expect(await counted("org-a")).toEqual({ kept: 3, actual: 3 });
  expect(await countListedUsers(db, { organisationId: "org-a", filter: undefined })).toBe(3);

  await db.delete(memberships).where(eq(memberships.userId, "u2"));
  expect(await counted("org-a")).toEqual({ kept: 2, actual: 2 });

  // Deleting a user removes their memberships by cascade; the count follows.
  await db.delete(users).where(eq(users.id, "u3"));
  expect(await counted("org-a")).toEqual({ kept: 1, actual: 1 });
  expect(await counted("org-b")).toEqual({ kept: 0, actual: 0 });

  // A failed batch changes nothing, count included.
  await expect(
    store.database.batch([
      db.insert(memberships).values({ organisationId: "org-b", userId: "u1", role: "member", joinedAt: T }),
      db.insert(memberships).values({ organisationId: "org-a", userId: "u1", role: "member", joinedAt: T }),
    ]),
  ).rejects.toThrow();
  expect(await counted("org-b")).toEqual({ kept: 0, actual: 0 });

  await db.delete(organisations).where(eq(organisations.id, "org-a"));
  expect(await db.select().from(memberships).where(eq(memberships.organisationId, "org-a")).all()).toEqual([]);
});
