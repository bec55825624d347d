/** The caller of an RPC as the access interceptor left it in the handler context. */
import type { HandlerContext } from "@connectrpc/connect";
import type { Actor, AuthenticatedActor, DeviceActor } from "../domain/actor.js";
import { invalidCredentials, permissionDenied, preconditionFailed } from "../domain/errors.js";
import { kActor, kRequestMeta } from "./context.js";
import type { ClientInfo } from "./tokens/token-service.js";

/**
 * The authenticated caller acting for a user (a user or an API key); the
 * access interceptor guarantees one on user RPCs and admits devices only to
 * device RPCs, so a device here is refused.
 */
export function actorOf(ctx: HandlerContext): AuthenticatedActor {
  const actor = ctx.values.get(kActor);
  if (actor.kind === "anonymous") throw invalidCredentials();
  if (actor.kind === "device") throw permissionDenied();
  return actor;
}

/** The calling device, on RPCs declared for devices (CALLER_KIND_DEVICE). */
export function deviceOf(ctx: HandlerContext): DeviceActor {
  const actor = ctx.values.get(kActor);
  if (actor.kind === "anonymous") throw invalidCredentials();
  if (actor.kind !== "device") throw permissionDenied();
  return actor;
}

/**
 * The caller as a signed-in person. Some acts are a person's alone (their own
 * session, verifying their address, joining an organisation): an API key
 * acting for its owner gets `failed_precondition` naming what is needed.
 */
export function personOf(ctx: HandlerContext): Extract<Actor, { kind: "user" }> {
  const actor = actorOf(ctx);
  if (actor.kind !== "user") throw preconditionFailed("this call needs a user's access token, not an API key");
  return actor;
}

export function clientOf(ctx: HandlerContext): ClientInfo {
  const meta = ctx.values.get(kRequestMeta);
  return { clientAddress: meta.clientAddress, userAgent: meta.userAgent };
}

export function clientAddressOf(ctx: HandlerContext): string {
  return ctx.values.get(kRequestMeta).clientAddress;
}
