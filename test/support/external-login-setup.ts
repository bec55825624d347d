/**
 * A Latchkey Node server wired to real OpenID providers: provider A (issuer
 * A) with two clients, and provider B (another issuer) with a client of the
 * same id and secret as A's first, for mix-up cases.
 */
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { startNode } from "./start-node.js";
import { startOidcProvider, type RunningProvider } from "./oidc-provider.js";
import type { RpcTarget } from "./target.js";

export const APP_REDIRECT = "https://app.latchkey.test/auth/callback";

/** A port that was free a moment ago; the server needs its own URL before it starts. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export interface ExternalLoginWorld {
  latchkey: RpcTarget;
  providerA: RunningProvider;
  providerB: RunningProvider;
  callbackUrl: string;
  testPageUrl: string;
  stop(): Promise<void>;
}

export async function startExternalLoginWorld(): Promise<ExternalLoginWorld> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const callbackUrl = `${origin}/auth/external/callback`;
  const testPageUrl = `${origin}/auth/external/test-page`;
  const redirect_uris = [APP_REDIRECT, callbackUrl];
  const providerA = await startOidcProvider([
    { client_id: "latchkey-a", client_secret: "secret-a-0123456789", redirect_uris },
    { client_id: "latchkey-b", client_secret: "secret-b-0123456789", redirect_uris },
  ]);
  const providerB = await startOidcProvider([{ client_id: "latchkey-a", client_secret: "secret-a-0123456789", redirect_uris }]);
  const providers = [
    {
      id: "alpha",
      display_name: "Alpha",
      issuer: providerA.issuer,
      client_id: "latchkey-a",
      client_secret: "secret-a-0123456789",
      redirect_urls: redirect_uris,
      frontend_url: testPageUrl,
      allow_sign_up: true,
    },
    { id: "beta", issuer: providerA.issuer, client_id: "latchkey-b", client_secret: "secret-b-0123456789", redirect_urls: redirect_uris, allow_sign_up: false },
    { id: "gamma", issuer: providerB.issuer, client_id: "latchkey-a", client_secret: "secret-a-0123456789", redirect_urls: redirect_uris, allow_sign_up: true },
    // Nothing listens on port 9 of this machine: discovery fails.
    { id: "down", issuer: "http://127.0.0.1:9", client_id: "latchkey", redirect_urls: redirect_uris },
  ];
  const latchkey = await startNode({
    PORT: String(port),
    LATCHKEY_ISSUER: origin,
    LATCHKEY_OIDC_PROVIDERS: JSON.stringify(providers),
    LATCHKEY_EXTERNAL_LOGIN_TEST_PAGE: "true",
    ...(process.env.E2E_LOG_LEVEL ? { LOG_LEVEL: process.env.E2E_LOG_LEVEL } : {}),
  });
  return {
    latchkey,
    providerA,
    providerB,
    callbackUrl,
    testPageUrl,
    async stop() {
      await latchkey.stop();
      await providerA.stop();
      await providerB.stop();
    },
  };
}
