/**
 * Feature names are unique per feature group: `conv_rate` may live in two Feast views. A bare name
 * held by several groups is a 400 AMBIGUOUS_FEATURE on every route that takes a feature; `group:name`
 * (also with ':' URL-encoded) addresses one; unique names keep working as the guide writes them.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_KEY, call, callJson, registerFeature } from "./helpers";

const feastPost = (path: string, body: unknown) => call("POST", path, { raw: JSON.stringify(body), key: ADMIN_KEY, headers: { "content-type": "text/plain" } });

/** Two views with a shared `conv_rate` (and a name only one of them has). */
async function twoViews() {
  await registerFeature({ name: "conv_rate", entity_id: "driver_id", feature_group: "refs_driver_stats" }).catch(() => undefined);
  await registerFeature({ name: "trips", entity_id: "driver_id", feature_group: "refs_driver_stats", value_type: "int" }).catch(() => undefined);
  await registerFeature({ name: "conv_rate", entity_id: "customer_id", feature_group: "refs_customer_stats" }).catch(() => undefined);
}

async function expectAmbiguous(res: Response) {
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { code: string; details: { candidates: string[] } } };
  expect(body.error.code).toBe("AMBIGUOUS_FEATURE");
  expect(body.error.details.candidates).toEqual(["refs_customer_stats:conv_rate", "refs_driver_stats:conv_rate"]);
}

