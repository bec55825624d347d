import { ADMIN } from "../rpc/auth-suite.js";
import { defineLicenseSuite } from "../rpc/license-suite.js";
import { startWorker, workerRpcTarget } from "../support/start-worker.js";

defineLicenseSuite(async () =>
  workerRpcTarget(await startWorker({ bindings: { LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password } })),
);
