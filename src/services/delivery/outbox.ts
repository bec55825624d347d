/**
 * The outbox: messages are written in the same batch as the change that
 * causes them, and sent only after that batch commits. A rolled-back change
 * therefore never mails anyone, and a committed one is never lost to a crash
 * between commit and send: `flush` picks such rows up later.
 *
 * Every send is preceded by a claim, a guarded UPDATE that bumps `attempts`
 * only if nobody else has bumped it since the row was read. Of several
 * instances that read the same row, one claim succeeds and only that
 * instance sends. A claim also clears `last_error`, and `flush` considers only
 * rows never tried or whose last try ended in a recorded error, so a row that
 * is being sent right now (tried, no error yet) is not taken by anyone else.
 * The price: if a process dies in the middle of a send, the outcome is
 * unknown and the row is not retried automatically. For codes that expire in
 * minutes a late duplicate is worth less than the risk of sending twice.
 */
import { and, asc, eq, inArray, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import {
  assertSafeEmailMessage,
  assertSafeSms,
  type EmailMessage,
  type MailTransport,
  type SmsMessage,
  type SmsTransport,
} from "../../domain/delivery.js";
import type { Logger } from "../../domain/logger.js";
import type { Clock, Random } from "../../domain/ports.js";
import type { Database, Db } from "../../store/database.js";
import { outbox } from "../../store/schema/index.js";

/** After this many tries a row stays unsent until someone looks at it. */
export const MAX_DELIVERY_ATTEMPTS = 5;
const MAX_ERROR_LENGTH = 300;

export type OutboxRow = typeof outbox.$inferSelect;
type Channel = OutboxRow["channel"];

export interface OutboxDeps {
  database: Database;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Absent when SMTP_URL is unset: emails then stay in the outbox and the log. */
  mail?: MailTransport | undefined;
  /** Absent when SMS_WEBHOOK_URL is unset: SMS then stay in the outbox and the log. */
  sms?: SmsTransport | undefined;
}

function insertOutboxRow(db: Db, row: typeof outbox.$inferInsert) {
  return db.insert(outbox).values(row);
}

/** The statement to add to the caller's batch. */
export type OutboxInsert = ReturnType<typeof insertOutboxRow>;

export interface QueuedMessage {
  /** Pass to `deliver` once the batch has committed. */
  id: string;
  statement: OutboxInsert;
}

export interface DeliveryReport {
  /** Accepted by the transport. */
  sent: number;
  /** Tried and failed; left for `flush`. */
  failed: number;
  /** Not tried because no transport is configured for the channel. */
  held: number;
  /** Already sent, or claimed by another caller first. */
  skipped: number;
}

export interface Outbox {
  /** Validates an email and returns its outbox insert; throws invalid_argument before anything is written. */
  email(message: EmailMessage): QueuedMessage;
  /** Validates an SMS and returns its outbox insert; throws invalid_argument before anything is written. */
  sms(message: SmsMessage): QueuedMessage;
  /**
   * Sends the given rows once their batch has committed; rows already tried
   * are left to `flush`. Never rejects: failures are recorded on the row.
   */
  deliver(ids: readonly string[]): Promise<DeliveryReport>;
  /**
   * Sends unsent rows, oldest first, for channels that have a transport:
   * rows never tried and rows whose last try failed, up to
   * MAX_DELIVERY_ATTEMPTS tries. Rejects only if the rows cannot be read.
   */
  flush(options: { limit: number }): Promise<DeliveryReport>;
}

export function createOutbox(deps: OutboxDeps): Outbox {
  const { database, clock, random, logger, mail, sms } = deps;
  const db = database.db;

  function queue(channel: Channel, recipient: string, subject: string, body: string): QueuedMessage {
    const id = random.uuid();
    return {
      id,
      statement: insertOutboxRow(db, { id, channel, recipient, subject, body, createdAt: clock.now(), attempts: 0 }),
    };
  }

  function hasTransport(channel: Channel): boolean {
    return channel === "email" ? mail !== undefined : sms !== undefined;
  }

  /** True if this caller won the row; its `attempts` is then `row.attempts + 1`. */
  async function claim(row: OutboxRow): Promise<boolean> {
    const won = await db
      .update(outbox)
      .set({ attempts: sql`${outbox.attempts} + 1`, lastError: null })
      .where(and(eq(outbox.id, row.id), isNull(outbox.sentAt), eq(outbox.attempts, row.attempts)))
      .returning({ id: outbox.id });
    return won.length === 1;
  }

  async function send(row: OutboxRow): Promise<void> {
    if (row.channel === "email") await mail!.send({ to: row.recipient, subject: row.subject, text: row.body });
    else await sms!.send({ to: row.recipient, text: row.body });
  }

  /** Claims, sends and records the outcome of one row; never rejects. */
  async function attempt(row: OutboxRow, report: DeliveryReport): Promise<void> {
    const fields = { channel: row.channel, outbox_id: row.id };
    let claimed = false;
    try {
      claimed = await claim(row);
      if (!claimed) {
        report.skipped++;
        return;
      }
      await send(row);
    } catch (error) {
      if (!claimed) {
        logger.error("delivery.claim_failed", { ...fields, error: describeError(error, row.body) });
        report.skipped++;
        return;
      }
      const lastError = describeError(error, row.body);
      report.failed++;
      logger.warn("delivery.failed", { ...fields, attempts: row.attempts + 1, error: lastError });
      await db
        .update(outbox)
        .set({ lastError })
        .where(and(eq(outbox.id, row.id), eq(outbox.attempts, row.attempts + 1)))
        .catch((dbError: unknown) => logger.error("delivery.record_failed", { ...fields, error: describeError(dbError, row.body) }));
      return;
    }
    report.sent++;
    logger.info("delivery.sent", { ...fields, attempts: row.attempts + 1 });
    // The body holds codes and links; once sent it is of no further use.
    await db
      .update(outbox)
      .set({ sentAt: clock.now(), body: "" })
      .where(eq(outbox.id, row.id))
      .catch((dbError: unknown) => logger.error("delivery.record_failed", { ...fields, error: describeError(dbError, row.body) }));
  }

  return {
    email(message) {
      assertSafeEmailMessage(message);
      return queue("email", message.to, message.subject, message.text);
    },

    sms(message) {
      assertSafeSms(message);
      return queue("sms", message.to, "", message.text);
    },

    async deliver(ids) {
      const report = emptyReport();
      if (ids.length === 0) return report;
      let rows: OutboxRow[];
      try {
        // Only rows nobody has tried yet: anything else is being sent, or has
        // failed and waits for flush, by whoever claimed it.
        rows = await db
          .select()
          .from(outbox)
          .where(and(inArray(outbox.id, [...ids]), isNull(outbox.sentAt), eq(outbox.attempts, 0)))
          .all();
      } catch (error) {
        logger.error("delivery.read_failed", { error: describeError(error) });
        report.skipped = ids.length;
        return report;
      }
      report.skipped += ids.length - rows.length;
      // In the caller's order, which is the order the recipient should see.
      rows.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
      for (const row of rows) {
        if (!hasTransport(row.channel)) {
          // The row itself is the message for whoever reads the outbox; the
          // log line says where to look and never repeats the body.
          logger.info("delivery.outbox_only", { channel: row.channel, recipient: row.recipient, outbox_id: row.id });
          report.held++;
          continue;
        }
        await attempt(row, report);
      }
      return report;
    },

    async flush({ limit }) {
      const report = emptyReport();
      const channels = (["email", "sms"] as const).filter(hasTransport);
      if (channels.length === 0 || limit <= 0) return report;
      const rows = await db
        .select()
        .from(outbox)
        .where(
          and(
            isNull(outbox.sentAt),
            inArray(outbox.channel, channels),
            lt(outbox.attempts, MAX_DELIVERY_ATTEMPTS),
            or(eq(outbox.attempts, 0), isNotNull(outbox.lastError)),
          ),
        )
        .orderBy(asc(outbox.createdAt))
        .limit(limit)
        .all();
      for (const row of rows) await attempt(row, report);
      if (report.sent + report.failed > 0) logger.info("delivery.flushed", { ...report });
      return report;
    },
  };
}

function emptyReport(): DeliveryReport {
  return { sent: 0, failed: 0, held: 0, skipped: 0 };
}

/**
 * A short, storable description of a failure. Transports build their own
 * messages without secrets; this also removes URL credentials and the body
 * in case a library or server echoes them.
 */
function describeError(error: unknown, body?: string): string {
  let text: string;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    text = typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  } else {
    text = String(error);
  }
  text = text.replace(/\/\/[^/\s@]*@/g, "//[redacted]@");
  if (body) text = text.split(body).join("[body]");
  text = text.replace(/\s+/g, " ").trim();
  if (text === "") text = "send failed";
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}
