/**
 * Online lookup: pick features (or a group) and entity ids, see the vectors and statuses exactly
 * as `POST /api/v1/online-features` returns them (same validation, same read path), with the
 * equivalent curl command and SDK call to copy. The form posts (a thousand entity ids do not fit
 * in a URL); a GET with the same fields works too, for links.
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import { ApiError } from "../../errors";
import { OnlineRequest } from "../../schemas/online";
import { featureGroupNames, onlineFeatures, type OnlineLookup, type Viewer } from "../data";
import { int, showValue } from "../format";
import { signedIn, type UiEnv } from "../guard";
import { Badge, Csrf, Notice, Page, render } from "../layout";
import { parseWith } from "../query";

interface Fields {
  features: string;
  group: string;
  entities: string;
}

type Answer = Awaited<ReturnType<typeof onlineFeatures>>;

const list = (text: string) =>
  text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);

/** The API request the form describes. */
function requestOf(fields: Fields): OnlineLookup {
  const features = list(fields.features);
  const group = fields.group.trim();
  return { ...(features.length ? { features } : {}), ...(group ? { feature_group: group } : {}), entity_ids: list(fields.entities) };
}

/** Single-quoted for a POSIX shell. */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function snippets(origin: string, request: OnlineLookup) {
  const body = JSON.stringify(request);
  const curl = [
    `curl -s -X POST ${shellQuote(`${origin}/api/v1/online-features`)} \\`,
    `  -H "Authorization: Bearer $FSTORE_KEY" -H 'Content-Type: application/json' \\`,
    `  -d ${shellQuote(body)}`,
  ].join("\n");
  const sdk = [
    `import { FeatureStore } from "fstore";`,
    ``,
    `const store = new FeatureStore({ url: ${JSON.stringify(origin)} }); // key from FSTORE_KEY`,
    `const online = await store.getOnlineFeatures(${JSON.stringify(request, null, 2)});`,
  ].join("\n");
  return { curl, sdk };
}

const Copyable: FC<{ id: string; title: string; text: string; scroll?: boolean }> = ({ id, title, text, scroll }) => (
  <div class="card">
    <div class="actions">
      <h2>{title}</h2>
      <button type="button" class="secondary" data-copy={id}>
        Copy
      </button>
    </div>
    <pre id={id} class={scroll ? "scroll" : undefined}>
      {text}
    </pre>
  </div>
);

/** Rows of the vectors table; a larger answer is shown in part (the API's JSON holds it whole). */
const TABLE_ROWS = 100;
/** Cells (entities × features) past which the raw JSON is not repeated on the page. */
const JSON_CELLS = 20_000;

const Vectors: FC<{ answer: Answer }> = ({ answer }) => (
  <div class="card">
    <h2>Vectors</h2>
    {answer.results.length > TABLE_ROWS ? (
      <p class="muted small">
        The first {TABLE_ROWS} of {int(answer.results.length)} entities are shown; the curl command below returns them all.
      </p>
    ) : null}
    <table>
      <thead>
        <tr>
          <th>Entity</th>
          {answer.features.map((f) => (
            <th>{f}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {answer.results.slice(0, TABLE_ROWS).map((r) => (
          <tr>
            <td class="mono">{r.entity_id}</td>
            {answer.features.map((f) => (
              <td>
                <div class="mono wrap">{showValue(r.values[f], 80)}</div>
                <Badge kind={r.statuses[f] ?? "NOT_FOUND"} />
                <div class="muted small mono">{r.event_timestamps[f] ?? ""}</div>
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  </div>
);

interface OnlinePageProps {
  viewer: Viewer;
  csrf: string;
  groups: string[];
  fields: Fields;
  errors?: string[];
  answer?: Answer;
  code?: { curl: string; sdk: string };
}

const OnlinePage: FC<OnlinePageProps> = (p) => (
  <Page title="Online lookup" section="online" viewer={p.viewer} csrf={p.csrf}>
    <h1>Online lookup</h1>
    <form class="card" method="post" action="/ui/online">
      <Csrf token={p.csrf} />
      <div class="grid2">
        <label>
          Features (names or group:name, one per line or comma-separated)
          <textarea name="features" placeholder="customer_purchase_amount">
            {p.fields.features}
          </textarea>
        </label>
        <label>
          Entity ids (one per line or comma-separated, at most 1,000)
          <textarea name="entities" placeholder="customer_123" required>
            {p.fields.entities}
          </textarea>
        </label>
      </div>
      <div class="filters spaced-top">
        <label>
          … or every feature of a group
          <input name="group" value={p.fields.group} list="online-groups" placeholder="customer_metrics" />
        </label>
        <datalist id="online-groups">
          {p.groups.map((g) => (
            <option value={g} />
          ))}
        </datalist>
        <button type="submit">Look up</button>
      </div>
    </form>
    {p.errors ? (
      <Notice kind="error">
        {p.errors.map((e) => (
          <div>{e}</div>
        ))}
      </Notice>
    ) : null}
    {p.answer ? <Vectors answer={p.answer} /> : null}
    {p.code ? <Copyable id="online-curl" title="curl" text={p.code.curl} /> : null}
    {p.code ? <Copyable id="online-sdk" title="TypeScript SDK" text={p.code.sdk} /> : null}
    {p.answer && p.answer.features.length * p.answer.results.length <= JSON_CELLS ? (
      <Copyable id="online-json" title="Response (as the API returns it)" text={JSON.stringify(p.answer, null, 2)} scroll />
    ) : p.answer ? (
      <Notice kind="info">The response has {int(p.answer.features.length * p.answer.results.length)} values, too many to repeat here: run the curl command to see it.</Notice>
    ) : null}
  </Page>
);

const text = (v: unknown) => (typeof v === "string" ? v : "");

export const onlineRoutes = new Hono<UiEnv>().use("*", signedIn).on(["GET", "POST"], "/", async (c) => {
  const raw = c.req.method === "POST" ? await c.req.parseBody() : c.req.query();
  const fields = { features: text(raw.features), group: text(raw.group), entities: text(raw.entities) };
  const page = { viewer: c.get("viewer"), csrf: c.get("csrf"), groups: await featureGroupNames(c.env), fields };
  if (!fields.features.trim() && !fields.group.trim() && !fields.entities.trim()) return render(c, <OnlinePage {...page} />);
  const request = requestOf(fields);
  const parsed = parseWith(OnlineRequest, request);
  if (!parsed.ok) return render(c, <OnlinePage {...page} errors={parsed.errors} />, 400);
  try {
    const answer = await onlineFeatures(c.env, parsed.data, (p) => c.executionCtx.waitUntil(p));
    return render(c, <OnlinePage {...page} answer={answer} code={snippets(new URL(c.req.url).origin, request)} />);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status >= 500) throw err;
    return render(c, <OnlinePage {...page} errors={[err.message]} />, err.status === 404 ? 404 : 400);
  }
});
