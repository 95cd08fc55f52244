/**
 * TypeScript twin of the guide's `examples/send_feature_events.py`: push feature values over REST,
 * one at a time, in a batch, with retries, and simulate a stream of events.
 *
 *   npm run dev                                   # in another terminal
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   node examples/send_feature_events.ts [--simulate]
 *
 * Node 22.18+ runs this file directly (type stripping). FSTORE_URL defaults to http://localhost:8000.
 */
const BASE_URL = process.env.FSTORE_URL ?? "http://localhost:8000";
const KEY = process.env.FSTORE_KEY;
if (!KEY) throw new Error("Set FSTORE_KEY to an API key (npm run dev writes one to .dev.vars)");

const headers = { "content-type": "application/json", authorization: `Bearer ${KEY}` };

interface FeatureValue {
  feature_id: string;
  entity_id: string;
  value: number;
  timestamp?: string;
}

/** The guide's send_feature_value: true on 200. */
export async function sendFeatureValue(featureId: string, entityId: string, value: number): Promise<boolean> {
  const res = await fetch(`${BASE_URL}/api/v1/features/${encodeURIComponent(featureId)}/values`, {
    method: "POST",
    headers,
    body: JSON.stringify({ entity_id: entityId, value, timestamp: new Date().toISOString() }),
  });
  if (res.status !== 200) console.error(`push ${featureId}/${entityId}: ${res.status} ${await res.text()}`);
  return res.status === 200;
}

/** The guide's send_batch_values: all or nothing. */
export async function sendBatchValues(values: FeatureValue[]): Promise<boolean> {
  const res = await fetch(`${BASE_URL}/api/v1/features/batch`, { method: "POST", headers, body: JSON.stringify(values) });
  if (res.status !== 200) console.error(`batch: ${res.status} ${await res.text()}`);
  return res.status === 200;
}

/** The guide's tenacity retry: up to 3 attempts on network errors, with a short backoff. */
export async function sendFeatureWithRetry(featureId: string, entityId: string, value: number, attempts = 3): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sendFeatureValue(featureId, entityId, value);
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

async function registerIfMissing(name: string, entity: string) {
  const res = await fetch(`${BASE_URL}/api/v1/features`, { method: "POST", headers, body: JSON.stringify({ name, entity_id: entity }) });
  if (res.status !== 201 && res.status !== 409) throw new Error(`register ${name}: ${res.status} ${await res.text()}`);
}

const featureConfigs = [
  { featureId: "customer_purchase_amount", entity: "customer", entityIds: ["customer_1", "customer_2"], min: 10, max: 1000 },
  { featureId: "product_stock_level", entity: "product", entityIds: ["product_1", "product_2"], min: 0, max: 100 },
];

/** The guide's simulate_events, bounded: `rounds` rounds, 5 s apart. */
async function simulateEvents(rounds: number) {
  for (let round = 0; round < rounds; round++) {
    for (const config of featureConfigs) {
      for (const entityId of config.entityIds) {
        await sendFeatureValue(config.featureId, entityId, config.min + Math.random() * (config.max - config.min));
      }
    }
    if (round < rounds - 1) await new Promise((r) => setTimeout(r, 5000));
  }
}

for (const c of featureConfigs) await registerIfMissing(c.featureId, c.entity);
const ok = await sendFeatureValue("customer_purchase_amount", "customer_123", 99.99);
console.log(`Envio ${ok ? "bem-sucedido" : "falhou"}`);
console.log(`Batch ${(await sendBatchValues([
  { feature_id: "customer_purchase_amount", entity_id: "customer_1", value: 10.5 },
  { feature_id: "product_stock_level", entity_id: "product_1", value: 42 },
])) ? "ok" : "failed"}`);
console.log(`Retry ${(await sendFeatureWithRetry("product_stock_level", "product_2", 7)) ? "ok" : "failed"}`);
if (process.argv.includes("--simulate")) await simulateEvents(3);
