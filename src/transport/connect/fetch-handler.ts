/**
 * Serves the Connect services to a fetch runtime (Cloudflare Workers): the
 * Connect protocol (JSON and binary, unary and streaming) and gRPC-Web.
 *
 * Plain gRPC cannot be served here: it needs HTTP/2 trailers, and a fetch
 * `Response` has none (workerd's local server also speaks HTTP/1.1 only).
 * gRPC requests get an explicit refusal instead of a response whose status
 * would silently go missing; gRPC clients belong on the Node server.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { createConnectRouter, createContextValues, type ConnectRouter, type Interceptor, type MethodImpl } from "@connectrpc/connect";
import { kPeerAddress } from "../../services/context.js";
import {
  universalServerRequestFromFetch,
  universalServerResponseToFetch,
  type UniversalHandler,
} from "@connectrpc/connect/protocol";

export interface ConnectFetchHandlerOptions {
  /** Registers the services, as App.routes does. */
  routes: (router: ConnectRouter) => void;
  /** The interceptor onion, outermost first. */
  interceptors: Interceptor[];
  /** Largest accepted request message, in bytes. */
  readMaxBytes: number;
}

/** Answers an RPC request, or resolves undefined when the request is not one. */
export type ConnectFetchHandler = (request: Request) => Promise<Response | undefined>;

// `/package.Service/Method`: a dotted (package-qualified) service name keeps
// ordinary HTTP routes such as `/avatars/{id}` out of the RPC namespace.
const RPC_PATH = /^\/[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\/[A-Za-z_]\w*$/;
const GRPC = /^application\/grpc(?:\+[\w.-]+)?\s*(?:;|$)/i;
const GRPC_WEB = /^application\/grpc-web(?:-text)?(?:\+[\w.-]+)?\s*(?:;|$)/i;
const CONNECT = /^application\/(?:json|proto|connect\+[\w.-]+)\s*(?:;|$)/i;

const GRPC_UNIMPLEMENTED = "12";
const GRPC_UNAVAILABLE_HERE =
  "gRPC needs HTTP/2 trailers, which this server cannot send; use Connect or gRPC-Web here, or gRPC against the Node server";

export function createConnectFetchHandler(options: ConnectFetchHandlerOptions): ConnectFetchHandler {
  const router = createConnectRouter({
    interceptors: options.interceptors,
    readMaxBytes: options.readMaxBytes,
    // Refused before dispatch (see grpcRefusal); disabling it here as well
    // keeps a trailer-less gRPC response from ever being produced.
    grpc: false,
  });
  const unbuilt = new Map<string, () => UniversalHandler>();
  options.routes(deferringRouter(router, unbuilt));
  const handlers = new Map<string, UniversalHandler>();
  const handlerOf = (path: string): UniversalHandler | undefined => {
    let handler = handlers.get(path);
    const build = handler === undefined ? unbuilt.get(path) : undefined;
    if (build !== undefined) {
      handler = build();
      handlers.set(path, handler);
      unbuilt.delete(path);
    }
    return handler;
  };

  return async (request) => {
    const path = new URL(request.url).pathname;
    const handler = handlerOf(path);
    const contentType = request.headers.get("content-type") ?? "";
    if (handler === undefined) {
      // Only RPC-shaped POSTs are answered as RPCs; everything else belongs
      // to the plain HTTP routes.
      if (request.method !== "POST" || !RPC_PATH.test(path)) return undefined;
      if (GRPC.test(contentType)) return grpcRefusal();
      if (GRPC_WEB.test(contentType)) return grpcWebUnimplemented(path);
      if (CONNECT.test(contentType)) return connectUnimplemented(path);
      return undefined;
    }
    if (GRPC.test(contentType)) return grpcRefusal();
    // Bidirectional streaming needs a full-duplex connection, which a Worker
    // cannot rely on; HTTP/1.1 makes Connect refuse such calls (505) instead
    // of letting the client hang. No Latchkey RPC is bidirectional.
    const universal = universalServerRequestFromFetch(request, { httpVersion: "1.1" });
    // Cloudflare's edge sets CF-Connecting-IP to the TCP peer it accepted;
    // the access interceptor applies LATCHKEY_TRUSTED_PROXIES on top of it.
    universal.contextValues = createContextValues().set(kPeerAddress, request.headers.get("cf-connecting-ip") ?? "");
    const response = await handler(universal);
    return universalServerResponseToFetch(response);
  };
}

/**
 * A router that records each method instead of building its handler, and
 * builds it on the method's first call. Building one (protocol negotiation,
 * serialisers) is cheap, but building all of them at once cost a cold
 * isolate tens of milliseconds before its first answer.
 */
function deferringRouter(router: ConnectRouter, unbuilt: Map<string, () => UniversalHandler>): ConnectRouter {
  const defer = (method: DescMethod, impl: MethodImpl<DescMethod>, options: Parameters<ConnectRouter["rpc"]>[2]) => {
    unbuilt.set(`/${method.parent.typeName}/${method.name}`, () => {
      router.rpc(method, impl, options);
      return router.handlers[router.handlers.length - 1]!;
    });
  };
  const deferring: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(service, implementation, options) {
      const methods = implementation as Record<string, ((...args: never[]) => unknown) | undefined>;
      for (const method of service.methods) {
        const impl = methods[method.localName];
        // A method without an implementation stays unknown: answered as unimplemented below.
        if (impl !== undefined) defer(method, impl.bind(implementation) as unknown as MethodImpl<DescMethod>, options);
      }
      return deferring;
    },
    rpc(method, impl, options) {
      defer(method, impl as MethodImpl<DescMethod>, options);
      return deferring;
    },
  };
  return deferring;
}

/** Connect's answer to an unknown procedure: 404 with an `unimplemented` error body. */
function connectUnimplemented(path: string): Response {
  return Response.json({ code: "unimplemented", message: `${path} is not implemented` }, { status: 404 });
}

/** gRPC-Web allows a trailers-only answer: the status travels in the headers. */
function grpcWebUnimplemented(path: string): Response {
  return new Response(null, {
    status: 200,
    headers: {
      "content-type": "application/grpc-web+proto",
      "grpc-status": GRPC_UNIMPLEMENTED,
      "grpc-message": encodeURIComponent(`${path} is not implemented`),
    },
  });
}

/**
 * 415 for HTTP tools, plus grpc-status/grpc-message headers so a gRPC client
 * that reads them reports `unimplemented` with the reason rather than a bare
 * HTTP error.
 */
function grpcRefusal(): Response {
  return new Response(`${GRPC_UNAVAILABLE_HERE}\n`, {
    status: 415,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "grpc-status": GRPC_UNIMPLEMENTED,
      "grpc-message": encodeURIComponent(GRPC_UNAVAILABLE_HERE),
    },
  });
}
