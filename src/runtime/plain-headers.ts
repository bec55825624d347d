/**
 * Headers for one call on the HTTP/1.1 unary path: the request's, as Node
 * parsed them, and the answer's, on their way to `writeHead`.
 *
 * The global Headers class checks every name and value through WebIDL
 * conversions and keeps a sorted list; on a call that sets half a dozen
 * fields that costs more than the fields are worth. This class keeps the
 * same observable behaviour for what the server does with headers (names
 * case-insensitive, values joined with ", ", set-cookie kept apart,
 * iteration sorted by name) over a Map. Values that could split a header
 * (CR, LF, NUL) are refused as the global class refuses them.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

type Pairs = ReturnType<Headers["entries"]>;
type Names = ReturnType<Headers["keys"]>;

const FORBIDDEN_IN_VALUE = /[\r\n\0]/;
const SET_COOKIE = "set-cookie";

function checked(name: string, value: string): [string, string] {
  const trimmed = String(value).trim();
  if (FORBIDDEN_IN_VALUE.test(trimmed)) throw new TypeError(`invalid value for header ${name}`);
  return [name.toLowerCase(), trimmed];
}

export class PlainHeaders implements Headers {
  readonly #fields = new Map<string, string[]>();

  /** The request's headers as Node parsed them: names already lower-case, repeated fields already joined. */
  static fromIncoming(incoming: IncomingHttpHeaders): PlainHeaders {
    const headers = new PlainHeaders();
    for (const name in incoming) {
      const value = incoming[name];
      if (value === undefined) continue;
      headers.#fields.set(name, typeof value === "string" ? [value] : [...value]);
    }
    return headers;
  }

  constructor(init?: Record<string, string>) {
    if (init) for (const name in init) this.set(name, init[name]!);
  }

  append(name: string, value: string): void {
    const [key, field] = checked(name, value);
    const values = this.#fields.get(key);
    if (values) values.push(field);
    else this.#fields.set(key, [field]);
  }

  set(name: string, value: string): void {
    const [key, field] = checked(name, value);
    this.#fields.set(key, [field]);
  }

  delete(name: string): void {
    this.#fields.delete(name.toLowerCase());
  }

  get(name: string): string | null {
    const values = this.#fields.get(name.toLowerCase());
    if (values === undefined) return null;
    return values.length === 1 ? values[0]! : values.join(", ");
  }

  has(name: string): boolean {
    return this.#fields.has(name.toLowerCase());
  }

  getSetCookie(): string[] {
    return [...(this.#fields.get(SET_COOKIE) ?? [])];
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  entries(): Pairs {
    return this.#pairs();
  }

  keys(): Names {
    return this.#project((pair) => pair[0]);
  }

  values(): Names {
    return this.#project((pair) => pair[1]);
  }

  [Symbol.iterator](): Pairs {
    return this.#pairs();
  }

  /** The fields for `writeHead`, in one object sorted by name as the global class iterates (set-cookie as a list). */
  toOutgoing(): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = Object.create(null) as OutgoingHttpHeaders;
    for (const key of [...this.#fields.keys()].sort()) {
      const values = this.#fields.get(key)!;
      out[key] = key === SET_COOKIE ? [...values] : values.length === 1 ? values[0]! : values.join(", ");
    }
    return out;
  }

  *#sortedPairs(): Generator<[string, string], undefined> {
    for (const key of [...this.#fields.keys()].sort()) {
      const values = this.#fields.get(key)!;
      if (key === SET_COOKIE) for (const value of values) yield [key, value];
      else yield [key, values.join(", ")];
    }
  }

  #pairs(): Pairs {
    return this.#sortedPairs() as Pairs;
  }

  #project(pick: (pair: [string, string]) => string): Names {
    const pairs = this.#sortedPairs();
    return (function* () {
      for (const pair of pairs) yield pick(pair);
    })() as Names;
  }
}
