/**
 * What the hardware allows for password sign-ins: one argon2id hash with the
 * server's parameters, timed in this process, and the hashes per second all
 * cores could compute if they did nothing else.
 */
import { hash, type Algorithm } from "@node-rs/argon2";
import { availableParallelism } from "node:os";
import { ARGON2_HASH_LENGTH, ARGON2ID_PARAMS } from "../../src/domain/passwords/phc.js";
import { percentile } from "./loads.js";

// Algorithm is a const enum in the package's types; 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;

export interface Argon2Ceiling {
  params: { memoryCost: number; timeCost: number; parallelism: number };
  samples: number;
  medianMs: number;
  minMs: number;
  cores: number;
  /** cores ÷ single-hash time. */
  hashesPerSecond: number;
  /** Hashes per second actually reached here with `parallel` hashes always in flight (libuv pool). */
  parallelHashesPerSecond: number;
  parallel: number;
}

export async function measureArgon2Ceiling(samples = 20, parallel = 4): Promise<Argon2Ceiling> {
  const options = { algorithm: ARGON2ID, ...ARGON2ID_PARAMS, outputLen: ARGON2_HASH_LENGTH };
  // The first hash pays for loading the native module and growing the heap.
  await hash("warm-up password for the ceiling", options);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await hash(`violet-anchor-meadow-${i}-quartz`, options);
    times.push(performance.now() - started);
  }
  const sorted = Float64Array.from(times).sort();
  const medianMs = percentile(sorted, 50);
  const cores = availableParallelism();
  // The same work with several hashes in flight, as the server runs them:
  // shows what the cores deliver when they share caches and memory bandwidth.
  const total = samples * 2;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < total) await hash(`violet-anchor-meadow-${next++}-quartz`, options);
    }),
  );
  const parallelHashesPerSecond = (total * 1000) / (performance.now() - started);
  return {
    params: { ...ARGON2ID_PARAMS },
    samples,
    medianMs,
    minMs: sorted[0]!,
    cores,
    hashesPerSecond: (cores * 1000) / medianMs,
    parallelHashesPerSecond,
    parallel,
  };
}
