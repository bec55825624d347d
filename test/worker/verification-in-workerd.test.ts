/**
 * The verification suite inside workerd with D1. The Worker has no SMTP or
 * SMS transport, so messages stay in the outbox, and that is where the
 * suite reads the codes.
 */
import { ADMIN } from "../rpc/auth-suite.js";
import { defineVerificationSuite, outboxInbox } from "../rpc/verification-suite.js";
import { startWorker, workerRpcTarget } from "../support/start-worker.js";

defineVerificationSuite(async () => {
  const worker = await startWorker({
    bindings: { LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password },
  });
  const target = workerRpcTarget(worker);
  return { target, inbox: outboxInbox(target), issuer: worker.bindings.LATCHKEY_ISSUER! };
});
