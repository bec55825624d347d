import { execFile } from "node:child_process";
import { get } from "node:http";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";
import {
  ServerReflection as ServerReflectionV1,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import type { App } from "../../src/app.js";
import { startNodeServer, type NodeServer } from "../../src/runtime/node-server.js";

/** With no Latchkey services in the test app, only these are served. */
const served = ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const run = promisify(execFile);

let server: NodeServer;
let ready = true;

beforeAll(async () => {
  const http = new Hono();
  http.get("/healthz", (c) => c.text("ok"));
  const app: App = { routes: () => {}, interceptors: [], services: [], http, maxMessageBytes: 1024 * 1024, warmUp: async () => {}, housekeeping: async () => ({ sessionsDeleted: 0, successorsForgotten: 0, messagesSent: 0 }) };
  server = await startNodeServer(app, { port: 0, host: "127.0.0.1", ready: async () => ready, drainMs: 500 });
});

afterAll(() => server?.close());

const transports: Record<string, () => Transport> = {
  "gRPC over HTTP/2": () => createGrpcTransport({ baseUrl: server.url }),
  "gRPC-Web over HTTP/1.1": () => createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" }),
  "Connect over HTTP/1.1": () => createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
};

describe("grpc.health.v1.Health", () => {
  for (const [name, transport] of Object.entries(transports)) {
    it(`answers Check with SERVING over ${name}`, async () => {
      const health = createClient(Health, transport());
      expect((await health.check({})).status).toBe(ServingStatus.SERVING);
      expect((await health.check({ service: "grpc.health.v1.Health" })).status).toBe(ServingStatus.SERVING);
    });
  }

  it("answers NOT_FOUND for a service it does not serve", async () => {
    const health = createClient(Health, transports["gRPC over HTTP/2"]!());
    const error = await health.check({ service: "no.such.Service" }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.NotFound });
  });

  it("reports NOT_SERVING while the readiness check fails", async () => {
    const health = createClient(Health, transports["gRPC over HTTP/2"]!());
    ready = false;
    try {
      expect((await health.check({})).status).toBe(ServingStatus.NOT_SERVING);
    } finally {
      ready = true;
    }
  });

  it("starts a Watch stream with the current status", async () => {
    const health = createClient(Health, transports["gRPC over HTTP/2"]!());
    const abort = new AbortController();
    const stream = health.watch({}, { signal: abort.signal });
    for await (const update of stream) {
      expect(update.status).toBe(ServingStatus.SERVING);
      abort.abort();
      break;
    }
  });
});

