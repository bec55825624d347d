/**
 * SendTestEmail and SendTestSms on the Node server with real transports: a
 * real SMTP server process and an HTTP SMS gateway receive the messages.
 */
import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AdminService } from "../../gen/latchkey/admin/v1/admin_service_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { bearer, rpcError, signInPair } from "../support/rpc-calls.js";
import { startSmsSink, type SmsSink } from "../support/sms-sink.js";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.js";
import { BOOTSTRAP_ADMIN, startNode } from "../support/start-node.js";
import type { RpcTarget } from "../support/target.js";

let smtp: SmtpSink;
let sms: SmsSink;
let target: RpcTarget;
let admin: Client<typeof AdminService>;
let rootToken: string;

beforeAll(async () => {
  [smtp, sms] = await Promise.all([startSmtpSink(), startSmsSink()]);
  target = await startNode({ SMTP_URL: smtp.url, SMS_WEBHOOK_URL: sms.url });
  admin = createClient(AdminService, target.transports.connect);
  rootToken = (await signInPair(createClient(AuthService, target.transports.connect), BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password)).accessToken;
});
afterAll(async () => {
  await target?.stop();
  await Promise.all([smtp?.stop(), sms?.stop()]);
});

it("sends a test email over SMTP to exactly the one recipient", async () => {
  const to = `ops-${Date.now()}@example.com`;
  expect((await admin.sendTestEmail({ to }, bearer(rootToken))).delivery).toBe("smtp");
  const received = await smtp.waitFor((m) => m.envelopeTo.includes(to), 10_000);
  expect(received.envelopeTo).toEqual([to]);
  expect(received.subject).toContain("test");
  const rows = await target.exec("SELECT sent_at FROM outbox WHERE recipient = ?", [to]);
  expect(rows[0]!.sent_at).not.toBeNull();

  const before = smtp.messages.length;
  const injected = await rpcError(admin.sendTestEmail({ to: `${to}\r\nBcc: thief@evil.test` }, bearer(rootToken)));
  expect(injected.code).toBe(Code.InvalidArgument);
  expect(smtp.messages.length).toBe(before);
});

it("posts a test SMS to the webhook, and says so when the gateway refuses it", async () => {
  const to = `+4179${String(Date.now()).slice(-7)}`;
  expect((await admin.sendTestSms({ to }, bearer(rootToken))).delivery).toBe("webhook");
  expect((await sms.waitFor((m) => m.to === to, 10_000)).text).toContain("test");

  sms.respondWith(503);
  try {
    const refused = await rpcError(admin.sendTestSms({ to }, bearer(rootToken)));
    expect(refused.code).toBe(Code.Unavailable);
    const kept = await target.exec("SELECT last_error FROM outbox WHERE recipient = ? AND sent_at IS NULL", [to]);
    expect(kept).toHaveLength(1);
  } finally {
    sms.respondWith(204);
  }
});
