/**
 * PasswordHasher for Cloudflare Workers: argon2id in WebAssembly through
 * argon2-wasm-edge. workerd refuses to compile WebAssembly from bytes at run
 * time, so the two `.wasm` files are imported statically; wrangler bundles
 * them as CompiledWasm modules and workerd hands them over compiled.
 *
 * Produces and accepts the same PHC strings as argon2-node.ts: both are
 * argon2id v1.3 with a 16-byte salt and a 32-byte digest.
 */
import { argon2d, argon2i, argon2id, setWASMModules } from "argon2-wasm-edge";
// @ts-expect-error -- a `.wasm` import is a WebAssembly.Module under wrangler's module rules; TypeScript has no type for it.
import argon2Wasm from "argon2-wasm-edge/wasm/argon2.wasm";
// @ts-expect-error -- as above.
import blake2bWasm from "argon2-wasm-edge/wasm/blake2b.wasm";
import { invalidField } from "../domain/errors.js";
import { createHashLimiter } from "../domain/passwords/hash-limiter.js";
import {
  ARGON2_HASH_LENGTH,
  ARGON2_SALT_LENGTH,
  ARGON2ID_PARAMS,
  constantTimeEqual,
  formatPhc,
  needsRehash,
  parsePhc,
  withinLimits,
  type Argon2Limits,
  type ParsedPhc,
} from "../domain/passwords/phc.js";
import { MAX_PASSWORD_CODE_POINTS, passwordForHashing } from "../domain/passwords/strength.js";
import type { PasswordHasher } from "../domain/ports.js";

export interface WasmArgon2HasherOptions {
  /**
   * Hashes computed at once (default 2). The isolate's 128 MB is shared by
   * every request it serves and each hash holds about 19 MiB of WebAssembly
   * memory until it is collected.
   */
  maxConcurrent?: number;
  /** Hashes allowed to wait for a slot before callers get resource_exhausted (default 8). */
  maxQueued?: number;
}

const DEFAULT_MAX_CONCURRENT = 2;
const DEFAULT_MAX_QUEUED = 8;

/** An OWASP-minimum hash takes about 130 ms in workerd; used only for retry hints. */
const ESTIMATED_HASH_MS = 150;

/**
 * Stored hashes with costs beyond these are not recomputed here: a 128 MB
 * isolate cannot afford more than 64 MiB for one hash.
 */
const WORKER_LIMITS: Argon2Limits = { maxMemoryCost: 65536, maxTimeCost: 10, maxParallelism: 8 };

const IMPLEMENTATIONS = { argon2id, argon2i, argon2d } as const;

type WasmModules = Parameters<typeof setWASMModules>[0];

let modulesSet: Promise<void> | undefined;

function ensureModules(): Promise<void> {
  // Puts the precompiled modules into the library's cache, so it never
  // reaches its compile-from-bytes fallback that workerd forbids.
  modulesSet ??= setWASMModules({ argon2WASM: argon2Wasm as WasmModules["argon2WASM"], blake2bWASM: blake2bWasm as WasmModules["blake2bWASM"] });
  return modulesSet;
}

export function createWasmArgon2Hasher(options: WasmArgon2HasherOptions = {}): PasswordHasher {
  const limiter = createHashLimiter({
    maxConcurrent: options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
    maxQueued: options.maxQueued ?? DEFAULT_MAX_QUEUED,
    estimatedTaskMs: ESTIMATED_HASH_MS,
  });
  const params = ARGON2ID_PARAMS;

  return {
    async hash(password) {
      const normalised = passwordForHashing(password);
      if (normalised === undefined) throw invalidField("password", `must be 1 to ${MAX_PASSWORD_CODE_POINTS} characters`);
      const salt = crypto.getRandomValues(new Uint8Array(ARGON2_SALT_LENGTH));
      return limiter.run(async () => {
        await ensureModules();
        const digest = await argon2id({
          password: normalised,
          salt,
          iterations: params.timeCost,
          memorySize: params.memoryCost,
          parallelism: params.parallelism,
          hashLength: ARGON2_HASH_LENGTH,
          outputType: "binary",
        });
        // Formatted here rather than by the library, so both runtimes write
        // byte-for-byte the same layout.
        return formatPhc("argon2id", params, salt, digest);
      });
    },

    async verify(phc, password) {
      const normalised = passwordForHashing(password);
      const parsed = parsePhc(phc);
      if (normalised === undefined || !parsed || !withinLimits(parsed, WORKER_LIMITS)) return false;
      // Failures past this point are the service's, not the caller's: they
      // propagate instead of posing as a wrong password (which would count
      // towards the account's lockout).
      return limiter.run(async () => {
        await ensureModules();
        const digest = await recompute(parsed, normalised);
        return digestsEqual(digest, parsed.hash);
      });
    },

    needsRehash(phc) {
      return needsRehash(phc, params);
    },
  };
}

function recompute(parsed: ParsedPhc, password: string): Promise<Uint8Array> {
  return IMPLEMENTATIONS[parsed.algorithm]({
    password,
    salt: parsed.salt,
    iterations: parsed.timeCost,
    memorySize: parsed.memoryCost,
    parallelism: parsed.parallelism,
    hashLength: parsed.hash.length,
    outputType: "binary",
  });
}

/**
 * The library's own verify compares strings with `===`, which can stop at the
 * first differing character; the digests are compared here instead, with
 * workerd's timingSafeEqual when present.
 */
function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const subtle = crypto.subtle as typeof crypto.subtle & { timingSafeEqual?: (x: Uint8Array, y: Uint8Array) => boolean };
  if (typeof subtle.timingSafeEqual === "function") return subtle.timingSafeEqual(a, b);
  return constantTimeEqual(a, b);
}
