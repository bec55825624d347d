/**
 * API keys look like `lk_<8 visible characters>_<secret>`: the visible part
 * is random, unique and stored in clear so a key can be found and
 * recognised; the whole key is stored only as a SHA-256 hash.
 */
import type { Random } from "../../domain/ports.js";
import { base64url } from "../../domain/tokens/secrets.js";

export const API_KEY_PATTERN = /^lk_([A-Za-z0-9_-]{8})_([A-Za-z0-9_-]{43})$/;

export function newApiKey(random: Random): { key: string; prefix: string } {
  const prefix = base64url(random.bytes(6));
  return { key: `lk_${prefix}_${base64url(random.bytes(32))}`, prefix: `lk_${prefix}` };
}

export function prefixOf(key: string): string | undefined {
  const match = API_KEY_PATTERN.exec(key);
  return match ? `lk_${match[1]}` : undefined;
}
