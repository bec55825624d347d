/**
 * A shorter road for the commonest call: a unary RPC posted over HTTP/1.1
 * with the Connect protocol (devices, browsers, curl).
 *
 * connect-node's adapter and Connect's universal handler are made for every
 * protocol, streams and HTTP/2; a unary Connect call pays for that with
 * about twice the CPU of a plain route: the request converted to a universal
 * one (URL parsed twice, headers copied twice, the body read through two
 * async iterators), three AbortControllers linked by listeners per call, and
 * an abort at the end of every call whose DOMException captures a stack.
 *
 * This handler serves that one case with Connect's own parts (connect is
 * pinned to an exact version, and test/unit/connect-http1-unary.test.ts
 * holds both roads to the same answers byte for byte): the content
 * type, timeout and compression parsers, the size-limited body reader, the
 * method's serializers, the interceptor chain (invokeUnaryImplementation),
 * the error encoding. What it does not copy is
 * the plumbing: the call's signal is one AbortController, aborted when the
 * client goes away, when its Connect-Timeout-Ms runs out or when the server
 * shuts down, as Connect's would be. The answer is written with one
 * writeHead and one end; a frozen answer (services/frozen-answer)
 * is serialized once and its bytes reused while the handler hands it out.
 *
 * Everything else (HTTP/2, gRPC, gRPC-Web, streaming methods, GET, other
 * content types, unknown paths) goes to connect-node's adapter untouched.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { getEventListeners } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  Code,
  ConnectError,
  createContextValues,
  createServiceImplSpec,
  type ConnectRouter,
  type ContextValues,
  type HandlerContext,
  type MethodImplSpec,
} from "@connectrpc/connect";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import {
  compressionNegotiate,
  createAsyncIterable,
  createMethodSerializationLookup,
  getAbortSignalReason,
  invokeUnaryImplementation,
  readAllBytes,
  validateUniversalHandlerOptions,
  type MethodSerializationLookup,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  contentTypeUnaryRegExp,
  errorToJsonBytes,
  headerContentType,
  headerTimeout,
  headerUnaryAcceptEncoding,
  headerUnaryContentLength,
  headerUnaryEncoding,
  parseContentType,
  parseTimeout,
} from "@connectrpc/connect/protocol-connect";
import type { NodeRequestListener } from "./node-listener.js";
import { PlainHeaders } from "./plain-headers.js";

type Options = ReturnType<typeof validateUniversalHandlerOptions>;

interface UnaryRoute {
  spec: MethodImplSpec & { kind: "unary" };
  serialization: MethodSerializationLookup<DescMessage, DescMessage>;
}

/**
 * Wraps `fallback` (connect-node's adapter built from the same options) with
 * the HTTP/1.1 unary Connect path. The options must be the adapter's, so
 * both serve the same routes with the same limits and interceptors.
 */
export function withHttp1UnaryPath(options: ConnectNodeAdapterOptions, fallback: NodeRequestListener): NodeRequestListener {
  const opt = validateUniversalHandlerOptions(options);
  // A server that insists on the Connect-Protocol-Version header is served
  // by connect-node alone, which checks it.
  if (opt.requireConnectProtocolHeader) return fallback;
  const routes = unaryRoutes(options, opt);

  // The calls in flight, so that shutdown aborts them all with one listener.
  const inFlight = new Set<AbortController>();
  opt.shutdownSignal?.addEventListener("abort", () => {
    const reason = getAbortSignalReason(opt.shutdownSignal!);
    for (const call of inFlight) call.abort(reason);
  });

  return (req, res) => {
    const route = req.method === "POST" && !("stream" in req) ? routes.get(req.url ?? "") : undefined;
    const contentType = req.headers["content-type"];
    if (!route || contentType === undefined || !contentTypeUnaryRegExp.test(contentType) || req.headers.host === undefined) {
      fallback(req, res);
      return;
    }
    const http1 = req as IncomingMessage;
    const values = options.contextValues?.(http1) ?? createContextValues();
    void serve(route, opt, inFlight, http1, res as ServerResponse, values).catch((reason: unknown) => {
      if (ConnectError.from(reason).code === Code.Aborted) return;
      console.error(`handler for rpc ${route.spec.method.name} of ${route.spec.method.parent.typeName} failed`, reason);
    });
  };
}

/** The unary methods the routes register, by request path. */
function unaryRoutes(options: ConnectNodeAdapterOptions, opt: Options): Map<string, UnaryRoute> {
  const routes = new Map<string, UnaryRoute>();
  const recorder = {
    handlers: [],
    service(service, implementation, serviceOptions) {
      // Per-service options (other limits or interceptors) stay with connect-node.
      if (serviceOptions !== undefined) return this;
      for (const spec of Object.values(createServiceImplSpec(service, implementation).methods)) {
        if (spec.kind !== "unary") continue;
        const path = `${options.requestPathPrefix ?? ""}/${service.typeName}/${spec.method.name}`;
        routes.set(path, { spec, serialization: createMethodSerializationLookup(spec.method, opt.binaryOptions, opt.jsonOptions, opt) });
      }
      return this;
    },
    rpc() {
      return this;
    },
  } as ConnectRouter;
  options.routes(recorder);
  return routes;
}

/**
 * The reason a call's signal carries once the call is over. A ready-made
 * error: the default abort reason, a DOMException, captures a stack trace
 * on every call.
 */
const CALL_ENDED = new ConnectError("the call has ended", Code.Canceled);

