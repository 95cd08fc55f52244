/**
 * Connectors: each with its configuration (secrets never shown, only which fields are secret),
 * the features that read from it, and — for admin keys, as in the API — the connection test
 * with its classified result (dns, refused, auth, database, timeout, ...).
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import type { TestResult } from "../../../connectors/types";
import { NAME_PATTERN } from "../../schemas/common";
import { ApiError } from "../../errors";
import { connectorsWithUsage, testConnector, type ConnectorRow, type Viewer } from "../data";
import { int } from "../format";
import { allow, can, signedIn, type UiEnv } from "../guard";
import { Badge, Csrf, Notice, Page, render } from "../layout";

const TestOutcome: FC<{ name: string; result: TestResult }> = ({ name, result }) => (
  <Notice kind={result.ok ? "ok" : "error"}>
    <strong>
      Connection test of {name}: {result.ok ? "OK" : `failed (${result.kind ?? "unknown"})`}
    </strong>
    <div>{result.message}</div>
    {result.ok ? (
      <div class="small">
        {result.server ? <>Server: {result.server} · </> : null}
        {int(Math.round(result.latency_ms ?? 0))} ms
      </div>
    ) : null}
  </Notice>
);

const ConnectorCard: FC<{ c: ConnectorRow; viewer: Viewer; csrf: string; tested?: TestResult }> = ({ c, viewer, csrf, tested }) => (
  <div class="card" id={`connector-${c.name}`}>
    <div class="actions">
      <h2>{c.name}</h2>
      <Badge kind="type" text={c.type} />
      {can(viewer, "admin") ? (
        <form method="post" action={`/ui/connectors/${encodeURIComponent(c.name)}/test`}>
          <Csrf token={csrf} />
          <button class="secondary" type="submit">
            Test connection
          </button>
        </form>
      ) : null}
    </div>
    {tested ? <TestOutcome name={c.name} result={tested} /> : null}
    <dl class="props">
      {Object.entries(c.config).map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd class="mono">{typeof v === "string" ? v : JSON.stringify(v)}</dd>
        </>
      ))}
      {c.secretFields.length ? (
        <>
          <dt>Secrets</dt>
          <dd class="muted">{c.secretFields.join(", ")} (encrypted at rest, never shown)</dd>
        </>
      ) : null}
      <dt>Created</dt>
      <dd class="mono">{c.created.iso}</dd>
      <dt>Used by</dt>
      <dd>
        {c.usedBy.total === 0 && c.usedByDefault === 0 ? <span class="muted">no features</span> : null}
        {c.usedBy.names.map((n, i) => (
          <>
            {i > 0 ? ", " : ""}
            <a href={`/ui/features/${encodeURIComponent(n)}`}>{n}</a>
          </>
        ))}
        {c.usedBy.total > c.usedBy.names.length ? (
          <>
            {" "}
            and <a href={`/ui/features?connector=${encodeURIComponent(c.name)}`}>{int(c.usedBy.total - c.usedBy.names.length)} more</a>
          </>
        ) : null}
        {c.usedByDefault > 0 ? (
          <div class="muted small">
            plus <a href="/ui/features?source=file">{int(c.usedByDefault)} file features</a> that name no connector (this is the only data-lake
            connector, so they read from it)
          </div>
        ) : null}
      </dd>
    </dl>
  </div>
);

const ConnectorsPage: FC<{ viewer: Viewer; csrf: string; connectors: ConnectorRow[]; tested?: { name: string; result: TestResult } }> = (p) => (
  <Page title="Connectors" section="connectors" viewer={p.viewer} csrf={p.csrf}>
    <h1>Connectors</h1>
    {p.connectors.length === 0 ? (
      <div class="card">
        <p class="muted">
          No connectors. Create one with <code>POST /api/v1/connectors</code> (admin); see docs/connectors.md and docs/data-lakes.md.
        </p>
      </div>
    ) : null}
    {p.connectors.map((c) => (
      <ConnectorCard c={c} viewer={p.viewer} csrf={p.csrf} tested={p.tested?.name === c.name ? p.tested.result : undefined} />
    ))}
  </Page>
);

export const connectorRoutes = new Hono<UiEnv>()
  .use("*", signedIn)
  .get("/", async (c) => render(c, <ConnectorsPage viewer={c.get("viewer")} csrf={c.get("csrf")} connectors={await connectorsWithUsage(c.env)} />))
  .post("/:name/test", allow("admin"), async (c) => {
    const name = c.req.param("name");
    if (!NAME_PATTERN.test(name)) throw new ApiError("CONNECTOR_NOT_FOUND", `connector '${name}' not found`);
    const result = await testConnector(c.env, name); // CONNECTOR_NOT_FOUND → 404 page
    const connectors = await connectorsWithUsage(c.env);
    return render(c, <ConnectorsPage viewer={c.get("viewer")} csrf={c.get("csrf")} connectors={connectors} tested={{ name, result }} />);
  });
