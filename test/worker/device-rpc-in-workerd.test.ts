import { ADMIN } from "../rpc/auth-suite.js";
import { defineDeviceSuite } from "../rpc/device-suite.js";
import { startWorker, workerRpcTarget } from "../support/start-worker.js";

defineDeviceSuite(async () =>
  workerRpcTarget(await startWorker({ bindings: { LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password } })),
);
