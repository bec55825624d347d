import { eq } from "drizzle-orm";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import type { EmailMessage, MailTransport } from "../../src/domain/delivery.js";
import { DomainError } from "../../src/domain/errors.js";
import { systemClock, webCryptoRandom } from "../../src/domain/ports.js";
import { createSmtpMailTransport, noReplySender } from "../../src/runtime/smtp-mail.js";
import { createOutbox, type Outbox } from "../../src/services/delivery/outbox.js";
import { createSmsWebhookTransport } from "../../src/services/delivery/sms-webhook.js";
import type { Database } from "../../src/store/database.js";
import { openLibsql } from "../../src/store/open-libsql.js";
import { insertAuditEvent } from "../../src/store/queries/audit-events.js";
import { outbox as outboxTable } from "../../src/store/schema/index.js";
import { captureLogger } from "../support/in-process-app.js";
import { startSmsSink, type SmsSink } from "../support/sms-sink.js";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.js";

const FROM = noReplySender("https://id.latchkey.test");

let dir: string;
let url: string;
let database: Database;
let smtp: SmtpSink;
let smsSink: SmsSink;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-outbox-"));
  url = `file:${join(dir, "latchkey.db")}`;
  database = await openLibsql({ url, migrationsFolder: "src/store/migrations" });
  [smtp, smsSink] = await Promise.all([startSmtpSink(), startSmsSink()]);
});

afterAll(async () => {
  await Promise.all([smtp?.stop(), smsSink?.stop()]);
  database?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await database.db.delete(outboxTable);
  smsSink.respondWith(204);
});

/** An outbox with both transports, as on a Node instance with SMTP_URL and SMS_WEBHOOK_URL set. */
function fullOutbox(db: Database = database) {
  const logger = captureLogger();
  const outbox = createOutbox({
    database: db,
    clock: systemClock,
    random: webCryptoRandom,
    logger,
    mail: createSmtpMailTransport(smtp.url, { from: FROM }),
    sms: createSmsWebhookTransport(smsSink.url),
  });
  return { outbox, logger };
}

function auditRow(type = "test.message_queued") {
  return insertAuditEvent(database.db, { id: webCryptoRandom.uuid(), occurredAt: systemClock.now(), type });
}

async function rowOf(id: string) {
  return database.db.select().from(outboxTable).where(eq(outboxTable.id, id)).get();
}

function codeMail(tag: string, code = "482913"): EmailMessage {
  return { to: "ada@example.com", subject: `Your Latchkey code ${tag}`, text: `Your code is ${code}.\nIt expires in 10 minutes.` };
}

/**
 * Resolves once every message the sink received before this call has been
 * read: the sentinel travels behind them through the same pipe.
 */
async function drainSmtp(outbox: Outbox) {
  const tag = webCryptoRandom.uuid();
  const queued = outbox.email({ to: "sentinel@example.com", subject: `sentinel ${tag}`, text: "sentinel" });
  await database.batch([queued.statement]);
  await outbox.deliver([queued.id]);
  await smtp.waitFor((m) => m.subject === `sentinel ${tag}`);
}

it("delivers an email of a committed batch to the SMTP server, then wipes its body", async () => {
  const { outbox } = fullOutbox();
  const message = codeMail(webCryptoRandom.uuid());
  const queued = outbox.email(message);
  await database.batch([auditRow(), queued.statement]);

  expect(await outbox.deliver([queued.id])).toEqual({ sent: 1, failed: 0, held: 0, skipped: 0 });
  const received = await smtp.waitFor((m) => m.subject === message.subject);
  expect(received).toEqual({
    to: "ada@example.com",
    from: "Latchkey <no-reply@id.latchkey.test>",
    subject: message.subject,
    text: expect.stringMatching(/^Your code is 482913\.\r?\nIt expires in 10 minutes\.\s*$/),
    envelopeTo: ["ada@example.com"],
  });
  const row = await rowOf(queued.id);
  expect(row).toMatchObject({ channel: "email", recipient: "ada@example.com", subject: message.subject, body: "", attempts: 1, lastError: null });
  expect(row!.sentAt).toEqual(expect.any(Number));

  // Delivered rows are never sent again.
  expect(await outbox.deliver([queued.id])).toEqual({ sent: 0, failed: 0, held: 0, skipped: 1 });
  expect(await outbox.flush({ limit: 10 })).toEqual({ sent: 0, failed: 0, held: 0, skipped: 0 });
});

