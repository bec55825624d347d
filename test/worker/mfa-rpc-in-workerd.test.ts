/**
 * The second-factor suite inside workerd with D1: the TOTP library and the
 * QR code run in the Worker bundle, and codes and notices are read from the
 * outbox, since the Worker has no SMTP or SMS transport.
 */
import { ADMIN } from "../rpc/auth-suite.js";
import { defineMfaSuite } from "../rpc/mfa-suite.js";
import { outboxInbox } from "../rpc/verification-suite.js";
import { startWorker, workerRpcTarget } from "../support/start-worker.js";

defineMfaSuite(async () => {
  const worker = await startWorker({
    bindings: { LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password },
  });
  const target = workerRpcTarget(worker);
  return { target, inbox: outboxInbox(target), issuer: worker.bindings.LATCHKEY_ISSUER! };
});
