/**
 * Whether an address has an account must not show in how long StartPasswordReset
 * and SignIn take. Known and unknown emails are measured interleaved (ABBA,
 * so neither side always runs first), in process to keep network noise out,
 * after a warm-up, and compared by their medians over 200 tries each. On a
 * busy machine a measurement may be disturbed as a whole, so a failed
 * comparison is measured once more before the test fails.
 */
import { Code, createClient, createRouterTransport, type Client, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { createNodeArgon2Hasher } from "../../src/runtime/argon2-node.js";
import { kPeerAddress } from "../../src/services/context.js";
import { DEFAULT_PROFILE_ID } from "../../src/store/queries/security-profiles.js";
import { insertUser } from "../../src/store/queries/users.js";
import { startInProcess } from "../support/in-process-app.js";
import { rpcError } from "../support/rpc-calls.js";

const TRIES = 200;
const WARM_UP = 40;
const TOLERANCE = 0.1;
const PASSWORD = "violet-anchor-meadow-71-quartz";

type InProcess = Awaited<ReturnType<typeof startInProcess>>;
let app: InProcess;
let auth: Client<typeof AuthService>;
let peers = 0;

/** Each call from its own address, so per-address limits stay out of the measurement. */
const peerPerCall: Interceptor = (next) => (req) => {
  peers++;
  req.contextValues.set(kPeerAddress, `10.${(peers >> 16) & 255}.${(peers >> 8) & 255}.${peers & 255}`);
  return next(req);
};

beforeAll(async () => {
  app = await startInProcess();
  const transport = createRouterTransport(app.app.routes, { router: { interceptors: [peerPerCall, ...app.app.interceptors] } });
  auth = createClient(AuthService, transport);
});
afterAll(async () => {
  await app?.stop();
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function timed(call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await call();
  return performance.now() - started;
}

interface Comparison {
  known: number;
  unknown: number;
  /** |known − unknown| / the smaller median. */
  difference: number;
}

/** Medians of `tries` interleaved runs of each kind, after a warm-up. */
async function compare(tries: number, known: (i: number) => Promise<unknown>, unknown: (i: number) => Promise<unknown>): Promise<Comparison> {
  for (let i = 0; i < WARM_UP; i++) {
    await known(-1 - i);
    await unknown(-1 - i);
  }
  const times = { known: [] as number[], unknown: [] as number[] };
  for (let i = 0; i < tries; i++) {
    if (i % 2 === 0) {
      times.known.push(await timed(() => known(i)));
      times.unknown.push(await timed(() => unknown(i)));
    } else {
      times.unknown.push(await timed(() => unknown(i)));
      times.known.push(await timed(() => known(i)));
    }
  }
  const result = { known: median(times.known), unknown: median(times.unknown) };
  return { ...result, difference: Math.abs(result.known - result.unknown) / Math.min(result.known, result.unknown) };
}

async function compareWithOneRetry(name: string, known: (i: number) => Promise<unknown>, unknown: (i: number) => Promise<unknown>): Promise<Comparison> {
  let result = await compare(TRIES, known, unknown);
  report(name, result);
  if (result.difference > TOLERANCE) {
    result = await compare(TRIES, known, unknown);
    report(`${name} (measured again)`, result);
  }
  return result;
}

function report(name: string, result: Comparison): void {
  console.log(
    `${name}: median known ${result.known.toFixed(3)} ms, unknown ${result.unknown.toFixed(3)} ms, difference ${(result.difference * 100).toFixed(1)} % over ${TRIES} tries each`,
  );
}

/** Accounts made straight in the database (one shared hash), so setting them up costs no hashing. */
async function knownAccounts(tag: string, count: number): Promise<string[]> {
  const hash = await createNodeArgon2Hasher({ maxConcurrent: 1, maxQueued: 1 }).hash(PASSWORD);
  const now = Date.now();
  const emails = Array.from({ length: count }, (_, i) => `known-${tag}-${i}@example.com`);
  for (let start = 0; start < count; start += 100) {
    const rows = emails.slice(start, start + 100).map((email) =>
      insertUser(app.database.db, {
        id: crypto.randomUUID(),
        email,
        name: "Known",
        locale: "en",
        newsletter: false,
        passwordHash: hash,
        state: "active",
        superAdmin: false,
        securityProfileId: DEFAULT_PROFILE_ID,
        createdAt: now,
        updatedAt: now,
      }),
    );
    await app.database.batch(rows as [(typeof rows)[number], ...typeof rows]);
  }
  return emails;
}

// Every measurement (a warm-up and the tries, perhaps twice) takes a fresh
// account and a fresh unknown address, as an attacker probing a list would:
// no account reaches its cap of reset mails or its lockout threshold.
const PER_KIND = 2 * (WARM_UP + TRIES);

it("StartPasswordReset takes as long for an unknown email as for a known one", async () => {
  const emails = await knownAccounts("reset", PER_KIND);
  let known = 0;
  let unknown = 0;
  const result = await compareWithOneRetry(
    "StartPasswordReset",
    () => auth.startPasswordReset({ email: emails[known++]! }),
    () => auth.startPasswordReset({ email: `unknown-reset-${unknown++}@example.com` }),
  );
  expect(result.difference).toBeLessThanOrEqual(TOLERANCE);
}, 120_000);

it("a failed SignIn takes as long for an unknown email as for a known one", async () => {
  const emails = await knownAccounts("sign-in", PER_KIND);
  let known = 0;
  let unknown = 0;
  const refused = async (email: string) => {
    const error = await rpcError(auth.signIn({ identifier: { case: "email", value: email }, password: "a wrong password, as a guess" }));
    expect(error.code).toBe(Code.Unauthenticated);
  };
  const result = await compareWithOneRetry(
    "SignIn (wrong password)",
    () => refused(emails[known++]!),
    () => refused(`unknown-sign-in-${unknown++}@example.com`),
  );
  expect(result.difference).toBeLessThanOrEqual(TOLERANCE);
}, 240_000);
