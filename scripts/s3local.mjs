#!/usr/bin/env node
/**
 * `npm run s3local`: a local S3-compatible server (s3rver) on http://127.0.0.1:4568 (PORT
 * overrides) with the guide's bucket `my-feature-store` and the sample files its S3 examples read.
 * Prints the endpoint and the one key pair it accepts; data is gone when it stops (Ctrl-C).
 */
import { S3RVER_KEY, startS3rver } from "./lake-servers.mjs";
import { GUIDE_BUCKET, seedGuideS3 } from "./lib/guide-samples.mjs";

const port = Number(process.env.PORT ?? 4568);
const server = await startS3rver({ buckets: [GUIDE_BUCKET], port }).catch((err) => {
  console.error(`s3local: could not start s3rver on 127.0.0.1:${port}: ${err.message} (PORT=... picks another port)`);
  process.exit(1);
});
await seedGuideS3(server.endpoint);
console.log(`s3rver listening on ${server.endpoint}, bucket ${GUIDE_BUCKET} with the guide's sample files:
  customer_transactions/part-0000.parquet, features/user_behavior/day-1.parquet

It accepts only this key pair. For the examples (examples/s3_batch_processing.{py,ts}):
  export AWS_ENDPOINT_URL=${server.endpoint} AWS_ACCESS_KEY_ID=${S3RVER_KEY.accessKeyId} AWS_SECRET_ACCESS_KEY=${S3RVER_KEY.secretAccessKey}

Connector config: {"bucket": "${GUIDE_BUCKET}", "aws_access_key_id": "${S3RVER_KEY.accessKeyId}", "aws_secret_access_key": "${S3RVER_KEY.secretAccessKey}", "endpoint": "${server.endpoint}"}
Ctrl-C stops it (and removes its data).`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await server.close();
    process.exit(0);
  });
}
