import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users.js";

export const settingTypes = ["string", "bool", "int", "json"] as const;

export const settings = sqliteTable(
  "settings",
  {
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    category: text().notNull(),
    group: text().notNull(),
    name: text().notNull(),
    value: text().notNull(),
    type: text({ enum: settingTypes }).notNull(),
    description: text().notNull().default(""),
    readOnly: integer({ mode: "boolean" }).notNull().default(false),
    updatedAt: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.category, t.group, t.name] })],
);