it("writes nothing to deliver when the batch rolls back", async () => {
  const { outbox } = fullOutbox();
  const queued = outbox.email(codeMail(webCryptoRandom.uuid()));
  const duplicate = webCryptoRandom.uuid();
  const audit = (type: string) => insertAuditEvent(database.db, { id: duplicate, occurredAt: systemClock.now(), type });
  await expect(database.batch([audit("first"), queued.statement, audit("second")])).rejects.toThrow();

  expect(await rowOf(queued.id)).toBeUndefined();
  expect(await outbox.deliver([queued.id])).toEqual({ sent: 0, failed: 0, held: 0, skipped: 1 });
});

it("posts an SMS as JSON to the webhook and wipes its body", async () => {
  const { outbox } = fullOutbox();
  const text = `Latchkey code: 731904 ${webCryptoRandom.uuid()}`;
  const queued = outbox.sms({ to: "+41791234567", text });
  await database.batch([auditRow(), queued.statement]);

  expect(await outbox.deliver([queued.id])).toEqual({ sent: 1, failed: 0, held: 0, skipped: 0 });
  expect(await smsSink.waitFor((m) => m.text === text)).toEqual({ to: "+41791234567", text, contentType: "application/json" });
  expect(await rowOf(queued.id)).toMatchObject({ channel: "sms", subject: "", body: "", attempts: 1, lastError: null });
});

it("keeps a message the SMTP server could not take, and flush sends it once the server is back", async () => {
  const { outbox, logger } = fullOutbox();
  const message = codeMail(webCryptoRandom.uuid(), "905112");
  const queued = outbox.email(message);
  await database.batch([auditRow(), queued.statement]);

  const port = smtp.port;
  await smtp.stop();
  try {
    expect(await outbox.deliver([queued.id])).toEqual({ sent: 0, failed: 1, held: 0, skipped: 0 });
    const failed = await rowOf(queued.id);
    expect(failed).toMatchObject({ sentAt: null, attempts: 1, body: message.text });
    expect(failed!.lastError).toMatch(/ECONNREFUSED/);
    expect(failed!.lastError).not.toContain("905112");
    expect(JSON.stringify(logger.lines)).not.toContain("905112");

    // deliver is for fresh rows only; retries are flush's job.
    expect(await outbox.deliver([queued.id])).toEqual({ sent: 0, failed: 0, held: 0, skipped: 1 });
    expect(await outbox.flush({ limit: 10 })).toEqual({ sent: 0, failed: 1, held: 0, skipped: 0 });
    expect(await rowOf(queued.id)).toMatchObject({ sentAt: null, attempts: 2 });
  } finally {
    smtp = await startSmtpSink({ port });
  }

  expect(await outbox.flush({ limit: 10 })).toEqual({ sent: 1, failed: 0, held: 0, skipped: 0 });
  await smtp.waitFor((m) => m.subject === message.subject);
  expect(await rowOf(queued.id)).toMatchObject({ attempts: 3, body: "", lastError: null });
  expect((await rowOf(queued.id))!.sentAt).toEqual(expect.any(Number));
});

it("stops retrying after five attempts", async () => {
  const { outbox } = fullOutbox();
  const queued = outbox.email(codeMail(webCryptoRandom.uuid()));
  await database.batch([queued.statement]);
  await database.db.update(outboxTable).set({ attempts: 5, lastError: "connect ECONNREFUSED" }).where(eq(outboxTable.id, queued.id));

  expect(await outbox.flush({ limit: 10 })).toEqual({ sent: 0, failed: 0, held: 0, skipped: 0 });
  expect(await rowOf(queued.id)).toMatchObject({ sentAt: null, attempts: 5 });
});

it("sends each message exactly once when two instances flush at the same time", async () => {
  // A second connection to the same file stands for a second instance.
  const other = await openLibsql({ url });
  try {
    const first = fullOutbox().outbox;
    const second = fullOutbox(other).outbox;
    const tag = webCryptoRandom.uuid();
    const queued = Array.from({ length: 6 }, (_, i) => first.email({ to: `user${i}@example.com`, subject: `flush ${tag} #${i}`, text: `code ${i}` }));
    // Committed but never delivered, as after a crash right after the commit.
    await database.batch([auditRow(), ...queued.map((q) => q.statement)]);

    const reports = await Promise.all([first.flush({ limit: 10 }), second.flush({ limit: 10 }), first.flush({ limit: 10 })]);
    expect(reports.reduce((sum, r) => sum + r.sent, 0)).toBe(6);
    expect(reports.reduce((sum, r) => sum + r.failed, 0)).toBe(0);

    await drainSmtp(first);
    const subjects = smtp.messages.filter((m) => m.subject.startsWith(`flush ${tag} `)).map((m) => m.subject);
    expect(subjects.sort()).toEqual(queued.map((_, i) => `flush ${tag} #${i}`).sort());
    for (const q of queued) expect(await rowOf(q.id)).toMatchObject({ attempts: 1, body: "" });
  } finally {
    other.close();
  }
});

