/**
 * Outgoing messages: the ports that carry them and the checks every message
 * passes before it is queued. Recipients and subjects may come from callers
 * (an admin's test mail, a user's own address), and an SMTP header ends at a
 * line break, so a CR or LF there would let a caller add headers such as Bcc.
 * The checks refuse such values instead of cleaning them, so what is sent is
 * exactly what was asked for.
 */
import { invalidField } from "./errors.js";
import { codePointLength, isE164, isEmail } from "./formats.js";

export interface EmailMessage {
  /** One plain address, no display name: `user@example.com`. */
  to: string;
  subject: string;
  /** Plain text. */
  text: string;
}

export interface SmsMessage {
  /** E.164 number: `+41791234567`. */
  to: string;
  text: string;
}

export interface MailTransport {
  /** Resolves once the server has accepted the message; rejects otherwise. */
  send(message: EmailMessage): Promise<void>;
}

export interface SmsTransport {
  /** Resolves once the gateway has accepted the message; rejects otherwise. */
  send(message: SmsMessage): Promise<void>;
}

export const MAX_SUBJECT_LENGTH = 200;
/** Four concatenated SMS segments at most; gateways split longer texts unpredictably. */
export const MAX_SMS_LENGTH = 640;
/** Bounds an outbox row; our own mails are a few hundred characters. */
export const MAX_EMAIL_TEXT_LENGTH = 64 * 1024;

// Address-list syntax (`a@x.y, b@x.y`, `Name <a@x.y>`, groups, comments,
// quoted local parts) would let one value name several recipients once a
// mailer parses it, so a recipient may contain none of these characters.
const ADDRESS_SYNTAX = /[,;:<>()[\]"\\]/;
// Control, format, private-use and unassigned code points, and the Unicode
// line and paragraph separators, which some mail software treats as breaks.
const INVISIBLE_OR_BREAKING = /[\p{C}\p{Zl}\p{Zp}]/u;
const CONTROL = /\p{Cc}/u;
const CONTROL_BUT_LINE_BREAKS_AND_TAB = /[^\P{Cc}\t\r\n]/u;
const CONTROL_BUT_NEWLINE = /[^\P{Cc}\n]/u;

/** Throws invalid_argument naming the first unsafe field of an email. */
export function assertSafeEmailMessage(message: EmailMessage): void {
  const { to, subject, text } = message;
  if (!isEmail(to) || ADDRESS_SYNTAX.test(to) || INVISIBLE_OR_BREAKING.test(to)) {
    throw invalidField("to", "must be exactly one plain email address");
  }
  if (subject.trim() === "") throw invalidField("subject", "must not be empty");
  if (CONTROL.test(subject) || /[\p{Zl}\p{Zp}]/u.test(subject)) {
    throw invalidField("subject", "must be a single line without control characters");
  }
  if (codePointLength(subject) > MAX_SUBJECT_LENGTH) {
    throw invalidField("subject", `must be at most ${MAX_SUBJECT_LENGTH} characters`);
  }
  if (text === "") throw invalidField("text", "must not be empty");
  if (CONTROL_BUT_LINE_BREAKS_AND_TAB.test(text)) {
    throw invalidField("text", "must not contain control characters other than line breaks and tabs");
  }
  if (text.length > MAX_EMAIL_TEXT_LENGTH) {
    throw invalidField("text", `must be at most ${MAX_EMAIL_TEXT_LENGTH} characters`);
  }
}

/** Throws invalid_argument naming the first unsafe field of an SMS. */
export function assertSafeSms(message: SmsMessage): void {
  const { to, text } = message;
  if (!isE164(to)) throw invalidField("to", "must be a phone number in E.164 format, e.g. +41791234567");
  if (text.trim() === "") throw invalidField("text", "must not be empty");
  if (CONTROL_BUT_NEWLINE.test(text)) {
    throw invalidField("text", "must not contain control characters other than newlines");
  }
  if (codePointLength(text) > MAX_SMS_LENGTH) {
    throw invalidField("text", `must be at most ${MAX_SMS_LENGTH} characters`);
  }
}
