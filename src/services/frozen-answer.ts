/**
 * Answers a handler hands out again, unchanged, to many callers (a device
 * asking for the same licence every few seconds): frozen once, so that the
 * Node transport (runtime/connect-http1-unary) may keep their serialized
 * bytes beside them instead of walking the message again for every call.
 *
 * Freezing is what makes the reuse safe: an interceptor or handler that
 * tried to change a shared answer would throw instead of changing what
 * other callers receive. Bytes fields (Uint8Array) cannot be frozen; the
 * answers shared this way carry none.
 */
import type { Message } from "@bufbuild/protobuf";

function freezeDeep(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value) || ArrayBuffer.isView(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) freezeDeep(child);
}

/** Freezes `message` and everything in it, marking it as an answer that may be serialized once. */
export function frozenAnswer<T extends Message>(message: T): T {
  freezeDeep(message);
  return message;
}
