import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Two projects, both run by `npm test`:
 * - `worker`: tests inside workerd with the bindings of wrangler.toml (local D1, KV and Queues),
 *   calling the Worker the way clients do, against the real source servers.
 * - `e2e`: tests in Node against one real `wrangler dev` (test/e2e/setup/wrangler-dev.ts), for
 *   clients that live outside workerd: the Python client and examples, the CLI, the installed
 *   package, a browser, the stream bridges (against librdkafka's mock Kafka cluster).
 * Both start with test/setup/services.ts, which installs/starts PostgreSQL, MariaDB, Chromium and
 * Python (as root on Debian) or stops the run saying what is missing.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      // node-postgres loads its Workers socket with require("pg-cloudflare"), whose "workerd" export
      // is what wrangler's bundler picks; the test runner resolves CommonJS requires with the root
      // Vite server, which would pick the package's empty default export instead.
      {
        name: "pg-cloudflare-for-workerd",
        enforce: "pre" as const,
        resolveId: (id: string) => (id === "pg-cloudflare" ? path.join(import.meta.dirname, "node_modules/pg-cloudflare/dist/index.js") : undefined),
      },
    ],
    test: {
      projects: [
        {
          plugins: [
            // `inject` reads what test/setup/sql-services.ts provided (the pgproxy's address).
            cloudflareTest(async ({ inject }) => ({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                // A Hyperdrive binding in front of the local PostgreSQL, as `wrangler dev` builds one from
                // a localConnectionString (which must carry a password, even for trust auth).
                hyperdrives: { TEST_HYPERDRIVE: `postgres://postgres:unused@127.0.0.1:5432/${inject("sqlDatabase")}` },
                bindings: {
                  TEST_PG_PROXY: inject("pgProxy"),
                  TEST_SQL_DATABASE: inject("sqlDatabase"),
                  TEST_BLACKHOLE_PORT: String(inject("blackholePort")),
                  // test/setup/lake-services.ts: s3rver and Azurite with the data-lake test files.
                  TEST_S3_ENDPOINT: inject("lakeS3Endpoint"),
                  TEST_AZURE_ENDPOINT: inject("lakeAzureEndpoint"),
                  TEST_AZURE_SAS: inject("lakeAzureSas"),
                  TEST_AZURE_WRITE_SAS: inject("lakeAzureWriteSas"),
                  TEST_AZURE_EXPIRED_SAS: inject("lakeAzureExpiredSas"),
                  TEST_AZURE_NO_LIST_SAS: inject("lakeAzureNoListSas"),
                  // Small enough that the large test files take several invocations (test/lake-fixtures.ts).
                  FSTORE_RUN_ROWS_PER_INVOCATION: "5000",
                  TEST_MIGRATIONS: migrations,
                  // The tests' sources all live on 127.0.0.1 (docs/connectors.md#egress-policy), and host
                  // names resolve through test/setup/egress-services.ts (no Internet here).
                  FSTORE_EGRESS_ALLOW: "loopback",
                  FSTORE_DNS_RESOLVER: inject("dnsResolver"),
                  TEST_HOSTILE_STORE: inject("hostileStore"),
                  // test/fuzz.test.ts: seed and runs per route (defaults in the test).
                  FSTORE_FUZZ_SEED: process.env.FSTORE_FUZZ_SEED ?? "",
                  FSTORE_FUZZ_RUNS: process.env.FSTORE_FUZZ_RUNS ?? "",
                  TEST_REDIRECT_RECORDER: inject("redirectRecorder"),
                  FSTORE_ADMIN_KEY: "test-admin-key-0123456789abcdef",
                  FSTORE_SECRET_KEY: "test-secret-key-0123456789abcdef",
                },
              },
            })),
          ],
          test: {
            name: "worker",
            include: ["test/**/*.test.ts"],
            exclude: ["test/e2e/**"],
            setupFiles: ["./test/setup/apply-migrations.ts"],
            // Node side: pgproxy + seeded PostgreSQL and MariaDB for the connector tests,
            // and s3rver + Azurite with the data-lake test files.
            globalSetup: ["./test/setup/services.ts", "./test/setup/sql-services.ts", "./test/setup/lake-services.ts", "./test/setup/egress-services.ts"],
            // A guard against hangs on a slow 2-core CI machine, not a performance assertion.
            testTimeout: 30_000,
          },
        },
        {
          test: {
            name: "e2e",
            include: ["test/e2e/**/*.test.ts"],
            environment: "node",
            // Services check, the SQL and data-lake sources of the guide's examples (the dashboard's
            // browser tests also run a SQL feature on the seeded PostgreSQL), librdkafka's mock Kafka
            // cluster (the stream bridges), then wrangler dev.
            globalSetup: [
              "./test/setup/services.ts",
              "./test/setup/sql-services.ts",
              "./test/e2e/setup/guide-sources.ts",
              "./test/e2e/setup/kafka-mock.ts",
              "./test/e2e/setup/wrangler-dev.ts",
            ],
            testTimeout: 60_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
