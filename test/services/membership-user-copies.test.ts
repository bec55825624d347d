/**
 * Memberships carry copies of their user's name and created_at (migration
 * 0008), from which ListUsers counts an organisation's members that match a
 * filter on those fields. Triggers keep the copies exact: they must follow
 * every way a membership or a user is written, cascades included, and the
 * counts read from them must equal the counts read through users.
 */
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { parseFilter } from "../../src/domain/listing/filter.js";
import { parseOrderBy } from "../../src/domain/listing/order-by.js";
import { DEFAULT_USER_ORDER, USER_FILTER_SCHEMA, USER_ORDER_FIELDS } from "../../src/domain/users/listing.js";
import { insertInvitation, insertMembershipIfPending } from "../../src/store/queries/invitations.js";
import { insertMembership } from "../../src/store/queries/memberships.js";
import { countListedUsers, countListedUsersQuery, listUserKeys, updateUserProfile } from "../../src/store/queries/users.js";
import { memberships, organisations, users } from "../../src/store/schema/index.js";
import { queryPlan } from "../support/query-plan.js";
import { DEFAULT_PROFILE_ID } from "../../src/store/queries/security-profiles.js";
import { userRow, useMigratedFile } from "../support/migrated-file.js";

const T = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const store = useMigratedFile("membership-copies");


function organisation(id: string) {
  return { id, name: id, nameKey: id, securityProfileId: DEFAULT_PROFILE_ID, createdAt: T, updatedAt: T };
}

/** Every membership with its copies next to its user's values. */
async function copies() {
  return store.database.db
    .select({ organisationId: memberships.organisationId, userId: memberships.userId, userName: memberships.userName, userCreatedAt: memberships.userCreatedAt, name: users.name, createdAt: users.createdAt })
    .from(memberships)
    .leftJoin(users, eq(users.id, memberships.userId))
    .orderBy(memberships.organisationId, memberships.userId)
    .all();
}

/** Fails naming the first membership whose copies differ from its user. */
async function expectExactCopies() {
  for (const row of await copies()) {
    expect({ organisationId: row.organisationId, userId: row.userId, name: row.userName, createdAt: row.userCreatedAt }).toEqual({
      organisationId: row.organisationId,
      userId: row.userId,
      name: row.name,
      createdAt: row.createdAt,
    });
  }
}

function membership(organisationId: string, userId: string) {
  return and(eq(memberships.organisationId, organisationId), eq(memberships.userId, userId));
}

async function membersOf(organisationId: string): Promise<string[]> {
  const rows = await store.database.db.select({ userId: memberships.userId }).from(memberships).where(eq(memberships.organisationId, organisationId)).all();
  return rows.map((row) => row.userId).sort();
}

