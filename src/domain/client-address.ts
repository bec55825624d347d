/**
 * The client's address for rate limits and audit rows. X-Forwarded-For is
 * believed only when it arrives from a configured proxy, and then read from
 * the right: the first address not itself a trusted proxy is the client, so
 * a client cannot choose its own address by sending the header itself.
 */

function ipv4ToInt(address: string): number | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

function stripMappedPrefix(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

export function matchesTrusted(address: string, trusted: readonly string[]): boolean {
  const plain = stripMappedPrefix(address.trim());
  for (const entry of trusted) {
    const [base, bitsText] = entry.split("/");
    if (bitsText === undefined) {
      if (stripMappedPrefix(entry) === plain) return true;
      continue;
    }
    const ip = ipv4ToInt(plain);
    const net = ipv4ToInt(base ?? "");
    const bits = Number(bitsText);
    if (ip === undefined || net === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) continue;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if (((ip & mask) >>> 0) === ((net & mask) >>> 0)) return true;
  }
  return false;
}

export function resolveClientAddress(peer: string, forwardedFor: string | null, trusted: readonly string[]): string {
  const direct = stripMappedPrefix(peer);
  if (!forwardedFor || trusted.length === 0 || !matchesTrusted(direct, trusted)) return direct;
  const hops = forwardedFor.split(",").map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = stripMappedPrefix(hops[i]!);
    if (!matchesTrusted(hop, trusted)) return hop.slice(0, 64);
  }
  return direct;
}
