/**
 * The real api-ingest handler run twice against a loopback API whose records changed in between,
 * on the emulator (moto over TLS): the raw zone and the ingest-state bucket carry the bucket
 * policies the platform synthesizes (TLS only, their own key only), and the function's environment
 * is the one the ingestion module synthesizes for every incremental API dataset of the local stack.
 */
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { gunzipSync } from "node:zlib";
import { DATASETS, PartitionedDataset, type JobContract } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { createHandler, type RunSummary } from "../../functions/api-ingest";
import { Emulator, emulatorAccessKey } from "../../scripts/emulator";
import { RecordsApi, SampleApi } from "../../scripts/local/sample-api";
import { byPath, synthNamed } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

process.env.POWERTOOLS_METRICS_DISABLED = "true";
jest.setTimeout(60_000);

const local = loadEnvironment("local");
const { json } = synthNamed("local");
/** Every API dataset of the local stack read incrementally, with its function's synthesized environment. */
const incremental = DATASETS.filter((d) => d.source.kind === "api" && d.source.incremental.kind === "since").map(
  (d) => {
    const fn = byPath(json, "aws_lambda_function", `ingestion/api-${d.name}/function`);
    return {
      dataset: new PartitionedDataset(d, local.partitioning, "local"),
      variables: fn.body.environment.variables as Record<string, string>,
    };
  },
);

let emulator: Emulator;
let s3: S3Client;
let clients: { s3: S3Client; sqs: SQSClient; secrets: SecretsManagerClient };
const buckets = { raw: "inc-raw", quarantine: "inc-quarantine", state: "inc-state" };
const keys = { raw: "", quarantine: "", state: "" };
let queueUrl = "";

function config() {
  return {
    endpoint: emulator.endpoint,
    region: local.region,
    forcePathStyle: true,
    credentials: { accessKeyId: emulatorAccessKey(), secretAccessKey: "emulator" },
    requestHandler: { httpsAgent: emulator.httpsAgent() },
  };
}

/** The synthesized bucket policy of the bucket at `path`, with its bucket and key references made concrete. */
function policyOf(path: string, keyPath: string, bucket: string, keyArn: string): string {
  const bucketRef = `\${aws_s3_bucket.${byPath(json, "aws_s3_bucket", `${path}/bucket`).name}.arn}`;
  const keyRef = `\${aws_kms_key.${byPath(json, "aws_kms_key", keyPath).name}.arn}`;
  const policy: string = byPath(json, "aws_s3_bucket_policy", `${path}/policy`).body.policy;
  const concrete = policy.split(bucketRef).join(`arn:aws:s3:::${bucket}`).split(keyRef).join(keyArn);
  expect(concrete).not.toContain("${");
  return concrete;
}

beforeAll(async () => {
  expect(incremental.length).toBeGreaterThan(0);
  emulator = await Emulator.start();
  s3 = new S3Client(config());
  clients = { s3, sqs: new SQSClient(config()), secrets: new SecretsManagerClient(config()) };
  const kms = new KMSClient(config());
  for (const k of ["raw", "quarantine", "state"] as const)
    keys[k] = defined(
      (await kms.send(new CreateKeyCommand({ Description: `inc ${k}` }))).KeyMetadata?.Arn,
      `the ${k} key's ARN`,
    );
  const policies = {
    raw: policyOf("lake/raw", "lake/raw-key", buckets.raw, keys.raw),
    quarantine: policyOf("lake/quarantine", "lake/quarantine-key", buckets.quarantine, keys.quarantine),
    state: policyOf("ingestion/state", "ingestion/key", buckets.state, keys.state),
  };
  for (const zone of ["raw", "quarantine", "state"] as const) {
    const Bucket = buckets[zone];
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: "Enabled" } }));
    await s3.send(
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
    await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: policies[zone] }));
  }
  queueUrl = defined(
    (await clients.sqs.send(new CreateQueueCommand({ QueueName: "inc-ingest-dlq" }))).QueueUrl,
    "the dead-letter queue's URL",
  );
}, 120_000);

afterAll(() => emulator?.stop());

let api: SampleApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

