/**
 * Features: the searchable, filterable registry (paginated by name on the server), and a
 * feature's page — definition, connector, schedule, values of an entity over time, values per
 * hour, latest values of a sample of entities with their online statuses, its runs, and "run now".
 */
import { z } from "@hono/zod-openapi";
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import { EntityId, Name } from "../../schemas/common";
import { valueTypes } from "../../value-types";
import { HourBars, LineChart } from "../charts";
import { ENTITY_COUNT_CAP, featureGroupNames, featurePage, listFeatures, materializeNow, type FeatureDetail, type FeatureListRow, type Viewer } from "../data";
import { clip, duration, int, numeric, showValue, span, ttl } from "../format";
import { allow, can, signedIn, type UiEnv } from "../guard";
import { Badge, Csrf, Notice, Page, Pager, render } from "../layout";
import { optional, pageSize, parseWith } from "../query";

const SOURCES = ["push", "sql", "file", "stream"] as const;

const ListQuery = z.object({
  q: optional(z.string().max(200, "search text is at most 200 characters")),
  group: optional(Name),
  entity: optional(Name),
  source: optional(z.enum(SOURCES)),
  type: optional(z.enum(valueTypes)),
  connector: optional(Name),
  limit: pageSize(50, 200),
  after: optional(z.string().max(260)),
  before: optional(z.string().max(260)),
});
type ListParams = Partial<Record<keyof z.infer<typeof ListQuery>, string>>;

const Freshness: FC<{ row: FeatureListRow; now: number }> = ({ row, now }) => {
  if (!row.newest) return <span class="muted">no values</span>;
  const age = now - row.newest.ms;
  const stale = row.ttlSeconds !== null && age > row.ttlSeconds * 1000;
  return (
    <span title={row.newest.iso}>
      {span(age)} ago {stale ? <Badge kind="stale" text="past ttl" /> : null}
    </span>
  );
};

const Filters: FC<{ params: ListParams; groups: string[] }> = ({ params, groups }) => (
  <form class="filters card" method="get" action="/ui/features" role="search">
    <label>
      Search
      <input type="search" name="q" value={params.q ?? ""} placeholder="name or description" maxlength={200} />
    </label>
    <label>
      Group
      <input name="group" value={params.group ?? ""} list="feature-groups" placeholder="any" />
    </label>
    <datalist id="feature-groups">
      {groups.map((g) => (
        <option value={g} />
      ))}
    </datalist>
    <label>
      Entity
      <input name="entity" value={params.entity ?? ""} placeholder="any" />
    </label>
    <label>
      Source
      <select name="source">
        <option value="">any</option>
        {SOURCES.map((s) => (
          <option value={s} selected={params.source === s}>
            {s}
          </option>
        ))}
      </select>
    </label>
    <label>
      Value type
      <select name="type">
        <option value="">any</option>
        {valueTypes.map((t) => (
          <option value={t} selected={params.type === t}>
            {t}
          </option>
        ))}
      </select>
    </label>
    {params.connector ? <input type="hidden" name="connector" value={params.connector} /> : null}
    <label>
      Per page
      <select name="limit">
        {["25", "50", "100", "200"].map((n) => (
          <option value={n} selected={(params.limit ?? "50") === n}>
            {n}
          </option>
        ))}
      </select>
    </label>
    <button type="submit">Filter</button>
    <a href="/ui/features">Clear</a>
  </form>
);

const FeatureTable: FC<{ rows: FeatureListRow[]; now: number }> = ({ rows, now }) => (
  <table>
    <thead>
      <tr>
        <th>Name</th>
        <th>Group</th>
        <th>Entity</th>
        <th>Source</th>
        <th>Type</th>
        <th>TTL</th>
        <th>Freshness</th>
        <th class="num">Entities</th>
      </tr>
    </thead>
    <tbody>
      {rows.map((r) => (
        <tr>
          <td>
            <a href={`/ui/features/${encodeURIComponent(r.ref)}`}>{r.ref}</a>
            {r.description ? <div class="muted small wrap">{clip(r.description, 100)}</div> : null}
          </td>
          <td>
            <a href={`/ui/features?group=${encodeURIComponent(r.group)}`}>{r.group}</a>
          </td>
          <td>{r.entity}</td>
          <td>
            {r.source}
            {r.connector ? <div class="muted small">via {r.connector}</div> : null}
          </td>
          <td>{r.valueType}</td>
          <td>{ttl(r.ttlSeconds)}</td>
          <td>
            <Freshness row={r} now={now} />
          </td>
          <td class="num">{r.entities > ENTITY_COUNT_CAP ? `${int(ENTITY_COUNT_CAP)}+` : int(r.entities)}</td>
        </tr>
      ))}
    </tbody>
  </table>
);