it("leaves a message alone while another instance is sending it", async () => {
  let started!: () => void;
  let release!: () => void;
  const sending = new Promise<void>((resolve) => (started = resolve));
  const gate = new Promise<void>((resolve) => (release = resolve));
  const stalled: MailTransport = {
    async send() {
      started();
      await gate;
    },
  };
  const busy = createOutbox({ database, clock: systemClock, random: webCryptoRandom, logger: captureLogger(), mail: stalled });
  const { outbox } = fullOutbox();
  const queued = busy.email(codeMail(webCryptoRandom.uuid()));
  await database.batch([queued.statement]);

  const busyFlush = busy.flush({ limit: 10 });
  await sending;
  expect(await rowOf(queued.id)).toMatchObject({ sentAt: null, attempts: 1, lastError: null });
  expect(await outbox.flush({ limit: 10 })).toEqual({ sent: 0, failed: 0, held: 0, skipped: 0 });
  expect(await outbox.deliver([queued.id])).toEqual({ sent: 0, failed: 0, held: 0, skipped: 1 });
  release();
  expect(await busyFlush).toEqual({ sent: 1, failed: 0, held: 0, skipped: 0 });
  expect(await rowOf(queued.id)).toMatchObject({ attempts: 1, body: "" });
});

it("refuses header injection in the recipient or subject before anything is written", async () => {
  const { outbox } = fullOutbox();
  const bad: Array<[Partial<EmailMessage>, string]> = [
    [{ to: "ada@example.com\r\nBcc: eve@example.com" }, "to"],
    [{ to: "ada@example.com, eve@example.com" }, "to"],
    [{ to: "Ada <ada@example.com>" }, "to"],
    [{ subject: "Your code\r\nBcc: eve@example.com" }, "subject"],
    [{ subject: "Your code\nContent-Type: text/html" }, "subject"],
  ];
  for (const [change, field] of bad) {
    let thrown: unknown;
    try {
      outbox.email({ ...codeMail("x"), ...change });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect(thrown).toMatchObject({ kind: "invalid_argument", violations: [{ field }] });
  }
  expect(() => outbox.sms({ to: "+41791234567\r\nX-Injected: 1", text: "code" })).toThrow(DomainError);
  expect(await database.db.select().from(outboxTable).all()).toEqual([]);
});

it("without transports keeps messages in the outbox and logs where they are, never what they say", async () => {
  const logger = captureLogger();
  const outbox = createOutbox({ database, clock: systemClock, random: webCryptoRandom, logger });
  const email = outbox.email(codeMail(webCryptoRandom.uuid(), "558201"));
  const sms = outbox.sms({ to: "+41791234567", text: "Latchkey code: 558201" });
  await database.batch([auditRow(), email.statement, sms.statement]);

  expect(await outbox.deliver([email.id, sms.id])).toEqual({ sent: 0, failed: 0, held: 2, skipped: 0 });
  expect(await rowOf(email.id)).toMatchObject({ sentAt: null, attempts: 0, body: expect.stringContaining("558201") });
  expect(await rowOf(sms.id)).toMatchObject({ sentAt: null, attempts: 0, body: "Latchkey code: 558201" });
  expect(logger.lines).toEqual([
    { level: "info", event: "delivery.outbox_only", fields: { channel: "email", recipient: "ada@example.com", outbox_id: email.id } },
    { level: "info", event: "delivery.outbox_only", fields: { channel: "sms", recipient: "+41791234567", outbox_id: sms.id } },
  ]);
  expect(JSON.stringify(logger.lines)).not.toContain("558201");

  // Nothing to retry without a transport, and no log line per housekeeping run.
  expect(await outbox.flush({ limit: 10 })).toEqual({ sent: 0, failed: 0, held: 0, skipped: 0 });
  expect(logger.lines).toHaveLength(2);
});

it("records a webhook that answers with an error status and retries it on flush", async () => {
  const { outbox } = fullOutbox();
  const text = `Latchkey code: 640022 ${webCryptoRandom.uuid()}`;
  const queued = outbox.sms({ to: "+41791234567", text });
  await database.batch([queued.statement]);

  smsSink.respondWith(503);
  expect(await outbox.deliver([queued.id])).toEqual({ sent: 0, failed: 1, held: 0, skipped: 0 });
  expect(await rowOf(queued.id)).toMatchObject({ sentAt: null, attempts: 1, lastError: "SMS webhook answered HTTP 503", body: text });

  smsSink.respondWith(204);
  expect(await outbox.flush({ limit: 10 })).toEqual({ sent: 1, failed: 0, held: 0, skipped: 0 });
  expect(smsSink.messages.filter((m) => m.text === text)).toHaveLength(2);
  expect(await rowOf(queued.id)).toMatchObject({ attempts: 2, body: "", lastError: null });
});