/** A record valid under `contract`: every column filled by type; the event time and version as given. */
function recordFor(
  contract: JobContract,
  id: string,
  eventTime: string,
  version: string,
  variant: string,
): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const c of contract.columns) {
    record[c.name] =
      c.type === "timestamp"
        ? eventTime
        : c.type === "double"
          ? 1.5
          : c.type.startsWith("decimal")
            ? "1.00"
            : c.type === "int" || c.type === "bigint"
              ? 1
              : c.type === "boolean"
                ? true
                : c.type === "date"
                  ? eventTime.slice(0, 10)
                  : `${c.name}-${variant}`;
  }
  for (const key of contract.partitioning.keys)
    if (key.type === "enum") record[key.column] = defined(key.values, `the ${key.column} enum values`)[0];
  for (const k of contract.primaryKey) record[k] = id;
  record[contract.versionColumn] = version;
  return record;
}

describe.each(incremental.map((i) => [i.dataset.name, i] as const))(
  "%s: two runs of the real handler",
  (_name, { dataset, variables }) => {
    const contract = dataset.jobContract();
    const { parameter, overlapSeconds } = JSON.parse(variables.INCREMENTAL) as {
      parameter: string;
      overlapSeconds: number;
    };
    const path = new URL(variables.API_URL).pathname;
    const markKey = `${dataset.prefix}api-ingest/mark.json`;

    const run = async (
      source: RecordsApi,
      event = {},
      faults: Record<string, { status: number }[]> = {},
    ): Promise<RunSummary> => {
      api ??= await SampleApi.start(faults, { [path]: source.route() });
      const handler = createHandler({
        env: {
          ...variables, // as synthesized: INCREMENTAL, the contract, the limits …
          API_URL: api.url(path),
          API_SECRET_ARN: "",
          RAW_BUCKET: buckets.raw,
          RAW_KMS_KEY_ARN: keys.raw,
          QUARANTINE_BUCKET: buckets.quarantine,
          QUARANTINE_KMS_KEY_ARN: keys.quarantine,
          DEAD_LETTER_QUEUE_URL: queueUrl,
          STATE_BUCKET: buckets.state,
          STATE_KMS_KEY_ARN: keys.state,
          MAX_ATTEMPTS: "2",
          BACKOFF_BASE_MS: "1",
          POWERTOOLS_LOG_LEVEL: "SILENT",
        },
        clients,
      });
      return handler(event);
    };
    const rawRecords = async (summary: RunSummary) => {
      const out: Record<string, unknown>[] = [];
      for (const key of summary.objects.raw) {
        const object = await s3.send(new GetObjectCommand({ Bucket: buckets.raw, Key: key }));
        out.push(
          ...gunzipSync(Buffer.from(await defined(object.Body, `the raw object ${key}'s body`).transformToByteArray()))
            .toString("utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l)),
        );
      }
      return out;
    };
    const markVersions = async () =>
      ((await s3.send(new ListObjectVersionsCommand({ Bucket: buckets.state, Prefix: markKey }))).Versions ?? [])
        .length;
    const iso = (base: number, seconds: number) => new Date(base + seconds * 1000).toISOString();
    const id = (r: Record<string, unknown>) => contract.primaryKey.map((k) => r[k]).join("|");

    it("the second run asks only for records after the mark (minus the overlap) and writes only the new and changed ones", async () => {
      const t0 = Date.parse("2024-05-01T10:00:00Z");
      const source = new RecordsApi({ parameter, versionColumn: contract.versionColumn, pageSize: 2 });
      for (const [n, at] of [
        ["A", 0],
        ["B", 60],
        ["C", 600],
      ] as const)
        source.upsert(recordFor(contract, `${dataset.name}-${n}`, iso(t0, 0), iso(t0, at), "v1"), contract.primaryKey);

      const first = await run(source);
      expect(first).toMatchObject({
        status: "complete",
        records: { received: 3, written: 3, quarantined: 0, duplicates: 0 },
        incremental: { advanced: true, markAfter: iso(t0, 600) },
      });
      expect(defined(api, "the sample API").requests[0].path).toBe(path); // no mark yet: a full first read
      const stored = await s3.send(new HeadObjectCommand({ Bucket: buckets.state, Key: markKey }));
      expect({ sse: stored.ServerSideEncryption, key: stored.SSEKMSKeyId }).toEqual({
        sse: "aws:kms",
        key: keys.state,
      });

      // Between the runs: B changes, D is new, E arrives late with a version inside the overlap.
      source.upsert(recordFor(contract, `${dataset.name}-B`, iso(t0, 0), iso(t0, 900), "v2"), contract.primaryKey);
      source.upsert(recordFor(contract, `${dataset.name}-D`, iso(t0, 0), iso(t0, 700), "v1"), contract.primaryKey);
      source.upsert(
        recordFor(contract, `${dataset.name}-E`, iso(t0, 0), iso(t0, 600 - Math.floor(overlapSeconds / 2)), "v1"),
        contract.primaryKey,
      );
      defined(api, "the sample API").requests.length = 0;
      const rawBefore = defined(
        (await s3.send(new ListObjectsV2Command({ Bucket: buckets.raw, Prefix: dataset.prefix }))).KeyCount,
        "the raw zone's key count",
      );

      const second = await run(source);
      const since = iso(t0, 600 - overlapSeconds);
      expect(new URL(defined(api, "the sample API").requests[0].path, "http://x").searchParams.get(parameter)).toBe(
        since,
      );
      expect(
        defined(api, "the sample API").requests.every(
          (r) => new URL(r.path, "http://x").searchParams.get(parameter) === since,
        ),
      ).toBe(true);
      // Served: E and C (the overlap), D, B. C was written by the first run.
      expect(second).toMatchObject({
        status: "complete",
        records: { received: 4, written: 3, quarantined: 0, duplicates: 1 },
        incremental: { since, markBefore: iso(t0, 600), markAfter: iso(t0, 900), advanced: true, alreadyWritten: 1 },
      });
      const written = await rawRecords(second);
      expect(written.map((r) => `${id(r)}@${r[contract.versionColumn]}`).sort()).toEqual(
        [
          `${dataset.name}-B@${iso(t0, 900)}`,
          `${dataset.name}-D@${iso(t0, 700)}`,
          `${dataset.name}-E@${iso(t0, 600 - Math.floor(overlapSeconds / 2))}`,
        ].sort(),
      );
      expect((await s3.send(new ListObjectsV2Command({ Bucket: buckets.raw, Prefix: dataset.prefix }))).KeyCount).toBe(
        rawBefore + second.objects.raw.length,
      );
      expect(await markVersions()).toBe(2);

      // Nothing changed: a third run reads only the overlap again (C, D and B are within it) and writes nothing.
      const third = await run(source);
      expect(third).toMatchObject({
        records: { received: 3, written: 0, duplicates: 3 },
        objects: { raw: [] },
        incremental: { advanced: true, markAfter: iso(t0, 900) },
      });
    });

    it("a failed run does not advance the mark: the next run asks from the same mark and gets what the failed one missed", async () => {
      const t0 = Date.parse("2024-06-01T10:00:00Z");
      const prefix = `${dataset.name}-F`;
      const source = new RecordsApi({ parameter, versionColumn: contract.versionColumn, pageSize: 1 });
      const before = await markVersions();
      const marked = JSON.parse(
        await defined(
          (await s3.send(new GetObjectCommand({ Bucket: buckets.state, Key: markKey }))).Body,
          "the mark object's body",
        ).transformToString(),
      ) as { mark: string };
      const since = new Date(Date.parse(marked.mark) - overlapSeconds * 1000).toISOString();
      for (const [n, at] of [
        ["1", 0],
        ["2", 60],
      ] as const)
        source.upsert(recordFor(contract, `${prefix}${n}`, iso(t0, 0), iso(t0, at), "v1"), contract.primaryKey);
      const failing = new URL(path, "http://x");
      failing.searchParams.set(parameter, since);
      failing.searchParams.set("page", "2");
      const faults = { [`${failing.pathname}${failing.search}`]: [{ status: 503 }] };

      const failed = await run(source, {}, faults);
      expect(failed).toMatchObject({
        status: "dead-lettered",
        incremental: { advanced: false, markAfter: marked.mark },
      });
      expect(await markVersions()).toBe(before);

      await defined(api, "the sample API").stop();
      api = undefined;
      const next = await run(source);
      // run() started a new sample API: the assignment above narrowed api to undefined.
      expect(
        new URL(defined<SampleApi>(api, "the sample API").requests[0].path, "http://x").searchParams.get(parameter),
      ).toBe(since);
      expect(next).toMatchObject({ status: "complete", incremental: { advanced: true, markAfter: iso(t0, 60) } });
      expect(
        (await rawRecords(failed))
          .concat(await rawRecords(next))
          .map(id)
          .filter((k) => k.startsWith(prefix))
          .sort(),
      ).toEqual([`${prefix}1`, `${prefix}2`]);
      expect(await markVersions()).toBe(before + 1);
    });
  },
);
