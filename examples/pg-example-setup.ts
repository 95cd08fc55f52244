/**
 * Shared by the Postgres examples: the connection config (the guide's values, overridable with the
 * usual PG* variables) and `--seed`, which creates small `orders` and `purchases` tables in that
 * database so the guide's queries have something to read. FStore itself only ever reads.
 */
import { Client, neonConfig } from "@neondatabase/serverless";
import ws from "ws";

/** The guide's config, plus the WebSocket proxy a non-Neon Postgres needs (`npm run pgproxy`). */
export function postgresConfig(guide: { database: string; user: string; password: string }) {
  return {
    host: process.env.PGHOST ?? "localhost",
    port: Number(process.env.PGPORT ?? 5432),
    database: process.env.PGDATABASE ?? guide.database,
    user: process.env.PGUSER ?? guide.user,
    password: process.env.PGPASSWORD ?? guide.password,
    ws_proxy: process.env.FSTORE_PG_WS_PROXY ?? "127.0.0.1:8787/v2",
  };
}

/** Creates and fills orders/purchases (idempotent) through the same WebSocket proxy. */
export async function seed(config: ReturnType<typeof postgresConfig>): Promise<void> {
  neonConfig.webSocketConstructor = ws;
  const client = new Client({ host: config.host, port: config.port, database: config.database, user: config.user, password: config.password });
  client.neonConfig.wsProxy = config.ws_proxy;
  client.neonConfig.useSecureWebSocket = false;
  client.neonConfig.pipelineConnect = false;
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS orders (id integer PRIMARY KEY, customer_id integer, order_value numeric(10, 2), created_at timestamptz);
      INSERT INTO orders SELECT i, i % 10 + 1, (i * 37) % 500 / 4.0 + 5, NOW() - make_interval(days => i % 45)
        FROM generate_series(1, 200) AS i ON CONFLICT (id) DO NOTHING;
      CREATE TABLE IF NOT EXISTS purchases (id integer PRIMARY KEY, customer_id integer, amount numeric(10, 2), purchased_at timestamptz);
      INSERT INTO purchases SELECT i, i % 10 + 1, (i * 13) % 1000 / 10.0, NOW() - make_interval(hours => i)
        FROM generate_series(1, 100) AS i ON CONFLICT (id) DO NOTHING;`);
    console.log(`seeded orders and purchases in ${config.database}`);
  } finally {
    await client.end();
  }
}
