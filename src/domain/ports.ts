/**
 * What the domain needs from the outside world, as interfaces only. Each
 * runtime (Node, Worker) and each test supplies its own implementations.
 */

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export interface Random {
  /** Cryptographically secure random bytes. */
  bytes(length: number): Uint8Array;
  /** A random UUID (v4); for identifiers, never for secrets. */
  uuid(): string;
}

/**
 * Hashes and verifies passwords as PHC strings ($argon2id$v=19$m=…,t=…,p=…$…).
 * Implementations cap how many hashes run at once; when the cap and its
 * queue are full they throw a resource_exhausted DomainError instead of
 * queueing without bound. On Node hashing runs on libuv's thread pool, off
 * the event loop; in workerd a WebAssembly hash holds the isolate for its
 * whole duration, which is why the Worker's cap is lower.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(phc: string, password: string): Promise<boolean>;
  /** Whether a stored hash uses weaker parameters than the current ones. */
  needsRehash(phc: string): boolean;
}

export const systemClock: Clock = { now: () => Date.now() };

export const webCryptoRandom: Random = {
  bytes(length) {
    return crypto.getRandomValues(new Uint8Array(length));
  },
  uuid() {
    return crypto.randomUUID();
  },
};
