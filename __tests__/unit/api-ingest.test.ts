/**
 * The api-ingest handler against a scripted loopback API, with the AWS SDK clients mocked
 * (aws-sdk-client-mock): what it writes where, with which encryption headers; retries, quarantine
 * and the dead-letter queue; and the bad-input corpus, each case reconciling its counts.
 * The same handler against the emulator's S3 and SQS: __tests__/integration/api-ingest.test.ts.
 */
import { PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DATASETS, PartitionedDataset } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { ConfigurationError, createHandler, type DeadLetter, type RunSummary } from "../../functions/api-ingest";
import { CORPUS, FIRST, shipment } from "../fixtures/api-ingest-corpus";
import { SampleApi, type ScriptedResponse } from "../../scripts/local/sample-api";
import { defined } from "../../modules/shared/defined";

// Powertools reads these from the process environment: no EMF output in tests.
process.env.POWERTOOLS_METRICS_DISABLED = "true";

const contract = new PartitionedDataset(
  defined(
    DATASETS.find((d) => d.name === "shipments"),
    "the shipments dataset",
  ),
  loadEnvironment("local").partitioning,
  "local",
).jobContract();
const RAW_KEY = "arn:aws:kms:us-east-1:123456789012:key/raw-key";
const QUARANTINE_KEY = "arn:aws:kms:us-east-1:123456789012:key/quarantine-key";
const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dataplat-local-api-AbCdEf";
const DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/dataplat-local-ingest-dlq";

const s3 = mockClient(S3Client);
const sqs = mockClient(SQSClient);
const secrets = mockClient(SecretsManagerClient);

/** What the mocked S3 holds: key → { input, body }, with If-None-Match honoured. */
let stored: Map<
  string,
  {
    Bucket: string;
    SSEKMSKeyId?: string;
    ServerSideEncryption?: string;
    IfNoneMatch?: string;
    BucketKeyEnabled?: boolean;
    body: string;
  }
>;
let dead: DeadLetter[];

beforeEach(() => {
  s3.reset();
  sqs.reset();
  secrets.reset();
  stored = new Map();
  dead = [];
  s3.on(PutObjectCommand).callsFake((input) => {
    const id = `${input.Bucket}/${input.Key}`;
    if (input.IfNoneMatch === "*" && stored.has(id)) {
      throw new S3ServiceException({
        name: "PreconditionFailed",
        $fault: "client",
        $metadata: { httpStatusCode: 412 },
        message: "At least one of the pre-conditions you specified did not hold",
      });
    }
    stored.set(id, { ...input, body: gunzipSync(input.Body as Buffer).toString("utf8") });
    return {};
  });
  sqs.on(SendMessageCommand).callsFake((input) => {
    dead.push(JSON.parse(defined(input.MessageBody, "the dead-letter message body")));
    return { MessageId: String(dead.length) };
  });
  secrets
    .on(GetSecretValueCommand, { SecretId: SECRET })
    .resolves({ SecretString: JSON.stringify({ token: "s3cr3t-token" }) });
});

let api: SampleApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

function envFor(sample: SampleApi, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    DATASET: "shipments",
    DATASET_CONTRACT: JSON.stringify(contract),
    API_URL: sample.url(FIRST),
    API_SECRET_ARN: SECRET,
    RAW_BUCKET: "raw-bucket",
    RAW_KMS_KEY_ARN: RAW_KEY,
    QUARANTINE_BUCKET: "quarantine-bucket",
    QUARANTINE_KMS_KEY_ARN: QUARANTINE_KEY,
    DEAD_LETTER_QUEUE_URL: DLQ,
    MAX_ATTEMPTS: "3",
    BACKOFF_BASE_MS: "1",
    REQUEST_TIMEOUT_MS: "2000",
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_LOG_LEVEL: "SILENT",
    ...extra,
  };
}

async function run(
  scripts: Record<string, readonly ScriptedResponse[]>,
  extra: Record<string, string> = {},
  event: unknown = {},
  context = {},
): Promise<RunSummary> {
  api ??= await SampleApi.start(scripts);
  const handler = createHandler({
    env: envFor(api, extra),
    clients: {
      s3: new S3Client({ region: "us-east-1" }),
      sqs: new SQSClient({ region: "us-east-1" }),
      secrets: new SecretsManagerClient({ region: "us-east-1" }),
    },
  });
  return handler(event as never, context);
}

