/**
 * The `order_by` of List methods. The contract fixes the grammar
 * `name,-created_at`: comma-separated field names, spaces allowed around the
 * commas, `-` in front of a field for descending order. (AIP-132 spells it
 * `created_at desc`; that spelling is refused with a hint.)
 *
 * The parsed order always ends with `id` ascending, unless the caller already
 * ordered by `id`: with a unique last key the order is total, which keyset
 * paging needs (rows with equal values would otherwise be skipped or repeated
 * across pages). The store requires every ordered column to be NOT NULL.
 *
 * Positions in error messages count characters from 1.
 */
import { invalidField } from "../errors.js";

export interface OrderTerm {
  readonly field: string;
  readonly descending: boolean;
}

/** The unique key that ends every order. */
export const TIE_BREAKER = "id";

/** The contract's `max_len` of `order_by`; also bounds the work done here. */
export const ORDER_BY_MAX_LENGTH = 200;

/**
 * Parses `text`, or `defaultOrder` when `text` is blank. Unknown, repeated or
 * malformed fields answer invalid_argument on `order_by`.
 */
export function parseOrderBy(text: string, allowed: readonly string[], defaultOrder: string): OrderTerm[] {
  const source = text.trim() === "" ? defaultOrder : text;
  if (source.length > ORDER_BY_MAX_LENGTH) {
    throw invalidField("order_by", `is ${source.length} characters long; at most ${ORDER_BY_MAX_LENGTH} are allowed`);
  }
  const terms: OrderTerm[] = [];
  let pos = 0;
  for (const item of source.split(",")) {
    const fail = (problem: string, offset: number, detail?: string): never => {
      throw invalidField("order_by", `${problem} at ${pos + offset + 1}${detail ? `; ${detail}` : ""}`);
    };
    const lead = item.length - item.trimStart().length;
    const spec = item.trim();
    if (spec === "") fail(pos === 0 ? "expected a field" : `expected a field after ","`, lead);
    const descending = spec.startsWith("-");
    const name = descending ? spec.slice(1) : spec;
    const nameAt = lead + (descending ? 1 : 0);
    if (name === "" || /^\s/.test(name)) fail(`expected a field right after "-"`, nameAt);
    const space = name.search(/\s/);
    if (space >= 0) {
      const rest = name.slice(space).trim();
      const field = name.slice(0, space);
      const hint = /^(asc|desc)$/i.test(rest) ? `write "${/^desc$/i.test(rest) ? "-" : ""}${field}" instead` : `separate fields with ","`;
      fail(`unexpected ${JSON.stringify(rest)} after ${JSON.stringify(field)}`, nameAt + name.indexOf(rest, space), hint);
    }
    if (!allowed.includes(name)) fail(`unknown field ${JSON.stringify(name)}`, nameAt, `allowed: ${allowed.join(", ")}`);
    if (terms.some((term) => term.field === name)) fail(`field ${JSON.stringify(name)} appears more than once`, nameAt);
    terms.push({ field: name, descending });
    pos += item.length + 1;
  }
  if (!terms.some((term) => term.field === TIE_BREAKER)) terms.push({ field: TIE_BREAKER, descending: false });
  return terms;
}
