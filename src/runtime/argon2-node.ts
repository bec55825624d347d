/**
 * PasswordHasher for Node: argon2id through @node-rs/argon2 on a small pool
 * of worker threads that run at a lowered scheduling priority (see
 * argon2-thread.mjs), so a hash never blocks the event loop and yields to
 * it when the cores are contended. Hashes are interchangeable with the Worker's
 * (argon2-worker.ts).
 */
import type { Algorithm, Options } from "@node-rs/argon2";
import { invalidField } from "../domain/errors.js";
import { createHashLimiter } from "../domain/passwords/hash-limiter.js";
import {
  ARGON2_HASH_LENGTH,
  ARGON2ID_PARAMS,
  assertAtLeastFloor,
  DEFAULT_ARGON2_LIMITS,
  needsRehash,
  parsePhc,
  withinLimits,
  type Argon2Params,
} from "../domain/passwords/phc.js";
import { MAX_PASSWORD_CODE_POINTS, passwordForHashing } from "../domain/passwords/strength.js";
import type { PasswordHasher } from "../domain/ports.js";
import { createArgon2Pool } from "./argon2-pool.js";

export interface NodeArgon2HasherOptions {
  /** Hashes computed at once; each holds memoryCost KiB and one of as many threads. */
  maxConcurrent: number;
  /** Hashes allowed to wait for a slot before callers get resource_exhausted. */
  maxQueued: number;
  /** Costs for new hashes; never below ARGON2ID_PARAMS. */
  params?: Argon2Params;
}

// Algorithm is a const enum in the package's types, which isolatedModules
// cannot read; 2 is its Argon2id member.
const ARGON2ID = 2 as Algorithm;

/** An OWASP-minimum hash takes about 20 ms here; used only for retry hints. */
const ESTIMATED_HASH_MS = 25;

export interface NodeArgon2Hasher extends PasswordHasher {
  /** Stops the hashing threads (they never keep the process alive on their own). */
  close(): Promise<void>;
}

export function createNodeArgon2Hasher(options: NodeArgon2HasherOptions): NodeArgon2Hasher {
  const params = { ...(options.params ?? ARGON2ID_PARAMS) };
  assertAtLeastFloor(params);
  const limiter = createHashLimiter({
    maxConcurrent: options.maxConcurrent,
    maxQueued: options.maxQueued,
    estimatedTaskMs: ESTIMATED_HASH_MS,
  });
  const hashOptions: Options = {
    algorithm: ARGON2ID,
    memoryCost: params.memoryCost,
    timeCost: params.timeCost,
    parallelism: params.parallelism,
    outputLen: ARGON2_HASH_LENGTH,
  };
  // As many threads as hashes may run at once: the limiter decides who waits.
  const pool = createArgon2Pool(options.maxConcurrent);

  return {
    async hash(password) {
      const normalised = passwordForHashing(password);
      if (normalised === undefined) throw invalidField("password", `must be 1 to ${MAX_PASSWORD_CODE_POINTS} characters`);
      // The library draws a 16-byte salt from the OS CSPRNG.
      return limiter.run(() => pool.hash(normalised, hashOptions));
    },

    async verify(phc, password) {
      const normalised = passwordForHashing(password);
      const parsed = parsePhc(phc);
      // Nothing a policy-conforming password could match, or a hash this
      // service will not spend resources on: a plain "no".
      if (normalised === undefined || !parsed || !withinLimits(parsed, DEFAULT_ARGON2_LIMITS)) return false;
      // Anything that still fails is the service's fault, not the caller's:
      // it propagates as an internal error instead of posing as a wrong
      // password (which would count towards the account's lockout).
      return limiter.run(() => pool.verify(phc, normalised));
    },

    needsRehash(phc) {
      return needsRehash(phc, params);
    },

    close: () => pool.close(),
  };
}
