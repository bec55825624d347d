/**
 * The HTTP/1.1 unary path must answer byte for byte what connect-node's
 * adapter answers: the same routes are served by both on two real ports and
 * every request is sent to each.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync, gunzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, createContextValues, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, connectNodeAdapter, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus as ServingStatus, HealthListResponseSchema } from "../../gen/health/v1/health_pb.js";
import { withHttp1UnaryPath } from "../../src/runtime/connect-http1-unary.js";
import { frozenAnswer } from "../../src/services/frozen-answer.js";

/** Services named in List answers: enough of them to pass the compression threshold. */
const MANY = Array.from({ length: 200 }, (_, i) => `latchkey.test.v1.Service${i}`);

/** One frozen answer handed out on every List call: the fast path serializes it once. */
const LISTED = frozenAnswer(create(HealthListResponseSchema, { statuses: Object.fromEntries(MANY.map((name) => [name, { status: ServingStatus.SERVING }])) }));

/** Resolved with the reason once a Check for "wait" sees its signal aborted. */
let waiting: { started: () => void; aborted: (reason: unknown) => void } | undefined;

function routes(router: ConnectRouter) {
  router.service(Health, {
    async check(request, context) {
      if (request.service === "fail") {
        throw new ConnectError("no such thing", Code.FailedPrecondition, { "x-why": "because" });
      }
      if (request.service === "wait") {
        waiting?.started();
        await new Promise<void>((resolve) =>
          context.signal.addEventListener("abort", () => {
            waiting?.aborted(context.signal.reason);
            resolve();
          }),
        );
      }
      context.responseHeader.set("x-answered-by", "check");
      context.responseHeader.set("x-peer", context.values.get(kPeer));
      context.responseTrailer.set("x-trailer", "after");
      return { status: ServingStatus.SERVING };
    },
    async *watch() {
      yield { status: ServingStatus.SERVING };
    },
    async list() {
      return LISTED;
    },
  });
}

const kPeer = createContextKey("", { description: "the TCP peer" });

/** Shows what interceptors see and can add on either path. */
const stamp: Interceptor = (next) => async (req) => {
  const res = await next(req);
  res.header.set("x-stamp", `${req.header.get("x-in") ?? "-"} ${req.signal.aborted}`);
  return res;
};

const options: ConnectNodeAdapterOptions = {
  routes,
  interceptors: [stamp],
  contextValues: (req) => createContextValues().set(kPeer, req.socket?.remoteAddress ?? ""),
  readMaxBytes: 512,
  requireConnectProtocolHeader: false,
  acceptCompression: [compressionGzip, compressionBrotli],
};

const servers: http.Server[] = [];
let stock: number;
let fast: number;

