/**
 * TypeScript twin of the guide's `examples/postgres_features.py` ("Exemplo PostgreSQL") and of
 * its PostgreSQL section: a connector, a SQL feature, and its values pulled now.
 *
 *   npm run dev                      # terminal 1: FStore on :8000
 *   npm run pgproxy                  # terminal 2: WebSocket proxy to the local PostgreSQL
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   PGDATABASE=test PGUSER=postgres PGPASSWORD= npx tsx examples/postgres_features.ts --seed
 *
 * Without PG* variables it uses the guide's config (localhost:5432, mydatabase, myuser).
 */
import { FeatureStore, FStoreError } from "fstore";
import { PostgresConnector, PostgreSQLConnector } from "fstore/connectors";
import { postgresConfig, seed } from "./pg-example-setup";

/** Registering twice is fine when re-running the example. */
async function once<T>(register: () => Promise<T>): Promise<void> {
  try {
    await register();
  } catch (err) {
    if (!(err instanceof FStoreError && err.status === 409)) throw err;
  }
}

const config = postgresConfig({ database: "mydatabase", user: "myuser", password: "mypassword" });
if (process.argv.includes("--seed")) await seed(config);

// Exemplo PostgreSQL
const store = new FeatureStore();
const connector = new PostgresConnector(config);

// Criar e atualizar feature
await once(() =>
  store.createFeature({
    name: "customer_total_purchases",
    entity_id: "customer",
    query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id",
  }),
);
const run = await store.updateFeatureValues("customer_total_purchases", connector);
console.log(`customer_total_purchases: run ${run.status}, ${run.rows_read} rows read, ${run.rows_written} written, ${run.rows_unchanged} unchanged`);
console.log("customer 1:", await store.getLatestValue("customer_total_purchases", "1"));

// The PostgreSQL section: pg_connector.register_feature(feature_def)
const pgConnector = new PostgreSQLConnector(config, { store });
await once(() =>
  pgConnector.registerFeature({
    name: "customer_lifetime_value",
    entity_id: "customer",
    query: `
        SELECT 
            customer_id,
            SUM(order_value) as lifetime_value
        FROM orders
        GROUP BY customer_id
    `,
    update_frequency: "1h",
  }),
);
const clv = await store.updateFeatureValues("customer_lifetime_value");
console.log(`customer_lifetime_value: run ${clv.status}, ${clv.rows_written} written; refreshed every hour by the scheduler`);
console.log("customer 2:", await store.getLatestValue("customer_lifetime_value", "2"));
