/**
 * TypeScript twin of the guide's "Exemplo S3 Batch" (examples/s3_batch_processing.py) and its
 * Amazon S3 section: an S3 connector, a Parquet feature registered through it, and a batch feature
 * whose `batch_config` names no connector — the script's own S3 connector is used.
 *
 * From the repository root, FStore running (`npm run dev`) and a local S3 in another terminal
 * (`npm run s3local`: s3rver on 127.0.0.1:4568 with the guide's bucket and sample files; it
 * prints the variables below):
 *
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   export AWS_ENDPOINT_URL=http://127.0.0.1:4568 AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
 *   node examples/s3_batch_processing.ts
 *
 * Without those variables the guide's config is used (Amazon S3, us-east-1, YOUR_KEY).
 */
import { FeatureStore } from "fstore";
import { S3Connector } from "fstore/connectors";

const s3_config = {
  bucket: process.env.S3_BUCKET ?? "my-feature-store",
  aws_access_key_id: process.env.AWS_ACCESS_KEY_ID ?? "YOUR_KEY",
  aws_secret_access_key: process.env.AWS_SECRET_ACCESS_KEY ?? "YOUR_SECRET",
  region: process.env.AWS_REGION ?? "us-east-1",
  // Not in the guide: an S3-compatible server (s3rver, MinIO, R2) instead of Amazon S3.
  ...(process.env.AWS_ENDPOINT_URL ? { endpoint: process.env.AWS_ENDPOINT_URL } : {}),
};

// Amazon S3: Inicializar conector S3 e registrar feature usando Parquet
const s3_connector = new S3Connector(s3_config);
await s3_connector.registerFeature({
  name: "user_behavior_features",
  path: "features/user_behavior/*.parquet",
  format: "parquet",
  update_frequency: "1d",
});

// Exemplo S3 Batch
const store = new FeatureStore();
// The guide constructs this connector and never passes it on: createFeature below uses the S3
// connector constructed last.
new S3Connector(s3_config);

// Configurar processamento em batch
const feature = await store.createFeature({
  name: "customer_lifetime_value",
  batch_config: {
    path: "customer_transactions/*.parquet",
    schedule: "0 0 * * *", // Diariamente
  },
});
const run = await store.runBatchProcessing(feature.name);

console.log(`${feature.name}: run ${run.status}, ${run.rows_read} rows read, ${run.rows_written} written`);
console.log("customer_3:", (await store.getLatestValue(feature.name, "customer_3")).value);
const behavior = await store.runBatchProcessing("user_behavior_features");
console.log(`user_behavior_features: run ${behavior.status}, ${behavior.rows_read} rows read`);
