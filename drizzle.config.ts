import { defineConfig } from "drizzle-kit";

// One schema and one migrations folder for every database: libSQL (Node) and
// D1 (`wrangler d1 migrations apply` reads the same folder).
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/store/schema/index.ts",
  out: "./src/store/migrations",
  casing: "snake_case",
});
