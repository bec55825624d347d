/**
 * Security notices: short emails that tell account holders about a change to
 * their account they may not have made themselves. Each is queued in the
 * outbox as part of the change's batch, so it goes out exactly when the
 * change commits. Texts name the service by its configured origin and never
 * echo anything taken from the request but the device name and address.
 */
import type { Outbox, QueuedMessage } from "./outbox.js";

export type SecurityNoticeKind =
  | "new_device_sign_in"
  | "password_changed"
  | "password_reset"
  | "second_factor_added"
  | "second_factor_removed"
  | "second_factor_failed"
  | "recovery_code_used";

export interface SecurityNoticeFacts {
  /** When it happened (ms since the epoch). */
  at: number;
  /** The client address of the request. */
  clientAddress: string;
  /** The device name given at sign-in, or the factor concerned ("authenticator app", "SMS codes"). */
  subject?: string;
}

const SUBJECTS: Record<SecurityNoticeKind, string> = {
  new_device_sign_in: "New sign-in to your account",
  password_changed: "Your password was changed",
  password_reset: "Your password was reset",
  second_factor_added: "A second factor was added to your account",
  second_factor_removed: "A second factor was removed from your account",
  second_factor_failed: "Someone entered your password but not your second factor",
  recovery_code_used: "A recovery code was used to sign in",
};

function firstLine(kind: SecurityNoticeKind, subject: string): string {
  switch (kind) {
    case "new_device_sign_in":
      return `Your account was signed in to from a new device${subject ? ` ("${subject}")` : ""}.`;
    case "password_changed":
      return "The password of your account was changed, and your other sessions were signed out.";
    case "password_reset":
      return "The password of your account was reset with an emailed code, and every session was signed out.";
    case "second_factor_added":
      return `A second sign-in factor${subject ? ` (${subject})` : ""} was added to your account.`;
    case "second_factor_removed":
      return `A second sign-in factor${subject ? ` (${subject})` : ""} was removed from your account.`;
    case "second_factor_failed":
      return `Your password was entered correctly, but the second factor${subject ? ` (${subject})` : ""} was wrong. If this was not you, your password is known to someone else: change it now.`;
    case "recovery_code_used":
      return "One of your recovery codes was used to sign in; it no longer works.";
  }
}

/** The notice as an outbox message for `to`; put its statement in the change's batch. */
export function securityNotice(outbox: Outbox, origin: string, to: string, kind: SecurityNoticeKind, facts: SecurityNoticeFacts): QueuedMessage {
  // Device names are user input: keep them on one line and short.
  const subject = (facts.subject ?? "").replace(/[\p{Cc}\p{Cf}]/gu, " ").slice(0, 100);
  return outbox.email({
    to,
    subject: SUBJECTS[kind],
    text:
      `${firstLine(kind, subject)}\n\n` +
      `When: ${new Date(facts.at).toISOString()}\nFrom address: ${facts.clientAddress}\nService: ${origin}\n\n` +
      `If this was not you, reset your password at ${origin} and review your sessions and second factors.\n`,
  });
}
