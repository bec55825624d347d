/**
 * Signing keys: generated on first start, private halves encrypted at rest
 * with the key-encryption key, public halves served as the JWKS. Several
 * instances share the keys through the database; an instance that meets an
 * unknown `kid` reloads the published keys (at most once a second).
 */
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import type { Logger } from "../../domain/logger.js";
import type { Clock, Random } from "../../domain/ports.js";
import { SIGNING_ALGORITHM, importPrivateKey, importPublicKey, type SigningKey } from "../../domain/tokens/access-token.js";
import { base64url, fromBase64url, seal, unseal } from "../../domain/tokens/secrets.js";
import type { Database } from "../../store/database.js";
import { insertSigningKey, listPublishedSigningKeys, type SigningKeyRow } from "../../store/queries/signing-keys.js";

export interface PublishedKey {
  kid: string;
  publicKey: CryptoKey;
  jwk: JWK;
  retired: boolean;
}

export interface KeyRing {
  /** Makes sure a signing key exists; call once before serving. */
  ensure(): Promise<void>;
  /** The key that signs new tokens. */
  signingKey(): Promise<SigningKey>;
  /** The public key of a `kid`, or undefined when it is not published. */
  publicKey(kid: string): Promise<CryptoKey | undefined>;
  /** Public keys for /.well-known/jwks.json: current and still-published retired keys. */
  jwks(): Promise<{ keys: JWK[] }>;
}

export interface KeyRingDeps {
  database: Database;
  keyEncryptionKey: Uint8Array;
  clock: Clock;
  random: Random;
  logger: Logger;
}

/** How long a loaded key set is trusted before it is read again. */
const RELOAD_AFTER_MS = 60_000;
/** Unknown kids trigger a reload at most this often. */
const MISS_RELOAD_INTERVAL_MS = 1_000;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function createKeyRing(deps: KeyRingDeps): KeyRing {
  const { database, keyEncryptionKey, clock, random, logger } = deps;
  let loaded: { at: number; published: Map<string, PublishedKey>; signing: SigningKey | undefined } | undefined;
  let loading: Promise<void> | undefined;
  let lastMissReload = 0;

  async function load(): Promise<void> {
    const rows = await listPublishedSigningKeys(database.db, clock.now());
    const published = new Map<string, PublishedKey>();
    let signing: SigningKey | undefined;
    for (const row of rows) {
      const jwk = JSON.parse(row.publicJwk) as JWK;
      published.set(row.kid, { kid: row.kid, jwk, publicKey: await importPublicKey(jwk), retired: row.retiredAt !== null });
      if (!signing && row.retiredAt === null) signing = { kid: row.kid, privateKey: await openPrivateKey(row) };
    }
    loaded = { at: clock.now(), published, signing };
  }

  async function reload(): Promise<void> {
    loading ??= load().finally(() => {
      loading = undefined;
    });
    return loading;
  }

  async function current() {
    if (!loaded || clock.now() - loaded.at > RELOAD_AFTER_MS) await reload();
    return loaded!;
  }

  async function openPrivateKey(row: SigningKeyRow): Promise<CryptoKey> {
    const plain = await unseal(keyEncryptionKey, fromBase64url(row.privateJwkSealed), `signing-key:${row.kid}`);
    if (!plain) throw new Error(`signing key ${row.kid} cannot be decrypted: wrong LATCHKEY_ENCRYPTION_KEY?`);
    return importPrivateKey(JSON.parse(textDecoder.decode(plain)) as JWK);
  }

  async function generate(): Promise<void> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { crv: "Ed25519", extractable: true });
    const kid = base64url(random.bytes(12));
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALGORITHM, use: "sig" };
    const privateJwk = await exportJWK(privateKey);
    const sealed = await seal(keyEncryptionKey, textEncoder.encode(JSON.stringify(privateJwk)), `signing-key:${kid}`, random);
    await database.batch([
      insertSigningKey(database.db, {
        kid,
        alg: SIGNING_ALGORITHM,
        publicJwk: JSON.stringify(publicJwk),
        privateJwkSealed: base64url(sealed),
        createdAt: clock.now(),
      }),
    ]);
    logger.info("signing_key.created", { kid });
  }

  return {
    async ensure() {
      await reload();
      if (!loaded?.signing) {
        await generate();
        await reload();
      }
    },
    async signingKey() {
      const state = await current();
      if (!state.signing) throw new Error("no signing key; ensure() was not called");
      return state.signing;
    },
    async publicKey(kid) {
      const state = await current();
      const hit = state.published.get(kid);
      if (hit) return hit.publicKey;
      if (clock.now() - lastMissReload < MISS_RELOAD_INTERVAL_MS) return undefined;
      lastMissReload = clock.now();
      await reload();
      return loaded?.published.get(kid)?.publicKey;
    },
    async jwks() {
      const state = await current();
      return { keys: [...state.published.values()].map((k) => k.jwk) };
    },
  };
}
