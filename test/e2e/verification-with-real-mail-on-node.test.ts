/**
 * The verification suite against the real Node server, with the codes read
 * from what a real SMTP server (in its own process) and an SMS gateway
 * received: the whole path from the batch through the outbox to the wire.
 */
import { startSmsSink, type SmsSink } from "../support/sms-sink.js";
import { startSmtpSink, type SinkMessage, type SmtpSink, type WaitList } from "../support/smtp-sink.js";
import { startNode } from "../support/start-node.js";
import { defineVerificationSuite, type Inbox, type ReceivedMessage } from "../rpc/verification-suite.js";

const ISSUER = "https://id.latchkey.test";

/** Each message is read once; `waitFor` also covers messages still on their way. */
function sinkInbox(smtp: SmtpSink, sms: SmsSink): Inbox {
  const read = new Set<object>();
  async function next<T extends object>(list: WaitList<T>, addressedTo: (message: T) => boolean, view: (message: T) => ReceivedMessage) {
    const message = await list.waitFor((m) => addressedTo(m) && !read.has(m));
    read.add(message);
    return view(message);
  }
  return {
    nextEmail: (to) =>
      next<SinkMessage>(
        smtp,
        (m) => m.envelopeTo.length === 1 && m.envelopeTo[0] === to && m.to === to,
        (m) => ({ subject: m.subject, text: m.text }),
      ),
    nextSms: (to) => next(sms, (m) => m.to === to, (m) => ({ subject: "", text: m.text })),
  };
}

defineVerificationSuite(async () => {
  const [smtp, sms] = await Promise.all([startSmtpSink(), startSmsSink()]);
  const target = await startNode({ SMTP_URL: smtp.url, SMS_WEBHOOK_URL: sms.url, LATCHKEY_ISSUER: ISSUER });
  return {
    target,
    inbox: sinkInbox(smtp, sms),
    issuer: ISSUER,
    stop: async () => {
      await Promise.all([smtp.stop(), sms.stop()]);
    },
  };
});
