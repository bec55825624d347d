import { ADMIN } from "../rpc/auth-suite.js";
import { DEVICE_FLOW_ISSUER, defineDeviceFlowSuite } from "../rpc/device-flow-suite.js";
import { startWorker, workerRpcTarget } from "../support/start-worker.js";

defineDeviceFlowSuite(async () =>
  workerRpcTarget(
    await startWorker({
      bindings: { LATCHKEY_ISSUER: DEVICE_FLOW_ISSUER, LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password },
    }),
  ),
);
