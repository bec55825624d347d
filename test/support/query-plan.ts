import { sql } from "drizzle-orm";
import type { Db } from "../../src/store/database.js";

/** The EXPLAIN QUERY PLAN steps of a built query (`.toSQL()`), run with its own parameters bound. */
export async function queryPlan(db: Db, query: { sql: string; params: unknown[] }): Promise<string[]> {
  const [head, ...tails] = query.sql.split("?");
  const statement = sql.join([sql.raw(`EXPLAIN QUERY PLAN ${head!}`), ...tails.flatMap((tail, i) => [sql`${query.params[i]}`, sql.raw(tail)])]);
  const rows = await db.all<{ detail: string }>(statement);
  return rows.map((row) => row.detail);
}
