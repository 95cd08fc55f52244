/**
 * The sample data the guide's data-lake examples read, written into a local S3 (s3rver) or Azure
 * (Azurite) server: used by `npm run s3local`, `npm run azurite` and the end-to-end tests, so the
 * examples find the same files everywhere. Values are a formula of the customer number, so a
 * test can tell what a run must have read.
 */
import { ContainerSASPermissions, generateBlobSASQueryParameters, SASProtocol, StorageSharedKeyCredential, BlobServiceClient } from "@azure/storage-blob";
import { parquetWriteBuffer } from "hyparquet-writer";
import { AZURITE_ACCOUNT, AZURITE_KEY, s3Writer } from "../lake-servers.mjs";

/** The guide's bucket (Amazon S3 section and "Exemplo S3 Batch"). */
export const GUIDE_BUCKET = "my-feature-store";
/** The guide's container (Azure Data Lake section). */
export const GUIDE_CONTAINER = "mycontainer";
export const CUSTOMERS = 20;

const customers = Array.from({ length: CUSTOMERS }, (_, i) => `customer_${i + 1}`);
/** customer_transactions/*.parquet: customer_N's lifetime value. */
export const transactionValue = (n) => 100 + (n - 1) * 12.5;
/** features/user_behavior/*.parquet: customer_N's behaviour score. */
export const behaviorValue = (n) => ((n - 1) % 7) / 7;
/** sessions/*.csv in Azure: customer_N's average session minutes. */
export const sessionMinutes = (n) => 3 + (n % 5) * 1.5;

function parquet(values) {
  const now = new Date();
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: "entity_id", data: customers, type: "STRING" },
        { name: "value", data: Float64Array.from(values), type: "DOUBLE" },
        { name: "timestamp", data: customers.map(() => now), type: "TIMESTAMP" },
      ],
    }),
  );
}

/** Writes the guide's Parquet files into GUIDE_BUCKET (which must exist) of the S3 server at `endpoint`. */
export async function seedGuideS3(endpoint) {
  const writer = s3Writer(endpoint);
  await writer.put(GUIDE_BUCKET, "customer_transactions/part-0000.parquet", parquet(customers.map((_, i) => transactionValue(i + 1))));
  await writer.put(GUIDE_BUCKET, "features/user_behavior/day-1.parquet", parquet(customers.map((_, i) => behaviorValue(i + 1))));
}

/**
 * Creates GUIDE_CONTAINER in the Azurite account at `endpoint`, writes the session CSV into it and
 * returns a read+list SAS token for it (what the guide's `credential` holds).
 */
export async function seedGuideAzure(endpoint) {
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  const container = new BlobServiceClient(endpoint, credential).getContainerClient(GUIDE_CONTAINER);
  await container.createIfNotExists();
  const now = new Date().toISOString();
  const csv = ["entity_id,value,timestamp", ...customers.map((c, i) => `${c},${sessionMinutes(i + 1)},${now}`)].join("\n") + "\n";
  await container.getBlockBlobClient("sessions/2024-01-01.csv").uploadData(Buffer.from(csv));
  return generateBlobSASQueryParameters(
    {
      containerName: GUIDE_CONTAINER,
      permissions: ContainerSASPermissions.parse("rl"),
      startsOn: new Date(Date.now() - 5 * 60_000),
      expiresOn: new Date(Date.now() + 7 * 24 * 3600_000),
      protocol: SASProtocol.HttpsAndHttp,
    },
    credential,
  ).toString();
}
