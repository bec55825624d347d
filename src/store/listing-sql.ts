/**
 * Turns a parsed filter, order and page position (src/domain/listing) into
 * SQLite conditions over an allow-listed column map. Field names only ever
 * select an entry of that map, and every value is a bound parameter, so
 * nothing the caller writes becomes SQL text.
 *
 * The column map names, for each API field, a column or an SQL expression
 * holding the value in the form the AST carries: booleans as 0/1 (e.g.
 * `state = 'suspended'` for `suspended`), timestamps as epoch milliseconds,
 * enums as the stored text.
 *
 * Semantics worth knowing:
 * - `=`, `<`, … compare with the column's collation (BINARY for our tables),
 *   so `email = "A@x.io"` is exact; emails are stored lower-cased already.
 * - A wildcard match (`email:"*@acme.com"`) is `LIKE … ESCAPE '\'` with `%`,
 *   `_` and `\` of the caller's text escaped. SQLite's LIKE ignores case for
 *   ASCII letters only (unless PRAGMA case_sensitive_like is on, which we
 *   never set), on libSQL and D1 alike: `name:"*smith*"` finds "Smith" but
 *   `name:"*émile*"` does not find "Émile". A leading wildcard cannot use an
 *   index, so such filters scan the rows the other conditions leave.
 * - Missing values (NULL) never match a comparison or a wildcard, and
 *   `NOT x` is true whenever `x` is not, NULL included, so `!=` and `NOT`
 *   keep rows that have no value (SQL's three-valued logic would drop them).
 */
import { asc, desc, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { ComparisonOperator, FilterExpression, FilterValue } from "../domain/listing/filter.js";
import type { OrderTerm } from "../domain/listing/order-by.js";
import type { CursorValue } from "../domain/listing/page-token.js";

/** API field name → column or expression. Only listed fields can be filtered or ordered on. */
export type ListingColumns = Readonly<Record<string, SQLiteColumn | SQL>>;

/** The SQL of each operator; fixed text, never caller input. `IS NOT` keeps NULLs for `!=`. */
const OPERATOR_SQL: Record<ComparisonOperator, SQL> = {
  "=": sql.raw("="),
  "!=": sql.raw("is not"),
  "<": sql.raw("<"),
  "<=": sql.raw("<="),
  ">": sql.raw(">"),
  ">=": sql.raw(">="),
};

/** The WHERE condition of a filter; undefined (no condition) for an empty filter. */
export function toWhere(filter: FilterExpression | undefined, columns: ListingColumns): SQL | undefined {
  return filter === undefined ? undefined : condition(filter, columns);
}

/** ORDER BY terms, in order; pass them spread to `.orderBy(...)`. */
export function toOrderBy(order: readonly OrderTerm[], columns: ListingColumns): SQL[] {
  return order.map((term) => (term.descending ? desc : asc)(column(columns, term.field)));
}

/**
 * Rows strictly after `cursor` (the values of the last row seen, one per
 * order term) in the given order: the row-value comparison
 * `(a, b, id) > (x, y, z)` with each term's own direction, written as
 * `a ≥ x AND (a > x OR (a = x AND (b < y OR (b = y AND id > z))))` for
 * `a, -b, id`. The redundant leading `a ≥ x` lets SQLite seek an index on `a`.
 * Every ordered column must be NOT NULL (comparisons with NULL are unknown).
 */
export function afterCursor(order: readonly OrderTerm[], columns: ListingColumns, cursor: readonly CursorValue[]): SQL {
  if (order.length === 0 || cursor.length !== order.length) {
    throw new Error(`a cursor needs one value per order term (${order.length}), got ${cursor.length}`);
  }
  let tail: SQL | undefined;
  for (let i = order.length - 1; i >= 0; i--) {
    const expr = column(columns, order[i]!.field);
    const after = order[i]!.descending ? sql`${expr} < ${cursor[i]}` : sql`${expr} > ${cursor[i]}`;
    tail = tail === undefined ? after : sql`(${after} or (${expr} = ${cursor[i]} and ${tail}))`;
  }
  const first = column(columns, order[0]!.field);
  const seek = order[0]!.descending ? sql`${first} <= ${cursor[0]}` : sql`${first} >= ${cursor[0]}`;
  return order.length === 1 ? tail! : sql`(${seek} and ${tail})`;
}

function condition(node: FilterExpression, columns: ListingColumns): SQL {
  switch (node.kind) {
    case "and":
    case "or":
      return sql`(${sql.join(
        node.operands.map((operand) => condition(operand, columns)),
        sql.raw(node.kind === "and" ? " and " : " or "),
      )})`;
    case "not":
      // `x IS NOT 1` is true when x is 0 or NULL; plain NOT would leave NULL.
      return sql`(${condition(node.operand, columns)} is not 1)`;
    case "compare":
      return sql`(${column(columns, node.field)} ${OPERATOR_SQL[node.op]} ${bindable(node.value)})`;
    case "match": {
      const expr = column(columns, node.field);
      const like = sql`${expr} like ${likePattern(node.segments)} escape '\\'`;
      const ranges = prefixRanges(node.segments[0] ?? "");
      if (ranges.length === 0) return sql`(${like})`;
      // LIKE never uses an index here (the index is case-sensitive, LIKE is
      // not), so a known first character is also given as index ranges.
      const bounded = sql.join(
        ranges.map(([low, high]) => sql`(${expr} >= ${low} and ${expr} < ${high})`),
        sql.raw(" or "),
      );
      return sql`((${bounded}) and ${like})`;
    }
  }
}

/**
 * The BINARY-ordered ranges that hold every string LIKE would match for a
 * pattern starting with `prefix`: one per case of its first character for
 * ASCII letters (LIKE ignores their case), else one. Empty when the pattern
 * starts with a wildcard.
 */
export function prefixRanges(prefix: string): Array<[string, string]> {
  const first = prefix.codePointAt(0);
  if (first === undefined || first >= 0x10ffff) return [];
  const char = String.fromCodePoint(first);
  const cases = /^[A-Za-z]$/.test(char) ? [char.toUpperCase(), char.toLowerCase()] : [char];
  return cases.map((c) => [c, String.fromCodePoint(c.codePointAt(0)! + 1)]);
}

/** Escapes LIKE's own wildcards and the escape character, then joins the segments with `%`. */
export function likePattern(segments: readonly string[]): string {
  return segments.map((segment) => segment.replace(/[\\%_]/g, (c) => `\\${c}`)).join("%");
}

/** SQLite has no boolean type; the column map yields 0/1 for boolean fields. */
function bindable(value: FilterValue): string | number {
  return typeof value === "boolean" ? (value ? 1 : 0) : value;
}

function column(columns: ListingColumns, field: string): SQLiteColumn | SQL {
  // Own properties only: a field such as "constructor" must not reach Object.prototype.
  if (!Object.hasOwn(columns, field)) throw new Error(`no column for listing field "${field}"`);
  return columns[field]!;
}
