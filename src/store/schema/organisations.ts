import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { securityProfiles } from "./security-profiles.js";
import { users } from "./users.js";

export const memberRoles = ["member", "admin", "owner"] as const;
export type MemberRoleValue = (typeof memberRoles)[number];

export const organisations = sqliteTable(
  "organisations",
  {
    id: text().primaryKey(),
    name: text().notNull(),
    /** Lower-cased NFC name; the unique index makes names unique case-insensitively. */
    nameKey: text().notNull(),
    securityProfileId: text()
      .notNull()
      .references(() => securityProfiles.id),
    /**
     * How many memberships the organisation has, kept by triggers on
     * memberships (migration 0005), so an exact member count costs one row.
     */
    memberCount: integer().notNull().default(0),
    createdAt: integer().notNull(),
    updatedAt: integer().notNull(),
  },
  (t) => [uniqueIndex("organisations_name_key_idx").on(t.nameKey)],
);

export const memberships = sqliteTable(
  "memberships",
  {
    organisationId: text()
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text({ enum: memberRoles }).notNull(),
    joinedAt: integer().notNull(),
    /**
     * Copies of the member's users.name and users.created_at, written only by
     * triggers (migration 0008) on every membership insert and user change:
     * a filtered member count then reads one index instead of probing a
     * membership for every user the filter's users index yields.
     */
    userName: text().notNull().default(""),
    userCreatedAt: integer().notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.organisationId, t.userId] }),
    index("memberships_user_idx").on(t.userId),
    // NOCASE, the case folding of LIKE: a `name:"A*"` filter's LIKE then
    // bounds the walk to one range of the index (SQLite's LIKE optimisation),
    // where the filter's own BINARY ranges are two and would need the name
    // to lead the index.
    index("memberships_user_name_idx").on(t.organisationId, sql`${t.userName} collate nocase`, t.userCreatedAt),
  ],
);

export const invitations = sqliteTable(
  "invitations",
  {
    id: text().primaryKey(),
    organisationId: text()
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    email: text().notNull(),
    role: text({ enum: memberRoles }).notNull(),
    /** SHA-256 of the emailed token. */
    tokenHash: text().notNull().unique(),
    invitedBy: text().notNull(),
    createdAt: integer().notNull(),
    expiresAt: integer().notNull(),
    acceptedAt: integer(),
    acceptedBy: text(),
  },
  (t) => [index("invitations_organisation_idx").on(t.organisationId, t.createdAt)],
);
