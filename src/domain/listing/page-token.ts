/**
 * Page tokens and page sizes of List methods (AIP-158).
 *
 * A token is a keyset position: the order-by values of the last row returned
 * (the last of them is the row's id, see order-by.ts). The next page starts
 * strictly after that position, so rows inserted or deleted between calls
 * neither shift nor repeat the rest, and the query seeks through an index
 * instead of counting past skipped rows.
 *
 * The token also carries a hash of the query it belongs to, and an HMAC over
 * both, so a token cannot be edited to point elsewhere, nor replayed against
 * a different filter, order or scope (AIP-158: the other parameters must
 * match). `page_size` and `offset` are not part of that query: AIP-158 lets
 * the page size change between pages, and `offset` skips rows after the
 * token's position on each call.
 *
 * The token is URL-safe and meant to be opaque, but it is signed, not
 * encrypted: it holds values of a row the caller has already seen.
 *
 * WebCrypto only, so it runs on Node and in workerd alike.
 */
import { invalidField } from "../errors.js";
import { base64url, constantTimeEqual, fromBase64url } from "../tokens/secrets.js";
import type { FilterExpression } from "./filter.js";
import type { OrderTerm } from "./order-by.js";

/** One order-by value of a row: text or a number (timestamps are epoch ms). */
export type CursorValue = string | number;

export interface PageTokenPayload {
  /** `listQueryHash` of the query the token belongs to. */
  readonly queryHash: string;
  /** The values of the last row returned, one per order term (id last). */
  readonly after: readonly CursorValue[];
}

/** What a page token is bound to; everything but page size and offset. */
export interface ListQuery {
  /** Which collection, e.g. "users", so a token of one List method is no good in another. */
  readonly collection: string;
  readonly filter: FilterExpression | undefined;
  readonly orderBy: readonly OrderTerm[];
  /** Whatever else narrows the list, e.g. { organisationId }. */
  readonly scope?: Readonly<Record<string, string | number | boolean | null | undefined>>;
}

export interface PageSizeLimits {
  readonly default: number;
  readonly max: number;
}

export const DEFAULT_PAGE_SIZE_LIMITS: PageSizeLimits = { default: 50, max: 1000 };

/** Longer tokens are refused before any decoding work. */
export const MAX_PAGE_TOKEN_LENGTH = 4096;

const VERSION = 1;
/** 128 bits each: plenty for a MAC that is checked online and a hash that is MAC-protected, and they keep tokens short. */
const HASH_BYTES = 16;
const MAC_BYTES = 16;
const HEADER_BYTES = 1 + HASH_BYTES + MAC_BYTES;
const MAX_CURSOR_VALUES = 16;
/** Keeps a MAC made here from ever matching one made with the same key for something else. */
const MAC_CONTEXT = "latchkey page token v1\0";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * A short, stable hash of a normalised query. The filter and order are
 * hashed in their parsed form, so spacing, quoting and timestamp offsets that
 * do not change the meaning do not change the hash.
 */
export async function listQueryHash(query: ListQuery): Promise<string> {
  const scope = Object.entries(query.scope ?? {})
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = JSON.stringify([
    query.collection,
    query.filter ?? null,
    query.orderBy.map((term) => [term.field, term.descending]),
    scope,
  ]);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(canonical)));
  return base64url(digest.subarray(0, HASH_BYTES));
}

/** A URL-safe token for `payload`, signed with `key` (at least 32 bytes). */
export async function encodePageToken(payload: PageTokenPayload, key: Uint8Array): Promise<string> {
  if (!/^[A-Za-z0-9_-]{22}$/.test(payload.queryHash)) throw new Error("queryHash must come from listQueryHash");
  const hash = fromBase64url(payload.queryHash);
  if (payload.after.length === 0 || payload.after.length > MAX_CURSOR_VALUES || !payload.after.every(isCursorValue)) {
    throw new Error(`a page token holds 1 to ${MAX_CURSOR_VALUES} strings or finite numbers`);
  }
  const body = encoder.encode(JSON.stringify(payload.after));
  const token = new Uint8Array(HEADER_BYTES + body.length);
  token[0] = VERSION;
  token.set(hash, 1);
  token.set(body, HEADER_BYTES);
  token.set(await mac(key, token), 1 + HASH_BYTES);
  return base64url(token);
}

/**
 * Checks and opens a token from `encodePageToken`. Garbage, a token that was
 * altered or signed with another key, or one issued for another query
 * answer invalid_argument on `page_token`.
 */
export async function decodePageToken(token: string, key: Uint8Array, expectedQueryHash: string): Promise<PageTokenPayload> {
  const invalid = () => invalidField("page_token", "is not a valid page token; start again without page_token");
  if (token.length > MAX_PAGE_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token) || token.length % 4 === 1) throw invalid();
  const bytes = fromBase64url(token);
  if (bytes.length <= HEADER_BYTES || bytes[0] !== VERSION) throw invalid();
  const expectedMac = base64url(await mac(key, bytes));
  if (!constantTimeEqual(base64url(bytes.subarray(1 + HASH_BYTES, HEADER_BYTES)), expectedMac)) throw invalid();

  const queryHash = base64url(bytes.subarray(1, 1 + HASH_BYTES));
  if (queryHash !== expectedQueryHash) {
    throw invalidField("page_token", "belongs to a different query; keep filter, order_by and the scope of the first call, or start again without page_token");
  }
  let after: unknown;
  try {
    after = JSON.parse(decoder.decode(bytes.subarray(HEADER_BYTES)));
  } catch {
    throw invalid();
  }
  // Signed tokens are well formed; this guards against a leaked or misused key.
  if (!Array.isArray(after) || after.length === 0 || after.length > MAX_CURSOR_VALUES || !after.every(isCursorValue)) throw invalid();
  return { queryHash, after };
}

/**
 * The page size to use (AIP-158): 0 means the default, values above the
 * maximum are lowered to it, negative values answer invalid_argument.
 */
export function pageSize(requested: number, limits: PageSizeLimits = DEFAULT_PAGE_SIZE_LIMITS): number {
  if (!Number.isInteger(requested)) throw invalidField("page_size", "must be a whole number");
  if (requested < 0) throw invalidField("page_size", "must not be negative");
  if (requested === 0) return limits.default;
  return Math.min(requested, limits.max);
}

function isCursorValue(value: unknown): value is CursorValue {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

/** HMAC-SHA256, cut to MAC_BYTES, over the token with its MAC field left out. */
async function mac(key: Uint8Array, token: Uint8Array): Promise<Uint8Array> {
  if (key.length < 32) throw new Error("page token keys must be at least 32 bytes");
  const hmacKey = await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const context = encoder.encode(MAC_CONTEXT);
  const signed = new Uint8Array(context.length + token.length - MAC_BYTES);
  signed.set(context, 0);
  signed.set(token.subarray(0, 1 + HASH_BYTES), context.length);
  signed.set(token.subarray(HEADER_BYTES), context.length + 1 + HASH_BYTES);
  const full = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, signed));
  return full.subarray(0, MAC_BYTES);
}
