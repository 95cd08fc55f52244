/**
 * Runs: every materialization run (all features, newest first, paginated on the server) with
 * status, trigger, rows read/written/unchanged, duration and error; a run's page with a data-lake
 * run's per-file results. Queued and running runs show live progress (app.js polls `/live`).
 */
import { z } from "@hono/zod-openapi";
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import { FeatureRef } from "../../registry/refs";
import { listRuns, RUN_CURSOR, runDetail, runsById, type RunRow, type Viewer } from "../data";
import { bytes, duration, int } from "../format";
import { signedIn, type UiEnv } from "../guard";
import { Badge, Notice, Page, Pager, render } from "../layout";
import { optional, pageSize, parseWith } from "../query";

const STATUSES = ["queued", "running", "succeeded", "failed"] as const;
const TRIGGERS = ["schedule", "manual"] as const;
const RUN_ID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

const ListQuery = z.object({
  status: optional(z.enum(STATUSES)),
  trigger: optional(z.enum(TRIGGERS)),
  feature: optional(FeatureRef),
  limit: pageSize(50, 200),
  after: optional(z.string().regex(RUN_CURSOR, "not a page cursor")),
  before: optional(z.string().regex(RUN_CURSOR, "not a page cursor")),
});
type ListParams = Partial<Record<keyof z.infer<typeof ListQuery>, string>>;

const live = (r: RunRow) => r.status === "queued" || r.status === "running";

function progressText(r: RunRow): string {
  if (r.progress.filesTotal !== null) return `${int(r.progress.filesDone ?? 0)} of ${int(r.progress.filesTotal)} files`;
  return `${int(r.rowsRead)} rows read`;
}

/** What app.js receives for a live run. */
const liveJson = (r: RunRow) => ({
  id: r.id,
  status: r.status,
  rowsRead: r.rowsRead,
  rowsWritten: r.rowsWritten,
  rowsUnchanged: r.rowsUnchanged,
  fraction: r.progress.fraction,
  progressText: progressText(r),
});

const Progress: FC<{ run: RunRow }> = ({ run }) => (
  <span>
    {run.progress.fraction === null ? <progress data-field="progress" max={1} /> : <progress data-field="progress" value={run.progress.fraction} max={1} />}{" "}
    <span class="muted small" data-field="progressText">
      {progressText(run)}
    </span>
  </span>
);

const RefreshWithoutScript: FC = () => (
  <noscript>
    <meta http-equiv="refresh" content="5" />
  </noscript>
);

const RunTable: FC<{ runs: RunRow[] }> = ({ runs }) => (
  <table>
    <thead>
      <tr>
        <th>Started</th>
        <th>Feature</th>
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
        <tr data-live-run={live(r) ? r.id : undefined}>
          <td class="mono nowrap">
            <a href={`/ui/runs/${r.id}`}>{(r.started ?? r.created).iso.slice(0, 19).replace("T", " ")}</a>
          </td>
          <td>
            <a href={`/ui/features/${encodeURIComponent(r.feature)}`}>{r.feature}</a>
          </td>
          <td>
            <span data-field="status" class={`badge ${r.status}`}>
              {r.status}
            </span>
          </td>
          <td>{r.trigger}</td>
          <td class="num" data-field="rowsRead">
            {int(r.rowsRead)}
          </td>
          <td class="num" data-field="rowsWritten">
            {int(r.rowsWritten)}
          </td>
          <td class="num" data-field="rowsUnchanged">
            {int(r.rowsUnchanged)}
          </td>
          <td>{live(r) ? <Progress run={r} /> : duration(r.durationMs)}</td>
          <td class="wrap small" title={r.error ?? undefined}>
            {r.error ? (r.error.length > 160 ? `${r.error.slice(0, 159)}…` : r.error) : ""}
          </td>
        </tr>
      ))}
    </tbody>
  </table>
);

const Filters: FC<{ params: ListParams }> = ({ params }) => (
  <form class="filters card" method="get" action="/ui/runs">
    <label>
      Feature
      <input name="feature" value={params.feature ?? ""} placeholder="any" />
    </label>
    <label>
      Status
      <select name="status">
        <option value="">any</option>
        {STATUSES.map((s) => (
          <option value={s} selected={params.status === s}>
            {s}
          </option>
        ))}
      </select>
    </label>
    <label>
      Trigger
      <select name="trigger">
        <option value="">any</option>
        {TRIGGERS.map((t) => (
          <option value={t} selected={params.trigger === t}>
            {t}
          </option>
        ))}
      </select>
    </label>
    <button type="submit">Filter</button>
    <a href="/ui/runs">Clear</a>
  </form>
);

const RunList: FC<{ viewer: Viewer; csrf: string; params: ListParams; errors?: string[]; result?: Awaited<ReturnType<typeof listRuns>> }> = (p) => (
  <Page title="Runs" section="runs" viewer={p.viewer} csrf={p.csrf} head={p.result?.rows.some(live) ? <RefreshWithoutScript /> : null}>
    <h1>Runs</h1>
    <Filters params={p.params} />
    {p.errors ? (
      <Notice kind="error">
        {p.errors.map((e) => (
          <div>{e}</div>
        ))}
      </Notice>
    ) : null}
    {p.result ? (
      <div class="card">
        {p.result.rows.length === 0 ? <p class="muted">No runs match.</p> : <RunTable runs={p.result.rows} />}
        <Pager base="/ui/runs" params={p.params} prev={p.result.prev} next={p.result.next} />
      </div>
    ) : null}
  </Page>
);

