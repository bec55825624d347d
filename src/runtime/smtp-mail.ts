/**
 * Mail over SMTP with nodemailer, for the Node runtime (Workers cannot open
 * raw TCP connections for SMTP). One connection per message: mails are rare,
 * and no idle connection outlives a send.
 */
import { createTransport } from "nodemailer";
import { assertSafeEmailMessage, type MailTransport } from "../domain/delivery.js";

// Short enough that a dead server fails a send within seconds, so `deliver`
// after a request does not hold resources for the library's minutes-long
// defaults; the outbox retries later anyway.
const CONNECTION_TIMEOUT_MS = 5_000;
const GREETING_TIMEOUT_MS = 5_000;
const SOCKET_TIMEOUT_MS = 10_000;

/** `Latchkey <no-reply@host>` for the host of the issuer URL. */
export function noReplySender(issuer: string): string {
  return `Latchkey <no-reply@${new URL(issuer).hostname}>`;
}

/** `smtpUrl` is SMTP_URL (`smtp://` or `smtps://`, credentials in the URL if any). */
export function createSmtpMailTransport(smtpUrl: string, options: { from: string }): MailTransport {
  const transporter = createTransport({
    url: smtpUrl,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: GREETING_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    // Messages are plain text we compose; nothing may make the mailer read
    // local files or fetch URLs on our behalf.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    async send(message) {
      // Checked again here: rows may predate a rule, and this is the last
      // step before the values become SMTP headers.
      assertSafeEmailMessage(message);
      await transporter.sendMail({ from: options.from, to: message.to, subject: message.subject, text: message.text });
    },
  };
}
