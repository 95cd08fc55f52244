import { defineConfig } from "drizzle-kit";

/** drizzle-kit writes flat `migrations/NNNN_name.sql` files that `wrangler d1 migrations apply` runs. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
