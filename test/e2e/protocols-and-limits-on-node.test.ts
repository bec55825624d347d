import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { BOOTSTRAP_ADMIN, startNode } from "../support/start-node.js";
import type { RpcTarget } from "../support/target.js";

const run = promisify(execFile);
const STRONG = "violet-anchor-meadow-71-quartz";

describe("the Node server on one port", () => {
  let node: RpcTarget;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it("serves Latchkey RPCs over gRPC with HTTP/2 prior knowledge", async () => {
    const grpc = node.transports.grpc!;
    const email = `grpc-${Date.now()}@example.com`;
    await createClient(UserService, grpc).createUser({ email, name: "Over gRPC", password: STRONG });
    const auth = createClient(AuthService, grpc);
    const signedIn = await auth.signIn({ identifier: { case: "email", value: email }, password: STRONG });
    if (signedIn.result.case !== "tokens") throw new Error("expected tokens");
    const me = await auth.getCurrentUser({}, { headers: { authorization: `Bearer ${signedIn.result.value.accessToken}` } });
    expect(me.user?.email).toBe(email);
    const refreshed = await auth.refreshToken({ refreshToken: signedIn.result.value.refreshToken });
    expect(refreshed.tokens?.accessToken).toBeTruthy();
  });

  it("answers buf curl over gRPC, gRPC-Web and Connect without proto files", async () => {
    for (const protocol of [["--protocol", "grpc", "--http2-prior-knowledge"], ["--protocol", "grpcweb"], ["--protocol", "connect"]]) {
      const { stdout } = await run("node_modules/.bin/buf", [
        "curl",
        ...protocol,
        "--data",
        JSON.stringify({ password: "password1234" }),
        `${node.baseUrl}/latchkey.auth.v1.AuthService/CheckPasswordStrength`,
      ]);
      const answer = JSON.parse(stdout) as { breached?: boolean; minLength?: number };
      expect(answer.breached, protocol.join(" ")).toBe(true);
      expect(answer.minLength).toBe(12);
    }
  });

  it("records the TCP peer as the client of a sign-in", async () => {
    await createClient(AuthService, node.transports.connect).signIn({ identifier: { case: "email", value: BOOTSTRAP_ADMIN.email }, password: BOOTSTRAP_ADMIN.password });
    const rows = await node.exec("SELECT ip_address FROM audit_events WHERE type = 'sign_in.succeeded' ORDER BY occurred_at DESC LIMIT 1");
    expect(rows[0]!.ip_address).toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});

describe("limits", () => {
  it("caps concurrent password hashing and answers the overflow with resource_exhausted and a retry delay", async () => {
    const node = await startNode({ LATCHKEY_MAX_CONCURRENT_HASHES: "1", LATCHKEY_MAX_QUEUED_HASHES: "1" });
    try {
      const auth = createClient(AuthService, node.transports.connect);
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, () => auth.signIn({ identifier: { case: "email", value: BOOTSTRAP_ADMIN.email }, password: "not the password at all" })),
      );
      const codes = results.map((r) => (r.status === "rejected" ? ConnectError.from(r.reason).code : Code.Unknown));
      expect(codes.filter((c) => c === Code.ResourceExhausted).length).toBeGreaterThan(0);
      expect(codes.filter((c) => c === Code.Unauthenticated).length).toBeGreaterThan(0);
      const exhausted = results.find((r) => r.status === "rejected" && ConnectError.from(r.reason).code === Code.ResourceExhausted) as PromiseRejectedResult;
      expect(ConnectError.from(exhausted.reason).findDetails(RetryInfoSchema)[0]?.retryDelay).toBeDefined();
    } finally {
      await node.stop();
    }
  });

  it("a fresh install has no account at all without the bootstrap variables", async () => {
    const node = await startNode({ LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: "", LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: "" });
    try {
      const rows = await node.exec("SELECT COUNT(*) AS n FROM users");
      expect(Number(rows[0]!.n)).toBe(0);
    } finally {
      await node.stop();
    }
  });
});
