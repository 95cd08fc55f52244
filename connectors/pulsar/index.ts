/**
 * Apache Pulsar, kind `stream`. Records reach FStore through a bridge that consumes over Pulsar's
 * WebSocket API (files beside this one) and posts them to `POST /api/v1/streams/{topic}/events`,
 * acknowledging only after the Worker's 202. This file is what the Worker needs: the config schema
 * (the guide's service_url and subscription_name, plus the web service URL and a token) and a
 * connection test. It stays Worker-safe: no Node-only imports here.
 */
import { z } from "zod";
import { sourceError, testFailure } from "../errors";
import { probeTcp } from "../tcp-probe";
import { secret, type Endpoint, type StreamConnector, type TestResult } from "../types";

const urlWith = (schemes: string[], example: string) =>
  z
    .string()
    .min(1)
    .max(2048)
    .refine(
      (s) => {
        try {
          const u = new URL(s);
          return schemes.includes(u.protocol) && u.hostname !== "" && u.username === "" && u.password === "";
        } catch {
          return false;
        }
      },
      { message: `must be a ${schemes.map((p) => `${p}//`).join(" or ")} URL without credentials, e.g. '${example}'` },
    );

const Segment = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, "letters, digits, '_', '-' or '.'");

export const PulsarConfig = z
  .object({
    service_url: urlWith(["pulsar:", "pulsar+ssl:"], "pulsar://localhost:6650"),
    subscription_name: z.string().min(1).max(255),
    /** HTTP(S) service URL; the WebSocket API is at its ws(s):// twin. Default: service_url's host, port 8080. */
    web_service_url: urlWith(["http:", "https:"], "http://localhost:8080").optional(),
    token: secret(z.string().min(1).max(8192).optional()),
    tenant: Segment.default("public"),
    namespace: Segment.default("default"),
    subscription_type: z.enum(["Exclusive", "Shared", "Failover", "Key_Shared"]).default("Shared"),
    /** Seconds the connection test waits for each address. */
    connect_timeout: z.number().positive().max(300).default(10),
  })
  .strict();
export type PulsarConfig = z.infer<typeof PulsarConfig>;

/** The broker's binary-protocol address (default ports 6650, 6651 with TLS). */
function serviceAddress(config: PulsarConfig): { host: string; port: number } {
  const u = new URL(config.service_url);
  return { host: u.hostname, port: u.port ? Number(u.port) : u.protocol === "pulsar+ssl:" ? 6651 : 6650 };
}

/**
 * Opens a TCP connection to the broker's service URL and, with a web_service_url, lists the
 * namespace's topics through the admin REST API with the token — which proves the token, the
 * tenant and the namespace.
 */
async function test(config: PulsarConfig): Promise<TestResult> {
  const started = Date.now();
  const secrets = config.token ? [config.token] : [];
  const { host, port } = serviceAddress(config);
  try {
    await probeTcp(host, port, config.connect_timeout * 1000);
    if (!config.web_service_url) {
      return {
        ok: true,
        message: `TCP connection opened to the broker (${host}:${port}); no web_service_url is set, so the token, tenant and namespace were not checked (the bridge checks them when it subscribes)`,
        latency_ms: Date.now() - started,
      };
    }
    const base = config.web_service_url.replace(/\/+$/, "");
    const path = `/admin/v2/persistent/${config.tenant}/${config.namespace}`;
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        headers: config.token ? { authorization: `Bearer ${config.token}` } : {},
        redirect: "manual",
        signal: AbortSignal.timeout(config.connect_timeout * 1000),
      });
    } catch (err) {
      const e = err as Error;
      throw e?.name === "TimeoutError" ? sourceError("timeout", `no answer from the web service (${base}) within ${config.connect_timeout}s`) : err;
    }
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403) return { ok: false, kind: "auth", message: `the web service (${base}) refused the token: HTTP ${res.status} on GET ${path}` };
    if (res.status === 404) return { ok: false, kind: "unknown", message: `the web service (${base}) has no namespace ${config.tenant}/${config.namespace}: HTTP 404 on GET ${path}` };
    if (!res.ok) return { ok: false, kind: "unknown", message: `the web service (${base}) answered HTTP ${res.status} on GET ${path}` };
    return {
      ok: true,
      message: `TCP connection opened to the broker (${host}:${port}), and the web service (${base}) listed the topics of ${config.tenant}/${config.namespace}${config.token ? " with the token" : " (no token set)"}`,
      latency_ms: Date.now() - started,
    };
  } catch (err) {
    return testFailure(err, secrets);
  }
}

export const pulsarConnector: StreamConnector<typeof PulsarConfig> = {
  type: "pulsar",
  kind: "stream",
  configSchema: PulsarConfig,
  endpoints: (config): Endpoint[] => [
    { field: "service_url", host: serviceAddress(config).host },
    ...(config.web_service_url ? [{ field: "web_service_url", host: new URL(config.web_service_url).hostname }] : []),
  ],
  test,
};
