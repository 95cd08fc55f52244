/**
 * Local data-lake servers for the tests and the benchmark, each a child process on a free loopback
 * port: s3rver (an S3-compatible server; data in a temporary directory) and Azurite's Blob
 * service (Microsoft's emulator; data in memory). Both are gone on close. Also a SigV4 PUT helper
 * (aws4fetch) to write objects into s3rver.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { AwsClient } from "aws4fetch";
import S3rver from "s3rver";

const root = path.resolve(import.meta.dirname, "..");

/** s3rver accepts any SigV4 signature but checks that the access key id is this one. */
export const S3RVER_KEY = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
/** Azurite's well-known development account and key. */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function waitForPort(port, timeoutMs, child) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child && child.exitCode !== null) return reject(new Error(`azurite exited with code ${child.exitCode}`));
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Starts s3rver with `buckets` created; `endpoint` is its http://127.0.0.1:port. It runs in a
 * child process with OpenSSL's legacy provider: s3rver encrypts ListObjectsV2 continuation tokens
 * with DES, which Node 17+ refuses otherwise (every second listing page would fail with a 500).
 */
export async function startS3rver({ buckets = [], port: wanted = 0 } = {}) {
  const directory = await mkdtemp(path.join(tmpdir(), "fstore-s3rver-"));
  const child = spawn(process.execPath, ["--openssl-legacy-provider", import.meta.filename, "s3rver-child", String(wanted), directory, ...buckets], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const port = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^listening (\d+)$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`s3rver exited with code ${code}: ${stderr}`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    async close() {
      await stopChild(child);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function stopChild(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

/** An S3 client for s3rver: `put(bucket, key, bytes)`. */
export function s3Writer(endpoint) {
  const client = new AwsClient({ ...S3RVER_KEY, service: "s3", region: "us-east-1" });
  return {
    async put(bucket, key, body) {
      const url = `${endpoint}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
      const res = await client.fetch(url, { method: "PUT", body });
      if (!res.ok) throw new Error(`PUT ${url}: ${res.status} ${await res.text()}`);
      return res.headers.get("etag");
    },
  };
}

/** Starts Azurite's Blob service (on `port`, default a free one); `endpoint` is the account's Blob endpoint (path-style). */
export async function startAzurite({ port: wanted = 0 } = {}) {
  const port = wanted || (await freePort());
  const child = spawn(
    process.execPath,
    [
      path.join(root, "node_modules/azurite/dist/src/blob/main.js"),
      "--blobHost", "127.0.0.1",
      "--blobPort", String(port),
      "--inMemoryPersistence",
      "--silent",
      // The test data is written with a newer @azure/storage-blob than this Azurite knows.
      "--skipApiVersionCheck",
      "--loose",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  try {
    await waitForPort(port, 20_000, child);
  } catch (err) {
    child.kill();
    throw new Error(`${err.message}\n${stderr}`);
  }
  return {
    endpoint: `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`,
    close: () => stopChild(child),
  };
}

if (process.argv[1] === import.meta.filename && process.argv[2] === "s3rver-child") {
  const [wanted, directory, ...buckets] = process.argv.slice(3);
  const server = new S3rver({ address: "127.0.0.1", port: Number(wanted), silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  console.log(`listening ${port}`);
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
