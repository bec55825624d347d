/**
 * Signing keys: generated on first start, private halves encrypted at rest
 * with the key-encryption key, public halves served as the JWKS. Several
 * instances share the keys through the database; an instance that meets an
 * unknown `kid` reloads the published keys (at most once a second), and every
 * instance reads them again after RELOAD_AFTER_MS.
 *
 * Rotation adds a new key that signs from then on and retires the previous
 * one, which stays published (and accepted) until every token it may have
 * signed has expired: the longest access-token lifetime, plus the reload
 * interval during which other instances may still sign with it, plus the
 * clock tolerance of verification.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import type { Logger } from "../../domain/logger.js";
import { once } from "../../domain/once.js";
import type { Clock, Random } from "../../domain/ports.js";
import { CLOCK_TOLERANCE_SECONDS, SIGNING_ALGORITHM, importPrivateKey, importPublicKey, type SigningKey } from "../../domain/tokens/access-token.js";
import { base64url, fromBase64url, seal, unseal } from "../../domain/tokens/secrets.js";
import type { Database } from "../../store/database.js";
import { insertSigningKey, listPublishedSigningKeys, retireSigningKeysExcept, type SigningKeyRow } from "../../store/queries/signing-keys.js";

export interface PublishedKey {
  kid: string;
  /** Imported on first use: a fresh Worker isolate verifies with one key at most. */
  publicKey: () => Promise<CryptoKey>;
  jwk: JWK;
  retired: boolean;
}

interface SigningRow {
  kid: string;
  /** Decrypted and imported on first use: most calls only verify. A key it cannot open stays unopenable until the next load. */
  privateKey: () => Promise<CryptoKey>;
}

export interface KeyRing {
  /** Makes sure a signing key exists; call once before serving. */
  ensure(): Promise<void>;
  /**
   * Opens the signing key's private half now, failing when it cannot be
   * decrypted (a wrong LATCHKEY_ENCRYPTION_KEY), instead of at the first
   * token signed.
   */
  checkSigningKey(): Promise<void>;
  /** The key that signs new tokens. */
  signingKey(): Promise<SigningKey>;
  /** The public key of a `kid`, or undefined when it is not published. */
  publicKey(kid: string): Promise<CryptoKey | undefined>;
  /** Public keys for /.well-known/jwks.json: current and still-published retired keys. */
  jwks(): Promise<{ keys: JWK[] }>;
  /**
   * Makes a new key the signing key and retires the others, which stay
   * published for `tokenLifetimeMs` (the longest access-token lifetime) plus
   * the time other instances may take to notice. `alongside` gives the
   * statements (the audit row) committed in the same batch. Answers the new
   * kid and the published kids, newest first.
   */
  rotate(tokenLifetimeMs: number, alongside?: (kid: string) => BatchItem<"sqlite">[]): Promise<{ currentKid: string; publishedKids: string[] }>;
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
  let loaded: { at: number; published: Map<string, PublishedKey>; signing: SigningRow | undefined } | undefined;
  let loading: Promise<void> | undefined;
  let lastMissReload = 0;

  async function load(): Promise<void> {
    const rows = await listPublishedSigningKeys(database.db, clock.now());
    const published = new Map<string, PublishedKey>();
    let signing: SigningRow | undefined;
    for (const row of rows) {
      const jwk = JSON.parse(row.publicJwk) as JWK;
      published.set(row.kid, { kid: row.kid, jwk, publicKey: once(() => importPublicKey(jwk)), retired: row.retiredAt !== null });
      if (!signing && row.retiredAt === null) signing = { kid: row.kid, privateKey: once(() => openPrivateKey(row)) };
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

  /** A new key pair and the statement that stores it. */
  async function generate() {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { crv: "Ed25519", extractable: true });
    const kid = base64url(random.bytes(12));
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALGORITHM, use: "sig" };
    const privateJwk = await exportJWK(privateKey);
    const sealed = await seal(keyEncryptionKey, textEncoder.encode(JSON.stringify(privateJwk)), `signing-key:${kid}`, random);
    const statement = insertSigningKey(database.db, {
      kid,
      alg: SIGNING_ALGORITHM,
      publicJwk: JSON.stringify(publicJwk),
      privateJwkSealed: base64url(sealed),
      createdAt: clock.now(),
    });
    return { kid, statement };
  }

  return {
    async ensure() {
      await reload();
      if (!loaded?.signing) {
        const { kid, statement } = await generate();
        await database.batch([statement]);
        logger.info("signing_key.created", { kid });
        await reload();
      }
    },
    async checkSigningKey() {
      const state = await current();
      await state.signing?.privateKey();
    },
    async signingKey() {
      const state = await current();
      if (!state.signing) throw new Error("no signing key; ensure() was not called");
      return { kid: state.signing.kid, privateKey: await state.signing.privateKey() };
    },
    async publicKey(kid) {
      const state = await current();
      const hit = state.published.get(kid);
      if (hit) return hit.publicKey();
      if (clock.now() - lastMissReload < MISS_RELOAD_INTERVAL_MS) return undefined;
      lastMissReload = clock.now();
      await reload();
      return loaded?.published.get(kid)?.publicKey();
    },
    async jwks() {
      const state = await current();
      return { keys: [...state.published.values()].map((k) => k.jwk) };
    },
    async rotate(tokenLifetimeMs, alongside = () => []) {
      const { kid, statement } = await generate();
      const now = clock.now();
      // Verifiers accept a token a little past its expiry (clock tolerance).
      const publishedUntil = now + tokenLifetimeMs + RELOAD_AFTER_MS + CLOCK_TOLERANCE_SECONDS * 1000;
      const [, retired] = await database.batch([statement, retireSigningKeysExcept(database.db, kid, now, publishedUntil), ...alongside(kid)]);
      logger.info("signing_key.rotated", { kid, retired: retired.map((row) => row.kid).join(","), published_until: new Date(publishedUntil).toISOString() });
      // A load that started before the batch committed would miss the new key.
      await loading?.catch(() => undefined);
      await reload();
      return { currentKid: kid, publishedKids: [...(loaded?.published.keys() ?? [])] };
    },
  };
}