const FeatureList: FC<{ viewer: Viewer; csrf: string; params: ListParams; groups: string[]; errors?: string[]; result?: Awaited<ReturnType<typeof listFeatures>> }> = (p) => {
  const now = Date.now();
  return (
    <Page title="Features" section="features" viewer={p.viewer} csrf={p.csrf}>
      <h1>Features {p.result ? <span class="muted small">{int(p.result.total)} matching</span> : null}</h1>
      {p.params.connector ? <Notice kind="info">Features that read from connector {p.params.connector}.</Notice> : null}
      <Filters params={p.params} groups={p.groups} />
      {p.errors ? (
        <Notice kind="error">
          {p.errors.map((e) => (
            <div>{e}</div>
          ))}
        </Notice>
      ) : null}
      {p.result ? (
        <div class="card">
          {p.result.rows.length === 0 ? <p class="muted">No features match.</p> : <FeatureTable rows={p.result.rows} now={now} />}
          <Pager base="/ui/features" params={p.params} prev={p.result.prev} next={p.result.next} />
        </div>
      ) : null}
    </Page>
  );
};

const Definition: FC<{ f: FeatureDetail }> = ({ f }) => {
  const { definition } = f;
  const sourceFields = Object.entries(definition).filter(
    ([k]) => !["id", "name", "description", "entity_id", "feature_group", "value_type", "ttl", "tags", "owner", "source_type", "created_at", "updated_at"].includes(k),
  );
  return (
    <div class="card">
      <h2>Definition</h2>
      <dl class="props">
        <dt>Group</dt>
        <dd>
          <a href={`/ui/features?group=${encodeURIComponent(f.group)}`}>{f.group}</a>
        </dd>
        <dt>Entity</dt>
        <dd>{f.entity}</dd>
        <dt>Value type</dt>
        <dd>{f.valueType}</dd>
        <dt>TTL</dt>
        <dd>{ttl(f.ttlSeconds)}</dd>
        <dt>Source</dt>
        <dd>{f.source}</dd>
        <dt>Entities</dt>
        <dd>{int(f.entities)} with a value</dd>
        {definition.owner ? (
          <>
            <dt>Owner</dt>
            <dd>{String(definition.owner)}</dd>
          </>
        ) : null}
        {Object.keys((definition.tags as Record<string, string>) ?? {}).length ? (
          <>
            <dt>Tags</dt>
            <dd class="mono">{JSON.stringify(definition.tags)}</dd>
          </>
        ) : null}
        {sourceFields
          .filter(([k]) => k !== "query")
          .map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd class="mono">{typeof v === "string" ? v : JSON.stringify(v)}</dd>
            </>
          ))}
        <dt>Created</dt>
        <dd>{String(definition.created_at)}</dd>
        <dt>Updated</dt>
        <dd>{String(definition.updated_at)}</dd>
      </dl>
      {typeof definition.query === "string" ? (
        <>
          <h2 class="small muted spaced-top">Query</h2>
          <pre>{definition.query}</pre>
        </>
      ) : null}
    </div>
  );
};

