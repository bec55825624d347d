/**
 * The Worker bundle, started in workerd with an in-memory D1: plain routes,
 * RPC routing, and refusal of what a Worker cannot serve.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { createWorkerTransports, startWorker, type StartedWorker } from "../support/start-worker.js";

const UNKNOWN_RPC = "/latchkey.nowhere.v1.NowhereService/DoNothing";

describe("worker (workerd + D1)", () => {
  let worker: StartedWorker;

  beforeAll(async () => {
    worker = await startWorker();
    const { bundleMs, startMs, migrateMs, bundleCached } = worker.timings;
    const firstRequest = performance.now();
    // The first request creates the app (signing key, password-hash warm-up).
    expect((await worker.fetch("/healthz")).status).toBe(200);
    console.log(
      `worker: bundle ${bundleMs.toFixed(0)} ms${bundleCached ? " (cached)" : ""}, ` +
        `workerd start ${startMs.toFixed(0)} ms, migrations ${migrateMs.toFixed(0)} ms, ` +
        `first request ${(performance.now() - firstRequest).toFixed(0)} ms`,
    );
  }, 120_000);

  afterAll(async () => {
    await worker?.dispose();
  });

  it("answers /healthz", async () => {
    const response = await worker.fetch("/healthz");
    expect(response.status).toBe(200);
  });

  it("answers /readyz once D1 responds", async () => {
    const response = await worker.fetch("/readyz");
    expect(response.status).toBe(200);
  });

  it("answers a Connect call to an unknown procedure with unimplemented", async () => {
    const response = await worker.fetch(UNKNOWN_RPC, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1" },
      body: "{}",
    });
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ code: "unimplemented" });
  });

  it("answers a gRPC-Web call to an unknown procedure with grpc-status 12", async () => {
    const response = await worker.fetch(UNKNOWN_RPC, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: new Uint8Array([0, 0, 0, 0, 0]),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("grpc-status")).toBe("12");
  });

  it("refuses plain gRPC with 415 and a reason", async () => {
    const response = await worker.fetch("/grpc.health.v1.Health/Check", {
      method: "POST",
      headers: { "content-type": "application/grpc", te: "trailers" },
      body: new Uint8Array([0, 0, 0, 0, 0]),
    });
    expect(response.status).toBe(415);
    expect(response.headers.get("grpc-status")).toBe("12");
    expect(await response.text()).toMatch(/HTTP\/2 trailers/);
  });

  it("leaves non-RPC paths to the HTTP routes", async () => {
    const response = await worker.fetch("/no/such/page");
    expect(response.status).toBe(404);
  });

  it("runs housekeeping from the scheduled handler", async () => {
    const quietFor = 3 * 24 * 3600 * 1000;
    const stale = Date.now() - quietFor;
    await worker.exec("insert into throttles (key, hits, window_started_at, blocked_until, strikes, updated_at) values (?, 1, ?, null, 0, ?), (?, 1, ?, null, 0, ?)", [
      "smoke:stale",
      stale,
      stale,
      "smoke:recent",
      Date.now(),
      Date.now(),
    ]);
    await worker.scheduled();
    const left = await worker.exec("select key from throttles where key like 'smoke:%' order by key");
    expect(left).toEqual([{ key: "smoke:recent" }]);
  });

  // The same clients an RPC suite uses against Node, over each protocol the
  // Worker serves: a public call that reads D1 (the default security profile
  // comes from a migration) and a call refused for want of credentials.
  describe.each(["connectJson", "connectBinary", "grpcWeb"] as const)("over %s", (protocol) => {
    it("serves a public RPC from D1", async () => {
      const client = createClient(AuthService, createWorkerTransports(worker)[protocol]);
      const response = await client.checkPasswordStrength({ password: "correct horse battery staple" });
      expect(response.minLength).toBe(12);
      expect(response.score).toBeGreaterThanOrEqual(0);
    });

    it("maps errors to Connect codes", async () => {
      const client = createClient(AuthService, createWorkerTransports(worker)[protocol]);
      const error = await client.getCurrentUser({}).catch((caught: unknown) => ConnectError.from(caught));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.Unauthenticated);
    });
  });
});

describe("worker without LATCHKEY_ENCRYPTION_KEY", () => {
  let worker: StartedWorker;

  beforeAll(async () => {
    worker = await startWorker({ bindings: { LATCHKEY_ENCRYPTION_KEY: "" } });
  }, 120_000);

  afterAll(async () => {
    await worker?.dispose();
  });

  it("refuses to serve and says why in the log", async () => {
    const response = await worker.fetch("/healthz");
    expect(response.status).toBe(500);
    await expect.poll(() => worker.logs.join("\n")).toMatch(/worker\.start_failed.*LATCHKEY_ENCRYPTION_KEY/);
  });
});
