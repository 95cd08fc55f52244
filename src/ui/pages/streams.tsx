/**
 * Streams: per stream feature, what it reads (topic, connector, aggregation, window) and how its
 * stream is going — events per second over the last whole minute, late, duplicate and rejected
 * events, the newest event time and the lag (how long after its event time the newest event was
 * applied). The counters are the ones GET /api/v1/streams returns (src/streams/registry.ts).
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import type { StreamSource } from "../../registry/sources";
import { streamFeatureStats } from "../../streams/registry";
import { int, span } from "../format";
import { signedIn, type UiEnv } from "../guard";
import { Page, render } from "../layout";

type Row = Awaited<ReturnType<typeof streamFeatureStats>>[number];

function reads(s: StreamSource): string {
  if (s.windowMs === null) return s.aggregation;
  return `${s.aggregation} over ${span(s.windowMs)} (${s.kind}${s.kind === "sliding" && s.tileMs !== null ? `, every ${span(s.tileMs)}` : ""})`;
}

/** Events/s over the last whole minute, with one decimal below 10. */
function rate(eventsLastMinute: number): string {
  const perSecond = eventsLastMinute / 60;
  return perSecond === 0 ? "0" : perSecond < 10 ? perSecond.toFixed(1) : int(Math.round(perSecond));
}

function lag(row: Row): string {
  const { last_event_time, last_applied_at } = row.stats;
  if (last_event_time === null || last_applied_at === null) return "—";
  return span(Math.max(0, Date.parse(last_applied_at) - Date.parse(last_event_time)));
}

const age = (iso: string | null, now: number) => (iso === null ? "never" : `${span(now - Date.parse(iso))} ago`);

const StreamTable: FC<{ rows: Row[]; now: number }> = ({ rows, now }) => (
  <table>
    <thead>
      <tr>
        <th>Feature</th>
        <th>Topic</th>
        <th>Connector</th>
        <th>Reads</th>
        <th class="num">Events/s</th>
        <th class="num">Events</th>
        <th class="num">Late</th>
        <th class="num">Duplicates</th>
        <th class="num">Rejected</th>
        <th>Last event</th>
        <th>Lag</th>
      </tr>
    </thead>
    <tbody>
      {rows.map((r) => (
        <tr>
          <td>
            <a href={`/ui/features/${encodeURIComponent(r.ref)}`}>{r.ref}</a>
          </td>
          <td class="mono">{r.stream.topic}</td>
          <td>{r.stream.connector === null ? <span class="muted">HTTP only</span> : r.stream.connector}</td>
          <td>{reads(r.stream)}</td>
          <td class="num">{rate(r.stats.events_last_minute)}</td>
          <td class="num">{int(r.stats.events)}</td>
          <td class="num">{int(r.stats.late_events)}</td>
          <td class="num">{int(r.stats.duplicates)}</td>
          <td class="num">{int(r.stats.rejected)}</td>
          <td title={r.stats.last_event_time ?? undefined}>{age(r.stats.last_event_time, now)}</td>
          <td>{lag(r)}</td>
        </tr>
      ))}
    </tbody>
  </table>
);

export const streamRoutes = new Hono<UiEnv>().use("*", signedIn).get("/", async (c) => {
  const rows = await streamFeatureStats(c.env.DB);
  return render(
    c,
    <Page title="Streams" section="streams" viewer={c.get("viewer")} csrf={c.get("csrf")}>
      <h1>Streams</h1>
      <p class="muted">
        Events reach FStore through <code>POST /api/v1/streams/&#123;topic&#125;/events</code>, from the Kafka and Pulsar bridges (
        <code>npm run stream</code>) or any producer. Events/s counts the last whole minute; lag is how long after its event time the newest event
        was applied.
      </p>
      <div class="card">{rows.length === 0 ? <p class="muted">No stream features are registered.</p> : <StreamTable rows={rows} now={Date.now()} />}</div>
    </Page>,
  );
});