const FilesQuery = z.object({ files_after: optional(z.coerce.number().int().min(-1)) });
const FILES_PER_PAGE = 200;

export const runRoutes = new Hono<UiEnv>()
  .use("*", signedIn)
  .get("/", async (c) => {
    const params: ListParams = c.req.query();
    const parsed = parseWith(ListQuery, params);
    const page = { viewer: c.get("viewer"), csrf: c.get("csrf"), params };
    if (!parsed.ok) return render(c, <RunList {...page} errors={parsed.errors} />, 400);
    return render(c, <RunList {...page} result={await listRuns(c.env, parsed.data)} />);
  })
  .get("/live", async (c) => {
    const ids = (c.req.query("ids") ?? "").split(",").filter((id) => new RegExp(`^${RUN_ID}$`).test(id));
    if (ids.length === 0 || ids.length > 100) return c.json({ error: { code: "VALIDATION_FAILED", message: "ids: 1 to 100 run ids, comma-separated" } }, 400);
    return c.json({ runs: (await runsById(c.env, ids)).map(liveJson) });
  })
  .get(`/:id{${RUN_ID}}`, async (c) => {
    const id = c.req.param("id");
    const parsed = parseWith(FilesQuery, c.req.query());
    const filesAfter = parsed.ok ? parsed.data.files_after : undefined;
    const d = await runDetail(c.env, id, { after: filesAfter, limit: FILES_PER_PAGE });
    const r = d.run;
    return render(
      c,
      <Page title={`Run of ${r.feature}`} section="runs" viewer={c.get("viewer")} csrf={c.get("csrf")} head={live(r) ? <RefreshWithoutScript /> : null}>
        <h1>
          Run of <a href={`/ui/features/${encodeURIComponent(r.feature)}`}>{r.feature}</a>
        </h1>
        {parsed.ok ? null : <Notice kind="error">{parsed.errors.join("; ")}</Notice>}
        <div class="card" data-live-run={live(r) ? r.id : undefined}>
          <div class="actions">
            <span data-field="status" class={`badge ${r.status}`}>
              {r.status}
            </span>
            {live(r) ? <Progress run={r} /> : null}
          </div>
          <dl class="props spaced-top">
            <dt>Run id</dt>
            <dd class="mono">{r.id}</dd>
            <dt>Trigger</dt>
            <dd>{r.trigger}</dd>
            <dt>Created</dt>
            <dd class="mono">{r.created.iso}</dd>
            <dt>Started</dt>
            <dd class="mono">{r.started?.iso ?? "—"}</dd>
            <dt>Finished</dt>
            <dd class="mono">{r.finished?.iso ?? "—"}</dd>
            <dt>Duration</dt>
            <dd>{duration(r.durationMs)}</dd>
            <dt>Rows read</dt>
            <dd data-field="rowsRead">{int(r.rowsRead)}</dd>
            <dt>Rows written</dt>
            <dd data-field="rowsWritten">{int(r.rowsWritten)}</dd>
            <dt>Rows unchanged</dt>
            <dd data-field="rowsUnchanged">{int(r.rowsUnchanged)}</dd>
            <dt>Watermark</dt>
            <dd class="mono">{d.watermark ?? "—"}</dd>
            {d.lake ? (
              <>
                <dt>Files matched</dt>
                <dd>{int(d.lake.filesMatched)}</dd>
                <dt>Files skipped</dt>
                <dd>{int(d.lake.filesSkipped)} (already ingested, same ETag)</dd>
                <dt>Invocations</dt>
                <dd>{int(d.lake.invocations)}</dd>
              </>
            ) : null}
          </dl>
          {r.error ? (
            <>
              <h2 class="small muted spaced-top">Error</h2>
              <pre>{r.error}</pre>
            </>
          ) : null}
        </div>
        {d.lake ? (
          <div class="card">
            <h2>Files</h2>
            {d.files.length === 0 ? (
              <p class="muted">No files read{filesAfter !== undefined ? " after these" : ""}.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th>File</th>
                    <th class="num">Size</th>
                    <th>Status</th>
                    <th class="num">Read</th>
                    <th class="num">Written</th>
                    <th class="num">Unchanged</th>
                    <th>Error</th>
                  </tr>
                </thead>
                <tbody>
                  {d.files.map((f) => (
                    <tr>
                      <td class="mono wrap">{f.key}</td>
                      <td class="num">{bytes(f.size)}</td>
                      <td>
                        <Badge kind={f.status === "ingested" ? "succeeded" : f.status === "reading" ? "running" : f.status} text={f.status} />
                        {f.status === "reading" && f.size > 0 ? <span class="muted small"> {Math.floor((f.cursorByte / f.size) * 100)}%</span> : null}
                      </td>
                      <td class="num">{int(f.rowsRead)}</td>
                      <td class="num">{int(f.rowsWritten)}</td>
                      <td class="num">{int(f.rowsUnchanged)}</td>
                      <td class="wrap small">{f.error ?? ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <div class="pager">
              {filesAfter !== undefined ? <a href={`/ui/runs/${r.id}`}>← First files</a> : null}
              {d.nextFiles !== null ? <a href={`/ui/runs/${r.id}?files_after=${d.nextFiles}`}>Next files →</a> : null}
            </div>
          </div>
        ) : null}
      </Page>,
    );
  });
