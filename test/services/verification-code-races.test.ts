/**
 * The guarded statements of verification codes on a real libSQL file, driven
 * without the service's read-before-write checks, so that the statements
 * alone must decide every race.
 */
import { eq } from "drizzle-orm";
import { expect, it } from "vitest";
import { MAX_SENDS_PER_WINDOW, SEND_WINDOW_MS, hashCode } from "../../src/domain/codes.js";
import { webCryptoRandom } from "../../src/domain/ports.js";
import { createOutbox } from "../../src/services/delivery/outbox.js";
import { DEFAULT_PROFILE_ID } from "../../src/store/queries/security-profiles.js";
import { insertUser } from "../../src/store/queries/users.js";
import {
  consumeCode,
  insertCodeWithinCap,
  markVerifiedIfAccepted,
  recordWrongAttempt,
  codeInserted,
  voidEarlierCodes,
} from "../../src/store/queries/verification-codes.js";
import { withdrawMessageUnless } from "../../src/store/queries/outbox.js";
import { outbox as outboxTable, users, verificationCodes } from "../../src/store/schema/index.js";
import { captureLogger, manualClock } from "../support/in-process-app.js";
import { useMigratedFile } from "../support/migrated-file.js";

const PHONE = "+41791234567";
const clock = manualClock();
const store = useMigratedFile("codes");



async function newUser(): Promise<string> {
  const id = webCryptoRandom.uuid();
  const now = clock.now();
  await store.database.batch([
    insertUser(store.database.db, {
      id,
      email: `${id}@example.com`,
      name: "Racer",
      phoneNumber: PHONE,
      locale: "en",
      newsletter: false,
      passwordHash: "$argon2id$unused",
      state: "active",
      superAdmin: false,
      securityProfileId: DEFAULT_PROFILE_ID,
      createdAt: now,
      updatedAt: now,
    }),
  ]);
  return id;
}

/** One send as the service batches it, without the service's pre-checks. */
async function send(userId: string, code: string) {
  const id = webCryptoRandom.uuid();
  const now = clock.now();
  const row = { id, userId, purpose: "phone_verification" as const, target: PHONE, codeHash: await hashCode(userId, "phone_verification", code), createdAt: now, expiresAt: now + 600_000 };
  const message = createOutbox({ database: store.database, clock, random: webCryptoRandom, logger: captureLogger() }).sms({ to: PHONE, text: `code ${code}` });
  const [inserted] = await store.database.batch([
    insertCodeWithinCap(store.database.db, row, { windowStart: now - SEND_WINDOW_MS, max: MAX_SENDS_PER_WINDOW }),
    voidEarlierCodes(store.database.db, row),
    message.statement,
    withdrawMessageUnless(store.database.db, message.id, codeInserted(store.database.db, id)),
  ]);
  return { id, inserted: inserted.length === 1, outboxId: message.id };
}

async function codesOf(userId: string) {
  return store.database.db.select().from(verificationCodes).where(eq(verificationCodes.userId, userId)).all();
}

it("twelve concurrent sends insert exactly five codes and keep only their five messages", async () => {
  const userId = await newUser();
  const sends = await Promise.all(Array.from({ length: 12 }, (_, i) => send(userId, String(100000 + i))));
  const won = sends.filter((s) => s.inserted);
  expect(won).toHaveLength(MAX_SENDS_PER_WINDOW);
  const kept = await store.database.db.select({ id: outboxTable.id }).from(outboxTable).where(eq(outboxTable.recipient, PHONE)).all();
  expect(kept.map((r) => r.id).sort()).toEqual(won.map((s) => s.outboxId).sort());
  const live = (await codesOf(userId)).filter((c) => c.consumedAt === null);
  expect(live).toHaveLength(1);
  await store.database.db.delete(outboxTable);
});

it("a new code inherits the failures of the one it replaces, counted under concurrency", async () => {
  const userId = await newUser();
  const first = await send(userId, "111111");
  const results = await Promise.all(Array.from({ length: 8 }, () => store.database.batch([recordWrongAttempt(store.database.db, first.id, clock.now())])));
  // The cap holds however many wrong guesses arrive at once.
  expect(results.filter(([r]) => r.length === 1)).toHaveLength(5);
  const second = await send(userId, "222222");
  const rows = await codesOf(userId);
  expect(rows.find((c) => c.id === second.id)?.attempts).toBe(5);
  expect(rows.find((c) => c.id === first.id)?.consumedAt).toBe(clock.now());
  await store.database.db.delete(outboxTable);
});

it("two concurrent consumes of the right code: one wins, and only it marks the phone verified", async () => {
  const userId = await newUser();
  const sent = await send(userId, "333333");
  const codeHash = await hashCode(userId, "phone_verification", "333333");
  // One millisecond apart, so the stored timestamp names the batch that set it.
  const submissions = [0, 1].map((offset) => ({ codeId: sent.id, userId, purpose: "phone_verification" as const, codeHash, now: clock.now() + offset }));
  const results = await Promise.all(
    submissions.map((submission) => store.database.batch([markVerifiedIfAccepted(store.database.db, submission), consumeCode(store.database.db, submission)])),
  );
  const winners = submissions.filter((_, i) => results[i]![1].length === 1);
  expect(winners).toHaveLength(1);
  const user = await store.database.db.select().from(users).where(eq(users.id, userId)).get();
  expect(user?.phoneVerifiedAt).toBe(winners[0]!.now);
  await store.database.db.delete(outboxTable);
});

it("the consume refuses a wrong hash, an expired code and a code sent to another number", async () => {
  const userId = await newUser();
  const sent = await send(userId, "444444");
  const good = { codeId: sent.id, userId, purpose: "phone_verification" as const, codeHash: await hashCode(userId, "phone_verification", "444444"), now: clock.now() };
  const consume = async (submission: typeof good) => (await store.database.batch([consumeCode(store.database.db, submission)]))[0].length;
  expect(await consume({ ...good, codeHash: await hashCode(userId, "phone_verification", "444445") })).toBe(0);
  expect(await consume({ ...good, now: clock.now() + 600_000 })).toBe(0);
  await store.database.db.update(users).set({ phoneNumber: "+41797654321" }).where(eq(users.id, userId));
  expect(await consume(good)).toBe(0);
  await store.database.db.update(users).set({ phoneNumber: PHONE }).where(eq(users.id, userId));
  expect(await consume(good)).toBe(1);
  expect(await consume(good)).toBe(0);
  await store.database.db.delete(outboxTable);
});
