/**
 * An Inbox over what the real SMTP server (in its own process) and the SMS
 * gateway received: each message is read once, and `waitFor` also covers
 * messages still on their way.
 */
import type { Inbox, ReceivedMessage, VerificationTarget } from "../rpc/verification-suite.js";
import { startSmsSink, type SmsSink } from "./sms-sink.js";
import { startSmtpSink, type SinkMessage, type SmtpSink, type WaitList } from "./smtp-sink.js";
import { startNode } from "./start-node.js";

export function sinkInbox(smtp: SmtpSink, sms: SmsSink): Inbox {
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

/**
 * The real Node server wired to a real SMTP sink process and an SMS sink,
 * with an inbox over both: the target of the suites that read codes.
 */
export async function startNodeWithSinks(issuer: string): Promise<VerificationTarget> {
  const [smtp, sms] = await Promise.all([startSmtpSink(), startSmsSink()]);
  const target = await startNode({ SMTP_URL: smtp.url, SMS_WEBHOOK_URL: sms.url, LATCHKEY_ISSUER: issuer });
  return {
    target,
    inbox: sinkInbox(smtp, sms),
    issuer,
    stop: async () => {
      await Promise.all([smtp.stop(), sms.stop()]);
    },
  };
}
