/**
 * The `filter` of List methods: a documented subset of AIP-160, parsed into
 * a small AST that the store turns into parameterised SQL.
 *
 * Grammar (whitespace may separate any two tokens):
 *
 *   filter     = [ expression ]
 *   expression = sequence { "AND" sequence }
 *   sequence   = term { "OR" term }
 *   term       = ( "NOT" | "-" ) term | "(" expression ")" | comparison
 *   comparison = field operator value
 *   operator   = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
 *   value      = '"' { char | '\"' | '\\' } '"' | bare word
 *
 * Precedence follows AIP-160, not most programming languages: NOT binds
 * tightest, then OR, then AND, so `a AND b OR c` means `a AND (b OR c)`.
 * AIP-160 chose this to match how people speak ("active and (from acme or
 * from globex)"); clients should still write the parentheses.
 *
 * What the subset leaves out, so that every accepted filter has one meaning:
 * keywords are upper case only; comparisons must be joined by AND or OR
 * (AIP-160's implicit AND between bare terms is not accepted); there are no
 * bare literals without a field, no traversal (`a.b`) and no functions.
 *
 * Values are checked against the field's type and converted: timestamps
 * (RFC 3339) become epoch milliseconds, enums are matched case-sensitively and
 * mapped to the value the store holds, booleans are `true` or `false`. `:`
 * ("has") on a string value containing `*` is a wildcard match; otherwise it
 * means `=`. A literal `*` can only be matched with `=`. `<`, `<=`, `>` and
 * `>=` do not apply to booleans or enums (AIP-160).
 *
 * Positions in error messages count characters from 1.
 *
 * The parser reads each character once and never backtracks, and the input,
 * the number of comparisons and the nesting depth are bounded, so a hostile
 * filter costs at most a few thousand steps and a shallow stack.
 */
import { invalidField, type DomainError } from "../errors.js";

export const FILTER_LIMITS = { maxLength: 1000, maxComparisons: 50, maxDepth: 10 } as const;

/**
 * The type of a filterable field. An enum maps each accepted spelling (the
 * proto enum name without prefix, e.g. `ACTIVE`) to the value the AST
 * carries, usually the stored one (e.g. `active`).
 */
export type FilterFieldType = "string" | "bool" | "timestamp" | "int" | { readonly enum: Readonly<Record<string, string>> };

/** The fields a List method lets callers filter on, by their API name. */
export type FilterSchema = Readonly<Record<string, FilterFieldType>>;

export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=";

/** A converted value: strings and enums as text, timestamps (ms) and ints as numbers. */
export type FilterValue = string | number | boolean;

export type FilterExpression =
  | { readonly kind: "and"; readonly operands: readonly FilterExpression[] }
  | { readonly kind: "or"; readonly operands: readonly FilterExpression[] }
  | { readonly kind: "not"; readonly operand: FilterExpression }
  | { readonly kind: "compare"; readonly field: string; readonly op: ComparisonOperator; readonly value: FilterValue }
  /** `field:"a*b"`: the literal text between the wildcards, e.g. ["a", "b"]. */
  | { readonly kind: "match"; readonly field: string; readonly segments: readonly string[] };

/** The fields a filter names, each once, in the order they first appear. */
export function filterFields(filter: FilterExpression): string[] {
  const fields = new Set<string>();
  const visit = (node: FilterExpression): void => {
    if (node.kind === "and" || node.kind === "or") node.operands.forEach(visit);
    else if (node.kind === "not") visit(node.operand);
    else fields.add(node.field);
  };
  visit(filter);
  return [...fields];
}

/** Parses a filter; undefined for an empty (or blank) filter, which matches everything. */
export function parseFilter(text: string, schema: FilterSchema): FilterExpression | undefined {
  if (text.length > FILTER_LIMITS.maxLength) {
    throw filterError(`is ${text.length} characters long; at most ${FILTER_LIMITS.maxLength} are allowed`);
  }
  return new Parser(text, schema).parse();
}

function filterError(description: string): DomainError {
  return invalidField("filter", description);
}

const OPERATORS = ["<=", ">=", "!=", "=", "<", ">", ":"] as const;
type Operator = (typeof OPERATORS)[number];

