/**
 * vitest globalSetup (Node side) for the egress tests, all on 127.0.0.1:
 * - a DNS-over-HTTPS (JSON) responder that the Worker's egress check uses in tests
 *   (`FSTORE_DNS_RESOLVER`). This machine has no Internet, so no real resolver can answer (a
 *   stand-in, said so in docs/connectors.md); it serves a few fixed names and NXDOMAIN for the rest,
 *   and never a public address, so no test can make the Worker connect outside this machine;
 * - a "hostile store": answers every request with a redirect to a recorder (which counts what
 *   reaches it, and which headers came along), or, under /body, with an error body full of text a
 *   connection test must not echo.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    dnsResolver: string;
    hostileStore: string;
    redirectRecorder: string;
  }
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Text the hostile store puts in its error bodies; no FStore answer may contain it. */
export const ECHO_MARKER = "REMOTE-BODY-TEXT-7f3a";

/** Test names and the addresses they resolve to. */
export const TEST_DNS: Record<string, { A?: string[]; AAAA?: string[] }> = {
  "loopback.fstore.test": { A: ["127.0.0.1"] },
  "private.fstore.test": { A: ["10.0.0.7"] },
  "metadata.fstore.test": { A: ["169.254.169.254"] },
  "mixed.fstore.test": { A: ["127.0.0.1"], AAAA: ["fd00::7"] },
  "mapped.fstore.test": { AAAA: ["::ffff:169.254.169.254"] },
};

export default async function setup(project: TestProject) {
  const dns = await listen((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const name = (url.searchParams.get("name") ?? "").toLowerCase().replace(/\.$/, "");
    const type = url.searchParams.get("type") === "AAAA" ? "AAAA" : "A";
    const record = TEST_DNS[name];
    const body = record
      ? { Status: 0, Answer: (record[type] ?? []).map((data) => ({ name, type: type === "A" ? 1 : 28, TTL: 60, data })) }
      : { Status: 3, Answer: [] };
    res.writeHead(200, { "content-type": "application/dns-json" });
    res.end(JSON.stringify(body));
  });
  const seen: { url: string; headers: Record<string, unknown> }[] = [];
  const recorder = await listen((req, res) => {
    if (req.url === "/seen") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(seen));
      return;
    }
    seen.push({ url: req.url ?? "", headers: req.headers });
    res.writeHead(200, { "content-type": "application/xml" });
    res.end("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  });
  const hostile = await listen((req, res) => {
    if ((req.url ?? "").includes("/body")) {
      res.writeHead(500, { "content-type": "application/xml", "x-ms-error-code": `<${ECHO_MARKER}>` });
      res.end(`<Error><Code>${ECHO_MARKER}</Code><Message>${ECHO_MARKER} internal details</Message></Error>`);
      return;
    }
    res.writeHead(307, { location: `${recorder.url}${req.url ?? "/"}` });
    res.end();
  });
  project.provide("dnsResolver", `${dns.url}/dns-query`);
  project.provide("hostileStore", hostile.url);
  project.provide("redirectRecorder", recorder.url);
  return async () => {
    await Promise.all([dns.close(), recorder.close(), hostile.close()]);
  };
}
