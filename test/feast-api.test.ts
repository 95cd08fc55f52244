/**
 * Feast feature-server compatibility. Shapes follow Feast's feature server (sdk/python/feast/
 * feature_server.py: GetOnlineFeaturesRequest, PushFeaturesRequest, WriteToFeatureStoreRequest;
 * the response is MessageToDict of GetOnlineFeaturesResponse with Feast's proto_json patch) and
 * what its remote online store client (infra/online_stores/remote.py) sends and reads.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_KEY, call, callJson, registerFeature } from "./helpers";

/** Feast's RemoteOnlineStore posts `data=json.dumps(...)`: no JSON content type. */
const feastPost = (path: string, body: unknown, key: string | null = ADMIN_KEY) =>
  call("POST", path, { raw: JSON.stringify(body), key, headers: { "content-type": "text/plain" } });

async function setupDriverStats() {
  await registerFeature({ name: "conv_rate", entity_id: "driver_id", feature_group: "driver_hourly_stats" }).catch(() => undefined);
  await registerFeature({ name: "acc_rate", entity_id: "driver_id", feature_group: "driver_hourly_stats" }).catch(() => undefined);
  await registerFeature({ name: "avg_daily_trips", entity_id: "driver_id", feature_group: "driver_hourly_stats", value_type: "int" }).catch(() => undefined);
}

describe("Feast /push and /write-to-online-store", () => {
  it("writes Feast's documented /push example (columnar df) and answers null", async () => {
    await setupDriverStats();
    const res = await feastPost("/push", {
      push_source_name: "driver_hourly_stats",
      df: {
        driver_id: [1001, 1002],
        event_timestamp: ["2022-05-13 10:59:42", "2022-05-13 10:59:42"],
        created: ["2022-05-13 10:59:42", "2022-05-13 10:59:42"],
        conv_rate: [1.0, 0.5],
        acc_rate: [1.0, 0.25],
        avg_daily_trips: [1000, 12],
      },
      to: "online",
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("null");
    const latest = await callJson("GET", "/api/v1/features/avg_daily_trips/values/1002", 200);
    expect(latest).toMatchObject({ value: 12, timestamp: "2022-05-13T10:59:42Z" });
  });

  it("accepts the remote online store's write-to-online-store body", async () => {
    await setupDriverStats();
    const res = await feastPost("/write-to-online-store", {
      feature_view_name: "driver_hourly_stats",
      df: { driver_id: [2001], conv_rate: [0.75], acc_rate: [0.5], avg_daily_trips: [7], event_timestamp: ["2024-02-20T22:39:38.123456"], created: [null] },
      allow_registry_cache: false,
    });
    expect(res.status).toBe(200);
    expect((await callJson("GET", "/api/v1/features/conv_rate/values/2001", 200)).value).toBe(0.75);
  });

  it("maps a push source name onto a group through the feast_push_source tag", async () => {
    await registerFeature({ name: "trips_today", entity_id: "driver_id", feature_group: "driver_daily", value_type: "int", tags: { feast_push_source: "driver_stats_push_source" } });
    const res = await feastPost("/push", { push_source_name: "driver_stats_push_source", df: { driver_id: [5], trips_today: [3], event_timestamp: ["2024-01-01T00:00:00"] } });
    expect(res.status).toBe(200);
    expect((await callJson("GET", "/api/v1/features/trips_today/values/5", 200)).value).toBe(3);
  });

  it("rejects a df with wrong types or unknown columns and writes nothing", async () => {
    await setupDriverStats();
    const bad = await feastPost("/push", { push_source_name: "driver_hourly_stats", df: { driver_id: [3001, 3002], conv_rate: [0.1, "high"] } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "INVALID_BATCH", details: { items: [{ index: 1, errors: [{ path: "conv_rate" }] }] } } });
    expect((await call("GET", "/api/v1/features/conv_rate/values/3001")).status).toBe(404);

    const unknown = await feastPost("/push", { push_source_name: "driver_hourly_stats", df: { driver_id: [1], speed: [3] } });
    expect(unknown.status).toBe(400);
    expect((await feastPost("/push", { push_source_name: "no_such_source", df: { x: [1] } })).status).toBe(404);
    expect((await feastPost("/push", { push_source_name: "driver_hourly_stats", df: { driver_id: [1] } }, null)).status).toBe(401);
  });
});

describe("Feast POST /get-online-features", () => {
  it("answers Feast's column-major response, join key first, field by field", async () => {
    await setupDriverStats();
    await feastPost("/push", {
      push_source_name: "driver_hourly_stats",
      df: { driver_id: [4001], event_timestamp: ["2024-03-01T12:00:00"], conv_rate: [0.9], acc_rate: [null], avg_daily_trips: [40] },
    });
    const res = await feastPost("/get-online-features", {
      features: ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"],
      entities: { driver_id: [4001, 4999] },
      full_feature_names: false,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      metadata: { feature_names: ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"] },
      results: [
        { values: [4001, 4999], statuses: ["PRESENT", "PRESENT"], event_timestamps: ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"] },
        { values: [0.9, null], statuses: ["PRESENT", "NOT_FOUND"], event_timestamps: ["2024-03-01T12:00:00Z", "1970-01-01T00:00:00Z"] },
        { values: [null, null], statuses: ["NULL_VALUE", "NOT_FOUND"], event_timestamps: ["2024-03-01T12:00:00Z", "1970-01-01T00:00:00Z"] },
        { values: [40, null], statuses: ["PRESENT", "NOT_FOUND"], event_timestamps: ["2024-03-01T12:00:00Z", "1970-01-01T00:00:00Z"] },
      ],
    });
  });

  it("names features view__feature with full_feature_names and resolves a feature_service to its group", async () => {
    await setupDriverStats();
    const full = await (await feastPost("/get-online-features", { features: ["driver_hourly_stats:conv_rate"], entities: { driver_id: [1001] }, full_feature_names: true })).json();
    expect((full as { metadata: { feature_names: string[] } }).metadata.feature_names).toEqual(["driver_id", "driver_hourly_stats__conv_rate"]);
    const service = (await (await feastPost("/get-online-features", { feature_service: "driver_hourly_stats", entities: { driver_id: [1001] } })).json()) as {
      metadata: { feature_names: string[] };
    };
    expect(service.metadata.feature_names).toEqual(["driver_id", "acc_rate", "avg_daily_trips", "conv_rate"]);
  });

  it("rejects a join key that does not match the features' entity, composite keys, and unknown features", async () => {
    await setupDriverStats();
    expect((await feastPost("/get-online-features", { features: ["driver_hourly_stats:conv_rate"], entities: { customer_id: [1] } })).status).toBe(400);
    expect((await feastPost("/get-online-features", { features: ["driver_hourly_stats:conv_rate"], entities: { driver_id: [1], other: [2] } })).status).toBe(400);
    expect((await feastPost("/get-online-features", { features: ["driver_hourly_stats:nope"], entities: { driver_id: [1] } })).status).toBe(404);
    const malformed = await call("POST", "/get-online-features", { raw: "{not json", headers: { "content-type": "text/plain" } });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: "INVALID_JSON" } });
  });
});

