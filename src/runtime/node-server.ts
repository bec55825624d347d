/**
 * Serves an App on one Node port: gRPC (h2c), gRPC-Web and Connect through
 * connect-node, gRPC health and reflection beside the Latchkey services, and
 * every other path through the App's Hono routes.
 */
import { setMaxListeners } from "node:events";
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { createContextValues } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, connectNodeAdapter, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { getRequestListener } from "@hono/node-server";
import { Health } from "../../gen/health/v1/health_pb.js";
import type { App } from "../app.js";
import { kPeerAddress } from "../services/context.js";
import { createHealthService } from "../transport/grpc/health.js";
import { createReflectionService, reflectionServices } from "../transport/grpc/reflection.js";
import { withHttp1UnaryPath } from "./connect-http1-unary.js";
import { createDualProtocolListener } from "./node-listener.js";

export interface NodeServerOptions {
  port: number;
  /** Interface to bind; all interfaces when omitted. */
  host?: string;
  /** Readiness of the process's dependencies, reported by gRPC health. */
  ready: () => Promise<boolean>;
  /** How long close() lets in-flight requests finish. */
  drainMs?: number;
}

export interface NodeServer {
  readonly port: number;
  /** Base URL for clients, e.g. http://localhost:8080. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startNodeServer(app: App, options: NodeServerOptions): Promise<NodeServer> {
  const drainMs = options.drainMs ?? 5000;
  const stopping = new AbortController();
  const shutdown = new AbortController();
  // Every request in flight listens on this signal (connect-node links each
  // handler's signal to it), so more than 10 at once is normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  const served = [...app.services, Health, ...reflectionServices];
  const health = createHealthService({ services: served, ready: options.ready, stopping: stopping.signal });
  const reflection = createReflectionService(served);
  const plainRoutes = getRequestListener(app.http.fetch);

  const adapterOptions: ConnectNodeAdapterOptions = {
    routes(router) {
      app.routes(router);
      router.service(Health, health);
      for (const service of reflectionServices) router.service(service, reflection);
    },
    interceptors: app.interceptors,
    // The TCP peer; the access interceptor decides whether to believe an
    // X-Forwarded-For on top of it (LATCHKEY_TRUSTED_PROXIES).
    contextValues: (req) => createContextValues().set(kPeerAddress, req.socket?.remoteAddress ?? ""),
    readMaxBytes: app.maxMessageBytes,
    // Plain HTTP clients (curl, browsers' fetch) may post JSON without the
    // header; the content type already identifies a Connect request.
    requireConnectProtocolHeader: false,
    // connect-node's default, spelt out because the HTTP/1.1 unary path
    // builds its own router from these options.
    acceptCompression: [compressionGzip, compressionBrotli],
    shutdownSignal: shutdown.signal,
    fallback: (req, res) => void plainRoutes(req, res as ServerResponse | Http2ServerResponse),
  };
  const handler = withHttp1UnaryPath(adapterOptions, connectNodeAdapter(adapterOptions));

  const listener = createDualProtocolListener(handler, { drainMs });
  const { port } = await listener.listen(options.port, options.host);

  let closed: Promise<void> | undefined;
  return {
    port,
    url: `http://${urlHost(options.host)}:${port}`,
    close() {
      closed ??= (async () => {
        stopping.abort();
        // Handlers still running near the end of the drain get their signal
        // aborted with a status clients understand, before their sockets go.
        const abortLate = setTimeout(
          () => shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable)),
          Math.max(0, drainMs - 250),
        );
        abortLate.unref();
        try {
          await listener.close();
        } finally {
          clearTimeout(abortLate);
        }
      })();
      return closed;
    },
  };
}

function urlHost(host: string | undefined): string {
  if (host === undefined || host === "" || host === "0.0.0.0" || host === "::") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}
