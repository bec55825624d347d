/**
 * Writes benchmark rows straight into the server's database file, beside the
 * running server, in one write transaction: the seeding takes seconds where
 * the API would take minutes, and a failure leaves nothing half-written.
 */
import Libsql from "libsql";

export function seedInOneTransaction<T>(databaseFile: string, seed: (db: Libsql.Database) => T): T {
  const db = new Libsql(databaseFile);
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    // Random ids land all over the indexes: a large cache keeps their pages in memory.
    db.exec("PRAGMA cache_size = -262144");
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = seed(db);
      db.exec("COMMIT");
      return result;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  } finally {
    db.close();
  }
}
