/**
 * SendTestEmail and SendTestSms: a message through the same outbox and
 * transports as every other, so a check exercises the real path. The
 * outbox refuses recipients with line breaks or address-list syntax.
 */
import { DomainError, Reason } from "../../domain/errors.js";
import { insertAuditEvent } from "../../store/queries/audit-events.js";
import type { DeliveryReport } from "../delivery/outbox.js";
import type { ServiceDeps } from "../deps.js";
import type { AdminHandlers } from "./index.js";
import { adminEvent } from "./audit.js";

/** What happened to the one message: sent by the transport, kept in the outbox, or refused. */
function outcome(report: DeliveryReport, transport: "smtp" | "webhook"): string {
  if (report.sent > 0) return transport;
  if (report.failed > 0) {
    throw new DomainError("unavailable", Reason.DELIVERY_FAILED, `the ${transport === "smtp" ? "mail server" : "SMS webhook"} did not accept the message; it stays in the outbox and is retried`);
  }
  return "outbox";
}

export function createDeliveryCheckHandlers(deps: ServiceDeps): AdminHandlers<"sendTestEmail" | "sendTestSms"> {
  const { database, clock, random, outbox, config } = deps;
  const db = database.db;
  return {
    async sendTestEmail(req, ctx) {
      const message = outbox.email({
        to: req.to,
        subject: "Latchkey test email",
        text: `This is a test email from Latchkey at ${config.issuer}.\nIf you received it, email delivery works.\n`,
      });
      const now = clock.now();
      await database.batch([message.statement, insertAuditEvent(db, adminEvent(random, ctx, { type: "delivery.test_email_sent", now, details: { to: req.to, outbox_id: message.id } }))]);
      // Only after the commit: the row is the record of what was sent.
      return { delivery: outcome(await outbox.deliver([message.id]), "smtp") };
    },

    async sendTestSms(req, ctx) {
      const message = outbox.sms({ to: req.to, text: `Latchkey test SMS from ${config.issuer}.` });
      const now = clock.now();
      await database.batch([message.statement, insertAuditEvent(db, adminEvent(random, ctx, { type: "delivery.test_sms_sent", now, details: { to: req.to, outbox_id: message.id } }))]);
      return { delivery: outcome(await outbox.deliver([message.id]), "webhook") };
    },
  };
}
