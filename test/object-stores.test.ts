/**
 * The object-store contract (test/contract/object-store.ts) against both data-lake connectors' real
 * servers: s3rver (S3) and Azurite (Azure Data Lake / Blob). Each target is its connector config, a
 * writer for objects, how it names a file, and credentials it refuses; the tests are the same.
 */
import { env } from "cloudflare:test";
import { AwsClient } from "aws4fetch";
import { expect } from "vitest";
import { objectStoreContract } from "./contract/object-store";
import { BUCKET, CONTAINER } from "./lake-fixtures";
import { adlsConfig, s3Config } from "./lake-helpers";

const s3Writer = new AwsClient({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER", service: "s3", region: "us-east-1" });

objectStoreContract({
  name: "S3 (s3rver)",
  prefix: "s3",
  type: "s3",
  config: s3Config,
  async put(key, body) {
    const res = await s3Writer.fetch(`${env.TEST_S3_ENDPOINT}/${BUCKET}/${key}`, { method: "PUT", body });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  },
  location: (key) => `s3://${BUCKET}/${key}`,
  // s3rver checks the access key id (not signatures: SigV4 is checked in s3-connector.test.ts).
  wrongCredentials: {
    config: s3Config({ aws_access_key_id: "NOT-A-KEY-1234", aws_secret_access_key: "wrong-secret-5678" }),
    secrets: ["NOT-A-KEY-1234", "wrong-secret-5678", "S3RVER"],
    testSays: "access denied",
    runSays: "access denied (InvalidAccessKeyId)",
  },
});

/** The connector's SAS with its signature replaced by another valid-looking one; Azurite checks it. */
const tamperedSig = encodeURIComponent(btoa("x".repeat(32)));

objectStoreContract({
  name: "Azure Data Lake (Azurite)",
  prefix: "adls",
  type: "adls",
  config: adlsConfig,
  async put(key, body) {
    // The connector's own SAS only reads and lists.
    const res = await fetch(`${env.TEST_AZURE_ENDPOINT}/${CONTAINER}/${key}?${env.TEST_AZURE_WRITE_SAS}`, {
      method: "PUT",
      headers: { "x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-08-06", "content-type": "text/csv" },
      body,
    });
    expect(res.status).toBe(201);
    await res.arrayBuffer();
  },
  location: (key) => `abfs://${CONTAINER}@devstoreaccount1/${key}`,
  wrongCredentials: {
    config: adlsConfig({ credential: env.TEST_AZURE_SAS.replace(/sig=[^&]+/, `sig=${tamperedSig}`) }),
    secrets: ["sig=", tamperedSig],
    testSays: "check that 'credential' is a valid, unexpired SAS token",
    runSays: "access denied",
  },
});
