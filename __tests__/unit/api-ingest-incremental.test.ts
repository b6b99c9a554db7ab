/**
 * Incremental API reads: the contract's declaration (checked at synth), the handler's parameter and
 * overlap arithmetic, and runs of the real `ingest` against a loopback API whose records change
 * between runs, with in-memory stores (the same against the emulator's S3:
 * __tests__/integration/api-ingest-incremental.test.ts).
 */
import { gunzipSync } from "node:zlib";
import {
  ContractError,
  DATASETS,
  DEFAULT_API_OVERLAP_SECONDS,
  defineDataset,
  PartitionedDataset,
  resolvedApiIncremental,
  type DatasetContract,
} from "../../datasets";
import { loadEnvironment } from "../../environments";
import {
  ConfigurationError,
  ingest,
  loadConfig,
  nextMark,
  sinceValue,
  type IngestDeps,
  type Mark,
  type MarkStore,
} from "../../functions/api-ingest";
import { RecordsApi, SampleApi } from "../../scripts/local/sample-api";
import { defined } from "../../modules/shared/defined";

/** A contract of this test's own: an API source with a change filter on `changed_at`. */
const base: DatasetContract = {
  name: "parcels",
  description: "test",
  source: {
    kind: "api",
    path: "/v1/parcels",
    incremental: { kind: "since", parameter: "changed_since", overlapSeconds: 60 },
  },
  ingestion: { volumeMb: 1, durationMinutes: 1, latency: "batch" },
  primaryKey: ["id"],
  eventTimeColumn: "sent_at",
  versionColumn: "changed_at",
  columns: [
    { name: "id", type: "string", required: true, description: "id" },
    { name: "region", type: "string", required: true, description: "region" },
    { name: "state", type: "string", required: true, description: "state" },
    { name: "sent_at", type: "timestamp", required: true, description: "sent" },
    { name: "changed_at", type: "timestamp", required: true, description: "changed" },
  ],
};
const withSource = (source: unknown) => () => defineDataset({ ...base, source: source as DatasetContract["source"] });

describe("the contract declares how an API is read", () => {
  it("accepts a change filter, and applies the documented default overlap", () => {
    expect(resolvedApiIncremental({ kind: "since", parameter: "updated_since" })).toEqual({
      kind: "since",
      parameter: "updated_since",
      overlapSeconds: DEFAULT_API_OVERLAP_SECONDS,
    });
    expect(DEFAULT_API_OVERLAP_SECONDS).toBe(300);
    expect(() =>
      withSource({ kind: "api", path: "/v1/parcels", incremental: { kind: "full", reason: "no filter" } })(),
    ).not.toThrow();
  });

  it.each([
    [{ kind: "api", path: "/v1/parcels" }, "parcels: source.incremental: is required"],
    [
      { kind: "api", path: "/v1/parcels", incremental: { kind: "delta" } },
      'parcels: source.incremental.kind: must be "since" or "full" (got "delta")',
    ],
    [
      { kind: "api", path: "/v1/parcels", incremental: { kind: "full", reason: " " } },
      "parcels: source.incremental.reason: must say why the API is read in full",
    ],
    [
      { kind: "api", path: "/v1/parcels", incremental: { kind: "since", parameter: "changed since" } },
      "parcels: source.incremental.parameter: must be a query parameter name",
    ],
    [
      { kind: "api", path: "/v1/parcels?changed_since=x", incremental: { kind: "since", parameter: "changed_since" } },
      'parcels: source.incremental.parameter: "changed_since" is already in source.path',
    ],
    [
      { kind: "api", path: "/v1/parcels", incremental: { kind: "since", parameter: "s", overlapSeconds: -1 } },
      "parcels: source.incremental.overlapSeconds: must be a whole number of seconds from 0 to 86400 (got -1)",
    ],
    [
      { kind: "api", path: "/v1/parcels", incremental: { kind: "since", parameter: "s", overlapSeconds: 1.5 } },
      "parcels: source.incremental.overlapSeconds: must be a whole number",
    ],
  ])("refuses %j at synth, naming the dataset and the field", (source, message) => {
    expect(withSource(source)).toThrow(ContractError);
    expect(withSource(source)).toThrow(message);
  });

  it("every API dataset of the platform declares it", () => {
    for (const d of DATASETS.filter((c) => c.source.kind === "api"))
      expect(["since", "full"]).toContain((d.source as { incremental: { kind: string } }).incremental.kind);
  });
});

