import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { refreshTokens, sessions } from "../../src/store/schema/index.js";
import { manualClock, startInProcess } from "../support/in-process-app.js";

const clock = manualClock();
let env: Awaited<ReturnType<typeof startInProcess>>;
beforeAll(async () => {
  env = await startInProcess({ clock });
});
afterAll(() => env?.stop());

it("wipes sealed successors after the grace window and deletes long-ended sessions", async () => {
  const auth = createClient(AuthService, env.transport);
  const signedIn = await auth.signIn({ identifier: { case: "email", value: "root@latchkey.test" }, password: "correct horse battery staple 42" });
  if (signedIn.result.case !== "tokens") throw new Error("expected tokens");
  await auth.refreshToken({ refreshToken: signedIn.result.value.refreshToken });
  expect((await env.database.db.select().from(refreshTokens).all()).filter((t) => t.successorSealed !== null)).toHaveLength(1);

  expect(await env.app.housekeeping()).toEqual({ sessionsDeleted: 0, successorsForgotten: 0, messagesSent: 0 });
  clock.advance(11 * 60 * 1000);
  expect(await env.app.housekeeping()).toEqual({ sessionsDeleted: 0, successorsForgotten: 1, messagesSent: 0 });
  clock.advance(31 * 24 * 3600 * 1000);
  expect(await env.app.housekeeping()).toEqual({ sessionsDeleted: 1, successorsForgotten: 0, messagesSent: 0 });
  expect(await env.database.db.select().from(sessions).all()).toHaveLength(0);
  expect(await env.database.db.select().from(refreshTokens).all()).toHaveLength(0);
});
