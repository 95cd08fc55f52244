/**
 * Bare baseline for the online benchmark: `POST /online-features?entities=N` drains the request
 * body and answers a fixed JSON body — exactly what FStore answers for entities e0..e{N-1} and the
 * benchmark's 50 features (bench/online-workload.mjs) — built once per N and reused. No auth, no
 * parsing, no storage: the floor of a Worker answering that many bytes under `wrangler dev`.
 */
import { onlineResponse } from "../online-workload.mjs";

/** N → the body, serialised once. */
const bodies = new Map();

function bodyFor(n) {
  let body = bodies.get(n);
  if (body === undefined) {
    body = JSON.stringify(onlineResponse(Array.from({ length: n }, (_, e) => e)));
    bodies.set(n, body);
  }
  return body;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/health") return Response.json({ status: "ok" });
    if (request.method === "POST" && url.pathname === "/online-features") {
      await request.arrayBuffer();
      const n = Number(url.searchParams.get("entities") ?? "1");
      if (!Number.isInteger(n) || n < 1 || n > 1000) return new Response("entities must be 1..1000", { status: 400 });
      return new Response(bodyFor(n), { headers: { "content-type": "application/json" } });
    }
    return new Response("not found", { status: 404 });
  },
};