describe("parameter and overlap", () => {
  it("asks from the mark minus the overlap, in UTC", () => {
    expect(sinceValue("2024-05-01T10:00:00.000Z", 300)).toBe("2024-05-01T09:55:00.000Z");
    expect(sinceValue("2024-05-01T12:00:00+02:00", 0)).toBe("2024-05-01T10:00:00.000Z");
    expect(() => sinceValue("yesterday", 60)).toThrow("is not a timestamp");
  });

  const at = (iso: string) => Date.parse(iso);
  const now = new Date("2024-05-02T00:00:00Z");

  it("the next mark is the highest version read, and the edge is what the next overlap will meet again", () => {
    const versions = new Map([
      ["a", at("2024-05-01T10:00:00Z")],
      ["b", at("2024-05-01T10:09:30Z")],
      ["c", at("2024-05-01T10:10:00Z")],
    ]);
    expect(nextMark(undefined, versions, 60, now)).toEqual({
      mark: "2024-05-01T10:10:00.000Z",
      edge: ["b", "c"],
      updatedAt: now.toISOString(),
    });
  });

  it("never moves back, and with nothing read keeps what it had", () => {
    const previous: Mark = { mark: "2024-05-01T12:00:00.000Z", edge: ["x"], updatedAt: "" };
    const older = new Map([
      ["a", at("2024-05-01T11:59:30Z")],
      ["b", at("2024-05-01T11:00:00Z")],
    ]);
    expect(nextMark(previous, older, 60, now)).toEqual({
      mark: "2024-05-01T12:00:00.000Z",
      edge: ["a"],
      updatedAt: now.toISOString(),
    });
    expect(nextMark(undefined, new Map(), 60, now)).toBeUndefined();
  });
});

describe("configuration", () => {
  const env = {
    DATASET: "parcels",
    DATASET_CONTRACT: JSON.stringify(
      new PartitionedDataset(defineDataset(base), loadEnvironment("local").partitioning, "local").jobContract(),
    ),
    API_URL: "https://api.example/v1/parcels",
    RAW_BUCKET: "raw",
    RAW_KMS_KEY_ARN: "k",
    QUARANTINE_BUCKET: "q",
    QUARANTINE_KMS_KEY_ARN: "k",
    DEAD_LETTER_QUEUE_URL: "https://sqs/q",
  };

  it("reads in full when INCREMENTAL is unset (never skips a record)", () => {
    expect(loadConfig(env).incremental.kind).toBe("full");
    expect(loadConfig(env).state).toBeUndefined();
  });

  it("an incremental source needs the state bucket and key; the mark's key is the dataset's", () => {
    const incremental = JSON.stringify({ kind: "since", parameter: "changed_since", overlapSeconds: 60 });
    expect(() => loadConfig({ ...env, INCREMENTAL: incremental })).toThrow(
      new ConfigurationError(["STATE_BUCKET: is required", "STATE_KMS_KEY_ARN: is required"]),
    );
    expect(
      loadConfig({ ...env, INCREMENTAL: incremental, STATE_BUCKET: "state", STATE_KMS_KEY_ARN: "sk" }).state,
    ).toEqual({ bucket: "state", kmsKeyArn: "sk", key: "parcels/api-ingest/mark.json" });
  });

  it.each([
    ["{", "INCREMENTAL: must be JSON"],
    [
      '{"kind": "since", "parameter": "a b", "overlapSeconds": 1}',
      "INCREMENTAL: parameter must be a query parameter name",
    ],
    [
      '{"kind": "since", "parameter": "a"}',
      "INCREMENTAL: overlapSeconds must be a whole number of seconds from 0 to 86400",
    ],
  ])("refuses INCREMENTAL=%s", (value, message) => {
    expect(() => loadConfig({ ...env, INCREMENTAL: value, STATE_BUCKET: "s", STATE_KMS_KEY_ARN: "k" })).toThrow(
      message,
    );
  });
});

