/**
 * Two Node server processes on one libSQL database file: every decision that
 * must hold across instances (refresh rotation, session and user state seen
 * by ValidateToken) is taken in the database, not in either process's memory.
 */
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createClient as createSqlClient, type Client as SqlClient } from "@libsql/client";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { LicenseService } from "../../gen/latchkey/license/v1/license_service_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { BOOTSTRAP_ADMIN } from "../support/start-node.js";
import { startNodeProcess, stopAll, type NodeProcess } from "../support/node-process.js";
import { bearer, rpcError, signInPair, unique } from "../support/rpc-calls.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";

interface Instance {
  process: NodeProcess;
  auth: Client<typeof AuthService>;
  users: Client<typeof UserService>;
  orgs: Client<typeof OrganisationService>;
  licenses: Client<typeof LicenseService>;
}

describe("two server processes sharing one database file", () => {
  let dir: string;
  let sql: SqlClient;
  let a: Instance;
  let b: Instance;
  let rootToken: string;

  function instance(process: NodeProcess): Instance {
    const transport = createConnectTransport({ baseUrl: process.url, httpVersion: "1.1" });
    return {
      process,
      auth: createClient(AuthService, transport),
      users: createClient(UserService, transport),
      orgs: createClient(OrganisationService, transport),
      licenses: createClient(LicenseService, transport),
    };
  }

  async function signUp(tag: string) {
    const email = `${unique(tag)}@example.com`;
    const { user } = await a.users.createUser({ email, name: `User ${tag}`, password: PASSWORD });
    return { id: user!.id, email, tokens: await signInPair(a.auth, email, PASSWORD) };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-two-"));
    const env = {
      DATABASE_URL: `file:${join(dir, "latchkey.db")}`,
      LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: BOOTSTRAP_ADMIN.email,
      LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_ADMIN.password,
    };
    // One after the other: the first applies the migrations, creates the
    // signing key, the key-encryption key file and the admin; the second
    // finds them all.
    a = instance(await startNodeProcess(env));
    b = instance(await startNodeProcess(env));
    expect(a.process.pid).not.toBe(b.process.pid);
    sql = createSqlClient({ url: env.DATABASE_URL });
    rootToken = (await signInPair(a.auth, BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password)).accessToken;
  });

  afterAll(async () => {
    sql?.close();
    await stopAll([a?.process, b?.process]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("both processes serve the same signing keys", async () => {
    const [fromA, fromB] = await Promise.all([a.process.url, b.process.url].map(async (url) => (await fetch(`${url}/.well-known/jwks.json`)).json()));
    expect(fromB).toEqual(fromA);
  });

  it("10 concurrent refreshes of one token split across both processes yield exactly one successor", async () => {
    const { tokens } = await signUp("split-race");
    const calls = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).auth.refreshToken({ refreshToken: tokens.refreshToken }));
    const results = await Promise.allSettled(calls);

    const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => ConnectError.from(r.reason).message);
    // The contract: a refresh token presented again within the grace window
    // (default profile: 10 s) while its successor is unused gets the very
    // pair the winner got. So all ten succeed, on both processes, and all
    // name one successor.
    expect(failures).toEqual([]);
    const pairs = results.map((r) => (r as PromiseFulfilledResult<Awaited<(typeof calls)[number]>>).value.tokens!);
    expect(new Set(pairs.map((p) => p.refreshToken)).size).toBe(1);
    expect(new Set(pairs.map((p) => p.accessToken)).size).toBe(1);

    // The original token and exactly one successor; only the successor is live.
    const [row] = (
      await sql.execute({
        sql: `SELECT s.revoked_at,
                (SELECT count(*) FROM refresh_tokens r WHERE r.session_id = s.id) AS tokens,
                (SELECT count(*) FROM refresh_tokens r WHERE r.session_id = s.id AND r.consumed_at IS NULL) AS live
              FROM sessions s WHERE s.id = (SELECT session_id FROM refresh_tokens WHERE token_hash = ?)`,
        args: [await sha256Hex(tokens.refreshToken)],
      })
    ).rows;
    expect(row).toMatchObject({ revoked_at: null, tokens: 2, live: 1 });

    // The successor works on either process, once.
    const next = await b.auth.refreshToken({ refreshToken: pairs[0]!.refreshToken });
    expect(next.tokens!.refreshToken).not.toBe(pairs[0]!.refreshToken);
    expect((await a.auth.validateToken({ token: next.tokens!.accessToken }, bearer(rootToken))).active).toBe(true);
  });

  it("a user suspended through one process is inactive on the other at once (staleness bound 0 s)", async () => {
    const person = await signUp("suspend-elsewhere");
    const onB = () => b.auth.validateToken({ token: person.tokens.accessToken }, bearer(rootToken));
    // Process B has verified (and remembered) the token's signature.
    expect((await onB()).active).toBe(true);
    expect((await onB()).active).toBe(true);

    await a.users.suspendUser({ userId: person.id, reason: "left" }, bearer(rootToken));
    // No polling: the first call after SuspendUser returned must see it.
    expect((await onB()).active).toBe(false);
    expect((await a.auth.validateToken({ token: person.tokens.accessToken }, bearer(rootToken))).active).toBe(false);
  });

  it("a session revoked through one process is inactive on the other at once", async () => {
    const person = await signUp("revoke-elsewhere");
    expect((await b.auth.validateToken({ token: person.tokens.accessToken }, bearer(rootToken))).active).toBe(true);
    await a.auth.revokeToken({ token: person.tokens.refreshToken });
    expect((await b.auth.validateToken({ token: person.tokens.accessToken }, bearer(rootToken))).active).toBe(false);
    expect((await rpcError(b.auth.refreshToken({ refreshToken: person.tokens.refreshToken }))).code).toBe(Code.Unauthenticated);
  });
  it("failed sign-ins counted on both processes lock the account on both (threshold 10 of the default profile)", async () => {
    const person = await signUp("lockout-split");
    const wrong = (i: number) => (i % 2 === 0 ? a : b).auth.signIn({ identifier: { case: "email", value: person.email }, password: `${PASSWORD}-wrong-${i}` });
    const failures = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => wrong(i)));
    expect(failures.map((r) => (r.status === "rejected" ? ConnectError.from(r.reason).code : "signed in"))).toEqual(Array(10).fill(Code.Unauthenticated));
    for (const instance of [a, b]) {
      const locked = await rpcError(instance.auth.signIn({ identifier: { case: "email", value: person.email }, password: PASSWORD }));
      expect(locked.code).toBe(Code.ResourceExhausted);
    }
  });

  it("of 10 concurrent seat assignments split across both processes to a licence of 3 seats, exactly 3 succeed", async () => {
    /** A user who owns a new organisation, with a token naming it. */
    const owner = async (tag: string) => {
      const person = await signUp(tag);
      const { organisation } = await a.orgs.createOrganisation({ name: unique(tag) }, bearer(person.tokens.accessToken));
      return { organisationId: organisation!.id, token: (await signInPair(a.auth, person.email, PASSWORD)).accessToken };
    };
    const provider = await owner("seat-provider");
    const customer = await owner("seat-customer");
    const asProvider = bearer(provider.token);
    const { agreement } = await a.licenses.createAgreement(
      { providerOrganisationId: provider.organisationId, name: unique("Agreement"), kind: "subscription", provides: ["inference"], summary: "Terms." },
      asProvider,
    );
    await a.licenses.publishAgreement({ uuid: agreement!.uuid }, asProvider);
    const { license } = await a.licenses.createLicense(
      { providerOrganisationId: provider.organisationId, organisationId: customer.organisationId, agreementUuid: agreement!.uuid, maxDevices: 3, startsAt: timestampFromMs(Date.now() - 86_400_000) },
      asProvider,
    );
    const asCustomer = bearer(customer.token);
    await b.licenses.signLicense({ uuid: license!.uuid }, asCustomer);
    const devices = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => (await a.licenses.registerDevice({ organisationId: customer.organisationId, name: `Camera ${i}`, serial: unique(`SN-${i}`) }, asCustomer)).device!.uuid),
    );

    const results = await Promise.allSettled(devices.map((deviceUuid, i) => (i % 2 === 0 ? a : b).licenses.assignLicense({ deviceUuid, licenseUuid: license!.uuid }, asCustomer)));
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => ConnectError.from(r.reason).code);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    expect(lost).toEqual(Array(7).fill(Code.ResourceExhausted));
    const [row] = (
      await sql.execute({
        sql: "SELECT devices_assigned AS counter, (SELECT count(*) FROM device_licenses WHERE license_id = licenses.id) AS seats FROM licenses WHERE id = ?",
        args: [license!.uuid],
      })
    ).rows;
    expect(row).toMatchObject({ counter: 3, seats: 3 });
  });
});

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Buffer.from(digest).toString("hex");
}