describe("feature names per feature group", () => {
  it("registers conv_rate in two groups (201 both) but refuses it twice in one group (409)", async () => {
    const a = await registerFeature({ name: "shared_rate", entity_id: "driver_id", feature_group: "refs_g1" });
    expect(a).toMatchObject({ name: "shared_rate", feature_group: "refs_g1", ref: "shared_rate", id: "shared_rate" });
    const b = await registerFeature({ name: "shared_rate", entity_id: "customer_id", feature_group: "refs_g2" });
    // Once the name is shared, the feature is addressed (and reported) as group:name.
    expect(b).toMatchObject({ name: "shared_rate", feature_group: "refs_g2", ref: "refs_g2:shared_rate", id: "refs_g2:shared_rate" });
    const again = await call("POST", "/api/v1/features", { body: { name: "shared_rate", entity_id: "driver_id", feature_group: "refs_g1" } });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("CONFLICT");
    const list = await callJson("GET", "/api/v1/features?limit=1000", 200);
    const shared = list.features.filter((f: { name: string }) => f.name === "shared_rate").map((f: { ref: string }) => f.ref);
    expect(shared).toEqual(["refs_g1:shared_rate", "refs_g2:shared_rate"]);
  });

  it("answers a bare ambiguous name with 400 AMBIGUOUS_FEATURE on every kind of route", async () => {
    await twoViews();
    await expectAmbiguous(await call("GET", "/api/v1/features/conv_rate"));
    await expectAmbiguous(await call("PATCH", "/api/v1/features/conv_rate", { body: { owner: "x" } }));
    await expectAmbiguous(await call("DELETE", "/api/v1/features/conv_rate"));
    await expectAmbiguous(await call("POST", "/api/v1/features/conv_rate/values", { body: { entity_id: "d1", value: 0.5 } }));
    await expectAmbiguous(await call("GET", "/api/v1/features/conv_rate/values/d1"));
    await expectAmbiguous(await call("GET", "/api/v1/features/conv_rate/values"));
    await expectAmbiguous(await call("POST", "/api/v1/features/conv_rate/materialize"));
    await expectAmbiguous(await call("GET", "/api/v1/features/conv_rate/runs"));
    await expectAmbiguous(await call("GET", "/api/v1/runs?feature=conv_rate"));
    await expectAmbiguous(await call("POST", "/api/v1/online-features", { body: { features: ["conv_rate"], entity_ids: ["d1"] } }));
    await expectAmbiguous(
      await call("POST", "/api/v1/historical-features", { body: { features: ["conv_rate"], entity_rows: [{ entity_id: "d1", timestamp: "2024-01-01T00:00:00Z" }] } }),
    );
    await expectAmbiguous(await feastPost("/get-online-features", { features: ["conv_rate"], entities: { driver_id: ["d1"] } }));
    // A batch names the item, with the same code and candidates; nothing is written.
    const batch = await call("POST", "/api/v1/features/batch", { body: [{ feature_id: "trips", entity_id: "d9", value: 1 }, { feature_id: "conv_rate", entity_id: "d9", value: 0.1 }] });
    expect(batch.status).toBe(400);
    const item = ((await batch.json()) as { error: { code: string; details: { items: { index: number; errors: { code: string; details: { candidates: string[] } }[] }[] } } }).error;
    expect(item.code).toBe("INVALID_BATCH");
    expect(item.details.items[0]).toMatchObject({ index: 1, errors: [{ path: "feature_id", code: "AMBIGUOUS_FEATURE", details: { candidates: ["refs_customer_stats:conv_rate", "refs_driver_stats:conv_rate"] } }] });
    expect((await call("GET", "/api/v1/features/trips/values/d9")).status).toBe(404);
  });

  it("addresses each feature as group:name everywhere, with ':' plain or URL-encoded", async () => {
    await twoViews();
    for (const ref of ["refs_driver_stats:conv_rate", "refs_driver_stats%3Aconv_rate", "refs_driver_stats%3aconv_rate"]) {
      const f = await callJson("GET", `/api/v1/features/${ref}`, 200);
      expect(f).toMatchObject({ name: "conv_rate", feature_group: "refs_driver_stats", entity_id: "driver_id", ref: "refs_driver_stats:conv_rate" });
    }
    expect((await callJson("PATCH", "/api/v1/features/refs_customer_stats%3Aconv_rate", 200, { body: { owner: "growth" } })).owner).toBe("growth");
    expect((await callJson("GET", "/api/v1/features/refs_driver_stats:conv_rate", 200)).owner).toBeNull();

    const pushed = await callJson("POST", "/api/v1/features/refs_driver_stats%3Aconv_rate/values", 200, { body: { entity_id: "d1", value: 0.25, timestamp: "2024-01-01T00:00:00Z" } });
    expect(pushed.feature_id).toBe("refs_driver_stats:conv_rate");
    await callJson("POST", "/api/v1/features/batch", 200, {
      body: [
        { feature_id: "refs_customer_stats:conv_rate", entity_id: "c1", value: 0.75, timestamp: "2024-01-01T00:00:00Z" },
        { feature_id: "trips", entity_id: "d1", value: 3, timestamp: "2024-01-01T00:00:00Z" },
      ],
    });
    const latest = await callJson("GET", "/api/v1/features/refs_driver_stats:conv_rate/values/d1", 200);
    expect(latest).toMatchObject({ feature_id: "refs_driver_stats:conv_rate", value: 0.25 });
    expect((await callJson("GET", "/api/v1/features/refs_customer_stats%3Aconv_rate/values/c1", 200)).value).toBe(0.75);
    // The driver's conv_rate has no value for the customer: the two features are distinct.
    expect((await call("GET", "/api/v1/features/refs_driver_stats:conv_rate/values/c1")).status).toBe(404);
    const history = await callJson("GET", "/api/v1/features/refs_customer_stats:conv_rate/values", 200);
    expect(history).toMatchObject({ feature_id: "refs_customer_stats:conv_rate", values: [{ entity_id: "c1", value: 0.75 }] });

    // Online answers are keyed by the features' refs.
    const online = await callJson("POST", "/api/v1/online-features", 200, { body: { features: ["refs_driver_stats:conv_rate", "trips"], entity_ids: ["d1"] } });
    expect(online.features).toEqual(["refs_driver_stats:conv_rate", "trips"]);
    expect(online.results[0].values).toEqual({ "refs_driver_stats:conv_rate": 0.25, trips: 3 });
    const group = await callJson("GET", "/api/v1/feature-groups/refs_driver_stats", 200);
    expect(group.features.map((f: { ref: string }) => f.ref)).toEqual(["refs_driver_stats:conv_rate", "trips"]);

    const training = await callJson("POST", "/api/v1/historical-features", 200, {
      body: { features: ["refs_driver_stats:conv_rate", "refs_customer_stats:conv_rate"], entity_rows: [{ entity_id: "d1", timestamp: "2024-06-01T00:00:00Z" }] },
    });
    expect(training.features).toEqual(["refs_driver_stats:conv_rate", "refs_customer_stats:conv_rate"]);
    expect(training.rows[0]).toMatchObject({ "refs_driver_stats:conv_rate": 0.25, "refs_customer_stats:conv_rate": null });

    // Materialize and runs resolve group:name too (a push feature has nothing to materialize: 400, not 404).
    const materialize = await call("POST", "/api/v1/features/refs_driver_stats%3Aconv_rate/materialize");
    expect(materialize.status).toBe(400);
    expect(((await materialize.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
    expect((await callJson("GET", "/api/v1/features/refs_driver_stats:conv_rate/runs", 200)).runs).toEqual([]);
    expect((await callJson("GET", "/api/v1/runs?feature=refs_driver_stats%3Aconv_rate", 200)).runs).toEqual([]);

    // Unknown group or name: 404 as before.
    expect((await call("GET", "/api/v1/features/refs_nope:conv_rate")).status).toBe(404);
    expect((await call("GET", "/api/v1/features/no_such_feature_anywhere")).status).toBe(404);
    expect((await call("GET", "/api/v1/features/a:b:c")).status).toBe(400);
  });

  it("keeps unique names working as the guide writes them, and deletes one of two same-named features", async () => {
    await registerFeature({ name: "refs_unique_amount", entity_id: "customer", feature_group: "refs_unique" });
    await callJson("POST", "/api/v1/features/refs_unique_amount/values", 200, { body: { entity_id: "c1", value: 12.5, timestamp: "2024-01-01T00:00:00Z" } });
    expect(await callJson("GET", "/api/v1/features/refs_unique_amount/values/c1", 200)).toMatchObject({ feature_id: "refs_unique_amount", value: 12.5 });
    expect((await callJson("GET", "/api/v1/features/refs_unique_amount", 200)).ref).toBe("refs_unique_amount");
    // group:name of a unique name works too.
    expect((await callJson("GET", "/api/v1/features/refs_unique:refs_unique_amount", 200)).ref).toBe("refs_unique_amount");

    await registerFeature({ name: "refs_del", entity_id: "driver_id", feature_group: "refs_del_a" });
    await registerFeature({ name: "refs_del", entity_id: "driver_id", feature_group: "refs_del_b" });
    expect((await call("DELETE", "/api/v1/features/refs_del_a%3Arefs_del")).status).toBe(204);
    // The name is unique again: the bare name addresses the one left, and its ref is its name.
    expect(await callJson("GET", "/api/v1/features/refs_del", 200)).toMatchObject({ feature_group: "refs_del_b", ref: "refs_del" });
  });
});

describe("Feast get-online-features across join keys", () => {
  it("looks each view's features up by its own join key and answers every join key column", async () => {
    await twoViews();
    await feastPost("/push", { push_source_name: "refs_driver_stats", df: { driver_id: [1001, 1002], conv_rate: [0.5, 1], trips: [7, 8], event_timestamp: ["2024-01-01T00:00:00", "2024-01-01T00:00:00"] } });
    await feastPost("/push", { push_source_name: "refs_customer_stats", df: { customer_id: ["c7", "c8"], conv_rate: [0.125, 0.25], event_timestamp: ["2024-01-01T00:00:00", "2024-01-01T00:00:00"] } });
    const res = await feastPost("/get-online-features", {
      features: ["refs_driver_stats:conv_rate", "refs_customer_stats:conv_rate", "refs_driver_stats:trips"],
      entities: { driver_id: [1001, 1002], customer_id: ["c8", "c7"] },
      full_feature_names: true,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { metadata: { feature_names: string[] }; results: { values: unknown[]; statuses: string[] }[] };
    expect(body.metadata.feature_names).toEqual(["driver_id", "customer_id", "refs_driver_stats__conv_rate", "refs_customer_stats__conv_rate", "refs_driver_stats__trips"]);
    expect(body.results.map((r) => r.values)).toEqual([[1001, 1002], ["c8", "c7"], [0.5, 1.0], [0.25, 0.125], [7, 8]]);
    expect(body.results[3]?.statuses).toEqual(["PRESENT", "PRESENT"]);
  });

  it("refuses entity lists of different lengths, a missing join key, an unused one, and colliding names without full_feature_names", async () => {
    await twoViews();
    const both = ["refs_driver_stats:conv_rate", "refs_customer_stats:conv_rate"];
    const lengths = await feastPost("/get-online-features", { features: both, entities: { driver_id: [1, 2], customer_id: ["c1"] }, full_feature_names: true });
    expect(lengths.status).toBe(400);
    expect(JSON.stringify(await lengths.json())).toContain("same length");
    const missing = await feastPost("/get-online-features", { features: both, entities: { driver_id: [1] }, full_feature_names: true });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(await missing.json())).toContain("customer_id");
    const unused = await feastPost("/get-online-features", { features: ["refs_driver_stats:trips"], entities: { driver_id: [1], customer_id: ["c1"] } });
    expect(unused.status).toBe(400);
    const collision = await feastPost("/get-online-features", { features: both, entities: { driver_id: [1], customer_id: ["c1"] } });
    expect(collision.status).toBe(400);
    expect(JSON.stringify(await collision.json())).toContain("full_feature_names");
  });
});
