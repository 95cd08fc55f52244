import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Tests run inside workerd with the bindings of wrangler.toml (local D1, KV and Queues). */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            FSTORE_ADMIN_KEY: "test-admin-key-0123456789abcdef",
            FSTORE_SECRET_KEY: "test-secret-key-0123456789abcdef",
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/setup/apply-migrations.ts"],
      // A guard against hangs on a slow 2-core CI machine, not a performance assertion.
      testTimeout: 30_000,
    },
  };
});
