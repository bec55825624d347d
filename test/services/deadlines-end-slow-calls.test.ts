import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { webCryptoRandom } from "../../src/domain/ports.js";
import type { Database } from "../../src/store/database.js";
import { createInterceptors } from "../../src/transport/connect/interceptors.js";
import { captureLogger } from "../support/in-process-app.js";

it("ends an RPC that outlives its declared budget with deadline_exceeded", async () => {
  // A public RPC: neither authentication nor the database is consulted.
  const interceptors = createInterceptors({
    logger: captureLogger(),
    random: webCryptoRandom,
    trustedProxies: [],
    authenticate: async () => undefined,
    database: {} as Database,
  });
  const transport = createRouterTransport(
    (router) => {
      // CheckPasswordStrength declares a 1000 ms budget; this one never answers.
      router.service(AuthService, { checkPasswordStrength: () => new Promise(() => undefined) });
    },
    { router: { interceptors } },
  );
  const started = performance.now();
  const error = await createClient(AuthService, transport)
    .checkPasswordStrength({ password: "anything at all" })
    .then(() => undefined, (e: unknown) => ConnectError.from(e));
  expect(error?.code).toBe(Code.DeadlineExceeded);
  expect(performance.now() - started).toBeLessThan(5000);
});
