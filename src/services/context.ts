import { createContextKey } from "@connectrpc/connect";
import type { OrganisationRole } from "../domain/access/roles.js";
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

/**
 * The organisation an organisation-scoped RPC is about (its declared
 * `organisation_field`, or the caller's active organisation) and the
 * caller's role in it, resolved once by the access interceptor.
 */
export interface OrganisationScope {
  organisationId: string | undefined;
  role: OrganisationRole | undefined;
}

export const kOrganisationScope = createContextKey<OrganisationScope>(
  { organisationId: undefined, role: undefined },
  { description: "the organisation the call is about and the caller's role in it" },
);
