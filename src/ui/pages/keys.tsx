/**
 * API keys (admin only, as in the API): list, create with scopes — the new key is shown once, in
 * the response to the form, never in a URL — and revoke. A revoked key's dashboard sessions end
 * with their next request.
 */
import { z } from "@hono/zod-openapi";
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import type { Scope } from "../../db/schema";
import { createKey, listKeys, revokeKey, type KeyRow, type Viewer } from "../data";
import { allow, signedIn, type UiEnv } from "../guard";
import { Badge, Csrf, Notice, Page, render } from "../layout";
import { optional, parseWith } from "../query";

const SCOPES = ["read", "write", "admin"] as const;
const SCOPE_HELP: Record<Scope, string> = {
  read: "read features, values, runs and connectors",
  write: "also push values, edit the registry and run materializations",
  admin: "everything, including keys, connectors and deletes",
};

const KeyForm = z.object({
  name: z
    .string()
    .trim()
    .min(1, "give the key a name")
    .max(128, "a name is at most 128 characters")
    .refine((s) => !/\p{Cc}/u.test(s), "a name cannot contain control characters"),
  scope: z.array(z.enum(SCOPES, { error: "scopes are read, write and admin" })).min(1, "pick at least one scope"),
});

const ListQuery = z.object({ after: optional(z.coerce.number().int().min(1)) });

const PAGE = 100;

interface KeysPageProps {
  viewer: Viewer;
  csrf: string;
  keys: KeyRow[];
  next: number | null;
  after?: number;
  created?: { id: string; name: string; key: string };
  revoked?: string;
  errors?: string[];
  form?: { name: string; scopes: string[] };
}

const KeysPage: FC<KeysPageProps> = (p) => (
  <Page title="Keys" section="keys" viewer={p.viewer} csrf={p.csrf}>
    <h1>API keys</h1>
    {p.created ? (
      <Notice kind="ok">
        <div>
          Key <strong>{p.created.name}</strong> created. Copy it now: it is shown only this once and FStore keeps only its hash.
        </div>
        <div class="secret spaced-top">
          <code id="new-key">{p.created.key}</code>
          <button type="button" class="secondary" data-copy="new-key">
            Copy
          </button>
        </div>
      </Notice>
    ) : null}
    {p.revoked ? <Notice kind="ok">Key {p.revoked} revoked: it no longer works, and its dashboard sessions have ended.</Notice> : null}
    {p.errors ? (
      <Notice kind="error">
        {p.errors.map((e) => (
          <div>{e}</div>
        ))}
      </Notice>
    ) : null}
    <form class="card filters" method="post" action="/ui/keys">
      <Csrf token={p.csrf} />
      <label>
        Name
        <input name="name" required maxlength={128} value={p.form?.name ?? ""} placeholder="ingest-service" />
      </label>
      {SCOPES.map((s) => (
        <label class="inline" title={SCOPE_HELP[s]}>
          <input type="checkbox" name="scope" value={s} checked={p.form ? p.form.scopes.includes(s) : s === "read"} /> {s}
        </label>
      ))}
      <button type="submit">Create key</button>
      <span class="muted small">read: {SCOPE_HELP.read}; write: {SCOPE_HELP.write}; admin: {SCOPE_HELP.admin}.</span>
    </form>
    <div class="card">
      <table>
        <thead>
          <tr>
            <th>Id</th>
            <th>Name</th>
            <th>Scopes</th>
            <th>Created</th>
            <th>Status</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {p.keys.map((k) => (
            <tr id={`key-${k.id}`}>
              <td class="mono">{k.id}</td>
              <td class="wrap">{k.name}</td>
              <td>{k.scopes.join(", ")}</td>
              <td class="mono">{k.created.iso.slice(0, 19).replace("T", " ")}</td>
              <td>{k.revoked ? <Badge kind="revoked" text={`revoked ${k.revoked.iso.slice(0, 10)}`} /> : <Badge kind="ok" text="active" />}</td>
              <td>
                {k.revoked ? null : (
                  <form method="post" action={`/ui/keys/${encodeURIComponent(k.id)}/revoke`} data-confirm={`Revoke key ${k.id} (${k.name})? Clients using it stop working.`}>
                    <Csrf token={p.csrf} />
                    <button class="danger" type="submit">
                      Revoke
                    </button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {p.keys.length === 0 ? <p class="muted">No keys yet besides the admin key (FSTORE_ADMIN_KEY).</p> : null}
      <div class="pager">
        {p.after !== undefined ? <a href="/ui/keys">← Newest keys</a> : null}
        {p.next !== null ? <a href={`/ui/keys?after=${p.next}`}>Older keys →</a> : null}
      </div>
    </div>
  </Page>
);

export const keyRoutes = new Hono<UiEnv>()
  .use("*", signedIn, allow("admin"))
  .get("/", async (c) => {
    const parsed = parseWith(ListQuery, c.req.query());
    const after = parsed.ok ? parsed.data.after : undefined;
    const { keys, next } = await listKeys(c.env, { after, limit: PAGE });
    const revoked = c.req.query("revoked");
    return render(
      c,
      <KeysPage
        viewer={c.get("viewer")}
        csrf={c.get("csrf")}
        keys={keys}
        next={next}
        after={after}
        revoked={revoked && /^[\w-]{1,64}$/.test(revoked) ? revoked : undefined}
        errors={parsed.ok ? undefined : parsed.errors}
      />,
      parsed.ok ? 200 : 400,
    );
  })
  .post("/", async (c) => {
    const form = await c.req.parseBody({ all: true });
    const scopes = [form.scope ?? []].flat().filter((s): s is string => typeof s === "string");
    const name = typeof form.name === "string" ? form.name : "";
    const parsed = parseWith(KeyForm, { name, scope: scopes });
    if (!parsed.ok) {
      const { keys, next } = await listKeys(c.env, { limit: PAGE });
      return render(
        c,
        <KeysPage viewer={c.get("viewer")} csrf={c.get("csrf")} keys={keys} next={next} errors={parsed.errors} form={{ name, scopes }} />,
        400,
      );
    }
    const { id, key } = await createKey(c.env, parsed.data.name, parsed.data.scope);
    const { keys, next } = await listKeys(c.env, { limit: PAGE });
    return render(c, <KeysPage viewer={c.get("viewer")} csrf={c.get("csrf")} keys={keys} next={next} created={{ id, name: parsed.data.name, key }} />, 200);
  })
  .post("/:id/revoke", async (c) => {
    const id = c.req.param("id");
    await revokeKey(c.env, id); // KEY_NOT_FOUND → 404 page
    return c.redirect(`/ui/keys?revoked=${encodeURIComponent(id)}`, 303);
  });