const rawObjects = () => [...stored.entries()].filter(([id]) => id.startsWith("raw-bucket/"));
const quarantined = () => [...stored.entries()].filter(([id]) => id.startsWith("quarantine-bucket/"));
const lines = (body: string) =>
  body
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("a good run", () => {
  const pages = {
    [FIRST]: [{ json: { items: [shipment("S1"), shipment("S2", { region: "us" })], next: `${FIRST}?page=2` } }],
    [`${FIRST}?page=2`]: [{ json: { items: [shipment("S3", { shipped_at: "2024-05-02T08:00:00Z" })], next: null } }],
  };

  it("writes each partition's records as gzip NDJSON under the environment's partition layout", async () => {
    const summary = await run(pages);
    expect(summary.status).toBe("complete");
    expect(summary.records).toEqual({ received: 3, written: 3, quarantined: 0, duplicates: 0 });
    const keys = rawObjects()
      .map(([id]) => id.replace(/api-[0-9a-f]{40}\.json\.gz$/, "api-<sha>.json.gz"))
      .sort();
    expect(keys).toEqual([
      "raw-bucket/shipments/dt=2024-05-01/region=eu/api-<sha>.json.gz",
      "raw-bucket/shipments/dt=2024-05-01/region=us/api-<sha>.json.gz",
      "raw-bucket/shipments/dt=2024-05-02/region=eu/api-<sha>.json.gz",
    ]);
    const eu = defined(
      rawObjects().find(([id]) => id.includes("dt=2024-05-01/region=eu")),
      "the raw object for dt=2024-05-01/region=eu",
    )[1];
    expect(lines(eu.body)).toEqual([shipment("S1")]);
    expect(quarantined()).toEqual([]);
  });

  it("sends every PutObject with SSE-KMS naming the zone's key, and only if the key is absent", async () => {
    await run(pages);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.length).toBe(3);
    for (const put of puts) {
      expect(put).toMatchObject({
        Bucket: "raw-bucket",
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: RAW_KEY,
        BucketKeyEnabled: true,
        IfNoneMatch: "*",
      });
    }
  });

  it("names each object by its content, so a retried run writes nothing twice", async () => {
    const first = await run(pages);
    const keysAfterFirst = [...stored.keys()].sort();
    await defined(api, "the sample API").stop();
    api = undefined;
    const second = await run(pages);
    expect([...stored.keys()].sort()).toEqual(keysAfterFirst);
    expect(second.objects.raw).toEqual([]);
    expect(second.objects.skipped.sort()).toEqual(first.objects.raw.sort());
    expect(second.records).toEqual(first.records);
  });

  it("authenticates with the credentials from Secrets Manager and never logs them", async () => {
    const logs: string[] = [];
    const spy = jest.spyOn(process.stdout, "write").mockImplementation((chunk) => (logs.push(String(chunk)), true));
    try {
      await run(pages, { POWERTOOLS_LOG_LEVEL: "DEBUG" });
    } finally {
      spy.mockRestore();
    }
    expect(defined(api, "the sample API").requests.map((r) => r.headers.authorization)).toEqual([
      "Bearer s3cr3t-token",
      "Bearer s3cr3t-token",
    ]);
    expect(logs.join("")).toContain("run finished");
    expect(logs.join("")).not.toContain("s3cr3t-token");
  });
});

describe("retries", () => {
  it("retries 429 (honouring Retry-After) and 5xx, then succeeds", async () => {
    const summary = await run({
      [FIRST]: [
        { status: 429, headers: { "retry-after": "0" } },
        { status: 503 },
        { json: { items: [shipment("S1")] } },
      ],
    });
    expect(defined(api, "the sample API").count(FIRST)).toBe(3);
    expect(summary.status).toBe("complete");
    expect(summary.records.written).toBe(1);
    expect(dead).toEqual([]);
  });

  it("retries a connection dropped mid-body", async () => {
    const body = JSON.stringify({ items: [shipment("S1")] });
    const summary = await run({ [FIRST]: [{ body, dropAfterBytes: 10 }, { body }] });
    expect(defined(api, "the sample API").count(FIRST)).toBe(2);
    expect(summary.records.written).toBe(1);
  });

  it("retries a request that times out", async () => {
    const summary = await run(
      { [FIRST]: [{ json: { items: [] }, delayMs: 1500 }, { json: { items: [shipment("S1")] } }] },
      { REQUEST_TIMEOUT_MS: "300" },
    );
    expect(defined(api, "the sample API").count(FIRST)).toBe(2);
    expect(summary.records.written).toBe(1);
  });
});

