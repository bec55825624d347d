import { describe, expect, it } from "vitest";
import { PlainHeaders } from "../../src/runtime/plain-headers.js";

/** Applies the same changes to PlainHeaders and the global Headers class and compares what each shows. */
function both(change: (headers: Headers) => void): [PlainHeaders, Headers] {
  const plain = new PlainHeaders({ "Content-Type": "application/json" });
  const global = new Headers({ "Content-Type": "application/json" });
  change(plain);
  change(global);
  return [plain, global];
}

function shown(headers: Headers) {
  const seen: Array<[string, string]> = [];
  headers.forEach((value, key) => seen.push([key, value]));
  return { entries: [...headers.entries()], iterated: [...headers], keys: [...headers.keys()], values: [...headers.values()], seen, cookies: headers.getSetCookie() };
}

describe("PlainHeaders", () => {
  it("shows what the global Headers class shows after the same changes", () => {
    const [plain, global] = both((h) => {
      h.set("X-Request-Id", " abc ");
      h.append("vary", "accept");
      h.append("Vary", "origin");
      h.append("set-cookie", "a=1");
      h.append("Set-Cookie", "b=2");
      h.set("trailer-x", "later");
      h.append("x-gone", "soon");
      h.delete("X-Gone");
    });
    expect(shown(plain)).toEqual(shown(global));
    for (const name of ["x-request-id", "VARY", "set-cookie", "content-type", "x-gone"]) {
      expect(plain.get(name)).toBe(global.get(name));
      expect(plain.has(name)).toBe(global.has(name));
    }
  });

  it("takes a request's headers as Node parsed them", () => {
    const plain = PlainHeaders.fromIncoming({ host: "example.test", "x-forwarded-for": "10.0.0.1, 10.0.0.2", "set-cookie": ["a=1", "b=2"], absent: undefined });
    expect(plain.get("Host")).toBe("example.test");
    expect(plain.get("x-forwarded-for")).toBe("10.0.0.1, 10.0.0.2");
    expect(plain.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(plain.has("absent")).toBe(false);
  });

  it("refuses values that would split a header, as the global class does", () => {
    for (const value of ["a\r\nx-injected: 1", "a\nb", "a\0b"]) {
      expect(() => new Headers().set("x", value)).toThrow(TypeError);
      expect(() => new PlainHeaders().set("x", value)).toThrow(TypeError);
      expect(() => new PlainHeaders().append("x", value)).toThrow(TypeError);
    }
  });

  it("gives writeHead its fields sorted by name, set-cookie as a list", () => {
    const plain = new PlainHeaders({ "x-b": "2", "X-A": "1" });
    plain.append("set-cookie", "a=1");
    plain.append("set-cookie", "b=2");
    expect(Object.entries(plain.toOutgoing())).toEqual([
      ["set-cookie", ["a=1", "b=2"]],
      ["x-a", "1"],
      ["x-b", "2"],
    ]);
  });
});
