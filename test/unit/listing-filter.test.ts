import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import { FILTER_LIMITS, parseFilter, type FilterExpression, type FilterSchema } from "../../src/domain/listing/filter.js";

const schema: FilterSchema = {
  email: "string",
  name: "string",
  state: { enum: { ACTIVE: "active", SUSPENDED: "suspended", BLOCKED: "blocked" } },
  suspended: "bool",
  created_at: "timestamp",
  logins: "int",
};
const ALLOWED = "allowed: email, name, state, suspended, created_at, logins";

/** A compact, readable form of the AST: (and …), (or …), (not …), field=value, field~pattern. */
function show(node: FilterExpression | undefined): string {
  if (node === undefined) return "∅";
  switch (node.kind) {
    case "and":
    case "or":
      return `(${node.kind} ${node.operands.map(show).join(" ")})`;
    case "not":
      return `(not ${show(node.operand)})`;
    case "compare":
      return `${node.field}${node.op}${JSON.stringify(node.value)}`;
    case "match":
      return `${node.field}~${JSON.stringify(node.segments)}`;
  }
}

function errorOf(text: string): { kind: string; reason: string; violations: unknown } {
  try {
    parseFilter(text, schema);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { kind: error.kind, reason: error.reason, violations: error.violations };
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

function descriptionOf(text: string): string {
  const error = errorOf(text);
  expect(error.kind).toBe("invalid_argument");
  expect(error.reason).toBe("INVALID_FIELD");
  const violations = error.violations as { field: string; description: string }[];
  expect(violations).toHaveLength(1);
  expect(violations[0]!.field).toBe("filter");
  return violations[0]!.description;
}

describe("filter grammar", () => {
  it.each([
    ["", "∅"],
    ["   \t\n", "∅"],
    ['name = "Ann"', 'name="Ann"'],
    ["  name=Ann  ", 'name="Ann"'],
    // AIP-160: OR binds tighter than AND, NOT tighter than both.
    ["name=a AND name=b OR name=c", '(and name="a" (or name="b" name="c"))'],
    ["name=a OR name=b AND name=c", '(and (or name="a" name="b") name="c")'],
    ["NOT name=a OR name=b", '(or (not name="a") name="b")'],
    ["NOT name=a AND name=b", '(and (not name="a") name="b")'],
    ["(name=a AND name=b) OR name=c", '(or (and name="a" name="b") name="c")'],
    ["name=a OR name=b OR name=c", '(or name="a" name="b" name="c")'],
    ["name=a AND name=b AND name=c", '(and name="a" name="b" name="c")'],
    ["NOT (name=a OR name=b)", '(not (or name="a" name="b"))'],
    ["-name=a", '(not name="a")'],
    ["-(name=a) AND -name=b", '(and (not name="a") (not name="b"))'],
    ["NOT NOT name=a", '(not (not name="a"))'],
    ["name=a AND(state=ACTIVE)", '(and name="a" state="active")'],
    ["((name=a))", 'name="a"'],
    // Operators and conversion.
    ["name != x", 'name!="x"'],
    ["name < m AND name <= n AND name > o AND name >= p", '(and name<"m" name<="n" name>"o" name>="p")'],
    ["state = SUSPENDED", 'state="suspended"'],
    ['state = "BLOCKED"', 'state="blocked"'],
    ["state:ACTIVE", 'state="active"'],
    ["suspended = true", "suspended=true"],
    ["suspended:false", "suspended=false"],
    ["suspended != true", "suspended!=true"],
    ["logins >= -3", "logins>=-3"],
    ["logins = +12", "logins=12"],
    ["created_at >= 2026-01-01T00:00:00Z", "created_at>=1767225600000"],
    ['created_at < "2026-01-01T01:00:00+01:00"', "created_at<1767225600000"],
    ["created_at > 2025-12-31T19:30:00-04:30", "created_at>1767225600000"],
    ["created_at = 2026-01-01t00:00:00.29z", "created_at=1767225600290"],
    ["created_at = 2026-01-01T00:00:00.123456789Z", "created_at=1767225600123"],
    ["created_at = 2024-02-29T23:59:59Z", "created_at=1709251199000"],
    ["created_at = 1970-01-01T00:00:00Z", "created_at=0"],
    // Strings: escapes, keywords and special characters as data.
    [String.raw`name = "say \"hi\" \\ bye"`, String.raw`name="say \"hi\" \\ bye"`],
    ['name = "AND"', 'name="AND"'],
    ['name = "(x) OR y"', 'name="(x) OR y"'],
    ["name = ORDER", 'name="ORDER"'],
    ["name = NOTE", 'name="NOTE"'],
    ['name = ""', 'name=""'],
    ["name = O'Brien", `name="O'Brien"`],
    ["email = a:b@x.io", 'email="a:b@x.io"'],
    ['name = "é 日本"', 'name="é 日本"'],
    // Wildcards: only `:` on strings; `=` keeps `*` literal.
    ['email:"*@acme.com"', 'email~["","@acme.com"]'],
    ["email:*@acme.com", 'email~["","@acme.com"]'],
    ['name:"a*b*"', 'name~["a","b",""]'],
    ["name:*", 'name~["",""]'],
    ['name:"100%_off*"', 'name~["100%_off",""]'],
    ['name = "*x"', 'name="*x"'],
    ["name:Ann", 'name="Ann"'],
    ['email:"*@acme.com" AND suspended=false', '(and email~["","@acme.com"] suspended=false)'],
  ])("%s", (text, expected) => {
    expect(show(parseFilter(text, schema))).toBe(expected);
  });
});

describe("filter errors name the problem and where it is", () => {
  it.each([
    ["foo = 1", `unknown field "foo" at 1; ${ALLOWED}`],
    ["name = a AND foo.bar = 1", `unknown field "foo.bar" at 14; ${ALLOWED}`],
    ["constructor = 1", `unknown field "constructor" at 1; ${ALLOWED}`],
    ["__proto__ = 1", `unknown field "__proto__" at 1; ${ALLOWED}`],
    ["Name = a", `unknown field "Name" at 1; ${ALLOWED}`],
    ["email =", 'expected a value after "=" at the end'],
    ["email = AND name = a", 'expected a value after "=" at 9'],
    ["email = )", 'expected a value after "=" at 9'],
    ["email", "expected an operator (=, !=, <, <=, >, >= or :) after \"email\" at the end"],
    ["email ~ x", 'expected an operator (=, !=, <, <=, >, >= or :) after "email" at 7'],
    ["email == x", 'expected a value after "=" at 8'],
    ['"x"', 'expected a field, "(" or NOT at 1'],
    ["= x", 'expected a field, "(" or NOT at 1'],
    ["AND name = a", 'expected a field, "(" or NOT at 1'],
    ["name = a AND", 'expected a field, "(" or NOT at the end'],
    ["name = a OR OR name = b", 'expected a field, "(" or NOT at 13'],
    ["NOT", 'expected a field, "(" or NOT at the end'],
    ["()", 'expected a field, "(" or NOT at 2'],
    ["name = a name = b", "expected AND, OR or the end of the filter at 10"],
    ["name = a and name = b", "expected AND, OR or the end of the filter at 10; operators are upper case (AND)"],
    ["not name = a", `unknown field "not" at 1; ${ALLOWED}`],
    ["name = a)", "expected AND, OR or the end of the filter at 9"],
    ["(name = a", 'expected AND, OR or ")" at the end; the "(" at 1 is not closed'],
    ["(name = a name = b)", 'expected AND, OR or ")" at 11; the "(" at 1 is not closed'],
    ['name = "abc', "unterminated string at 8"],
    [String.raw`name = "a\nb"`, String.raw`unsupported escape in string at 10; only \" and \\ are allowed`],
    ['name = "a"b', "expected AND, OR or the end of the filter at 11"],
    ["state = active", 'invalid value "active" for "state" at 9; allowed: ACTIVE, SUSPENDED, BLOCKED'],
    ["state = toString", 'invalid value "toString" for "state" at 9; allowed: ACTIVE, SUSPENDED, BLOCKED'],
    ["suspended = TRUE", 'invalid value "TRUE" for "suspended" at 13; expected true or false'],
    ["suspended = 1", 'invalid value "1" for "suspended" at 13; expected true or false'],
    ["logins = 1.5", 'invalid integer "1.5" for "logins" at 10'],
    ["logins = 99999999999999999", 'invalid integer "99999999999999999" for "logins" at 10'],
    ["created_at > 2026-01-01", 'invalid timestamp "2026-01-01" for "created_at" at 14; expected RFC 3339 such as 2026-01-01T00:00:00Z'],
    ["created_at > 2026-02-30T00:00:00Z", 'invalid timestamp "2026-02-30T00:00:00Z" for "created_at" at 14; expected RFC 3339 such as 2026-01-01T00:00:00Z'],
    ["created_at > 2025-02-29T00:00:00Z", 'invalid timestamp "2025-02-29T00:00:00Z" for "created_at" at 14; expected RFC 3339 such as 2026-01-01T00:00:00Z'],
    ["created_at > 2026-01-01T24:00:00Z", 'invalid timestamp "2026-01-01T24:00:00Z" for "created_at" at 14; expected RFC 3339 such as 2026-01-01T00:00:00Z'],
    ["created_at > 2026-01-01T00:00:00", 'invalid timestamp "2026-01-01T00:00:00" for "created_at" at 14; expected RFC 3339 such as 2026-01-01T00:00:00Z'],
    ["created_at:*", 'wildcard "*" does not apply to timestamp field "created_at" at 12; only strings match wildcards'],
    ["state:ACT*", 'wildcard "*" does not apply to enum field "state" at 7; only strings match wildcards'],
    ["state < ACTIVE", 'operator "<" does not apply to enum field "state" at 7'],
    ["suspended >= true", 'operator ">=" does not apply to boolean field "suspended" at 11'],
  ])("%s", (text, expected) => {
    expect(descriptionOf(text)).toBe(expected);
  });

  it("says it in the error message too", () => {
    expect(() => parseFilter("foo=1", schema)).toThrow(/^filter: unknown field "foo" at 1/);
  });
});

describe("filter limits", () => {
  const comparisons = (n: number) => Array.from({ length: n }, (_, i) => `logins=${i}`).join(" OR ");

  it("accepts up to the limits", () => {
    expect(comparisons(FILTER_LIMITS.maxComparisons).length).toBeLessThanOrEqual(FILTER_LIMITS.maxLength);
    expect(parseFilter(comparisons(FILTER_LIMITS.maxComparisons), schema)).toMatchObject({ kind: "or" });
    const deep = "(".repeat(FILTER_LIMITS.maxDepth) + "name=a" + ")".repeat(FILTER_LIMITS.maxDepth);
    expect(show(parseFilter(deep, schema))).toBe('name="a"');
    expect(show(parseFilter("NOT ".repeat(FILTER_LIMITS.maxDepth) + "name=a", schema))).toMatch(/^(\(not ){10}name="a"\){10}$/);
    expect(parseFilter(`name="${"x".repeat(FILTER_LIMITS.maxLength - 7)}"`, schema)).toBeDefined();
  });

  it("refuses more comparisons, deeper nesting and longer input", () => {
    expect(descriptionOf(comparisons(FILTER_LIMITS.maxComparisons + 1))).toBe(`has more than 50 comparisons at ${comparisons(50).length + " OR ".length + 1}`);
    expect(descriptionOf("(".repeat(11) + "name=a" + ")".repeat(11))).toBe("nests parentheses and NOT deeper than 10 levels at 11");
    expect(descriptionOf("-".repeat(11) + "name=a")).toBe("nests parentheses and NOT deeper than 10 levels at 11");
    expect(descriptionOf("NOT (".repeat(6) + "name=a" + ")".repeat(6))).toMatch(/^nests parentheses and NOT deeper than 10 levels at /);
    expect(descriptionOf(`name="${"x".repeat(FILTER_LIMITS.maxLength)}"`)).toBe("is 1007 characters long; at most 1000 are allowed");
  });

  it("stays fast on hostile input", () => {
    const hostile = [
      "(".repeat(1000),
      "NOT ".repeat(250),
      '"'.repeat(1000),
      `name="${"\\".repeat(990)}`,
      `${"name=a AND ".repeat(90)}`.slice(0, 1000),
      "name:" + "*".repeat(995),
    ];
    const started = performance.now();
    for (const text of hostile) {
      for (let i = 0; i < 100; i++) {
        try {
          parseFilter(text, schema);
        } catch (error) {
          expect(error).toBeInstanceOf(DomainError);
        }
      }
    }
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