describe("shutdown", () => {
  it("tells Watch streams NOT_SERVING and ends them, so close() need not wait for the drain", async () => {
    const app: App = { routes: () => {}, interceptors: [], services: [], http: new Hono(), maxMessageBytes: 1024, warmUp: async () => {}, housekeeping: async () => ({ sessionsDeleted: 0, successorsForgotten: 0, messagesSent: 0 }) };
    const own = await startNodeServer(app, { port: 0, host: "127.0.0.1", ready: async () => true, drainMs: 10_000 });
    const health = createClient(Health, createGrpcTransport({ baseUrl: own.url }));
    const statuses: ServingStatus[] = [];
    let closed: Promise<void> | undefined;
    const started = Date.now();
    for await (const update of health.watch({})) {
      statuses.push(update.status);
      closed ??= own.close();
    }
    await closed;
    expect(statuses).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe("gRPC server reflection", () => {
  for (const [version, service] of [
    ["v1", ServerReflectionV1],
    ["v1alpha", ServerReflectionV1alpha],
  ] as const) {
    it(`lists the served services (${version})`, async () => {
      const reflection = createClient(service, transports["gRPC over HTTP/2"]!());
      for await (const response of reflection.serverReflectionInfo(once({ messageRequest: { case: "listServices", value: "" } }))) {
        expect(response.messageResponse.case).toBe("listServicesResponse");
        const names = response.messageResponse.case === "listServicesResponse" ? response.messageResponse.value.service.map((s) => s.name) : [];
        expect(names).toEqual(served);
      }
    });
  }

  it("finds the file declaring a method, and answers NOT_FOUND for an unknown symbol", async () => {
    const reflection = createClient(ServerReflectionV1, transports["gRPC over HTTP/2"]!());
    const responses: ServerReflectionResponse["messageResponse"][] = [];
    for await (const response of reflection.serverReflectionInfo(
      once(
        { messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health.Check" } },
        { messageRequest: { case: "fileContainingSymbol", value: "no.such.Symbol" } },
      ),
    )) {
      responses.push(response.messageResponse);
    }
    expect(responses[0]?.case).toBe("fileDescriptorResponse");
    const files = responses[0]?.case === "fileDescriptorResponse" ? responses[0].value.fileDescriptorProto : [];
    expect(files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name)).toEqual(["health/v1/health.proto"]);
    expect(responses[1]).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
  });
});

describe("buf curl against the running server (reflection, no proto files)", () => {
  const curl = async (...args: string[]) => {
    const { stdout } = await run(BUF, ["curl", ...args], { timeout: 20_000 });
    return stdout;
  };

  it("calls Check over gRPC with HTTP/2 prior knowledge", async () => {
    const out = await curl("--protocol", "grpc", "--http2-prior-knowledge", `${server.url}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(out)).toEqual({ status: "SERVING" });
  });

  it("calls Check over gRPC-Web", async () => {
    const out = await curl("--protocol", "grpcweb", `${server.url}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(out)).toEqual({ status: "SERVING" });
  });

  it("calls Check over Connect, reflecting through v1alpha", async () => {
    const out = await curl(
      "--protocol",
      "connect",
      "--reflect-protocol",
      "grpc-v1alpha",
      `${server.url}/grpc.health.v1.Health/Check`,
    );
    expect(JSON.parse(out)).toEqual({ status: "SERVING" });
  });

  it("lists the services", async () => {
    const out = await curl("--list-services", server.url);
    expect(out.trim().split("\n")).toEqual(served);
  });
});

describe("reflection of Latchkey's own descriptors", () => {
  let latchkey: NodeServer;

  beforeAll(async () => {
    const app: App = {
      routes: () => {},
      interceptors: [],
      services: [AuthService, UserService],
      http: new Hono(),
      maxMessageBytes: 1024 * 1024,
      warmUp: async () => {},
      housekeeping: async () => ({ sessionsDeleted: 0, successorsForgotten: 0, messagesSent: 0 }),
    };
    latchkey = await startNodeServer(app, { port: 0, host: "127.0.0.1", ready: async () => true, drainMs: 500 });
  });

  afterAll(() => latchkey?.close());

  it("gives buf curl every file it needs to describe the services, imports included", async () => {
    const { stdout } = await run(BUF, ["curl", "--list-methods", latchkey.url], { timeout: 20_000 });
    const methods = stdout.trim().split("\n");
    expect(methods).toContain("latchkey.auth.v1.AuthService/SignIn");
    expect(methods).toContain("latchkey.user.v1.UserService/CreateUser");
    expect(methods).toContain("grpc.health.v1.Health/Check");
  });

  it("answers extension queries for the options Latchkey declares on descriptor.proto", async () => {
    const reflection = createClient(ServerReflectionV1, createGrpcTransport({ baseUrl: latchkey.url }));
    const responses: ServerReflectionResponse["messageResponse"][] = [];
    for await (const response of reflection.serverReflectionInfo(
      once(
        { messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.MethodOptions" } },
        {
          messageRequest: {
            case: "fileContainingExtension",
            value: { containingType: "google.protobuf.MethodOptions", extensionNumber: 51001 },
          },
        },
        { messageRequest: { case: "fileByFilename", value: "latchkey/auth/v1/auth_service.proto" } },
      ),
    )) {
      responses.push(response.messageResponse);
    }
    expect(responses[0]).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "google.protobuf.MethodOptions", extensionNumber: [51001] },
    });
    const names = (response: ServerReflectionResponse["messageResponse"] | undefined) =>
      response?.case === "fileDescriptorResponse"
        ? response.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name)
        : [];
    expect(names(responses[1])).toEqual(["latchkey/options/v1/options.proto", "google/protobuf/descriptor.proto"]);
    const withImports = names(responses[2]);
    expect(withImports[0]).toBe("latchkey/auth/v1/auth_service.proto");
    expect(withImports).toEqual(
      expect.arrayContaining(["latchkey/options/v1/options.proto", "google/protobuf/descriptor.proto", "google/protobuf/timestamp.proto"]),
    );
  });
});

describe("plain routes", () => {
  it("serves GET /healthz over HTTP/1.1", async () => {
    const { statusCode, httpVersion, body } = await new Promise<{ statusCode?: number; httpVersion: string; body: string }>(
      (resolve, reject) => {
        get(`${server.url}/healthz`, { agent: false }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve({ statusCode: res.statusCode, httpVersion: res.httpVersion, body: text }));
        }).on("error", reject);
      },
    );
    expect(httpVersion).toBe("1.1");
    expect(statusCode).toBe(200);
    expect(body).toBe("ok");
  });
});

async function* once<T>(...messages: T[]): AsyncIterable<T> {
  yield* messages;
}
