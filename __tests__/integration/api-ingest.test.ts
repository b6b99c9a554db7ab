/**
 * The real api-ingest handler against the emulator (moto over TLS): real SDK clients, S3 buckets
 * with SSE-KMS and the raw zone's own bucket policy as the platform synthesizes it (TLS only, this
 * zone's key only), an SQS dead-letter queue and the credentials secret; a scripted API on loopback.
 */
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { spawn } from "node:child_process";
import { request as httpsRequest } from "node:https";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import { DATASETS, PartitionedDataset } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { createHandler, type DeadLetter, type RunSummary } from "../../functions/api-ingest";
import { Emulator, emulatorAccessKey } from "../../scripts/emulator";
import { CORPUS, FIRST, shipment } from "../fixtures/api-ingest-corpus";
import { SampleApi, type ScriptedResponse } from "../../scripts/local/sample-api";
import { byPath, synthNamed } from "../helpers/synth";
import { ROOT } from "../../scripts/lib/terraform";
import { bundleFunction } from "../../modules/shared/bundle";
import { readZip } from "../helpers/zip";
import { defined } from "../../modules/shared/defined";

process.env.POWERTOOLS_METRICS_DISABLED = "true";

let emulator: Emulator;
let clients: { s3: S3Client; sqs: SQSClient; secrets: SecretsManagerClient };
const names = { raw: "it-raw", quarantine: "it-quarantine" };
const keys = { raw: "", quarantine: "", other: "" };
let queueUrl = "";
let secretArn = "";
const contract = new PartitionedDataset(
  defined(
    DATASETS.find((d) => d.name === "shipments"),
    "the shipments dataset",
  ),
  loadEnvironment("local").partitioning,
  "local",
).jobContract();

function config() {
  return {
    endpoint: emulator.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: emulatorAccessKey(), secretAccessKey: "emulator" },
    requestHandler: { httpsAgent: emulator.httpsAgent() },
  };
}

/** The bucket policy the platform gives a zone (SecureBucket's baseline), for this bucket and key. */
function zonePolicy(zone: "raw" | "quarantine", bucket: string, keyArn: string): string {
  const { json } = synthNamed("local");
  const bucketRef = `\${aws_s3_bucket.${byPath(json, "aws_s3_bucket", `lake/${zone}/bucket`).name}.arn}`;
  const keyRef = `\${aws_kms_key.${byPath(json, "aws_kms_key", `lake/${zone}-key`).name}.arn}`;
  const policy: string = byPath(json, "aws_s3_bucket_policy", `lake/${zone}/policy`).body.policy;
  const concrete = policy.split(bucketRef).join(`arn:aws:s3:::${bucket}`).split(keyRef).join(keyArn);
  expect(concrete).not.toContain("${"); // every reference resolved: this is the zone's whole policy
  return concrete;
}

beforeAll(async () => {
  emulator = await Emulator.start();
  clients = { s3: new S3Client(config()), sqs: new SQSClient(config()), secrets: new SecretsManagerClient(config()) };
  const kms = new KMSClient(config());
  for (const k of ["raw", "quarantine", "other"] as const)
    keys[k] = defined(
      (await kms.send(new CreateKeyCommand({ Description: `it ${k}` }))).KeyMetadata?.Arn,
      `the ${k} key's ARN`,
    );
  for (const zone of ["raw", "quarantine"] as const) {
    const Bucket = names[zone];
    await clients.s3.send(new CreateBucketCommand({ Bucket }));
    await clients.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: "Enabled" } }));
    await clients.s3.send(
      new PutBucketEncryptionCommand({
        Bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keys[zone] },
              BucketKeyEnabled: true,
            },
          ],
        },
      }),
    );
    await clients.s3.send(new PutBucketPolicyCommand({ Bucket, Policy: zonePolicy(zone, Bucket, keys[zone]) }));
  }
  queueUrl = defined(
    (await clients.sqs.send(new CreateQueueCommand({ QueueName: "it-ingest-dlq" }))).QueueUrl,
    "the dead-letter queue's URL",
  );
  secretArn = defined(
    (
      await clients.secrets.send(
        new CreateSecretCommand({ Name: "it-api-credentials", SecretString: JSON.stringify({ token: "it-token" }) }),
      )
    ).ARN,
    "the API credentials secret's ARN",
  );
}, 120_000);

