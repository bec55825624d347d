/**
 * A bounded in-process memory for values that are costly to make again
 * (signatures checked, certificates signed, joined rows): at most
 * `maxEntries` values, the least recently used forgotten first (reads
 * within the newest half count as recent already), and, when
 * `maxAgeMs` is given, none answered once that old. Whatever makes a value
 * stale besides its age belongs in its key (e.g. a row's last change), so a
 * changed source is simply a miss.
 */
import type { Clock } from "./ports.js";

export interface BoundedCacheOptions {
  /** Values remembered at most; 0 remembers nothing. */
  maxEntries: number;
  /** A value this many milliseconds old (or older) is a miss; no limit when absent. */
  maxAgeMs?: number;
  /** Ages are measured with it; only needed with `maxAgeMs`. */
  clock?: Clock;
}

interface Entry<V> {
  value: V;
  at: number;
  /** The tick at which the entry last moved to the recent end. */
  order: number;
}

export class BoundedCache<K, V> {
  // A Map iterates in insertion order: re-inserting on every hit keeps the
  // least recently used entry first.
  readonly #entries = new Map<K, Entry<V>>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number | undefined;
  readonly #clock: Clock | undefined;
  /** Counts moves to the recent end (sets and refreshes). */
  #tick = 0;

  constructor(options: BoundedCacheOptions) {
    const { maxEntries, maxAgeMs, clock } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new RangeError(`maxEntries must be a non-negative integer, got ${maxEntries}`);
    if (maxAgeMs !== undefined && !(maxAgeMs > 0)) throw new RangeError(`maxAgeMs must be positive, got ${maxAgeMs}`);
    if (maxAgeMs !== undefined && !clock) throw new TypeError("maxAgeMs needs a clock");
    this.#maxEntries = maxEntries;
    this.#maxAgeMs = maxAgeMs;
    this.#clock = clock;
  }

  /** The value, now the most recently used; undefined when absent or too old (then it is forgotten). */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (this.#maxAgeMs !== undefined && this.#clock!.now() - entry.at >= this.#maxAgeMs) {
      this.#entries.delete(key);
      return undefined;
    }
    // An entry moved within the last half of the capacity's moves is among
    // the recent half already, and cannot be the next forgotten: moving it
    // again (a delete and an insert, on every read of a busy key) buys nothing.
    if (this.#tick - entry.order >= this.#maxEntries >>> 1) {
      this.#entries.delete(key);
      entry.order = ++this.#tick;
      this.#entries.set(key, entry);
    }
    return entry.value;
  }

  /**
   * Remembers `value` as the most recently used, forgetting the least
   * recently used when full. `at` is when the value was current (default:
   * now); its age counts from then.
   */
  set(key: K, value: V, at?: number): void {
    if (this.#maxEntries === 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value as K);
    this.#entries.set(key, { value, at: at ?? this.#clock?.now() ?? 0, order: ++this.#tick });
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