describe("Feast types are exact in the raw JSON", () => {
  it("sends whole float values as 1.0 and whole float lists as [1.0,2.0]; ints, strings and bools as they are", async () => {
    for (const [name, value_type] of [
      ["ft_rate", "float"],
      ["ft_trips", "int"],
      ["ft_vec", "float_list"],
      ["ft_name", "string"],
      ["ft_active", "bool"],
    ]) {
      await registerFeature({ name, value_type, entity_id: "ft_driver", feature_group: "ft_stats" });
    }
    const push = await feastPost("/push", {
      push_source_name: "ft_stats",
      df: { ft_driver: [7], event_timestamp: ["2024-05-01T00:00:00"], ft_rate: [1.0], ft_trips: [3], ft_vec: [[1.0, 2.0, 0]], ft_name: ["7"], ft_active: [true] },
    });
    expect(push.status).toBe(200);
    const res = await feastPost("/get-online-features", { features: ["ft_stats:ft_rate", "ft_stats:ft_trips", "ft_stats:ft_vec", "ft_stats:ft_name", "ft_stats:ft_active"], entities: { ft_driver: [7] } });
    // The text itself: JSON.parse cannot tell 1 from 1.0, Feast's remote online store (Python) can.
    const t = '"2024-05-01T00:00:00Z"';
    expect(await res.text()).toBe(
      '{"metadata":{"feature_names":["ft_driver","ft_rate","ft_trips","ft_vec","ft_name","ft_active"]},"results":[' +
        '{"values":[7],"statuses":["PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z"]},' +
        `{"values":[1.0],"statuses":["PRESENT"],"event_timestamps":[${t}]},` +
        `{"values":[3],"statuses":["PRESENT"],"event_timestamps":[${t}]},` +
        `{"values":[[1.0,2.0,0.0]],"statuses":["PRESENT"],"event_timestamps":[${t}]},` +
        `{"values":["7"],"statuses":["PRESENT"],"event_timestamps":[${t}]},` +
        `{"values":[true],"statuses":["PRESENT"],"event_timestamps":[${t}]}]}`,
    );
    // The native endpoint and the latest value read floats the same way.
    expect(await (await call("POST", "/api/v1/online-features", { body: { features: ["ft_rate"], entity_ids: ["7"] } })).text()).toContain('"values":{"ft_rate":1.0}');
    expect(await (await call("GET", "/api/v1/features/ft_vec/values/7")).text()).toContain('"value":[1.0,2.0,0.0]');
  });

  it("returns join keys in the type and digits they were sent, int64 beyond 2^53 included", async () => {
    await registerFeature({ name: "jk_score", entity_id: "jk_user", feature_group: "jk_stats" });
    // 2^53 + 1: a JS number would round it to 9007199254740992.
    const pushed = await call("POST", "/push", {
      raw: '{"push_source_name":"jk_stats","df":{"jk_user":[9007199254740993,9007199254740992,"9007199254740993x"],"jk_score":[0.5,0.25,0.125],"event_timestamp":["2024-01-01T00:00:00","2024-01-01T00:00:00","2024-01-01T00:00:00"]}}',
      headers: { "content-type": "text/plain" },
    });
    expect(pushed.status).toBe(200);
    expect((await callJson("GET", "/api/v1/features/jk_score/values/9007199254740993", 200)).value).toBe(0.5);
    expect((await callJson("GET", "/api/v1/features/jk_score/values/9007199254740992", 200)).value).toBe(0.25);
    const res = await call("POST", "/get-online-features", {
      raw: '{"features":["jk_stats:jk_score"],"entities":{"jk_user":[9007199254740993,"9007199254740992",9007199254740992,"nobody"]}}',
      headers: { "content-type": "text/plain" },
    });
    const text = await res.text();
    expect(text).toContain('{"values":[9007199254740993,"9007199254740992",9007199254740992,"nobody"],"statuses":["PRESENT","PRESENT","PRESENT","PRESENT"]');
    expect(text).toContain('{"values":[0.5,0.25,0.25,null],"statuses":["PRESENT","PRESENT","PRESENT","NOT_FOUND"]');
  });
});