describe("the dead-letter queue", () => {
  it("receives a page that still fails after the last retry, with the page to resume from; earlier pages stay written", async () => {
    const summary = await run({
      [FIRST]: [{ json: { items: [shipment("S1")], next: `${FIRST}?page=2` } }],
      [`${FIRST}?page=2`]: [{ status: 503 }],
    });
    expect(defined(api, "the sample API").count(`${FIRST}?page=2`)).toBe(3); // MAX_ATTEMPTS
    expect(summary.status).toBe("dead-lettered");
    expect(rawObjects()).toHaveLength(1);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      source: "api-ingest",
      dataset: "shipments",
      failure: { kind: "http_status", status: 503, attempts: 3, message: "HTTP 503" },
      url: defined(api, "the sample API").url(`${FIRST}?page=2`),
      redrive: { startUrl: defined(api, "the sample API").url(`${FIRST}?page=2`) },
      progress: { fetched: 1, empty: 0, quarantined: 0, recordsWritten: 1 },
    });
    expect(sqs.commandCalls(SendMessageCommand)[0].args[0].input.QueueUrl).toBe(DLQ);
  });

  it("receives timeouts that never end", async () => {
    const summary = await run({ [FIRST]: [{ json: { items: [] }, delayMs: 1000 }] }, { REQUEST_TIMEOUT_MS: "200" });
    expect(summary.status).toBe("dead-lettered");
    expect(dead[0].failure).toEqual({ kind: "timeout", message: "no complete answer within 200 ms", attempts: 3 });
  });

  it("receives a client error at once: 401 is not retried", async () => {
    const summary = await run({ [FIRST]: [{ status: 401, body: '{"error":"bad token"}' }] });
    expect(defined(api, "the sample API").count(FIRST)).toBe(1);
    expect(summary.status).toBe("dead-lettered");
    expect(dead[0].failure).toEqual({
      kind: "http_status",
      status: 401,
      attempts: 1,
      message: 'HTTP 401: {"error":"bad token"}',
    });
  });

  it("receives a failed write; the page is not counted and no object of it is left behind", async () => {
    s3.on(PutObjectCommand).rejects(
      new S3ServiceException({
        name: "InternalError",
        $fault: "server",
        $metadata: { httpStatusCode: 500 },
        message: "We encountered an internal error",
      }),
    );
    const summary = await run({ [FIRST]: [{ json: { items: [shipment("S1")] } }] });
    expect(summary.status).toBe("dead-lettered");
    expect(summary.records).toEqual({ received: 0, written: 0, quarantined: 0, duplicates: 0 });
    expect(stored.size).toBe(0);
    expect(dead[0].failure).toEqual({ kind: "write_failed", message: "We encountered an internal error" });
    expect(dead[0].redrive).toEqual({ startUrl: defined(api, "the sample API").url(FIRST) });
  });

  it("receives a run whose credentials cannot be read", async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: "not json" });
    const summary = await run({ [FIRST]: [{ json: { items: [shipment("S1")] } }] });
    expect(summary.status).toBe("dead-lettered");
    expect(defined(api, "the sample API").requests).toEqual([]);
    expect(dead[0].failure.kind).toBe("credentials");
    expect(dead[0].failure.message).not.toContain("not json");
  });

  it("receives the rest of a run that is running out of time, with the page to resume from", async () => {
    const summary = await run(
      { [FIRST]: [{ json: { items: [shipment("S1")] } }] },
      {},
      {},
      { getRemainingTimeInMillis: () => 3000 },
    );
    expect(summary.status).toBe("dead-lettered");
    expect(defined(api, "the sample API").requests).toEqual([]);
    expect(dead[0]).toMatchObject({
      failure: { kind: "time_budget" },
      redrive: { startUrl: defined(api, "the sample API").url(FIRST) },
    });
  });

  it("fails the invocation when the dead-letter queue itself refuses, so Lambda's retries and on-failure destination take over", async () => {
    sqs.on(SendMessageCommand).rejects(new Error("AccessDenied"));
    await expect(run({ [FIRST]: [{ status: 500 }] })).rejects.toThrow(
      /could not dead-letter http_status at .*: AccessDenied/,
    );
  });
});

describe("a redrive", () => {
  it("resumes at the page the dead letter names", async () => {
    const scripts = { [`${FIRST}?page=2`]: [{ json: { items: [shipment("S2")] } }] };
    api = await SampleApi.start(scripts);
    const summary = await run(scripts, {}, { startUrl: api.url(`${FIRST}?page=2`) });
    expect(api.requests.map((r) => r.path)).toEqual([`${FIRST}?page=2`]);
    expect(summary.records.written).toBe(1);
  });

  it("refuses a start page on another origin (the credentials would go there)", async () => {
    await expect(run({}, {}, { startUrl: "https://collector.example/steal" })).rejects.toThrow(
      /startUrl https:\/\/collector\.example\/steal is not on the API's origin/,
    );
  });
});