const ConnectorCard: FC<{ f: FeatureDetail; viewer: Viewer; csrf: string }> = ({ f, viewer, csrf }) => {
  const c = f.connector;
  return (
    <div class="card">
      <h2>Connector</h2>
      {c === null ? (
        <p class="muted">{f.source === "push" ? "Pushed over the API: no connector." : "The definition names no connector."}</p>
      ) : "missing" in c ? (
        <Notice kind="error">Connector {c.name} does not exist (any more): runs of this feature fail until it is created again.</Notice>
      ) : (
        <>
          <dl class="props">
            <dt>Name</dt>
            <dd>
              <a href={`/ui/connectors#connector-${c.name}`}>{c.name}</a>
            </dd>
            <dt>Type</dt>
            <dd>{c.type}</dd>
            <dt>Config</dt>
            <dd class="mono">{JSON.stringify(c.config)}</dd>
            {c.secretFields.length ? (
              <>
                <dt>Secrets</dt>
                <dd class="muted">{c.secretFields.join(", ")} (encrypted, never shown)</dd>
              </>
            ) : null}
          </dl>
          {can(viewer, "admin") ? (
            <form method="post" action={`/ui/connectors/${encodeURIComponent(c.name)}/test`} class="actions">
              <Csrf token={csrf} />
              <button class="secondary" type="submit">
                Test connection
              </button>
            </form>
          ) : null}
        </>
      )}
      {f.schedule ? (
        <>
          <h2 class="small muted spaced-top">Schedule</h2>
          <dl class="props">
            <dt>Next run</dt>
            <dd>{f.schedule.nextRun ? f.schedule.nextRun.iso : "not scheduled"}</dd>
            <dt>Watermark</dt>
            <dd class="mono">{f.schedule.watermark ?? "—"}</dd>
            <dt>Failures in a row</dt>
            <dd>{f.schedule.failures}</dd>
            <dt>Run in progress</dt>
            <dd>{f.schedule.leased ? "yes" : "no"}</dd>
          </dl>
        </>
      ) : null}
    </div>
  );
};

const DetailQuery = z.object({
  entity: optional(EntityId),
  sample_after: optional(z.string().max(256)),
});

const HISTORY_POINTS = 500;
const SAMPLE_SIZE = 20;
const HOURS = 168;

