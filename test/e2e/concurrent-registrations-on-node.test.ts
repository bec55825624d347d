import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { startNode } from "../support/start-node.js";
import type { RpcTarget } from "../support/target.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
let node: RpcTarget;

beforeAll(async () => {
  // The queue must hold a whole burst here: the test is about the database
  // deciding uniqueness, not about the hashing cap (tested elsewhere).
  node = await startNode({ LATCHKEY_MAX_QUEUED_HASHES: "1000", LOG_LEVEL: "silent" });
});
afterAll(() => node?.stop());

it("500 parallel registrations of distinct emails create 500 users", async () => {
  const users = createClient(UserService, node.transports.connect);
  const results = await Promise.allSettled(
    Array.from({ length: 500 }, (_, i) => users.createUser({ email: `crowd-${i}@example.com`, name: `Crowd ${i}`, password: PASSWORD })),
  );
  const failures = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
  expect(failures).toEqual([]);
  const rows = await node.exec("SELECT COUNT(*) AS n FROM users WHERE email LIKE 'crowd-%'");
  expect(Number(rows[0]!.n)).toBe(500);
  const audit = await node.exec("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'user.created'");
  expect(Number(audit[0]!.n)).toBeGreaterThanOrEqual(500);
}, 120_000);

it("50 parallel registrations of one email create exactly one user", async () => {
  const users = createClient(UserService, node.transports.connect);
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, () => users.createUser({ email: "Same.Person@example.com", name: "Same", password: PASSWORD })),
  );
  const ok = results.filter((r) => r.status === "fulfilled");
  const codes = results.filter((r) => r.status === "rejected").map((r) => ConnectError.from((r as PromiseRejectedResult).reason).code);
  expect(ok).toHaveLength(1);
  expect(new Set(codes)).toEqual(new Set([Code.AlreadyExists]));
  const rows = await node.exec("SELECT COUNT(*) AS n FROM users WHERE email = 'same.person@example.com'");
  expect(Number(rows[0]!.n)).toBe(1);
}, 60_000);
