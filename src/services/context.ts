import { createContextKey } from "@connectrpc/connect";
import { anonymous, type Actor } from "../domain/actor.js";

/** Facts about the request that are not part of the message. */
export interface RequestMeta {
  requestId: string;
  /** The client's address, after trusted-proxy resolution. */
  clientAddress: string;
  userAgent: string;
}

export const kActor = createContextKey<Actor>(anonymous, { description: "the authenticated caller" });

export const kRequestMeta = createContextKey<RequestMeta>(
  { requestId: "", clientAddress: "", userAgent: "" },
  { description: "request id, client address and user agent" },
);

/** Address of the TCP peer, set by the runtime adapter (Node socket, Worker header). */
export const kPeerAddress = createContextKey<string>("", { description: "address of the TCP peer" });