export const featureRoutes = new Hono<UiEnv>()
  .use("*", signedIn)
  .get("/", async (c) => {
    const raw = c.req.query();
    const params: ListParams = raw;
    const groups = await featureGroupNames(c.env);
    const parsed = parseWith(ListQuery, raw);
    const page = { viewer: c.get("viewer"), csrf: c.get("csrf"), params, groups };
    if (!parsed.ok) return render(c, <FeatureList {...page} errors={parsed.errors} />, 400);
    return render(c, <FeatureList {...page} result={await listFeatures(c.env, parsed.data)} />);
  })
  .get("/:name", async (c) => {
    const name = c.req.param("name");
    const viewer = c.get("viewer");
    const csrf = c.get("csrf");
    const parsed = parseWith(DetailQuery, c.req.query());
    const query = parsed.ok ? parsed.data : {};
    const options = { entity: query.entity, sampleAfter: query.sample_after, points: HISTORY_POINTS, hours: HOURS, sampleSize: SAMPLE_SIZE, runs: 10 };
    // FEATURE_NOT_FOUND → 404 page
    const { detail: f, history, hours, sample, runs } = await featurePage(c.env, name, options, (p) => c.executionCtx.waitUntil(p));
    const chartable = history.points.map((p) => ({ ms: p.at.ms, y: numeric(p.value), label: `${p.at.iso}: ${showValue(p.value)}` }));
    const numericPoints = chartable.filter((p): p is { ms: number; y: number; label: string } => p.y !== null);
    return render(
      c,
      <Page title={f.ref} section="features" viewer={viewer} csrf={csrf}>
        <div class="actions">
          <h1>{f.ref}</h1>
          <Badge kind={f.source} />
          {f.materializable && can(viewer, "write") ? (
            <form method="post" action={`/ui/features/${encodeURIComponent(f.ref)}/materialize`}>
              <Csrf token={csrf} />
              <button type="submit">Run now</button>
            </form>
          ) : null}
        </div>
        {f.description ? <p class="wrap">{f.description}</p> : null}
        {parsed.ok ? null : (
          <Notice kind="error">
            {parsed.errors.map((e) => (
              <div>{e}</div>
            ))}
          </Notice>
        )}
        <div class="grid2 spaced">
          <Definition f={f} />
          <ConnectorCard f={f} viewer={viewer} csrf={csrf} />
        </div>
        <div class="card">
          <div class="actions">
            <h2>Values over time{history.entity !== null ? <> for entity <span class="mono">{history.entity}</span></> : null}</h2>
          </div>
          <form method="get" action={`/ui/features/${encodeURIComponent(f.ref)}`} class="filters">
            <label>
              Entity
              <input name="entity" value={query.entity ?? history.entity ?? ""} maxlength={256} required />
            </label>
            <button type="submit" class="secondary">
              Show
            </button>
          </form>
          {history.points.length === 0 ? (
            <p class="muted">{history.entity === null ? "This feature has no values yet." : "No values for this entity."}</p>
          ) : numericPoints.length > 0 ? (
            <LineChart points={numericPoints} title={`${f.name} for ${history.entity}: last ${history.points.length} values`} />
          ) : (
            <p class="muted">Values of type {f.valueType} are listed, not charted.</p>
          )}
          {history.points.length > 0 ? (
            <table>
              <thead>
                <tr>
                  <th>Timestamp</th>
                  <th>Value</th>
                </tr>
              </thead>
              <tbody>
                {history.points
                  .slice(-10)
                  .reverse()
                  .map((p) => (
                    <tr>
                      <td class="mono">{p.at.iso}</td>
                      <td class="mono wrap">{showValue(p.value, 200)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          ) : null}
          {history.points.length > 0 ? <p class="muted small">The newest {int(history.points.length)} values (at most {HISTORY_POINTS}); the table shows the last 10.</p> : null}
        </div>
        <div class="card">
          <h2>Values per hour</h2>
          {hours.length === 0 ? (
            <p class="muted">No values yet.</p>
          ) : (
            <>
              <HourBars bars={hours.map((h) => ({ ms: h.hour.ms, count: h.count }))} title={`Values of ${f.name} per hour, by value timestamp`} />
              <p class="muted small">
                By value timestamp, the {HOURS} hours up to the newest value ({int(hours.reduce((s, h) => s + h.count, 0))} values).
              </p>
            </>
          )}
        </div>
        <div class="card">
          <h2>Latest values</h2>
          {sample.cells.length === 0 ? (
            <p class="muted">No entity has a value{query.sample_after ? " after this one" : ""}.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Entity</th>
                  <th>Value</th>
                  <th>Status</th>
                  <th>Timestamp</th>
                </tr>
              </thead>
              <tbody>
                {sample.cells.map((cell) => (
                  <tr>
                    <td>
                      <a href={`/ui/features/${encodeURIComponent(f.ref)}?entity=${encodeURIComponent(cell.entity)}`} class="mono">
                        {cell.entity}
                      </a>
                    </td>
                    <td class="mono wrap">{showValue(cell.value, 200)}</td>
                    <td>
                      <Badge kind={cell.status} />
                    </td>
                    <td class="mono">{cell.at?.iso ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div class="pager">
            {query.sample_after ? <a href={`/ui/features/${encodeURIComponent(f.ref)}`}>← First entities</a> : null}
            {sample.next !== null ? <a href={`/ui/features/${encodeURIComponent(f.ref)}?sample_after=${encodeURIComponent(sample.next)}`}>Next entities →</a> : null}
            <span class="muted small">Read through the online path, as /api/v1/online-features answers (statuses apply the ttl).</span>
          </div>
        </div>
        <div class="card">
          <h2>Runs</h2>
          {runs.length === 0 ? (
            <p class="muted">No runs.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Run</th>
                  <th>Status</th>
                  <th>Trigger</th>
                  <th class="num">Read</th>
                  <th class="num">Written</th>
                  <th class="num">Unchanged</th>
                  <th>Duration</th>
                  <th>Error</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr>
                    <td>
                      <a href={`/ui/runs/${r.id}`} class="mono">
                        {r.created_at}
                      </a>
                    </td>
                    <td>
                      <Badge kind={r.status} />
                    </td>
                    <td>{r.trigger}</td>
                    <td class="num">{int(r.rows_read)}</td>
                    <td class="num">{int(r.rows_written)}</td>
                    <td class="num">{int(r.rows_unchanged)}</td>
                    <td>{duration(r.duration_ms)}</td>
                    <td class="wrap small">{r.error ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div class="pager">
            <a href={`/ui/runs?feature=${encodeURIComponent(f.ref)}`}>All runs of {f.name} →</a>
          </div>
        </div>
      </Page>,
      parsed.ok ? 200 : 400,
    );
  })
  .post("/:name/materialize", allow("write"), async (c) => {
    const runId = await materializeNow(c.env, c.req.param("name"));
    return c.redirect(`/ui/runs/${runId}`, 303);
  });
