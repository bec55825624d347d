/**
 * Opaque page tokens for simple newest-first lists: the last row's position,
 * bound to the query by an HMAC so a token cannot be forged or replayed
 * against another query.
 */
import { invalidField } from "../domain/errors.js";
import { base64url, fromBase64url } from "../domain/tokens/secrets.js";

export interface SimpleCursor {
  createdAt: number;
  id: string;
}

const encoder = new TextEncoder();

async function hmac(key: Uint8Array, data: string): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(data)));
}

export async function encodeSimpleCursor(cursor: SimpleCursor, key: Uint8Array, queryKey: string): Promise<string> {
  const body = base64url(encoder.encode(JSON.stringify([cursor.createdAt, cursor.id])));
  const tag = base64url((await hmac(key, `${queryKey}\n${body}`)).subarray(0, 16));
  return `${body}.${tag}`;
}

export async function decodeSimpleCursor(token: string, key: Uint8Array, queryKey: string): Promise<SimpleCursor> {
  const [body, tag] = token.split(".");
  if (!body || !tag || base64url((await hmac(key, `${queryKey}\n${body}`)).subarray(0, 16)) !== tag) {
    throw invalidField("page_token", "is not a page token of this query");
  }
  const [createdAt, id] = JSON.parse(new TextDecoder().decode(fromBase64url(body))) as [number, string];
  return { createdAt, id };
}