describe("configuration", () => {
  it("lists every missing or invalid variable at once", () => {
    const handler = createHandler({
      env: { DATASET: "shipments", API_URL: "ftp://x", MAX_ATTEMPTS: "0", POWERTOOLS_METRICS_DISABLED: "true" },
    });
    return expect(handler({})).rejects.toThrow(
      new ConfigurationError([
        'API_URL: must be an http(s) URL (got "ftp://x")',
        "DATASET_CONTRACT: is required",
        "RAW_BUCKET: is required",
        "RAW_KMS_KEY_ARN: is required",
        "QUARANTINE_BUCKET: is required",
        "QUARANTINE_KMS_KEY_ARN: is required",
        "DEAD_LETTER_QUEUE_URL: is required",
        'MAX_ATTEMPTS: must be a whole number from 1 to 10 (got "0")',
      ]),
    );
  });

  it("refuses another dataset's contract", async () => {
    api = await SampleApi.start({});
    const handler = createHandler({ env: { ...envFor(api), DATASET: "orders" } });
    await expect(handler({})).rejects.toThrow(
      'DATASET_CONTRACT: is the contract of "shipments", not of DATASET "orders"',
    );
  });
});

describe("the bad-input corpus", () => {
  it("has at least twelve cases, each named once", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(12);
    expect(new Set(CORPUS.map((c) => c.id)).size).toBe(CORPUS.length);
  });

  it.each(CORPUS.map((c) => [c.id, c] as const))("%s", async (_id, c) => {
    const summary = await run(c.api, c.env);
    expect({
      status: summary.status,
      pages: summary.pages,
      records: summary.records,
      reasons: summary.quarantineReasons,
      rawObjects: rawObjects().length,
    }).toEqual(c.expected);
    // Nothing lost: every received record is written, quarantined or a counted duplicate …
    const { received, written, quarantined: q, duplicates } = summary.records;
    expect(written + q + duplicates).toBe(received);
    // … and the objects hold exactly those records.
    expect(rawObjects().reduce((n, [, o]) => n + lines(o.body).length, 0)).toBe(written);
    const quarantinedRecords = quarantined().filter(([id]) => id.includes("/api_ingest/records/"));
    expect(quarantinedRecords.reduce((n, [, o]) => n + lines(o.body).length, 0)).toBe(q);
    const quarantinedPages = quarantined().filter(([id]) => !id.includes("/api_ingest/records/"));
    expect(quarantinedPages).toHaveLength(summary.pages.quarantined);
    for (const [, o] of quarantined()) {
      expect(o).toMatchObject({
        Bucket: "quarantine-bucket",
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: QUARANTINE_KEY,
      });
      for (const line of lines(o.body)) expect(Object.keys(c.expected.reasons)).toContain(line.reason);
    }
    expect(dead).toEqual([]);
  });

  it("keeps the last value of a key repeated in one object, as the Glue job reads it", async () => {
    const c = defined(
      CORPUS.find((x) => x.id === "duplicate-json-keys"),
      "the duplicate-json-keys corpus case",
    );
    await run(c.api);
    expect(lines(rawObjects()[0][1].body)[0].carrier).toBe("ups");
  });

  it("passes emoji, right-to-left text and escapes through unchanged", async () => {
    const c = defined(
      CORPUS.find((x) => x.id === "bom-emoji-rtl"),
      "the bom-emoji-rtl corpus case",
    );
    await run(c.api);
    expect(lines(rawObjects()[0][1].body)[0].carrier).toBe("📦 ديإتش\u0000إل");
  });

  it("is the table in the function's README", () => {
    const readme = readFileSync(join(__dirname, "..", "..", "functions", "api-ingest", "README.md"), "utf8");
    for (const c of CORPUS) {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`${c.id}\` |`));
      expect({ id: c.id, row: row !== undefined }).toEqual({ id: c.id, row: true });
      const r = c.expected.records;
      expect(row).toContain(`${r.received} / ${r.written} / ${r.quarantined} / ${r.duplicates}`);
      for (const reason of Object.keys(c.expected.reasons)) expect(row).toContain(`\`${reason}\``);
    }
  });
});
