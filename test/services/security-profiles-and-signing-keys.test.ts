/**
 * Store and key-ring behaviour behind the AdminService: which profile
 * governs a user or a session, and signing-key rotation seen by two
 * instances sharing one database.
 */
import { createClient, createRouterTransport, Code, ConnectError } from "@connectrpc/connect";
import { eq } from "drizzle-orm";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { AdminService } from "../../gen/latchkey/admin/v1/admin_service_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { createApp } from "../../src/app.js";
import { importPasswordDictionaries } from "../../src/runtime/password-dictionaries.js";
import { loadConfig } from "../../src/config.js";
import { createNodeArgon2Hasher } from "../../src/runtime/argon2-node.js";
import { webCryptoRandom } from "../../src/domain/ports.js";
import { signAccessToken, verifyAccessToken } from "../../src/domain/tokens/access-token.js";
import { createKeyRing } from "../../src/services/tokens/key-ring.js";
import type { Database } from "../../src/store/database.js";
import { openLibsql } from "../../src/store/open-libsql.js";
import { DEFAULT_PROFILE_ID, findEffectiveProfile, insertSecurityProfile, type SecurityProfileRow } from "../../src/store/queries/security-profiles.js";
import { findRefreshTokenByHash, findSessionStatus } from "../../src/store/queries/sessions.js";
import { auditEvents, memberships, organisations, refreshTokens, securityProfiles, sessions, users } from "../../src/store/schema/index.js";
import { KEY_ENCRYPTION_KEY, captureLogger, manualClock } from "../support/in-process-app.js";

let dir: string;
let database: Database;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-profiles-"));
  database = await openLibsql({ url: `file:${join(dir, "latchkey.db")}`, migrationsFolder: fileURLToPath(new URL("../../src/store/migrations", import.meta.url)) });
});
afterAll(async () => {
  database?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the effective security profile", () => {
  const NOW = Date.UTC(2026, 10, 23);
  const strict: SecurityProfileRow = {
    id: "11111111-1111-4111-8111-111111111111",
    name: "strict",
    passwordMinLength: 16,
    passwordMinScore: 4,
    passwordHistoryLength: 10,
    mfaRequired: true,
    lockoutThreshold: 5,
    lockoutWindowSeconds: 900,
    accessTokenTtlSeconds: 300,
    refreshIdleTtlSeconds: 1800,
    refreshAbsoluteTtlSeconds: 28800,
    keepLoggedInIdleTtlSeconds: 1800,
    keepLoggedInAbsoluteTtlSeconds: 28800,
    refreshGraceSeconds: 5,
    createdAt: NOW,
    updatedAt: NOW,
  };
  const user = (id: string, activeOrganisationId: string | null) => ({
    id,
    email: `${id}@example.com`,
    name: id,
    locale: "en",
    newsletter: false,
    passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
    state: "active" as const,
    superAdmin: false,
    activeOrganisationId,
    securityProfileId: DEFAULT_PROFILE_ID,
    createdAt: NOW,
    updatedAt: NOW,
  });
  const session = (id: string, userId: string, organisationId: string | null) => ({
    id,
    userId,
    deviceName: "test",
    ipAddress: "127.0.0.1",
    userAgent: "",
    keepLoggedIn: false,
    organisationId,
    createdAt: NOW,
    lastUsedAt: NOW,
    expiresAt: NOW + 86_400_000,
  });

  beforeAll(async () => {
    const db = database.db;
    await database.batch([
      insertSecurityProfile(db, strict),
      db.insert(organisations).values([
        { id: "org-strict", name: "Strict", nameKey: "strict", securityProfileId: strict.id, createdAt: NOW, updatedAt: NOW },
        { id: "org-plain", name: "Plain", nameKey: "plain", securityProfileId: DEFAULT_PROFILE_ID, createdAt: NOW, updatedAt: NOW },
      ]),
      db.insert(users).values([user("member", "org-strict"), user("loner", null), user("former", "org-strict")]),
      db.insert(memberships).values([
        { organisationId: "org-strict", userId: "member", role: "member", joinedAt: NOW },
        { organisationId: "org-plain", userId: "member", role: "member", joinedAt: NOW },
      ]),
      db.insert(sessions).values([session("s-strict", "member", "org-strict"), session("s-plain", "member", "org-plain"), session("s-none", "loner", null), session("s-former", "former", "org-strict")]),
      db.insert(refreshTokens).values({ id: "rt-strict", sessionId: "s-strict", tokenHash: "hash-strict", createdAt: NOW, expiresAt: NOW + 3_600_000 }),
    ]);
  });

  it("is the active organisation's profile for its members, else the user's own", async () => {
    expect((await findEffectiveProfile(database.db, "member"))?.name).toBe("strict");
    expect((await findEffectiveProfile(database.db, "loner"))?.name).toBe("default");
    // Still pointing at an organisation they no longer belong to: their own.
    expect((await findEffectiveProfile(database.db, "former"))?.name).toBe("default");
    // Acting in another organisation (switching to it).
    expect((await findEffectiveProfile(database.db, "member", "org-plain"))?.name).toBe("default");
    expect((await findEffectiveProfile(database.db, "member", null))?.name).toBe("default");
    expect((await findEffectiveProfile(database.db, "loner", "org-strict"))?.name).toBe("default");
    expect(await findEffectiveProfile(database.db, "nobody")).toBeUndefined();
  });

  it("governs each session by the organisation it runs in", async () => {
    expect((await findSessionStatus(database.db, "s-strict"))?.securityProfile).toBe("strict");
    expect((await findSessionStatus(database.db, "s-plain"))?.securityProfile).toBe("default");
    expect((await findSessionStatus(database.db, "s-none"))?.securityProfile).toBe("default");
    expect((await findSessionStatus(database.db, "s-former"))?.securityProfile).toBe("default");
    const context = await findRefreshTokenByHash(database.db, "hash-strict");
    expect(context?.profile).toMatchObject({ name: "strict", accessTokenTtlSeconds: 300 });
    // Leaving the organisation hands the session back to the user's profile.
    await database.db.delete(memberships).where(eq(memberships.userId, "member"));
    expect((await findSessionStatus(database.db, "s-strict"))?.securityProfile).toBe("default");
    expect((await findRefreshTokenByHash(database.db, "hash-strict"))?.profile.name).toBe("default");
  });
});

