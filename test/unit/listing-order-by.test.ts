import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import { parseOrderBy } from "../../src/domain/listing/order-by.js";

const allowed = ["name", "email", "created_at", "updated_at"] as const;

/** `name,-created_at,id` back from the parsed terms. */
function show(text: string, permitted: readonly string[] = allowed, defaultOrder = "created_at"): string {
  return parseOrderBy(text, permitted, defaultOrder)
    .map((term) => `${term.descending ? "-" : ""}${term.field}`)
    .join(",");
}

function descriptionOf(text: string): string {
  try {
    parseOrderBy(text, allowed, "created_at");
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    expect(error.kind).toBe("invalid_argument");
    expect(error.reason).toBe("INVALID_FIELD");
    expect(error.violations).toHaveLength(1);
    expect(error.violations[0]!.field).toBe("order_by");
    return error.violations[0]!.description;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("order_by", () => {
  it.each([
    ["", "created_at,id"],
    ["   ", "created_at,id"],
    ["name", "name,id"],
    ["-created_at", "-created_at,id"],
    ["name,-created_at", "name,-created_at,id"],
    ["  name , -created_at  ", "name,-created_at,id"],
    ["email,updated_at,-name,created_at", "email,updated_at,-name,created_at,id"],
  ])("%j orders by %s", (text, expected) => {
    expect(show(text)).toBe(expected);
  });

  it("uses the default order, tie-breaker included, and does not add id twice", () => {
    expect(show("", allowed, "-updated_at,name")).toBe("-updated_at,name,id");
    expect(show("-id", ["name", "id"], "name")).toBe("-id");
    expect(show("id,name", ["name", "id"], "name")).toBe("id,name");
    expect(parseOrderBy("name", allowed, "created_at")).toEqual([
      { field: "name", descending: false },
      { field: "id", descending: false },
    ]);
  });

  it.each([
    ["foo", 'unknown field "foo" at 1; allowed: name, email, created_at, updated_at'],
    ["name,-foo", 'unknown field "foo" at 7; allowed: name, email, created_at, updated_at'],
    ["Name", 'unknown field "Name" at 1; allowed: name, email, created_at, updated_at'],
    ["id", 'unknown field "id" at 1; allowed: name, email, created_at, updated_at'],
    ["name,-name", 'field "name" appears more than once at 7'],
    ["name,", 'expected a field after "," at 6'],
    [",name", "expected a field at 1"],
    ["name,,email", 'expected a field after "," at 6'],
    ["-", 'expected a field right after "-" at 2'],
    ["name desc", 'unexpected "desc" after "name" at 6; write "-name" instead'],
    ["name ASC", 'unexpected "ASC" after "name" at 6; write "name" instead'],
    ["name email", 'unexpected "email" after "name" at 6; separate fields with ","'],
    ["- name", 'expected a field right after "-" at 2'],
    ["x".repeat(201), "is 201 characters long; at most 200 are allowed"],
  ])("refuses %j", (text, expected) => {
    expect(descriptionOf(text)).toBe(expected);
  });
});
