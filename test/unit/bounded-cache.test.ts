import { describe, expect, it } from "vitest";
import { BoundedCache } from "../../src/domain/bounded-cache.js";

function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe("BoundedCache", () => {
  it("answers what was set and misses what was not", () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 3 });
    cache.set("a", 1);
    expect(cache.get("a")).toBe(1);
    expect(cache.get("b")).toBeUndefined();
    cache.set("a", 2);
    expect(cache.get("a")).toBe(2);
    expect(cache.size).toBe(1);
  });

  it("forgets the least recently used entry when full, counting reads as use", () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 2 });
    cache.set("a", 1);
    cache.set("b", 2);
    expect(cache.get("a")).toBe(1);
    cache.set("c", 3);
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBe(1);
    expect(cache.get("c")).toBe(3);
    expect(cache.size).toBe(2);
  });

  it("moves a read entry to the recent end only once it has aged past half the capacity", () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 10 });
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, i);
    // k9 is the newest: reading it leaves the order alone.
    expect(cache.get("k9")).toBe(9);
    for (let i = 10; i < 19; i++) cache.set(`k${i}`, i);
    // Nine newer entries later k9 is the oldest; reading it now moves it.
    expect(cache.get("k8")).toBeUndefined();
    expect(cache.get("k9")).toBe(9);
    cache.set("k19", 19);
    expect(cache.get("k10")).toBeUndefined();
    expect(cache.get("k9")).toBe(9);
    expect(cache.size).toBe(10);
  });

  it("re-setting a key makes it the most recently used without growing", () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 2 });
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("a", 10);
    cache.set("c", 3);
    expect(cache.get("a")).toBe(10);
    expect(cache.get("b")).toBeUndefined();
  });

  it("remembers nothing with maxEntries 0", () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 0 });
    cache.set("a", 1);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("misses a value once it is maxAgeMs old and forgets it", () => {
    const clock = manualClock();
    const cache = new BoundedCache<string, number>({ maxEntries: 10, maxAgeMs: 1_000, clock });
    cache.set("a", 1);
    clock.advance(999);
    expect(cache.get("a")).toBe(1);
    clock.advance(1);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("counts the age from the time given to set, and reads do not renew it", () => {
    const clock = manualClock();
    const cache = new BoundedCache<string, number>({ maxEntries: 10, maxAgeMs: 1_000, clock });
    cache.set("a", 1, clock.now() - 600);
    clock.advance(300);
    expect(cache.get("a")).toBe(1);
    clock.advance(100);
    expect(cache.get("a")).toBeUndefined();
  });

  it("deletes and clears", () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 10 });
    cache.set("a", 1);
    cache.set("b", 2);
    cache.delete("a");
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toBe(1);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it("refuses a bad size, a bad age, and an age without a clock", () => {
    expect(() => new BoundedCache({ maxEntries: -1 })).toThrow(RangeError);
    expect(() => new BoundedCache({ maxEntries: 1.5 })).toThrow(RangeError);
    expect(() => new BoundedCache({ maxEntries: 1, maxAgeMs: 0, clock: manualClock() })).toThrow(RangeError);
    expect(() => new BoundedCache({ maxEntries: 1, maxAgeMs: 10 })).toThrow(TypeError);
  });
});