describe("signing-key rotation across instances", () => {
  it("keeps the previous key published and accepted until its tokens have expired", async () => {
    const clock = manualClock();
    const ring = () => createKeyRing({ database, keyEncryptionKey: KEY_ENCRYPTION_KEY, clock, random: webCryptoRandom, logger: captureLogger() });
    const a = ring();
    const b = ring();
    await a.ensure();
    await b.ensure();
    const old = await a.signingKey();
    expect((await b.signingKey()).kid).toBe(old.kid);

    const claims = (now: number) => ({ iss: "https://id.test", aud: "https://id.test", sub: "u", sid: "s", jti: crypto.randomUUID(), iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 900, roles: [] });
    const tokenLifetimeMs = 900_000;
    const rotated = await a.rotate(tokenLifetimeMs);
    expect(rotated.currentKid).not.toBe(old.kid);
    expect(rotated.publishedKids).toEqual([rotated.currentKid, old.kid]);
    expect((await a.signingKey()).kid).toBe(rotated.currentKid);

    // The other instance accepts the new key at once (an unknown kid reloads)…
    expect(await b.publicKey(rotated.currentKid)).toBeDefined();
    const signedByA = await signAccessToken(await a.signingKey(), claims(clock.now()));
    const verifyWith = async (instance: ReturnType<typeof createKeyRing>, token: string) =>
      (await verifyAccessToken(token, (kid) => instance.publicKey(kid), { issuer: "https://id.test", audience: "https://id.test", now: clock.now() })) !== undefined;
    expect(await verifyWith(b, signedByA)).toBe(true);
    // …and may sign with the old one until it reloads, which stays accepted everywhere.
    clock.advance(2_000);
    const signedByB = await signAccessToken(await b.signingKey(), claims(clock.now()));
    expect(await verifyWith(a, signedByB)).toBe(true);
    clock.advance(61_000);
    expect((await b.signingKey()).kid).toBe(rotated.currentKid);
    expect((await b.jwks()).keys.map((k) => k.kid)).toEqual([rotated.currentKid, old.kid]);

    // Once every token of the old key has expired (and the reload window has passed), it is gone.
    clock.advance(tokenLifetimeMs + 5_000);
    for (const instance of [a, b]) {
      expect((await instance.jwks()).keys.map((k) => k.kid)).toEqual([rotated.currentKid]);
      expect(await instance.publicKey(old.kid)).toBeUndefined();
    }
  });
});