async function serve(listener: http.RequestListener): Promise<number> {
  const server = http.createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  stock = await serve(connectNodeAdapter(options) as http.RequestListener);
  fast = await serve(withHttp1UnaryPath(options, connectNodeAdapter(options)) as http.RequestListener);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(port: number, path: string, headers: Record<string, string>, body: Buffer | string, method = "POST"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const { date: _date, ...rest } = res.headers;
        resolve({ status: res.statusCode ?? 0, headers: rest, body: Buffer.concat(chunks) });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Sends the same request to both servers and expects the same answer. */
async function same(path: string, headers: Record<string, string>, body: Buffer | string, method = "POST"): Promise<Answer> {
  const [a, b] = await Promise.all([send(stock, path, headers, body, method), send(fast, path, headers, body, method)]);
  expect(b.status).toBe(a.status);
  expect(b.headers).toEqual(a.headers);
  expect(b.body.equals(a.body)).toBe(true);
  return b;
}

const CHECK = "/grpc.health.v1.Health/Check";
const LIST = "/grpc.health.v1.Health/List";
const json = { "content-type": "application/json" };

describe("the HTTP/1.1 unary path answers as connect-node does", () => {
  it("a JSON call, with the headers, trailers and context values of handler and interceptors", async () => {
    const answer = await same(CHECK, { ...json, "x-in": "hello" }, "{}");
    expect(answer.status).toBe(200);
    expect(answer.headers["x-answered-by"]).toBe("check");
    expect(answer.headers["x-peer"]).toBe("127.0.0.1");
    expect(answer.headers["trailer-x-trailer"]).toBe("after");
    expect(answer.headers["x-stamp"]).toBe("hello false");
    expect(JSON.parse(answer.body.toString())).toEqual({ status: "SERVING" });
  });

  it("a binary call, and a JSON one with a charset", async () => {
    await same(CHECK, { "content-type": "application/proto" }, Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" }))));
    await same(CHECK, { "content-type": "application/json; charset=utf-8" }, "{}");
  });

  it("an error with its code and metadata", async () => {
    const answer = await same(CHECK, json, JSON.stringify({ service: "fail" }));
    expect(answer.status).toBe(400);
    expect(answer.headers["x-why"]).toBe("because");
    expect(JSON.parse(answer.body.toString())).toMatchObject({ code: "failed_precondition" });
  });

  it("malformed JSON, an unknown field and an unknown content type", async () => {
    expect((await same(CHECK, json, "{not json")).status).toBe(400);
    // Connect servers ignore unknown JSON fields.
    expect((await same(CHECK, json, JSON.stringify({ nope: 1 }))).status).toBe(200);
    expect((await same(CHECK, { "content-type": "text/plain" }, "{}")).status).toBe(415);
  });

  it("a body over the size limit, with and without a Content-Length", async () => {
    const answer = await same(CHECK, json, JSON.stringify({ service: "x".repeat(600) }));
    expect(JSON.parse(answer.body.toString())).toMatchObject({ code: "resource_exhausted" });
    const chunked = await same(CHECK, { ...json, "transfer-encoding": "chunked" }, JSON.stringify({ service: "x".repeat(600) }));
    expect(JSON.parse(chunked.body.toString())).toMatchObject({ code: "resource_exhausted" });
    expect((await same(CHECK, { ...json, "transfer-encoding": "chunked" }, "{}")).status).toBe(200);
  });

  it("a gzip request body, and a gzip answer when asked for one", async () => {
    await same(CHECK, { ...json, "content-encoding": "gzip" }, gzipSync("{}"));
    const answer = await same(LIST, { ...json, "accept-encoding": "gzip" }, "{}");
    expect(answer.headers["content-encoding"]).toBe("gzip");
    expect(Object.keys(JSON.parse(gunzipSync(answer.body).toString()).statuses)).toHaveLength(MANY.length);
    expect((await same(CHECK, { ...json, "content-encoding": "zstd" }, "{}")).status).not.toBe(200);
  });

  it("a frozen answer handed out again: the same bytes each time, in JSON and binary, plain and gzip", async () => {
    expect(Object.isFrozen(LISTED.statuses[MANY[0]!])).toBe(true);
    for (const headers of [json, { "content-type": "application/proto" }, { ...json, "accept-encoding": "gzip" }]) {
      const body = headers["content-type"] === "application/proto" ? Buffer.alloc(0) : "{}";
      const first = await same(LIST, headers, body);
      const again = await same(LIST, headers, body);
      expect(again.body.equals(first.body)).toBe(true);
    }
  });

  it("a malformed timeout header, and a timeout that aborts the call's signal", async () => {
    expect((await same(CHECK, { ...json, "connect-timeout-ms": "soon" }, "{}")).status).toBe(400);
    const late = await same(CHECK, { ...json, "connect-timeout-ms": "50" }, JSON.stringify({ service: "wait" }));
    expect(late.headers["x-stamp"]).toBe("- true");
  });

  it("leaves streaming calls, gRPC-Web, GET and unknown paths to connect-node", async () => {
    const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), Buffer.from("{}")]);
    const stream = await same("/grpc.health.v1.Health/Watch", { "content-type": "application/connect+json" }, envelope);
    expect(stream.status).toBe(200);
    await same(CHECK, { "content-type": "application/grpc-web+json" }, envelope);
    await same(`${CHECK}?encoding=json&message=%7B%7D`, {}, "", "GET");
    expect((await same("/grpc.health.v1.Health/Nope", json, "{}")).status).toBe(404);
  });
});

describe("a client that hangs up", () => {
  it("aborts the call's signal on the HTTP/1.1 unary path", async () => {
    const seen = new Promise<unknown>((resolve) => {
      const req = http.request({ host: "127.0.0.1", port: fast, path: CHECK, method: "POST", headers: json, agent: false });
      req.on("error", () => {});
      waiting = { started: () => req.destroy(), aborted: resolve };
      req.end(JSON.stringify({ service: "wait" }));
    });
    expect(await seen).toBeDefined();
  });
});
