import { afterAll, beforeAll, expect, it } from "vitest";
import { fromBase64url, unseal } from "../../src/domain/tokens/secrets.js";
import { signingKeys } from "../../src/store/schema/index.js";
import { createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createNodeArgon2Hasher } from "../../src/runtime/argon2-node.js";
import { importPasswordDictionaries } from "../../src/runtime/password-dictionaries.js";
import { KEY_ENCRYPTION_KEY, captureLogger, startInProcess } from "../support/in-process-app.js";

let env: Awaited<ReturnType<typeof startInProcess>>;
beforeAll(async () => {
  env = await startInProcess();
});
afterAll(() => env?.stop());

it("creates a signing key on first start and stores its private half encrypted", async () => {
  const rows = await env.database.db.select().from(signingKeys).all();
  expect(rows).toHaveLength(1);
  const row = rows[0]!;
  expect(row.alg).toBe("EdDSA");
  expect(JSON.parse(row.publicJwk)).not.toHaveProperty("d");
  expect(row.privateJwkSealed).not.toContain('"d"');
  const sealed = fromBase64url(row.privateJwkSealed);
  const opened = await unseal(KEY_ENCRYPTION_KEY, sealed, `signing-key:${row.kid}`);
  expect(JSON.parse(new TextDecoder().decode(opened!))).toHaveProperty("d");
  expect(await unseal(new Uint8Array(32).fill(8), sealed, `signing-key:${row.kid}`)).toBeUndefined();
  expect(await unseal(KEY_ENCRYPTION_KEY, sealed, "signing-key:another-kid")).toBeUndefined();
});

it("a start with another encryption key fails before serving, naming the cause", async () => {
  const app = await createApp({
    config: loadConfig({}),
    database: env.database,
    hasher: createNodeArgon2Hasher({ maxConcurrent: 1, maxQueued: 1 }),
    passwordDictionaries: importPasswordDictionaries,
    keyEncryptionKey: new Uint8Array(32).fill(8),
    logger: captureLogger(),
    runtime: "node",
  });
  // What Node awaits before it listens.
  await expect(app.warmUp()).rejects.toThrow(/cannot be decrypted: wrong LATCHKEY_ENCRYPTION_KEY/);
  // The key it could not open is still the one stored.
  expect(await env.database.db.select().from(signingKeys).all()).toHaveLength(1);
});
