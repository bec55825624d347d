import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { startNode } from "../support/start-node.js";
import type { RpcTarget } from "../support/target.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
let node: RpcTarget;

beforeAll(async () => {
  node = await startNode();
});

/**
 * What a well-behaved client does with a burst: the server sheds load beyond
 * its hashing queue with resource_exhausted and a retry delay, and the
 * client comes back after that delay.
 */
async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const connectError = ConnectError.from(error);
      const delay = connectError.findDetails(RetryInfoSchema)[0]?.retryDelay;
      if (connectError.code !== Code.ResourceExhausted || !delay || attempt >= 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, Number(delay.seconds) * 1000 + delay.nanos / 1e6));
    }
  }
}
afterAll(() => node?.stop());

it("500 parallel registrations of distinct emails create 500 users", async () => {
  const users = createClient(UserService, node.transports.connect);
  const results = await Promise.allSettled(
    Array.from({ length: 500 }, (_, i) => withRetries(() => users.createUser({ email: `crowd-${i}@example.com`, name: `Crowd ${i}`, password: PASSWORD }))),
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
    Array.from({ length: 50 }, () => withRetries(() => users.createUser({ email: "Same.Person@example.com", name: "Same", password: PASSWORD }))),
  );
  const ok = results.filter((r) => r.status === "fulfilled");
  const codes = results.filter((r) => r.status === "rejected").map((r) => ConnectError.from((r as PromiseRejectedResult).reason).code);
  expect(ok).toHaveLength(1);
  expect(new Set(codes)).toEqual(new Set([Code.AlreadyExists]));
  const rows = await node.exec("SELECT COUNT(*) AS n FROM users WHERE email = 'same.person@example.com'");
  expect(Number(rows[0]!.n)).toBe(1);
}, 60_000);
