/**
 * The value `make` gives on the first call, given again to every later
 * call: for parts of the app that are built, imported or opened only when
 * first needed. A promise is remembered as it is, rejected or not: what is
 * made this way (handlers, imported keys) fails the same way when asked
 * again.
 */
export function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
