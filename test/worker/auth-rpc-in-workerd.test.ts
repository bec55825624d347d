import { defineAuthSuite, ADMIN } from "../rpc/auth-suite.js";
import { createWorkerTransports, startWorker } from "../support/start-worker.js";

defineAuthSuite(async () => {
  const worker = await startWorker({
    bindings: { LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password },
  });
  const transports = createWorkerTransports(worker);
  return {
    name: "worker",
    baseUrl: worker.url,
    fetch: (input, init) => worker.fetch(input, init),
    transports: { connect: transports.connectJson, grpcWeb: transports.grpcWeb },
    exec: (sql, args) => worker.exec(sql, args),
    stop: () => worker.dispose(),
  };
});