async function serve(route: UnaryRoute, opt: Options, inFlight: Set<AbortController>, req: IncomingMessage, res: ServerResponse, values: ContextValues) {
  const { spec, serialization } = route;
  const requestHeader = PlainHeaders.fromIncoming(req.headers);
  const binary = parseContentType(requestHeader.get(headerContentType))?.binary === true;
  const timeout = parseTimeout(requestHeader.get(headerTimeout), opt.maxTimeoutMs);
  const compression = compressionNegotiate(opt.acceptCompression, requestHeader.get(headerUnaryEncoding), requestHeader.get(headerUnaryAcceptEncoding), headerUnaryAcceptEncoding);

  const call = new AbortController();
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const onClose = () => {
    // A response written completely needs no cancellation.
    if (!res.writableFinished) call.abort(req.errored ?? new ConnectError("the client went away", Code.Canceled));
  };
  if (opt.shutdownSignal?.aborted) call.abort(getAbortSignalReason(opt.shutdownSignal));
  inFlight.add(call);
  res.once("close", onClose);
  const deadlineAt = timeout.timeoutMs === undefined ? undefined : Date.now() + timeout.timeoutMs;
  if (timeout.timeoutMs !== undefined) {
    deadline = setTimeout(() => call.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeout.timeoutMs);
  }
  const responseHeader = new PlainHeaders({ [headerContentType]: binary ? contentTypeUnaryProto : contentTypeUnaryJson });
  const responseTrailer = new PlainHeaders();
  const context: HandlerContext = {
    method: spec.method,
    service: spec.method.parent,
    signal: call.signal,
    timeoutMs: deadlineAt === undefined ? () => undefined : () => deadlineAt - Date.now(),
    requestMethod: "POST",
    requestHeader,
    responseHeader,
    responseTrailer,
    protocolName: "connect",
    values,
    url: `http://${req.headers.host}${req.url}`,
  };

  let status = 200;
  let body: Uint8Array;
  try {
    if (compression.error) throw compression.error;
    if (timeout.error) throw timeout.error;
    let bytes = await readBody(req, opt.readMaxBytes, requestHeader.get(headerUnaryContentLength));
    if (compression.request) bytes = await compression.request.decompress(bytes, opt.readMaxBytes);
    const input = serialization.getI(binary).parse(bytes);
    const output = await invokeUnaryImplementation(spec, context, input, opt.interceptors);
    body = serializeAnswer(output, binary, (message) => serialization.getO(binary).serialize(message));
  } catch (e) {
    call.abort(e);
    const error = e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
    status = codeToHttpStatus(error.code);
    responseHeader.set(headerContentType, contentTypeUnaryJson);
    error.metadata.forEach((value, key) => responseHeader.set(key, value));
    body = errorToJsonBytes(error, opt.jsonOptions);
  } finally {
    clearTimeout(deadline);
    inFlight.delete(call);
    // Like Connect's own handler, the call's signal ends with the call, for
    // whoever listens to it (work the handler left running). Without
    // listeners the abort would only build and dispatch an event to no one.
    if (getEventListeners(call.signal, "abort").length > 0) call.abort(CALL_ENDED);
  }
  if (compression.response && body.byteLength >= opt.compressMinBytes) {
    body = await compression.response.compress(body);
    responseHeader.set(headerUnaryEncoding, compression.response.name);
  }
  // Unary Connect carries trailers as header fields prefixed "trailer-".
  responseTrailer.forEach((value, key) => responseHeader.append(`trailer-${key}`, value));
  responseHeader.set(headerUnaryContentLength, body.byteLength.toString(10));
  // The client went away while the answer was made: nothing to write to.
  if (res.destroyed) return;
  res.writeHead(status, responseHeader.toOutgoing());
  res.end(body);
}

/**
 * The request body, gathered with plain 'data' events but never more than
 * the limit allows. Anything but a body of exactly its Content-Length within
 * the limit goes through Connect's reader, so that size limits and length
 * mismatches fail as they do there.
 */
function readBody(req: IncomingMessage, readMaxBytes: number, contentLength: string | null): Promise<Uint8Array> {
  const promised = contentLength === null ? Number.NaN : Number(contentLength);
  const connectReads = (chunks: Uint8Array[]) => readAllBytes(createAsyncIterable(chunks), readMaxBytes, contentLength);
  // Too large by its own account: Connect refuses it before reading.
  if (promised > readMaxBytes) return connectReads([]);
  return new Promise<Uint8Array[]>((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let count = 0;
    const done = (error?: unknown) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", done);
      req.off("close", onClose);
      if (error) reject(error instanceof Error ? error : new ConnectError(String(error), Code.Aborted));
      else resolve(chunks);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      count += chunk.byteLength;
      // Enough to show Connect's reader that the body is over a limit.
      if (count > readMaxBytes || count > promised) done();
    };
    const onEnd = () => done();
    const onClose = () => done(new ConnectError("the client went away before sending the whole request", Code.Aborted));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", done);
    req.on("close", onClose);
  }).then((chunks) => {
    const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    if (total !== promised || total > readMaxBytes) return connectReads(chunks);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  });
}

const serializedAnswers = { binary: new WeakMap<object, Uint8Array>(), json: new WeakMap<object, Uint8Array>() };

/**
 * The answer's bytes in the call's encoding: from memory when it is a
 * frozen answer serialized before, else from `serialize` (and remembered
 * when frozen, for as long as the answer itself is referenced).
 */
function serializeAnswer<M extends object>(message: M, binary: boolean, serialize: (message: M) => Uint8Array): Uint8Array {
  if (!Object.isFrozen(message)) return serialize(message);
  const memory = binary ? serializedAnswers.binary : serializedAnswers.json;
  let bytes = memory.get(message);
  if (!bytes) {
    bytes = serialize(message);
    memory.set(message, bytes);
  }
  return bytes;
}
