import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const outboxChannels = ["email", "sms"] as const;

/**
 * Messages to send, written in the same batch as the change that causes
 * them and sent after it commits. Without SMTP_URL / SMS_WEBHOOK_URL the
 * outbox is where messages stay (and the log says so).
 */
export const outbox = sqliteTable(
  "outbox",
  {
    id: text().primaryKey(),
    channel: text({ enum: outboxChannels }).notNull(),
    recipient: text().notNull(),
    subject: text().notNull().default(""),
    body: text().notNull(),
    createdAt: integer().notNull(),
    sentAt: integer(),
    attempts: integer().notNull().default(0),
    lastError: text(),
  },
  (t) => [index("outbox_pending_idx").on(t.sentAt, t.createdAt)],
);
