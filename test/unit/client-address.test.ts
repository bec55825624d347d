import { describe, expect, it } from "vitest";
import { matchesTrusted, resolveClientAddress } from "../../src/domain/client-address.js";

describe("client address", () => {
  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", () => {
    expect(resolveClientAddress("203.0.113.9", "1.2.3.4", ["10.0.0.0/8"])).toBe("203.0.113.9");
    expect(resolveClientAddress("10.0.0.5", "1.2.3.4", [])).toBe("10.0.0.5");
  });

  it("takes the right-most address that is not a trusted proxy", () => {
    // The client wrote "6.6.6.6" itself; the proxy appended the real address.
    expect(resolveClientAddress("10.0.0.5", "6.6.6.6, 198.51.100.7", ["10.0.0.0/8"])).toBe("198.51.100.7");
    expect(resolveClientAddress("10.0.0.5", "198.51.100.7, 10.0.0.9", ["10.0.0.0/8"])).toBe("198.51.100.7");
  });

  it("understands IPv4-mapped IPv6 peers and exact entries", () => {
    expect(matchesTrusted("::ffff:10.1.2.3", ["10.0.0.0/8"])).toBe(true);
    expect(matchesTrusted("::1", ["::1"])).toBe(true);
    expect(matchesTrusted("11.0.0.1", ["10.0.0.0/8"])).toBe(false);
    expect(resolveClientAddress("::ffff:127.0.0.1", null, [])).toBe("127.0.0.1");
  });
});
