/**
 * TypeScript twin of the guide's `examples/custom_postgres_feature.py` ("PostgreSQL com Query
 * Customizada"): a feature with a custom CTE query on a daily cron schedule, registered with its
 * connector; then one run now instead of waiting for midnight.
 *
 *   npm run dev & npm run pgproxy    # FStore on :8000 and the WebSocket proxy
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   PGDATABASE=test PGUSER=postgres PGPASSWORD= npx tsx examples/custom_postgres_feature.ts --seed
 */
import { FeatureStore, FStoreError } from "fstore";
import { PostgreSQLConnector } from "fstore/connectors";
import { postgresConfig, seed } from "./pg-example-setup";

// 1. Configurar conexão com PostgreSQL
const postgres_config = postgresConfig({ database: "mydb", user: "user", password: "pass" });
if (process.argv.includes("--seed")) await seed(postgres_config);

// 2. Inicializar o Feature Store e o conector
const store = new FeatureStore();
const pg_connector = new PostgreSQLConnector(postgres_config);

// 3. Definir a feature com sua query customizada
const feature_definition = {
  name: "customer_purchase_frequency",
  description: "Frequência de compras do cliente nos últimos 30 dias",
  entity_id: "customer",
  feature_group: "customer_metrics",
  query: `
        WITH customer_purchases AS (
            SELECT 
                customer_id,
                COUNT(*) as purchase_count,
                COUNT(*) / 30.0 as purchase_frequency
            FROM orders
            WHERE created_at >= NOW() - INTERVAL '30 days'
            GROUP BY customer_id
        )
        SELECT 
            customer_id as entity_id,
            purchase_frequency as value,
            NOW() as timestamp
        FROM customer_purchases
    `,
  schedule: "0 0 * * *", // Executa diariamente à meia-noite
};

// 4. Registrar a feature
try {
  await store.registerFeature(feature_definition, { connector: pg_connector });
} catch (err) {
  if (!(err instanceof FStoreError && err.status === 409)) throw err; // already registered
}

// Not in the guide: run it now rather than at midnight, and read a value back.
const run = await store.updateFeatureValues("customer_purchase_frequency", pg_connector);
console.log(`run ${run.id}: ${run.status}, ${run.rows_read} customers, watermark ${run.watermark}`);
console.log("customer 3:", await store.getLatestValue("customer_purchase_frequency", "3"));
