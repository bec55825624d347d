/**
 * A libSQL file of a test file's own in a fresh temporary folder, with every
 * migration applied: what the store-level tests run their SQL against.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { Database } from "../../src/store/database.js";
import { openLibsql } from "../../src/store/open-libsql.js";
import { DEFAULT_PROFILE_ID } from "../../src/store/queries/security-profiles.js";
import type { users } from "../../src/store/schema/index.js";

export interface MigratedFile {
  /** The open database; from the file's first beforeAll on. */
  readonly database: Database;
}

/** Opens the file before the test file's tests (ahead of its own beforeAll hooks) and removes it after them. */
export function useMigratedFile(name: string): MigratedFile {
  let dir: string | undefined;
  let database: Database | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `latchkey-${name}-`));
    database = await openLibsql({ url: `file:${join(dir, "latchkey.db")}`, migrationsFolder: "src/store/migrations" });
  });
  afterAll(async () => {
    database?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    get database() {
      if (!database) throw new Error("the migrated file opens in beforeAll");
      return database;
    },
  };
}

/** An active user row for direct inserts: a placeholder password hash, the default security profile. */
export function userRow(id: string, fields: { name?: string; createdAt?: number } = {}): typeof users.$inferInsert {
  const createdAt = fields.createdAt ?? Date.UTC(2026, 0, 1);
  return {
    id,
    email: `${id}@example.com`,
    name: fields.name ?? id,
    locale: "en",
    newsletter: false,
    passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
    state: "active",
    superAdmin: false,
    securityProfileId: DEFAULT_PROFILE_ID,
    createdAt,
    updatedAt: createdAt,
  };
}
