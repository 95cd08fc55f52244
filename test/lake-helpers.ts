/** Shared by the data-lake tests: connector configs for s3rver and Azurite, runs and their files, the formats/ files' values. */
import { env } from "cloudflare:test";
import { expect } from "vitest";
import { call, callJson, registerFeature, waitForRun as pollRun } from "./helpers";
import { BUCKET, CONTAINER, FORMAT_ROWS, fixtureRow, isoOf } from "./lake-fixtures";

/** The guide's S3 config plus the endpoint of the local s3rver. */
export const s3Config = (over: Record<string, unknown> = {}) => ({
  bucket: BUCKET,
  aws_access_key_id: "S3RVER",
  aws_secret_access_key: "S3RVER",
  region: "us-east-1",
  endpoint: env.TEST_S3_ENDPOINT,
  ...over,
});

/** The guide's Azure Data Lake config plus Azurite's endpoint. */
export const adlsConfig = (over: Record<string, unknown> = {}) => ({
  account_name: "devstoreaccount1",
  container: CONTAINER,
  credential: env.TEST_AZURE_SAS,
  endpoint: env.TEST_AZURE_ENDPOINT,
  ...over,
});

export async function createConnector(name: string, type: string, config: Record<string, unknown>) {
  return callJson("POST", "/api/v1/connectors", 201, { body: { name, type, config } });
}

export interface Run {
  id: string;
  status: string;
  rows_read: number;
  rows_written: number;
  rows_unchanged: number;
  watermark: string | null;
  error: string | null;
}

export interface RunFiles {
  files_matched: number;
  files_skipped: number;
  invocations: number;
  files: { key: string; etag: string; status: string; rows_read: number; rows_written: number; error: string | null }[];
}

/** Runs a feature now, in the request, and returns the finished run. */
export const materialize = (feature: string) => callJson<Run>("POST", `/api/v1/features/${feature}/materialize?wait=true`, 200);
export const runFiles = (runId: string) => callJson<RunFiles>("GET", `/api/v1/runs/${runId}/files?limit=10000`, 200);

export async function latest(feature: string, entity: string) {
  return callJson<{ value: unknown; timestamp: string }>("GET", `/api/v1/features/${feature}/values/${encodeURIComponent(entity)}`, 200);
}

/** The values of rows 0, 1, 7 and the last of a formats/ file, as the API serves them. */
export async function expectFixtureValues(feature: string, prefix: string) {
  for (const i of [0, 1, 7, FORMAT_ROWS - 1]) {
    const want = fixtureRow(prefix, i);
    expect(await latest(feature, want.entity_id)).toMatchObject({ value: want.value, timestamp: isoOf(want.timestamp) });
  }
}

/** Registers a file feature on `connector` and runs it once. */
export async function ingest(name: string, connector: string, def: Record<string, unknown>) {
  await registerFeature({ name, entity_id: "thing", connector, ...def });
  const run = await materialize(name);
  return { run, files: await runFiles(run.id) };
}

export { call };
/** Polls a queued run until it has finished. */
export const waitForRun = (runId: string) => pollRun<Run>(runId);