describe("updating a profile while another update lands", () => {
  it("checks the rules against the profile as it is when the update is written", async () => {
    // Runs `interfere` once, right before the next batch: a change made by someone else in between.
    let interfere: (() => Promise<unknown>) | undefined;
    // A database of its own: the app bootstraps its super-admin only on an empty one.
    const own = await openLibsql({ url: `file:${join(dir, "racing.db")}`, migrationsFolder: fileURLToPath(new URL("../../src/store/migrations", import.meta.url)) });
    const racing: Database = {
      db: own.db,
      primary: own.primary,
      mode: own.mode,
      ping: () => own.ping(),
      close: () => own.close(),
      batch: async (queries) => {
        const change = interfere;
        interfere = undefined;
        await change?.();
        return own.batch(queries);
      },
    };
    const email = "root@profiles.test";
    const password = "correct horse battery staple 42";
    const hasher = createNodeArgon2Hasher({ maxConcurrent: 2, maxQueued: 8 });
    onTestFinished(async () => {
      await hasher.close();
      own.close();
    });
    const app = await createApp({
      config: loadConfig({ LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: password, LOG_LEVEL: "silent" }),
      database: racing,
      hasher,
      passwordDictionaries: importPasswordDictionaries,
      keyEncryptionKey: KEY_ENCRYPTION_KEY,
      logger: captureLogger(),
      runtime: "node",
    });
    const transport = createRouterTransport(app.routes, { router: { interceptors: app.interceptors } });
    const signedIn = await createClient(AuthService, transport).signIn({ identifier: { case: "email", value: email }, password });
    if (signedIn.result.case !== "tokens") throw new Error("expected tokens");
    const auth = { headers: { authorization: `Bearer ${signedIn.result.value.accessToken}` } };
    const admin = createClient(AdminService, transport);
    const { profile } = await admin.createSecurityProfile({ profile: { name: "racing" } }, auth);
    const id = profile!.id;
    const competing = (values: Partial<SecurityProfileRow>) => () =>
      own.db.update(securityProfiles).set({ ...values, updatedAt: Date.now() + 60_000 }).where(eq(securityProfiles.id, id));
    const updatedEvents = async () => (await own.db.select().from(auditEvents).where(eq(auditEvents.type, "security_profile.updated")).all()).filter((e) => e.details.includes(id));

    // Valid against what was read, invalid against what is there when it is written.
    interfere = competing({ refreshAbsoluteTtlSeconds: 4000 });
    const refused = await admin.updateSecurityProfile({ profile: { ...profile!, refreshIdleTtlSeconds: 80000 }, updateMask: { paths: ["refresh_idle_ttl_seconds"] } }, auth).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(refused?.code).toBe(Code.InvalidArgument);
    const stored = await own.db.select().from(securityProfiles).where(eq(securityProfiles.id, id)).get();
    expect(stored).toMatchObject({ refreshIdleTtlSeconds: profile!.refreshIdleTtlSeconds, refreshAbsoluteTtlSeconds: 4000 });
    expect(await updatedEvents()).toHaveLength(0);

    // A compatible change in between: both are kept, and one audit row records this update.
    interfere = competing({ lockoutThreshold: 42 });
    const { profile: merged } = await admin.updateSecurityProfile({ profile: { ...profile!, refreshIdleTtlSeconds: 3000 }, updateMask: { paths: ["refresh_idle_ttl_seconds"] } }, auth);
    expect(merged).toMatchObject({ refreshIdleTtlSeconds: 3000, refreshAbsoluteTtlSeconds: 4000, lockoutThreshold: 42 });
    expect(await updatedEvents()).toHaveLength(1);
  });
});
