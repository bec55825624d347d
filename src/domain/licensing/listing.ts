/** ListLicenses: what it may order by, its default order, and how it reads `q`. */
import { parseOrderBy, TIE_BREAKER, type OrderTerm } from "../listing/order-by.js";
import { KEY_ALPHABET } from "./rules.js";

export const LICENSE_ORDER_FIELDS = ["agreement_name", "license_key", "starts_at", "expires_at"] as const;
export const DEFAULT_LICENSE_ORDER = "license_key";

/**
 * The order of `order_by` (default `license_key`). The `id` that ends every
 * order runs in the direction of the term before it, so that a single-field
 * order, ascending or descending, is one index range read forwards or
 * backwards ((organisation, field, id) indexes) without a sort.
 */
export function licenseOrder(orderBy: string): OrderTerm[] {
  const order = parseOrderBy(orderBy, LICENSE_ORDER_FIELDS, DEFAULT_LICENSE_ORDER);
  const last = order.at(-1)!;
  const before = order.at(-2);
  if (last.field === TIE_BREAKER && before) order[order.length - 1] = { field: TIE_BREAKER, descending: before.descending };
  return order;
}

/** The characters a licence key holds: "LK-", then key symbols and dashes. */
const KEY_CHARACTERS = new Set(`LK-${KEY_ALPHABET}`);

/**
 * Whether `q` can occur in a licence key at all (case-insensitively, as
 * LIKE compares ASCII letters). When it cannot, only agreement names need
 * to be searched.
 */
export function mayMatchKey(q: string): boolean {
  return [...q.toUpperCase()].every((c) => KEY_CHARACTERS.has(c));
}

const KEY_SYMBOLS = new Set(KEY_ALPHABET);

/**
 * The fragments of two key symbols in `q`, upper-cased: license_key_grams
 * has an entry for each such fragment of every key, so a key holding `q`
 * is among the entries of each. "LK" and fragments with a dash are left
 * out, being in every key. Empty when `q` has no such fragment (one
 * symbol, "lk-") or is not ASCII (LIKE folds ASCII letters only); then
 * keys are tested one by one.
 */
export function keyGrams(q: string): string[] {
  if (!/^[\x20-\x7e]*$/.test(q)) return [];
  const upper = q.toUpperCase();
  const grams = new Set<string>();
  for (let i = 0; i + 2 <= upper.length; i++) {
    const gram = upper.slice(i, i + 2);
    if (KEY_SYMBOLS.has(gram[0]!) && KEY_SYMBOLS.has(gram[1]!)) grams.add(gram);
  }
  return [...grams];
}
