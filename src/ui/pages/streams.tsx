/**
 * Streams: streaming ingestion (Kafka/Pulsar bridges, the `events` consumer, windows) is not built
 * yet, so this page says so plainly instead of showing figures; it lists how many stream feature
 * definitions are registered and waiting for it.
 */
import { Hono } from "hono";
import { countStreamFeatures } from "../data";
import { int } from "../format";
import { signedIn, type UiEnv } from "../guard";
import { Notice, Page, render } from "../layout";

export const streamRoutes = new Hono<UiEnv>().use("*", signedIn).get("/", async (c) => {
  const registered = await countStreamFeatures(c.env);
  return render(
    c,
    <Page title="Streams" section="streams" viewer={c.get("viewer")} csrf={c.get("csrf")}>
      <h1>Streams</h1>
      <Notice kind="info">
        Streaming is not configured: this version of FStore does not process stream events yet (see docs/roadmap.md), so there are no events/s,
        late events, last event times or lag to show.
      </Notice>
      <div class="card">
        {registered === 0 ? (
          <p class="muted">No stream features are registered.</p>
        ) : (
          <p>
            <a href="/ui/features?source=stream">{int(registered)} stream feature definitions</a> are registered; they receive values once streaming
            lands.
          </p>
        )}
      </div>
    </Page>,
  );
});
