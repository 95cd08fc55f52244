/** Builds the Hono app: error handling, Server-Timing, body limit, auth gate, routes, OpenAPI and docs. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { docsRoutes } from "./docs-pages";
import { setMetric, timing } from "hono/timing";
import type { AppEnv } from "./env";
import { ApiError, errorResponse, handleError } from "./errors";
import { metrics, usageOf } from "./invocation";
import { feastRoutes } from "./routes/feast";
import { connectorRoutes } from "./routes/connectors";
import { deadLetterRoutes } from "./routes/dead-letters";
import { featureRoutes } from "./routes/features";
import { health, VERSION } from "./routes/health";
import { keyRoutes } from "./routes/keys";
import { onlineRoutes } from "./routes/online";
import { cachePolicy } from "./storage/online-cache";
import { runRoutes } from "./routes/runs";
import { streamRoutes } from "./routes/streams";
import { valueRoutes } from "./routes/values";
import { createUi } from "./ui/app";
import { errorHook } from "./validation";

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: errorHook });
  app.onError(handleError);
  app.notFound((c) => errorResponse(c, new ApiError("NOT_FOUND", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`)));

  // Server-Timing: where a request's time went (total, auth, registry, kv, d1, queue, encode).
  app.use("*", timing({ totalDescription: "in the Worker" }));
  app.use("*", async (c, next) => {
    await next();
    for (const m of metrics(usageOf(c.env))) setMetric(c, m.name, m.ms, m.desc);
  });
  // A wrong cache setting is refused loudly (503) rather than discovered in background work.
  app.use("*", async (c, next) => {
    cachePolicy(c.env);
    await next();
  });
  app.use("*", (c, next) =>
    bodyLimit({
      maxSize: Number(c.env.FSTORE_MAX_BODY_BYTES) || DEFAULT_MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError("PAYLOAD_TOO_LARGE", `Request body is larger than ${Number(c.env.FSTORE_MAX_BODY_BYTES) || DEFAULT_MAX_BODY_BYTES} bytes`);
      },
    })(c, next),
  );

  app.route("/", health);
  // Values first: `/features/batch` must not be read as the feature named "batch".
  app.route("/api/v1", valueRoutes);
  app.route("/api/v1", featureRoutes);
  app.route("/api/v1", keyRoutes);
  app.route("/api/v1", connectorRoutes);
  app.route("/api/v1", runRoutes);
  app.route("/api/v1", onlineRoutes);
  app.route("/api/v1", deadLetterRoutes);
  app.route("/api/v1", streamRoutes);
  app.route("/", feastRoutes);
  app.route("/ui", createUi());

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });
  const openapi = {
    openapi: "3.1.0",
    info: { title: "FStore API", version: VERSION, description: "Edge-native feature store: push, store and serve ML feature values." },
  };
  app.doc31("/openapi.json", openapi);
  // `GET /` and `/docs` (the API reference, its script served from public/ by Workers Static Assets).
  app.route("/", docsRoutes(() => app.getOpenAPI31Document(openapi)));
  return app;
}
