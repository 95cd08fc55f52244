/**
 * TypeScript twin of the guide's `examples/s3_batch_processing.py` ("Exemplo S3 Batch") and of its
 * Amazon S3 section: an S3 connector, a Parquet feature registered through it, and a batch feature
 * whose `batch_config` names no connector (FStore then uses the only data-lake connector).
 *
 *   npm run dev                      # terminal 1: FStore on :8000
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   # an S3-compatible server, e.g. s3rver: node scripts/lake-servers.mjs is used by the tests;
 *   # any MinIO/R2 endpoint and keys work through S3_ENDPOINT / AWS_* variables.
 *   S3_ENDPOINT=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
 *     npx tsx examples/s3_batch_processing.ts --seed
 *
 * `--seed` writes two small Parquet files into the bucket first (customer_transactions/ and
 * features/user_behavior/). Without S3_ENDPOINT the guide's config (AWS, us-east-1) is used.
 */
import { AwsClient } from "aws4fetch";
import { FeatureStore, FStoreError } from "fstore";
import { S3Connector } from "fstore/connectors";
import { parquetWriteBuffer } from "hyparquet-writer";

const config = {
  bucket: process.env.S3_BUCKET ?? "my-feature-store",
  aws_access_key_id: process.env.AWS_ACCESS_KEY_ID ?? "YOUR_KEY",
  aws_secret_access_key: process.env.AWS_SECRET_ACCESS_KEY ?? "YOUR_SECRET",
  region: process.env.AWS_REGION ?? "us-east-1",
  ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT } : {}),
};

/** Registering twice is fine when re-running the example. */
async function once<T>(register: () => Promise<T>): Promise<void> {
  try {
    await register();
  } catch (err) {
    if (!(err instanceof FStoreError && err.status === 409)) throw err;
  }
}

async function seed() {
  const s3 = new AwsClient({ accessKeyId: config.aws_access_key_id, secretAccessKey: config.aws_secret_access_key, service: "s3", region: config.region });
  const base = config.endpoint ? `${config.endpoint.replace(/\/$/, "")}/${config.bucket}` : `https://${config.bucket}.s3.${config.region}.amazonaws.com`;
  const customers = Array.from({ length: 20 }, (_, i) => `customer_${i + 1}`);
  const file = (values: number[]) =>
    new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: "entity_id", data: customers, type: "STRING" },
          { name: "value", data: Float64Array.from(values), type: "DOUBLE" },
          { name: "timestamp", data: customers.map(() => new Date()), type: "TIMESTAMP" },
        ],
      }),
    );
  for (const [key, body] of [
    ["customer_transactions/part-0000.parquet", file(customers.map((_, i) => 100 + i * 12.5))],
    ["features/user_behavior/day-1.parquet", file(customers.map((_, i) => (i % 7) / 7))],
  ] as const) {
    const res = await s3.fetch(`${base}/${key}`, { method: "PUT", body });
    if (!res.ok) throw new Error(`PUT ${key}: ${res.status} ${await res.text()}`);
  }
}

if (process.argv.includes("--seed")) await seed();

const store = new FeatureStore();

// Amazon S3: s3_connector.register_feature(feature_def)
const s3Connector = new S3Connector(config, { store });
await once(() =>
  s3Connector.registerFeature({
    name: "user_behavior_features",
    entity_id: "customer",
    path: "features/user_behavior/*.parquet",
    format: "parquet",
    update_frequency: "1d",
  }),
);
const behavior = await store.runBatchProcessing("user_behavior_features");
console.log(`user_behavior_features: run ${behavior.status}, ${behavior.rows_read} rows read`);

// Exemplo S3 Batch: the connector is never passed; the only data-lake connector is used.
// The guide's PostgreSQL example registers a SQL feature of the same name; after it, this one
// gets a suffix rather than running that SQL feature.
let name = "customer_lifetime_value";
const existing = await store.getFeature(name).catch(() => null);
if (existing && existing.source_type !== "file") name = "customer_lifetime_value_s3";
await once(() =>
  store.createFeature({
    name,
    entity_id: "customer",
    batch_config: {
      path: "customer_transactions/*.parquet",
      schedule: "0 0 * * *", // Diariamente
    },
  }),
);
const run = await store.runBatchProcessing(name);
console.log(`${name}: run ${run.status}, ${run.rows_read} rows read, ${run.rows_written} written`);
console.log("customer_3:", await store.getLatestValue(name, "customer_3"));
