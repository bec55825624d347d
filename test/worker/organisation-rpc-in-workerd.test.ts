import { ADMIN } from "../rpc/auth-suite.js";
import { defineOrganisationSuite } from "../rpc/organisation-suite.js";
import { startWorker, workerRpcTarget } from "../support/start-worker.js";

defineOrganisationSuite(async () =>
  workerRpcTarget(await startWorker({ bindings: { LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password } })),
);