describe("membership copies of the user's name and created_at", () => {
  beforeAll(async () => {
    const db = store.database.db;
    await db.insert(organisations).values([organisation("org-a"), organisation("org-b"), organisation("org-c")]);
    await db.insert(users).values([
      userRow("u1", { name: "Adam Smit", createdAt: T }),
      userRow("u2", { name: "aaliyah de Vries", createdAt: T + DAY }),
      userRow("u3", { name: "Ben Young", createdAt: T + 2 * DAY }),
      userRow("u4", { name: "Émile Claes", createdAt: T + 3 * DAY }),
      userRow("u5", { name: "émile claes", createdAt: T + 4 * DAY }),
      userRow("u6", { name: "Zoë Adams", createdAt: T + 5 * DAY }),
    ]);
  });

  it("are taken from the user on every way a membership is made", async () => {
    const db = store.database.db;
    // A plain insert, several rows in one statement.
    await db.insert(memberships).values([
      { organisationId: "org-a", userId: "u1", role: "owner", joinedAt: T },
      { organisationId: "org-a", userId: "u2", role: "member", joinedAt: T },
    ]);
    // The insert CreateOrganisation and AddMember use, inside a batch.
    await store.database.batch([insertMembership(db, { organisationId: "org-a", userId: "u3", role: "member", joinedAt: T }), insertMembership(db, { organisationId: "org-b", userId: "u3", role: "owner", joinedAt: T })]);
    // An accepted invitation: INSERT … SELECT from the invitation.
    await insertInvitation(db, {
      id: "inv-1",
      organisationId: "org-a",
      email: "u4@example.com",
      role: "admin",
      tokenHash: "hash-1",
      invitedBy: "u1",
      createdAt: T,
      expiresAt: T + DAY,
      acceptedAt: null,
      acceptedBy: null,
    });
    await insertMembershipIfPending(db, "inv-1", "u4", T + 1);
    await db.insert(memberships).values([
      { organisationId: "org-a", userId: "u5", role: "member", joinedAt: T },
      { organisationId: "org-a", userId: "u6", role: "member", joinedAt: T },
      { organisationId: "org-c", userId: "u6", role: "owner", joinedAt: T },
    ]);
    expect(await membersOf("org-a")).toEqual(["u1", "u2", "u3", "u4", "u5", "u6"]);
    const u4 = (await copies()).find((row) => row.userId === "u4");
    expect(u4).toMatchObject({ userName: "Émile Claes", userCreatedAt: T + 3 * DAY });
    await expectExactCopies();
  });

  it("follow a renamed user into each of their organisations, and a changed created_at", async () => {
    const db = store.database.db;
    await updateUserProfile(db, "u3", { name: "adele Bakker" }, T + 10 * DAY);
    await db.update(users).set({ createdAt: T - DAY }).where(eq(users.id, "u6"));
    // Writes that leave the copied fields alone change nothing.
    await updateUserProfile(db, "u1", { title: "Technician" }, T + 10 * DAY);
    const rows = await copies();
    expect(rows.filter((row) => row.userId === "u3").map((row) => [row.organisationId, row.userName])).toEqual([
      ["org-a", "adele Bakker"],
      ["org-b", "adele Bakker"],
    ]);
    expect(rows.filter((row) => row.userId === "u6").map((row) => [row.organisationId, row.userCreatedAt])).toEqual([
      ["org-a", T - DAY],
      ["org-c", T - DAY],
    ]);
    await expectExactCopies();
  });

  it("follow a membership moved to another user or organisation", async () => {
    const db = store.database.db;
    await db.update(memberships).set({ userId: "u2" }).where(membership("org-c", "u6"));
    await db.update(memberships).set({ organisationId: "org-c" }).where(membership("org-b", "u3"));
    expect((await copies()).filter((row) => row.organisationId === "org-c").map((row) => [row.userId, row.userName])).toEqual([
      ["u2", "aaliyah de Vries"],
      ["u3", "adele Bakker"],
    ]);
    await expectExactCopies();
  });

  it("leave with the membership, the user or the organisation", async () => {
    const db = store.database.db;
    await db.delete(memberships).where(membership("org-a", "u5"));
    await db.delete(users).where(eq(users.id, "u2"));
    await db.delete(organisations).where(eq(organisations.id, "org-c"));
    expect(await membersOf("org-a")).toEqual(["u1", "u3", "u4", "u6"]);
    expect(await membersOf("org-c")).toEqual([]);
    await expectExactCopies();
    // Every membership still names its user (no orphan copies).
    expect((await copies()).every((row) => row.name !== null)).toBe(true);
  });

  it("count a filter on name and created_at as the users do", async () => {
    const db = store.database.db;
    // Back in org-a, under names that test LIKE's ASCII-only case folding.
    await db.insert(users).values([userRow("u7", { name: "ADA Lovelace", createdAt: T + 6 * DAY }), userRow("u8", { name: "Ωmega", createdAt: T + 7 * DAY })]);
    await db.insert(memberships).values([
      { organisationId: "org-a", userId: "u5", role: "member", joinedAt: T },
      { organisationId: "org-a", userId: "u7", role: "member", joinedAt: T },
      { organisationId: "org-a", userId: "u8", role: "member", joinedAt: T },
    ]);
    await updateUserProfile(db, "u1", { name: "aDAM Smit" }, T + 11 * DAY);
    const order = parseOrderBy("", USER_ORDER_FIELDS, DEFAULT_USER_ORDER);
    const at = (days: number) => new Date(T + days * DAY).toISOString();
    for (const text of [
      'name:"A*"',
      'name:"a*"',
      `name:"ad*" AND created_at > "${at(0)}"`,
      'name:"É*"',
      'name:"é*"',
      'name:"*claes"',
      'NOT name:"*smit*"',
      'name = "Ωmega"',
      'name >= "B" AND name < "a"',
      `created_at >= "${at(3)}" OR name:"Z*"`,
      `created_at < "${at(0)}"`,
    ]) {
      const filter = parseFilter(text, USER_FILTER_SCHEMA);
      const steps = (await queryPlan(store.database.db, countListedUsersQuery(db, { organisationId: "org-a", filter }).toSQL())).join("\n");
      expect(steps, text).toMatch(/^SEARCH scope_membership USING COVERING INDEX memberships_user_name_idx \(organisation_id=\?/);
      // The same filter through users, page by page of every member.
      const throughUsers = await listUserKeys(db, { organisationId: "org-a", filter, reach: "users" }, order, { limit: 100, offset: 0, after: undefined });
      expect(await countListedUsers(db, { organisationId: "org-a", filter }), text).toBe(throughUsers.length);
    }
    // A name prefix is one range of the index, not a walk of the organisation.
    const prefix = (await queryPlan(store.database.db, countListedUsersQuery(db, { organisationId: "org-a", filter: parseFilter('name:"A*"', USER_FILTER_SCHEMA) }).toSQL())).join("\n");
    expect(prefix).toContain("(organisation_id=? AND user_name>? AND user_name<?)");
    expect(await countListedUsers(db, { organisationId: "org-a", filter: parseFilter('name:"a*"', USER_FILTER_SCHEMA) })).toBe(3);
  });

  it("are not read for a filter on other fields", async () => {
    const filter = parseFilter('name:"A*" AND email:"*@example.com"', USER_FILTER_SCHEMA);
    const steps = (await queryPlan(store.database.db, countListedUsersQuery(store.database.db, { organisationId: "org-a", filter }).toSQL())).join("\n");
    expect(steps).not.toContain("memberships_user_name_idx");
    expect(await countListedUsers(store.database.db, { organisationId: "org-a", filter })).toBe(3);
  });
});