afterAll(() => emulator?.stop());

let api: SampleApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

/** Runs Node in a child process; async, because the sample API it calls is served from this process. */
async function runNode(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { env, cwd });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout, stderr };
}

/** What the deployed function's environment holds, pointed at the emulator's buckets and queue. */
function handlerEnv(sampleApi: SampleApi): Record<string, string> {
  return {
    DATASET: "shipments",
    DATASET_CONTRACT: JSON.stringify(contract),
    API_URL: sampleApi.url(FIRST),
    API_SECRET_ARN: secretArn,
    RAW_BUCKET: names.raw,
    RAW_KMS_KEY_ARN: keys.raw,
    QUARANTINE_BUCKET: names.quarantine,
    QUARANTINE_KMS_KEY_ARN: keys.quarantine,
    DEAD_LETTER_QUEUE_URL: queueUrl,
  };
}

async function run(
  scripts: Record<string, readonly ScriptedResponse[]>,
  extra: Record<string, string> = {},
  event = {},
): Promise<RunSummary> {
  api ??= await SampleApi.start(scripts);
  const handler = createHandler({
    env: {
      ...handlerEnv(api),
      MAX_ATTEMPTS: "2",
      BACKOFF_BASE_MS: "1",
      POWERTOOLS_LOG_LEVEL: "SILENT",
      ...extra,
    },
    clients,
  });
  return handler(event);
}

