import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { startInProcess } from "../support/in-process-app.js";

let env: Awaited<ReturnType<typeof startInProcess>>;
beforeAll(async () => {
  env = await startInProcess();
});
afterAll(() => env?.stop());

it("writes one structured line per RPC and never a password or token", async () => {
  const password = "violet-anchor-meadow-71-quartz";
  const users = createClient(UserService, env.transport);
  const auth = createClient(AuthService, env.transport);
  const before = env.logger.lines.length;
  await users.createUser({ email: "logged@example.com", name: "Logged", password });
  const signedIn = await auth.signIn({ identifier: { case: "email", value: "logged@example.com" }, password });
  if (signedIn.result.case !== "tokens") throw new Error("expected tokens");
  const { accessToken, refreshToken } = signedIn.result.value;
  await auth.refreshToken({ refreshToken });
  await auth.signIn({ identifier: { case: "email", value: "logged@example.com" }, password: "wrong password, surely" }).catch(() => undefined);
  await auth.getCurrentUser({}, { headers: { authorization: `Bearer ${accessToken}` } });

  const lines = env.logger.lines.slice(before);
  const rpcLines = lines.filter((l) => l.event === "rpc");
  expect(rpcLines.map((l) => [l.fields.method, l.fields.code])).toEqual([
    ["latchkey.user.v1.UserService/CreateUser", "ok"],
    ["latchkey.auth.v1.AuthService/SignIn", "ok"],
    ["latchkey.auth.v1.AuthService/RefreshToken", "ok"],
    ["latchkey.auth.v1.AuthService/SignIn", "unauthenticated"],
    ["latchkey.auth.v1.AuthService/GetCurrentUser", "ok"],
  ]);
  for (const line of rpcLines) {
    expect(line.fields.request_id).toBeTruthy();
    expect(typeof line.fields.duration_ms).toBe("number");
  }
  const everything = JSON.stringify(lines);
  for (const secret of [password, "wrong password, surely", accessToken, refreshToken]) expect(everything).not.toContain(secret);
});
