import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import { parseFilter, type FilterSchema } from "../../src/domain/listing/filter.js";
import { parseOrderBy } from "../../src/domain/listing/order-by.js";
import { decodePageToken, encodePageToken, listQueryHash, pageSize, type ListQuery } from "../../src/domain/listing/page-token.js";
import { base64url, fromBase64url } from "../../src/domain/tokens/secrets.js";

const key = new Uint8Array(32).fill(7);
const otherKey = new Uint8Array(32).fill(8);
const schema: FilterSchema = { name: "string", created_at: "timestamp", suspended: "bool" };
const allowed = ["name", "created_at"];

function query(filter: string, orderBy: string, scope?: ListQuery["scope"]): ListQuery {
  return { collection: "users", filter: parseFilter(filter, schema), orderBy: parseOrderBy(orderBy, allowed, "created_at"), scope };
}

async function rejection(promise: Promise<unknown>): Promise<{ field: string; description: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(error)}`);
  expect(error.kind).toBe("invalid_argument");
  expect(error.reason).toBe("INVALID_FIELD");
  expect(error.violations).toHaveLength(1);
  return error.violations[0]!;
}

describe("query hash", () => {
  it("ignores spelling that does not change the query", async () => {
    const a = await listQueryHash(query('name:"*x" AND created_at > 2026-01-01T00:00:00Z', "name, -created_at", { organisationId: "o1" }));
    const b = await listQueryHash(query(' name : *x   AND created_at>"2026-01-01T01:00:00+01:00"', "name,-created_at", { organisationId: "o1", extra: undefined }));
    expect(a).toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await listQueryHash(query("", ""))).toBe(await listQueryHash(query("", "created_at")));
  });

  it("changes with the filter, the order, the scope and the collection", async () => {
    const base = query("suspended = false", "name");
    const hashes = await Promise.all([
      listQueryHash(base),
      listQueryHash(query("suspended = true", "name")),
      listQueryHash(query("suspended = false", "-name")),
      listQueryHash(query("suspended = false", "name", { organisationId: "o1" })),
      listQueryHash(query("suspended = false", "name", { organisationId: "o2" })),
      listQueryHash({ ...base, collection: "licences" }),
    ]);
    expect(new Set(hashes).size).toBe(hashes.length);
  });
});

describe("page tokens", () => {
  it("round-trip the position and are URL-safe", async () => {
    const queryHash = await listQueryHash(query("", "name,-created_at"));
    const after = ["Zoë \"quoted\" O'Brien", 1767225600000, "0190f9c5-0000-7000-8000-000000000001"];
    const token = await encodePageToken({ queryHash, after }, key);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encodeURIComponent(token)).toBe(token);
    expect(await decodePageToken(token, key, queryHash)).toEqual({ queryHash, after });
  });

  it("refuses a token altered anywhere, or signed with another key", async () => {
    const queryHash = await listQueryHash(query("", "name"));
    const token = await encodePageToken({ queryHash, after: ["Ann", "id-1"] }, key);
    const bytes = fromBase64url(token);
    for (let i = 0; i < bytes.length; i++) {
      const altered = bytes.slice();
      altered[i]! ^= 0x01;
      expect(await rejection(decodePageToken(base64url(altered), key, queryHash))).toEqual({
        field: "page_token",
        description: "is not a valid page token; start again without page_token",
      });
    }
    // Pointing the cursor elsewhere needs a new MAC.
    const forged = base64url(new Uint8Array([...bytes.subarray(0, 33), ...new TextEncoder().encode('["Zed","id-9"]')]));
    expect((await rejection(decodePageToken(forged, key, queryHash))).field).toBe("page_token");
    expect((await rejection(decodePageToken(token, otherKey, queryHash))).field).toBe("page_token");
  });

  it("refuses a token of another query", async () => {
    const issuedFor = await listQueryHash(query("suspended = false", "name", { organisationId: "o1" }));
    const token = await encodePageToken({ queryHash: issuedFor, after: ["Ann", "id-1"] }, key);
    for (const other of [query("suspended = true", "name", { organisationId: "o1" }), query("suspended = false", "name", { organisationId: "o2" })]) {
      expect(await rejection(decodePageToken(token, key, await listQueryHash(other)))).toEqual({
        field: "page_token",
        description: "belongs to a different query; keep filter, order_by and the scope of the first call, or start again without page_token",
      });
    }
  });

  it.each([
    ["empty", ""],
    ["not base64url", "abc+/=="],
    ["impossible length", "abcde"],
    ["too short", "AQID"],
    ["unknown version", base64url(new Uint8Array(64).fill(2))],
    ["too long", "A".repeat(5000)],
    ["unicode", "tökén"],
  ])("refuses garbage: %s", async (_, token) => {
    const queryHash = await listQueryHash(query("", ""));
    expect(await rejection(decodePageToken(token, key, queryHash))).toMatchObject({ field: "page_token" });
  });

  it("are refused by the encoder when misused", async () => {
    const queryHash = await listQueryHash(query("", ""));
    await expect(encodePageToken({ queryHash: "short", after: [1] }, key)).rejects.toThrow(/queryHash/);
    await expect(encodePageToken({ queryHash, after: [] }, key)).rejects.toThrow(/1 to 16/);
    await expect(encodePageToken({ queryHash, after: [Number.NaN] }, key)).rejects.toThrow(/1 to 16/);
    await expect(encodePageToken({ queryHash, after: [1] }, new Uint8Array(16))).rejects.toThrow(/32 bytes/);
  });
});

describe("page size", () => {
  it("defaults 0, caps large values and keeps the rest", () => {
    expect(pageSize(0)).toBe(50);
    expect(pageSize(1)).toBe(1);
    expect(pageSize(1000)).toBe(1000);
    expect(pageSize(1001)).toBe(1000);
    expect(pageSize(2 ** 31 - 1)).toBe(1000);
    expect(pageSize(0, { default: 20, max: 100 })).toBe(20);
    expect(pageSize(500, { default: 20, max: 100 })).toBe(100);
  });

  it.each([-1, -(2 ** 31), 1.5, Number.NaN])("refuses %d", (requested) => {
    expect(() => pageSize(requested)).toThrow(DomainError);
    try {
      pageSize(requested);
    } catch (error) {
      expect((error as DomainError).kind).toBe("invalid_argument");
      expect((error as DomainError).violations[0]!.field).toBe("page_size");
    }
  });
});
