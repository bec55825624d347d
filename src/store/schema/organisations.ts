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
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.userId] }), index("memberships_user_idx").on(t.userId)],
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