async function lines(bucket: string, key: string): Promise<unknown[]> {
  const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return gunzipSync(Buffer.from(await defined(object.Body, `the object ${key}'s body`).transformToByteArray()))
    .toString("utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

async function versions(bucket: string): Promise<number> {
  return ((await clients.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions ?? []).length;
}

/** The minimal shape of the SDK's HTTP request and handler (@smithy/protocol-http), for the fault below. */
interface WireRequest {
  method: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}
interface WireHandler {
  handle(request: WireRequest, options?: object): Promise<unknown>;
  updateHttpClientConfig?(key: never, value: never): void;
  httpHandlerConfigs?(): object;
}

/**
 * An S3 client whose uploads to `bucket` fail mid-body, for real: the request line, headers and
 * half of the body go to the emulator over TLS, then the connection is dropped — what a network
 * failure or a killed process does to an upload. The SDK sees a reset connection (and retries it,
 * as it would in AWS); everything else goes through the SDK's own HTTP handler.
 */
function clientCuttingUploadsTo(bucket: string, maxAttempts = 3): { s3: S3Client; cut: () => number } {
  const inner = new S3Client(config()).config.requestHandler as unknown as WireHandler;
  let cuts = 0;
  const handler: WireHandler = {
    handle: async (req, options) => {
      if (req.method !== "PUT" || !req.path.startsWith(`/${bucket}/`)) return inner.handle(req, options);
      cuts += 1;
      const body = Buffer.from(req.body as Uint8Array);
      const query = new URLSearchParams(
        Object.entries(req.query ?? {}).flatMap(([k, v]) =>
          v === null ? [[k, ""] as [string, string]] : [v].flat().map((x): [string, string] => [k, x]),
        ),
      ).toString();
      await new Promise<void>((resolve) => {
        const wire = httpsRequest({
          host: req.hostname,
          port: req.port,
          method: req.method,
          path: query ? `${req.path}?${query}` : req.path,
          headers: req.headers,
          agent: emulator.httpsAgent(),
        });
        wire.on("error", () => resolve());
        wire.write(body.subarray(0, Math.floor(body.length / 2)), () => {
          wire.destroy(); // half the declared Content-Length, then the connection is gone
          resolve();
        });
      });
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    },
    updateHttpClientConfig: (key, value) => inner.updateHttpClientConfig?.(key, value),
    httpHandlerConfigs: () => inner.httpHandlerConfigs?.() ?? {},
  };
  return { s3: new S3Client({ ...config(), requestHandler: handler as never, maxAttempts }), cut: () => cuts };
}

async function deadLetters(): Promise<DeadLetter[]> {
  const out = await clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
  );
  return (out.Messages ?? []).map((m) => JSON.parse(defined(m.Body, "the dead-letter message body")));
}

describe("against the emulator's S3 and SQS", () => {
  const pages = {
    [FIRST]: [{ json: { items: [shipment("I1"), shipment("I2", { region: "us" })], next: `${FIRST}?page=2` } }],
    [`${FIRST}?page=2`]: [
      {
        json: {
          items: [shipment("I3", { shipped_at: "2024-06-02T08:00:00Z" }), shipment("I4", { weight_kg: "heavy" })],
        },
      },
    ],
  };

  it("writes each partition's records under the partition layout, SSE-KMS with the zone's key, through the zone's real bucket policy; a retry writes nothing twice", async () => {
    const summary = await run(pages);
    expect(summary.status).toBe("complete");
    expect(summary.records).toEqual({ received: 4, written: 3, quarantined: 1, duplicates: 0 });
    const listed = defined(
      (await clients.s3.send(new ListObjectsV2Command({ Bucket: names.raw, Prefix: "shipments/" }))).Contents,
      "the listed raw objects",
    )
      .map((o) => defined(o.Key, "a listed object's key"))
      .sort();
    expect(listed).toEqual([...summary.objects.raw].sort());
    expect(listed.map((k) => k.replace(/api-[0-9a-f]{40}\.json\.gz$/, "…"))).toEqual([
      "shipments/dt=2024-05-01/region=eu/…",
      "shipments/dt=2024-05-01/region=us/…",
      "shipments/dt=2024-06-02/region=eu/…",
    ]);
    expect(await lines(names.raw, listed[0])).toEqual([shipment("I1")]);
    for (const key of listed) {
      const head = await clients.s3.send(new HeadObjectCommand({ Bucket: names.raw, Key: key }));
      expect({ sse: head.ServerSideEncryption, key: head.SSEKMSKeyId }).toEqual({ sse: "aws:kms", key: keys.raw });
    }
    const [quarantineKey] = summary.objects.quarantine;
    expect(quarantineKey).toMatch(/^shipments\/api_ingest\/records\/[0-9a-f]{40}\.json\.gz$/);
    expect(await lines(names.quarantine, quarantineKey)).toEqual([
      expect.objectContaining({
        reason: "wrong_type",
        detail: 'weight_kg: expected a number, got the string "heavy"',
        index: 1,
        record: shipment("I4", { weight_kg: "heavy" }),
      }),
    ]);
    expect(defined(api, "the sample API").requests[0].headers.authorization).toBe("Bearer it-token");

    // A retried run (same API, same pages) writes nothing twice: no new object, no new version.
    const [rawBefore, quarantineBefore] = [await versions(names.raw), await versions(names.quarantine)];
    const retried = await run(pages);
    expect(retried.objects.raw).toEqual([]);
    expect(retried.objects.quarantine).toEqual([]);
    expect(retried.objects.skipped.sort()).toEqual([...summary.objects.raw, ...summary.objects.quarantine].sort());
    expect([await versions(names.raw), await versions(names.quarantine)]).toEqual([rawBefore, quarantineBefore]);
  });

  it("the zone's bucket policy refuses a write naming another key: the run is dead-lettered and nothing is stored", async () => {
    const before = await versions(names.raw);
    const summary = await run({ [FIRST]: [{ json: { items: [shipment("K1")] } }] }, { RAW_KMS_KEY_ARN: keys.other });
    expect(summary.status).toBe("dead-lettered");
    expect(await versions(names.raw)).toBe(before);
    const [letter] = await deadLetters();
    expect(letter).toMatchObject({
      dataset: "shipments",
      failure: { kind: "write_failed" },
      redrive: { startUrl: defined(api, "the sample API").url(FIRST) },
    });
  });

  it("an upload cut off mid-body leaves no object, no version and no pending upload; the SDK retries, then the page is dead-lettered", async () => {
    const { s3: cutting, cut } = clientCuttingUploadsTo(names.raw);
    // One upload straight through the SDK: the emulator received half of it and must keep nothing.
    await expect(
      cutting.send(
        new PutObjectCommand({
          Bucket: names.raw,
          Key: "shipments/cut/probe.json",
          Body: JSON.stringify({ items: Array(200).fill(shipment("C0")) }),
          ServerSideEncryption: "aws:kms",
          SSEKMSKeyId: keys.raw,
        }),
      ),
    ).rejects.toThrow("socket hang up");
    expect(cut()).toBe(3); // the SDK's retries: every attempt cut
    await expect(
      clients.s3.send(new HeadObjectCommand({ Bucket: names.raw, Key: "shipments/cut/probe.json" })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });

    // The handler's write of a page the same way: nothing stored, the page dead-lettered with its place to resume.
    const before = await versions(names.raw);
    api = await SampleApi.start({ [FIRST]: [{ json: { items: [shipment("C1"), shipment("C2", { region: "us" })] } }] });
    const handler = createHandler({
      env: {
        ...handlerEnv(api),
        MAX_ATTEMPTS: "2",
        BACKOFF_BASE_MS: "1",
        POWERTOOLS_LOG_LEVEL: "SILENT",
      },
      clients: { ...clients, s3: cutting },
    });
    const summary = await handler({});
    expect(summary.status).toBe("dead-lettered");
    expect(summary.records.written).toBe(0);
    expect(summary.objects.raw).toEqual([]);
    expect(cut()).toBeGreaterThan(3);
    expect(await versions(names.raw)).toBe(before);
    expect(
      (await clients.s3.send(new ListObjectVersionsCommand({ Bucket: names.raw, Prefix: "shipments/cut/" })))
        .Versions ?? [],
    ).toEqual([]);
    expect((await clients.s3.send(new ListMultipartUploadsCommand({ Bucket: names.raw }))).Uploads ?? []).toEqual([]);
    const [letter] = await deadLetters();
    expect(letter).toMatchObject({
      dataset: "shipments",
      failure: { kind: "write_failed" },
      redrive: { startUrl: api.url(FIRST) },
    });
  });

  it("a page that keeps failing lands in the dead-letter queue after the retries, and its redrive resumes there", async () => {
    const scripts = {
      [FIRST]: [{ json: { items: [shipment("D1")], next: `${FIRST}?page=2` } }],
      [`${FIRST}?page=2`]: [{ status: 502 }, { status: 503 }, { json: { items: [shipment("D2")] } }],
    };
    const summary = await run(scripts);
    expect(summary.status).toBe("dead-lettered");
    expect(defined(api, "the sample API").count(`${FIRST}?page=2`)).toBe(2);
    const [letter] = await deadLetters();
    expect(letter).toMatchObject({
      failure: { kind: "http_status", status: 503, attempts: 2 },
      progress: { fetched: 1, recordsWritten: 1 },
    });

    const redriven = await run(scripts, {}, letter.redrive);
    expect(redriven.status).toBe("complete");
    expect(redriven.records.written).toBe(1);
    expect(defined(api, "the sample API").requests.map((r) => r.path)).toEqual([
      FIRST,
      `${FIRST}?page=2`,
      `${FIRST}?page=2`,
      `${FIRST}?page=2`,
    ]);
  });

  it("the local runner (functions/api-ingest/local.ts) runs the real handler from environment variables alone, as the end-to-end run does", async () => {
    api = await SampleApi.start({
      [FIRST]: [{ json: { items: [shipment("L1"), shipment("L2", { region: "apac" })] } }],
    });
    const dir = mkdtempSync(join(tmpdir(), "api-ingest-local-"));
    try {
      const summaryFile = join(dir, "summary.json");
      const env = {
        ...process.env,
        ...emulator.env(),
        ...handlerEnv(api),
        S3_FORCE_PATH_STYLE: "true",
        RUN_SUMMARY_FILE: summaryFile,
      };
      const { code, stdout, stderr } = await runNode(
        [join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), join(ROOT, "functions", "api-ingest", "local.ts")],
        env,
        ROOT,
      );
      expect({ code, stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/Error/) });
      const summary: RunSummary = JSON.parse(defined(stdout.trim().split("\n").pop(), "the summary line of stdout"));
      expect(JSON.parse(readFileSync(summaryFile, "utf8"))).toEqual(summary);
      expect(summary).toMatchObject({
        status: "complete",
        records: { received: 2, written: 2, quarantined: 0, duplicates: 0 },
      });
      for (const key of summary.objects.raw) expect((await lines(names.raw, key)).length).toBe(1);
      expect(api.requests[0].headers.authorization).toBe("Bearer it-token");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the zip synth deploys runs the same way: its entry loads the SDK and Powertools chunks at the first invocation", async () => {
    api = await SampleApi.start({ [FIRST]: [{ json: { items: [shipment("Z1"), shipment("Z2", { region: "us" })] } }] });
    const dir = mkdtempSync(join(tmpdir(), "api-ingest-zip-"));
    try {
      for (const entry of readZip(readFileSync(bundleFunction("api-ingest").path)))
        writeFileSync(join(dir, entry.name), entry.data);
      const env = {
        PATH: process.env.PATH,
        ...emulator.env(),
        NODE_OPTIONS: "--enable-source-maps", // as the function runs (modules/ingestion)
        POWERTOOLS_METRICS_DISABLED: "true",
        POWERTOOLS_LOG_LEVEL: "SILENT",
        ...handlerEnv(api),
        S3_FORCE_PATH_STYLE: "true",
      };
      // Lambda's Node.js runtime imports index.mjs and calls the `handler` export (handler "index.handler").
      const invoke = `const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, "index.mjs")).href)});
        process.stdout.write(JSON.stringify(await handler({}, { awsRequestId: "zip" })) + "\\n");`;
      const { code, stdout, stderr } = await runNode(["--input-type=module", "-e", invoke], env, dir);
      expect({ code, stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/Error/) });
      const summary: RunSummary = JSON.parse(defined(stdout.trim().split("\n").pop(), "the summary line of stdout"));
      expect(summary).toMatchObject({
        status: "complete",
        records: { received: 2, written: 2, quarantined: 0, duplicates: 0 },
      });
      for (const key of summary.objects.raw) expect((await lines(names.raw, key)).length).toBe(1);
      expect(api.requests[0].headers.authorization).toBe("Bearer it-token");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(CORPUS.map((c) => [c.id, c] as const))(
    "corpus: %s ends as the table says, with the objects holding exactly the counted records",
    async (_id, c) => {
      const summary = await run(c.api, c.env);
      expect({
        status: summary.status,
        pages: summary.pages,
        records: summary.records,
        reasons: summary.quarantineReasons,
      }).toEqual({
        status: c.expected.status,
        pages: c.expected.pages,
        records: c.expected.records,
        reasons: c.expected.reasons,
      });
      const rawKeys = [...summary.objects.raw, ...summary.objects.skipped].filter(
        (k) => !k.startsWith("shipments/api_ingest/"),
      );
      expect(rawKeys).toHaveLength(c.expected.rawObjects);
      let stored = 0;
      for (const key of rawKeys) stored += (await lines(names.raw, key)).length;
      expect(stored).toBe(summary.records.written);
      const recordKeys = [...summary.objects.quarantine, ...summary.objects.skipped].filter((k) =>
        k.startsWith("shipments/api_ingest/records/"),
      );
      let quarantined = 0;
      for (const key of recordKeys) quarantined += (await lines(names.quarantine, key)).length;
      expect(quarantined).toBe(summary.records.quarantined);
    },
  );
});
