/**
 * Opaque secrets and their storage forms, on WebCrypto so the same code runs
 * on Node and in workerd.
 */
import type { Random } from "../ports.js";

const encoder = new TextEncoder();

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text: string): Uint8Array {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(padded + "=".repeat((4 - (padded.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** A new opaque token: a readable prefix and 256 random bits. */
export function newOpaqueToken(random: Random, prefix: string): string {
  return `${prefix}_${base64url(random.bytes(32))}`;
}

/**
 * SHA-256 of a high-entropy token, hex-encoded. A fast hash is right here:
 * the token has 256 bits of entropy, so nothing can be guessed from it, and
 * lookups by hash need to be cheap.
 */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let diff = left.length ^ right.length;
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return diff === 0;
}

type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

async function aesKey(raw: Uint8Array): Promise<WebCryptoKey> {
  return crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** AES-256-GCM with a random 96-bit nonce; output is nonce ‖ ciphertext ‖ tag. */
export async function seal(key: Uint8Array, plaintext: Uint8Array, associatedData: string, random: Random): Promise<Uint8Array> {
  const iv = random.bytes(12);
  const cipher = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: iv as Uint8Array<ArrayBuffer>, additionalData: encoder.encode(associatedData) },
    await aesKey(key),
    plaintext as Uint8Array<ArrayBuffer>,
  );
  const out = new Uint8Array(12 + cipher.byteLength);
  out.set(iv, 0);
  out.set(new Uint8Array(cipher), 12);
  return out;
}

/** Opens what `seal` made; undefined when the key, data or nonce do not match. */
export async function unseal(key: Uint8Array, sealed: Uint8Array, associatedData: string): Promise<Uint8Array | undefined> {
  if (sealed.length < 12 + 16) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: sealed.subarray(0, 12) as Uint8Array<ArrayBuffer>, additionalData: encoder.encode(associatedData) },
      await aesKey(key),
      sealed.subarray(12) as Uint8Array<ArrayBuffer>,
    );
    return new Uint8Array(plain);
  } catch {
    return undefined;
  }
}

/** Derives a 256-bit key from a high-entropy secret with HKDF-SHA256. */
export async function deriveKey(secret: string, purpose: string): Promise<Uint8Array> {
  const material = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: encoder.encode(purpose) },
    material,
    256,
  );
  return new Uint8Array(bits);
}
