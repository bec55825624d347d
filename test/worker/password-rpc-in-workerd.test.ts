/**
 * The password suite inside workerd with D1. The Worker has no mail
 * transport, so reset codes and notices stay in the outbox, where the suite
 * reads them.
 */
import { ADMIN } from "../rpc/auth-suite.js";
import { definePasswordSuite } from "../rpc/password-suite.js";
import { outboxInbox } from "../rpc/verification-suite.js";
import { startWorker, workerRpcTarget } from "../support/start-worker.js";

definePasswordSuite(async () => {
  const worker = await startWorker({
    bindings: { LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password },
  });
  const target = workerRpcTarget(worker);
  return { target, inbox: outboxInbox(target), issuer: worker.bindings.LATCHKEY_ISSUER! };
});
