import { describe, expect, it } from "vitest";
import { assertSafeEmailMessage, assertSafeSms, type EmailMessage, type SmsMessage } from "../../src/domain/delivery.js";
import { DomainError } from "../../src/domain/errors.js";

const mail: EmailMessage = { to: "ada@example.com", subject: "Your Latchkey code", text: "Your code is 123456.\r\nIt expires in 10 minutes.\n" };
const sms: SmsMessage = { to: "+41791234567", text: "Latchkey code: 123456\nValid for 10 minutes." };

function refusedField(check: () => void): string {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    const domainError = error as DomainError;
    expect(domainError.kind).toBe("invalid_argument");
    expect(domainError.reason).toBe("INVALID_FIELD");
    return domainError.violations[0]!.field;
  }
  throw new Error("expected the message to be refused");
}

describe("email messages", () => {
  it("accepts one plain address, a one-line subject and multi-line text", () => {
    expect(() => assertSafeEmailMessage(mail)).not.toThrow();
    expect(() => assertSafeEmailMessage({ ...mail, to: "o'brien+latchkey@mail.example.co.uk" })).not.toThrow();
    expect(() => assertSafeEmailMessage({ ...mail, subject: "Grüße — 🔐".padEnd(200, "x") })).not.toThrow();
    expect(() => assertSafeEmailMessage({ ...mail, text: "col1\tcol2\n" })).not.toThrow();
  });

  it.each([
    "ada@example.com\r\nBcc: eve@example.com",
    "ada@example.com\nBcc: eve@example.com",
    "ada@example.com\r",
    "ada@example.com, eve@example.com",
    "ada@example.com;eve@example.com",
    "Ada <ada@example.com>",
    "<ada@example.com>",
    '"ada"@example.com',
    "ada(comment)@example.com",
    "ada@[127.0.0.1]",
    "undisclosed-recipients:;",
    "ada@example.com\u2028",
    "ada\u200b@example.com",
    "ada @example.com",
    "ada@example",
    "",
  ])("refuses the recipient %j", (to) => {
    expect(refusedField(() => assertSafeEmailMessage({ ...mail, to }))).toBe("to");
  });

  it.each([
    "Hello\r\nBcc: eve@example.com",
    "Hello\nBcc: eve@example.com",
    "Hello\rBcc: eve@example.com",
    "Hello\u2028Bcc: eve@example.com",
    "Hello\u0000",
    "Hello\tthere",
    "Hello\u007f",
    "   ",
    "",
    "x".repeat(201),
    "🔐".repeat(201),
  ])("refuses the subject %j", (subject) => {
    expect(refusedField(() => assertSafeEmailMessage({ ...mail, subject }))).toBe("subject");
  });

  it("counts the subject limit in characters, not UTF-16 units", () => {
    expect(() => assertSafeEmailMessage({ ...mail, subject: "🔐".repeat(200) })).not.toThrow();
  });

  it.each(["", "code\u0000", "code\u001b[31m", "x".repeat(64 * 1024 + 1)])("refuses the text %j", (text) => {
    expect(refusedField(() => assertSafeEmailMessage({ ...mail, text }))).toBe("text");
  });

  it("names the recipient first when several fields are bad", () => {
    expect(refusedField(() => assertSafeEmailMessage({ to: "a@b.c\nX", subject: "s\nX", text: "" }))).toBe("to");
  });
});

describe("SMS messages", () => {
  it("accepts an E.164 number and up to 640 characters with newlines", () => {
    expect(() => assertSafeSms(sms)).not.toThrow();
    expect(() => assertSafeSms({ ...sms, text: "é".repeat(640) })).not.toThrow();
  });

  it.each(["0791234567", "+41 79 123 45 67", "+041791234567", "+41791234567\n", "+1234567", "+1234567890123456", ""])(
    "refuses the number %j",
    (to) => {
      expect(refusedField(() => assertSafeSms({ ...sms, to }))).toBe("to");
    },
  );

  it.each(["", " \n ", "code\r\n123456", "code\u0007", "code\t1", "x".repeat(641), "🔐".repeat(641)])("refuses the text %j", (text) => {
    expect(refusedField(() => assertSafeSms({ ...sms, text }))).toBe("text");
  });
});
