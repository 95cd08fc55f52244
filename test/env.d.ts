declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    FSTORE_ADMIN_KEY: string;
    FSTORE_SECRET_KEY: string;
    /** The pgproxy's address for neonConfig.wsProxy, e.g. 127.0.0.1:40123/v2 (test/setup/sql-services.ts). */
    TEST_PG_PROXY: string;
    /** Database seeded with orders/purchases in both PostgreSQL and MariaDB. */
    TEST_SQL_DATABASE: string;
    /** A local TCP port that accepts connections and never answers (timeout tests). */
    TEST_BLACKHOLE_PORT: string;
    /** s3rver's endpoint, with bucket "lake" (test/setup/lake-services.ts). */
    TEST_S3_ENDPOINT: string;
    /** Azurite's Blob endpoint for devstoreaccount1, container "lake". */
    TEST_AZURE_ENDPOINT: string;
    /** Container SAS: read + list. */
    TEST_AZURE_SAS: string;
    /** Container SAS: read, add, create, write, delete, list. */
    TEST_AZURE_WRITE_SAS: string;
    /** Container SAS: read + list, expired an hour ago. */
    TEST_AZURE_EXPIRED_SAS: string;
    /** Container SAS: read only, no list. */
    TEST_AZURE_NO_LIST_SAS: string;
    FSTORE_RUN_ROWS_PER_INVOCATION: string;
    FSTORE_EGRESS_ALLOW: string;
    FSTORE_FUZZ_SEED: string;
    FSTORE_FUZZ_RUNS: string;
    FSTORE_DNS_RESOLVER: string;
    /** Redirects every request to TEST_REDIRECT_RECORDER; under /body answers 500 with text no answer may echo. */
    TEST_HOSTILE_STORE: string;
    /** Counts the requests that reach it: GET /seen. */
    TEST_REDIRECT_RECORDER: string;
    /** Hyperdrive in front of the local PostgreSQL's TEST_SQL_DATABASE. */
    TEST_HYPERDRIVE: Hyperdrive;
  }
}