describe("two runs against an API that changed in between", () => {
  const contract = new PartitionedDataset(
    defineDataset(base),
    loadEnvironment("local").partitioning,
    "local",
  ).jobContract();
  let api: SampleApi;
  let source: RecordsApi;
  let objects: Map<string, string>;
  let mark: { mark: Mark; token: string } | undefined;
  let markWrites: number;
  let dead: string[];
  let clock: Date;

  const record = (id: string, state: string, changedAt: string) => ({
    id,
    region: "eu",
    state,
    sent_at: "2024-05-01T08:00:00Z",
    changed_at: changedAt,
  });
  const config = () =>
    loadConfig({
      DATASET: "parcels",
      DATASET_CONTRACT: JSON.stringify(contract),
      API_URL: api.url("/v1/parcels"),
      RAW_BUCKET: "raw",
      RAW_KMS_KEY_ARN: "rk",
      QUARANTINE_BUCKET: "q",
      QUARANTINE_KMS_KEY_ARN: "qk",
      DEAD_LETTER_QUEUE_URL: "https://sqs/q",
      MAX_ATTEMPTS: "2",
      BACKOFF_BASE_MS: "0",
      INCREMENTAL: JSON.stringify(
        resolvedApiIncremental(base.source.kind === "api" ? base.source.incremental : { kind: "full", reason: "" }),
      ),
      STATE_BUCKET: "state",
      STATE_KMS_KEY_ARN: "sk",
    });
  const marks: MarkStore = {
    read: async () => mark,
    write: async (next, token) => {
      if (token !== mark?.token) throw new Error("precondition failed");
      markWrites++;
      mark = { mark: next, token: String(markWrites) };
    },
  };
  const deps = (): IngestDeps => ({
    store: {
      putIfAbsent: async (bucket, key, body) => {
        if (objects.has(`${bucket}/${key}`)) return false;
        objects.set(`${bucket}/${key}`, gunzipSync(body).toString("utf8"));
        return true;
      },
    },
    deadLetters: { send: async (body) => void dead.push(body) },
    marks,
    credentials: async () => ({}),
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    metrics: { count: () => undefined },
    now: () => clock,
  });
  const rawLines = (keys: readonly string[]) =>
    keys.flatMap((k) =>
      defined(objects.get(`raw/${k}`), `the raw object raw/${k}`)
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { id: string; state: string }),
    );

  beforeEach(async () => {
    source = new RecordsApi({ parameter: "changed_since", versionColumn: "changed_at", pageSize: 2 });
    api = await SampleApi.start({}, { "/v1/parcels": source.route() });
    objects = new Map();
    mark = undefined;
    markWrites = 0;
    dead = [];
    clock = new Date("2024-05-01T11:00:00Z");
  });
  afterEach(() => api.stop());

  it("the second run asks from the mark minus the overlap and writes only the new and changed records", async () => {
    source.upsert(record("p1", "sent", "2024-05-01T10:00:00Z"), ["id"]);
    source.upsert(record("p2", "sent", "2024-05-01T10:05:00Z"), ["id"]);
    source.upsert(record("p3", "sent", "2024-05-01T10:10:00Z"), ["id"]);
    const first = await ingest(config(), deps());
    expect(api.requests.map((r) => r.path)).toEqual(["/v1/parcels", "/v1/parcels?page=2"]);
    expect(first.records).toEqual({ received: 3, written: 3, quarantined: 0, duplicates: 0 });
    expect(first.incremental).toEqual({
      mode: "since",
      advanced: true,
      markAfter: "2024-05-01T10:10:00.000Z",
      alreadyWritten: 0,
    });
    expect(defined(mark, "the written mark").mark).toMatchObject({
      mark: "2024-05-01T10:10:00.000Z",
      edge: expect.any(Array),
    });
    expect(defined(mark, "the written mark").mark.edge).toHaveLength(1); // only p3 is within 60 s of the mark

    // Between the runs: p2 changes, p4 is new, and p5 arrives late, stamped inside the overlap.
    source.upsert(record("p2", "delivered", "2024-05-01T10:20:00Z"), ["id"]);
    source.upsert(record("p4", "sent", "2024-05-01T10:15:00Z"), ["id"]);
    source.upsert(record("p5", "sent", "2024-05-01T10:09:45Z"), ["id"]);
    api.requests.length = 0;
    const second = await ingest(config(), deps());
    expect(api.requests.map((r) => r.path)).toEqual([
      "/v1/parcels?changed_since=2024-05-01T10%3A09%3A00.000Z",
      "/v1/parcels?changed_since=2024-05-01T10%3A09%3A00.000Z&page=2",
    ]);
    // p5 and p3 (the overlap), p4, p2: p3 was written by the first run and is not written again.
    expect(second.records).toEqual({ received: 4, written: 3, quarantined: 0, duplicates: 1 });
    expect(second.incremental).toMatchObject({
      since: "2024-05-01T10:09:00.000Z",
      markBefore: "2024-05-01T10:10:00.000Z",
      markAfter: "2024-05-01T10:20:00.000Z",
      advanced: true,
      alreadyWritten: 1,
    });
    expect(
      rawLines(second.objects.raw)
        .map((r) => `${r.id}:${r.state}`)
        .sort(),
    ).toEqual(["p2:delivered", "p4:sent", "p5:sent"]);
  });

  it("a run that fails does not move the mark, and the next run reads the same records again", async () => {
    source.upsert(record("p1", "sent", "2024-05-01T10:00:00Z"), ["id"]);
    await ingest(config(), deps());
    const before = mark;
    source.upsert(record("p2", "sent", "2024-05-01T10:30:00Z"), ["id"]);
    source.upsert(record("p3", "sent", "2024-05-01T10:31:00Z"), ["id"]);
    source.upsert(record("p4", "sent", "2024-05-01T10:32:00Z"), ["id"]);
    // The API fails on page 2 of the second run: page 1 is written, the run is dead-lettered.
    const stop = api;
    api = await SampleApi.start(
      { "/v1/parcels?changed_since=2024-05-01T09%3A59%3A00.000Z&page=2": [{ status: 503 }] },
      { "/v1/parcels": source.route() },
    );
    await stop.stop();
    const failed = await ingest(config(), deps());
    expect(failed.status).toBe("dead-lettered");
    expect(failed.records).toEqual({ received: 2, written: 1, quarantined: 0, duplicates: 1 }); // p1 (the overlap), p2
    expect(failed.incremental).toMatchObject({ advanced: false, markAfter: "2024-05-01T10:00:00.000Z" });
    expect(mark).toBe(before);
    expect(dead).toHaveLength(1);

    // Its redrive resumes at the failed page but leaves the mark: the pages before it were never marked.
    const stop2 = api;
    api = await SampleApi.start({}, { "/v1/parcels": source.route() });
    await stop2.stop();
    const redrive = await ingest(config(), deps(), {
      startUrl: "/v1/parcels?changed_since=2024-05-01T09%3A59%3A00.000Z&page=2",
    });
    expect(redrive).toMatchObject({ status: "complete", incremental: { advanced: false } });
    expect(mark).toBe(before);

    // The next scheduled run reads from the old mark again: nothing after it is skipped.
    api.requests.length = 0;
    const next = await ingest(config(), deps());
    expect(api.requests[0].path).toBe("/v1/parcels?changed_since=2024-05-01T09%3A59%3A00.000Z");
    expect(next.records.received).toBe(4);
    expect(next.incremental).toMatchObject({ advanced: true, markAfter: "2024-05-01T10:32:00.000Z" });
  });

  it("a mark that cannot be stored fails the invocation after the writes, so its retry re-reads", async () => {
    source.upsert(record("p1", "sent", "2024-05-01T10:00:00Z"), ["id"]);
    const broken = {
      ...deps(),
      marks: { read: async () => undefined, write: async () => Promise.reject(new Error("AccessDenied")) },
    };
    await expect(ingest(config(), broken)).rejects.toThrow(
      "the run's records are written, but the high-water mark could not be stored (the next run re-reads them): AccessDenied",
    );
    expect([...objects.keys()].filter((k) => k.startsWith("raw/"))).toHaveLength(1);
  });

  it("a full-read source sends no parameter and keeps no mark", async () => {
    source.upsert(record("p1", "sent", "2024-05-01T10:00:00Z"), ["id"]);
    const full = { ...config(), incremental: { kind: "full", reason: "no filter" } as const, state: undefined };
    const run = await ingest(full, { ...deps(), marks: undefined });
    await ingest(full, { ...deps(), marks: undefined });
    expect(api.requests.map((r) => r.path)).toEqual(["/v1/parcels", "/v1/parcels"]);
    expect(run.incremental).toMatchObject({
      mode: "full",
      advanced: false,
      stayedBecause: "the API is read in full by design: no filter",
    });
    expect(mark).toBeUndefined();
  });
});