const KEYWORDS = new Set(["AND", "OR", "NOT"]);

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r";
}

function isWordStart(c: string | undefined): boolean {
  return c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_");
}

function isWordPart(c: string | undefined): boolean {
  return isWordStart(c) || (c !== undefined && ((c >= "0" && c <= "9") || c === "."));
}

/** Ends a bare value; everything else, `:` included, belongs to it (timestamps hold colons). */
function endsBareValue(c: string | undefined): boolean {
  return c === undefined || isSpace(c) || c === "(" || c === ")" || c === '"';
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function typeName(type: FilterFieldType): string {
  return typeof type === "string" ? { string: "string", bool: "boolean", timestamp: "timestamp", int: "integer" }[type] : "enum";
}

class Parser {
  private pos = 0;
  private depth = 0;
  private comparisons = 0;

  constructor(
    private readonly text: string,
    private readonly schema: FilterSchema,
  ) {}

  parse(): FilterExpression | undefined {
    this.skipSpace();
    if (this.pos === this.text.length) return undefined;
    const expression = this.expression();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`expected AND, OR or the end of the filter`);
    return expression;
  }

  private expression(): FilterExpression {
    const operands = [this.sequence()];
    while (this.keyword("AND")) operands.push(this.sequence());
    return operands.length === 1 ? operands[0]! : { kind: "and", operands };
  }

  private sequence(): FilterExpression {
    const operands = [this.term()];
    while (this.keyword("OR")) operands.push(this.term());
    return operands.length === 1 ? operands[0]! : { kind: "or", operands };
  }

  private term(): FilterExpression {
    this.skipSpace();
    const at = this.pos;
    const c = this.text[at];
    if (c === "-" || this.keyword("NOT")) {
      if (c === "-") this.pos++;
      return { kind: "not", operand: this.nested(at, () => this.term()) };
    }
    if (c === "(") {
      this.pos++;
      const inner = this.nested(at, () => this.expression());
      this.skipSpace();
      if (this.text[this.pos] !== ")") this.fail(`expected AND, OR or ")"`, this.pos, `the "(" at ${at + 1} is not closed`);
      this.pos++;
      return inner;
    }
    return this.comparison();
  }

  private nested(at: number, parse: () => FilterExpression): FilterExpression {
    if (++this.depth > FILTER_LIMITS.maxDepth) this.fail(`nests parentheses and NOT deeper than ${FILTER_LIMITS.maxDepth} levels`, at);
    const result = parse();
    this.depth--;
    return result;
  }

  private comparison(): FilterExpression {
    const fieldAt = this.pos;
    const field = this.word();
    if (field === "" || KEYWORDS.has(field)) {
      this.pos = fieldAt;
      this.fail(`expected a field, "(" or NOT`);
    }
    if (!Object.hasOwn(this.schema, field)) {
      this.fail(`unknown field ${quote(field)}`, fieldAt, `allowed: ${Object.keys(this.schema).join(", ")}`);
    }
    const type = this.schema[field]!;
    if (++this.comparisons > FILTER_LIMITS.maxComparisons) this.fail(`has more than ${FILTER_LIMITS.maxComparisons} comparisons`, fieldAt);

    this.skipSpace();
    const opAt = this.pos;
    const op = OPERATORS.find((candidate) => this.text.startsWith(candidate, this.pos));
    if (op === undefined) this.fail(`expected an operator (=, !=, <, <=, >, >= or :) after ${quote(field)}`);
    this.pos += op.length;
    if ((op === "<" || op === "<=" || op === ">" || op === ">=") && (type === "bool" || typeof type === "object")) {
      this.fail(`operator ${quote(op)} does not apply to ${typeName(type)} field ${quote(field)}`, opAt);
    }

    this.skipSpace();
    const valueAt = this.pos;
    const raw = this.value(op);
    if (op === ":" && raw.includes("*")) {
      if (type !== "string") this.fail(`wildcard "*" does not apply to ${typeName(type)} field ${quote(field)}`, valueAt, "only strings match wildcards");
      return { kind: "match", field, segments: raw.split("*") };
    }
    return { kind: "compare", field, op: op === ":" ? "=" : op, value: this.convert(field, type, raw, valueAt) };
  }

  /** A quoted string (escapes resolved) or a bare word. */
  private value(op: Operator): string {
    const start = this.pos;
    if (this.text[this.pos] === '"') return this.quoted();
    while (!endsBareValue(this.text[this.pos])) this.pos++;
    const bare = this.text.slice(start, this.pos);
    // `a == b` or `a =< b` is a typo, not a comparison with "=b" or "<b".
    if (bare === "" || KEYWORDS.has(bare) || "=!<>:".includes(bare[0]!)) {
      this.pos = start;
      this.fail(`expected a value after ${quote(op)}`);
    }
    return bare;
  }

  private quoted(): string {
    const open = this.pos++;
    let out = "";
    let chunk = this.pos;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail("unterminated string", open);
      if (c === '"') break;
      if (c === "\\") {
        const next = this.text[this.pos + 1];
        if (next !== '"' && next !== "\\") this.fail("unsupported escape in string", this.pos, 'only \\" and \\\\ are allowed');
        out += this.text.slice(chunk, this.pos) + next;
        this.pos += 2;
        chunk = this.pos;
      } else {
        this.pos++;
      }
    }
    out += this.text.slice(chunk, this.pos);
    this.pos++;
    return out;
  }

  private convert(field: string, type: FilterFieldType, raw: string, at: number): FilterValue {
    if (type === "string") return raw;
    if (typeof type === "object") {
      if (!Object.hasOwn(type.enum, raw)) {
        this.fail(`invalid value ${quote(raw)} for ${quote(field)}`, at, `allowed: ${Object.keys(type.enum).join(", ")}`);
      }
      return type.enum[raw]!;
    }
    if (type === "bool") {
      if (raw !== "true" && raw !== "false") this.fail(`invalid value ${quote(raw)} for ${quote(field)}`, at, "expected true or false");
      return raw === "true";
    }
    if (type === "int") {
      const n = /^[+-]?[0-9]{1,16}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) this.fail(`invalid integer ${quote(raw)} for ${quote(field)}`, at);
      return n;
    }
    const ms = parseRfc3339(raw);
    if (ms === undefined) {
      this.fail(`invalid timestamp ${quote(raw)} for ${quote(field)}`, at, "expected RFC 3339 such as 2026-01-01T00:00:00Z");
    }
    return ms;
  }

  /** Consumes `word` when it is the next whole word. */
  private keyword(word: string): boolean {
    this.skipSpace();
    const end = this.pos + word.length;
    if (this.text.startsWith(word, this.pos) && !isWordPart(this.text[end])) {
      this.pos = end;
      return true;
    }
    return false;
  }

  private word(): string {
    const start = this.pos;
    if (isWordStart(this.text[this.pos])) while (isWordPart(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private skipSpace(): void {
    while (isSpace(this.text[this.pos])) this.pos++;
  }

  /** Throws "<problem> at <position>[; <detail>]". */
  private fail(problem: string, at = this.pos, detail?: string): never {
    const where = at >= this.text.length ? "at the end" : `at ${at + 1}`;
    // A common slip: lower-case operators read as field names.
    const found = /^[A-Za-z]+(?![\w.])/.exec(this.text.slice(at, at + 4))?.[0];
    const hint = found && KEYWORDS.has(found.toUpperCase()) && !KEYWORDS.has(found) ? `operators are upper case (${found.toUpperCase()})` : undefined;
    throw filterError([`${problem} ${where}`, detail ?? hint].filter(Boolean).join("; "));
  }
}

const RFC3339 = /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$/;

/** Epoch milliseconds of an RFC 3339 timestamp (fractions beyond ms are cut), or undefined. */
function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetHours = m[10] === undefined ? 0 : Number(m[10]);
  const offsetMinutes = m[11] === undefined ? 0 : Number(m[11]);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (monthDays === undefined || day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) return undefined;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  // Digits, not floating point: 0.29 * 1000 would floor to 289.
  const ms = m[7] ? Number(`${m[7].slice(1)}00`.slice(0, 3)) : 0;
  date.setUTCHours(hour, minute, second, ms);
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
  return date.getTime() - (m[9] === "-" ? -offset : offset);
}
