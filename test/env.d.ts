declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    FSTORE_ADMIN_KEY: string;
    FSTORE_SECRET_KEY: string;
  }
}
