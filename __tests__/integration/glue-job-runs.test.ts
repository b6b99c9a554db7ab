/**
 * Glue job runs in the project's emulator run the job's script for real (scripts/emulator/services/glue_jobs.py):
 * local PySpark with the emulator's `awsglue` runtime, s3:// through its file system, the job role's
 * credentials, logs in the job's CloudWatch log groups, bookmarks kept per job.
 *
 * Each run starts a Spark session (10-20 s on an idle machine), so the tests share a few runs.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  CreateConnectionCommand,
  CreateJobCommand,
  CreateSecurityConfigurationCommand,
  GetJobBookmarkCommand,
  GetJobCommand,
  GetJobRunCommand,
  GlueClient,
  ResetJobBookmarkCommand,
  StartJobRunCommand,
  UpdateJobCommand,
  type JobRun,
} from "@aws-sdk/client-glue";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { Emulator, EMULATOR_ACCOUNT, emulatorAccessKey } from "../../scripts/emulator";
import { defined } from "../../modules/shared/defined";

const ROOT = join(__dirname, "..", "..");
const PYTHON = join(ROOT, ".venv", "bin", "python");
const ROLE = `arn:aws:iam::${EMULATOR_ACCOUNT}:role/glue-runtime-test-job`;
const ARTIFACTS = "glue-runtime-test-artifacts";
const LAKE = "glue-runtime-test-lake";

let emulator: Emulator;
let s3: S3Client;
let glue: GlueClient;
let sfn: SFNClient;
let keyArn: string;

/** A job script that uses awsglue as the platform's entry points do and writes through s3://. */
const copyScript = (version: string) => `
import sys
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "JOB_RUN_ID", "input_path", "output_path"])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
rows = glue_context.spark_session.read.json(args["input_path"])
out = rows.withColumn("version", F.lit("${version}")).withColumn("run", F.lit(args["JOB_RUN_ID"]))
out.coalesce(1).write.mode("overwrite").partitionBy("k").json(args["output_path"])
print("copied", rows.count(), "rows")
job.commit()
`;

const failingScript = `
import sys
from awsglue.utils import getResolvedOptions
args = getResolvedOptions(sys.argv, ["JOB_NAME", "reason"])
raise ValueError(f"refusing to run: {args['reason']}\\nsecond line of the message")
`;

const jdbcScript = `
import json, sys
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "JOB_RUN_ID", "connection_name", "output_path"])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
dyf = glue_context.create_dynamic_frame.from_options(
    connection_type="postgresql",
    connection_options={"useConnectionProperties": "true", "connectionName": args["connection_name"], "dbtable": "public.items",
                        "jobBookmarkKeys": ["updated_at"], "jobBookmarkKeysSortOrder": "asc"},
    transformation_ctx="items_source",
)
ids = sorted(r["id"] for r in dyf.toDF().collect())
glue_context.spark_session.createDataFrame([(json.dumps(ids),)], "value string").coalesce(1).write.mode("overwrite").text(
    args["output_path"] + args["JOB_RUN_ID"] + "/")
job.commit()
`;

beforeAll(async () => {
  emulator = await Emulator.start({ executeStateMachines: true });
  const common = {
    endpoint: emulator.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: emulatorAccessKey(), secretAccessKey: "emulator" },
    requestHandler: { httpsAgent: emulator.httpsAgent() },
  };
  s3 = new S3Client({ ...common, forcePathStyle: true });
  glue = new GlueClient(common);
  sfn = new SFNClient(common);
  keyArn = defined((await new KMSClient(common).send(new CreateKeyCommand({}))).KeyMetadata?.Arn, "the lake key's ARN");
  for (const bucket of [ARTIFACTS, LAKE]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keyArn } }],
        },
      }),
    );
    // What SecureBucket deploys: TLS only, and writes may name no other encryption than the bucket's key.
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "DenyInsecureTransport",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            {
              Sid: "DenyOtherEncryption",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:PutObject",
              Resource: `arn:aws:s3:::${bucket}/*`,
              Condition: {
                Null: { "s3:x-amz-server-side-encryption": "false" },
                StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
              },
            },
            {
              Sid: "DenyOtherKmsKey",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:PutObject",
              Resource: `arn:aws:s3:::${bucket}/*`,
              Condition: {
                Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
                StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": keyArn },
              },
            },
          ],
        }),
      }),
    );
  }
  await put(LAKE, "input/part-1.json", '{"k": "a", "v": 1}\n{"k": "b", "v": 2}\n');
  await put(LAKE, "input/part-2.json", '{"k": "a", "v": 3}\n');
}, 120_000);
afterAll(() => emulator?.stop(), 60_000);

async function put(bucket: string, key: string, body: string): Promise<string> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: keyArn,
    }),
  );
  return `s3://${bucket}/${key}`;
}

async function text(bucket: string, key: string): Promise<string> {
  return defined(
    (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body,
    `the object s3://${bucket}/${key}'s body`,
  ).transformToString();
}

async function keys(bucket: string, prefix: string): Promise<string[]> {
  return ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? [])
    .map((o) => defined(o.Key, "a listed object's key"))
    .sort();
}

async function createJob(
  name: string,
  script: string,
  args: Record<string, string>,
  extra: { Timeout?: number; MaxConcurrentRuns?: number; SecurityConfiguration?: string } = {},
): Promise<void> {
  await glue.send(
    new CreateJobCommand({
      Name: name,
      Role: ROLE,
      GlueVersion: "5.0",
      Command: { Name: "glueetl", PythonVersion: "3", ScriptLocation: script },
      DefaultArguments: { "--job-language": "python", ...args },
      ExecutionProperty: { MaxConcurrentRuns: extra.MaxConcurrentRuns ?? 1 },
      Timeout: extra.Timeout ?? 10,
      SecurityConfiguration: extra.SecurityConfiguration,
    }),
  );
}

async function finished(jobName: string, runId: string): Promise<JobRun> {
  for (;;) {
    const run = defined(
      (await glue.send(new GetJobRunCommand({ JobName: jobName, RunId: runId }))).JobRun,
      `the run ${runId} of ${jobName}`,
    );
    if (!["STARTING", "RUNNING", "STOPPING", "WAITING"].includes(defined(run.JobRunState, `the state of run ${runId}`)))
      return run;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Runs boto3 code against the emulator (for services the project's Node dependencies have no client of). */
function boto3(code: string): string {
  const prelude = "import boto3, json, sys\nclient = lambda name: boto3.client(name)\n";
  const done = spawnSync(PYTHON, ["-c", prelude + code], {
    env: { ...process.env, ...emulator.env() },
    encoding: "utf8",
  });
  if (done.status !== 0) throw new Error(`boto3: ${done.stderr}`);
  return done.stdout;
}

/** Log events of a run, read with boto3 (the project's Node dependencies have no CloudWatch Logs client). */
function logEvents(group: string, stream: string): string[] {
  return JSON.parse(
    boto3(
      `print(json.dumps([e["message"] for e in client("logs").get_log_events(logGroupName=${JSON.stringify(group)}, logStreamName=${JSON.stringify(stream)})["events"]]))`,
    ),
  );
}

test("a run executes the deployed script in Spark, writes through s3:// with the bucket's key, and logs to the job's log group", async () => {
  const script = await put(ARTIFACTS, "glue/scripts/copy-v1.py", copyScript("v1"));
  await createJob("copy", script, { "--input_path": `s3://${LAKE}/input/`, "--output_path": `s3://${LAKE}/output/` });
  const started = Date.now();
  const { JobRunId } = await glue.send(new StartJobRunCommand({ JobName: "copy" }));
  const polled = defined(
    (await glue.send(new GetJobRunCommand({ JobName: "copy", RunId: JobRunId }))).JobRun,
    "the polled copy run",
  );
  expect(polled.JobRunState).toBe("RUNNING");
  expect(polled.CompletedOn).toBeUndefined();
  // MaxConcurrentRuns 1: a second start while the first runs is refused, as Glue refuses it.
  await expect(glue.send(new StartJobRunCommand({ JobName: "copy" }))).rejects.toThrow(
    /ConcurrentRunsExceeded|already running/,
  );

  const run = await finished("copy", defined(JobRunId, "the copy run's id"));
  expect(run.JobRunState).toBe("SUCCEEDED");
  expect(run.ErrorMessage).toBeUndefined();
  expect(defined(run.StartedOn, "the run's start time").getTime()).toBeGreaterThanOrEqual(started - 2000);
  expect(defined(run.CompletedOn, "the run's completion time").getTime()).toBeGreaterThan(
    defined(run.StartedOn, "the run's start time").getTime(),
  );
  expect(run.ExecutionTime).toBe(
    Math.floor(
      (defined(run.CompletedOn, "the run's completion time").getTime() -
        defined(run.StartedOn, "the run's start time").getTime()) /
        1000,
    ),
  );
  expect(run.LogGroupName).toBe("/aws-glue/jobs/");
  expect(run.GlueVersion).toBe("5.0");

  const written = await keys(LAKE, "output/");
  expect(written.map((k) => k.replace(/part-.*$/, "part"))).toEqual(["output/k=a/part", "output/k=b/part"]);
  const rows = (await Promise.all(written.map((k) => text(LAKE, k))))
    .join("")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(rows.map((r) => r.v).sort()).toEqual([1, 2, 3]);
  expect(new Set(rows.map((r) => `${r.version} ${r.run}`))).toEqual(new Set([`v1 ${JobRunId}`]));
  const head = await s3.send(new HeadObjectCommand({ Bucket: LAKE, Key: written[0] }));
  expect(head.ServerSideEncryption).toBe("aws:kms");
  expect(head.SSEKMSKeyId).toBe(keyArn);

  const output = logEvents("/aws-glue/jobs/output", defined(JobRunId, "the copy run's id"));
  expect(output).toContain("copied 3 rows");
  const storage = JSON.parse(
    defined(
      output.find((l) => l.startsWith("dataplat-glue-storage ")),
      "the dataplat-glue-storage output line",
    ).slice("dataplat-glue-storage ".length),
  );
  expect(storage.distinctObjectsOpened).toBe(2); // the two input objects, nothing else of the lake
  expect(storage.bytesRead).toBeGreaterThanOrEqual(2 * 59); // each object read whole at least once
  expect(storage.objectsWritten).toBeGreaterThanOrEqual(2);
}, 300_000);

test("a run whose script raises fails with the exception's one-line message; its logs go to the security configuration's encrypted groups", async () => {
  // What modules/catalog deploys: CloudWatch logs encrypted with the catalog key.
  await glue.send(
    new CreateSecurityConfigurationCommand({
      Name: "test-glue",
      EncryptionConfiguration: {
        CloudWatchEncryption: { CloudWatchEncryptionMode: "SSE-KMS", KmsKeyArn: keyArn },
        JobBookmarksEncryption: { JobBookmarksEncryptionMode: "CSE-KMS", KmsKeyArn: keyArn },
        S3Encryption: [{ S3EncryptionMode: "DISABLED" }],
      },
    }),
  );
  await createJob(
    "fails",
    await put(ARTIFACTS, "glue/scripts/fails.py", failingScript),
    { "--reason": "the input is empty" },
    { SecurityConfiguration: "test-glue" },
  );
  const { JobRunId } = await glue.send(new StartJobRunCommand({ JobName: "fails" }));
  const run = await finished("fails", defined(JobRunId, "the failing run's id"));
  expect(run.JobRunState).toBe("FAILED");
  expect(run.ErrorMessage).toBe("ValueError: refusing to run: the input is empty");
  const group = "/aws-glue/jobs-glue-runtime-test-job-test-glue/";
  expect(run.LogGroupName).toBe(group);
  expect(logEvents(`${group}error`, defined(JobRunId, "the failing run's id")).join("\n")).toMatch(
    /Traceback[\s\S]*ValueError: refusing to run/,
  );
  expect(
    boto3(
      `print(client("logs").describe_log_groups(logGroupNamePrefix="${group}error")["logGroups"][0].get("kmsKeyId"))`,
    ).trim(),
  ).toBe(keyArn);
}, 300_000);

test("UpdateJob changes the script that runs, and a state machine's glue:startJobRun.sync waits for the real run", async () => {
  const v2 = await put(ARTIFACTS, "glue/scripts/copy-v2.py", copyScript("v2"));
  const job = defined((await glue.send(new GetJobCommand({ JobName: "copy" }))).Job, "the copy job");
  await glue.send(
    new UpdateJobCommand({
      JobName: "copy",
      JobUpdate: {
        Role: job.Role,
        Command: { ...job.Command, ScriptLocation: v2 },
        DefaultArguments: job.DefaultArguments,
        ExecutionProperty: job.ExecutionProperty,
        Timeout: job.Timeout,
        GlueVersion: job.GlueVersion,
      },
    }),
  );
  expect(
    defined((await glue.send(new GetJobCommand({ JobName: "copy" }))).Job?.Command, "the copy job's command")
      .ScriptLocation,
  ).toBe(v2);

  const definition = {
    StartAt: "Copy",
    States: {
      Copy: {
        Type: "Task",
        Resource: "arn:aws:states:::glue:startJobRun.sync",
        Parameters: { JobName: "copy", Arguments: { "--output_path": `s3://${LAKE}/by-sfn/` } },
        End: true,
      },
    },
  };
  const { stateMachineArn } = await sfn.send(
    new CreateStateMachineCommand({
      name: "glue-sync",
      definition: JSON.stringify(definition),
      roleArn: `arn:aws:iam::${EMULATOR_ACCOUNT}:role/sfn`,
    }),
  );
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: "{}" }));
  let execution;
  for (;;) {
    execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== "RUNNING") break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(execution.status).toBe("SUCCEEDED");
  const output = JSON.parse(defined(execution.output, "the execution's output"));
  expect(output.JobRunState).toBe("SUCCEEDED");
  const run = await finished("copy", output.Id);
  expect(defined(run.Arguments, "the run's arguments")["--output_path"]).toBe(`s3://${LAKE}/by-sfn/`); // the run's argument over the default
  expect(defined(execution.stopDate, "the execution's stop date").getTime()).toBeGreaterThanOrEqual(
    defined(run.CompletedOn, "the run's completion time").getTime(),
  );
  const written = await keys(LAKE, "by-sfn/");
  expect(written.length).toBe(2);
  expect(JSON.parse((await text(LAKE, written[0])).split("\n")[0]).version).toBe("v2");
}, 300_000);

test("the platform's own entry point runs unchanged: dynamodb_extract with its --extra-py-files package, exporting the table and reading the export through s3://", async () => {
  // A contract of the test's own, in the shape PartitionedDataset.jobContract() exports.
  const contract = {
    name: "items",
    columns: [
      { name: "item_id", type: "string", required: true },
      { name: "updated_at", type: "timestamp", required: true },
    ],
    primaryKey: ["item_id"],
    eventTimeColumn: "updated_at",
    versionColumn: "updated_at",
    partitioning: { keys: [{ name: "dt", type: "date", column: "updated_at", rangeStart: "2024-01-01" }] },
    consumer: { kind: "curated" },
    consumerTable: "items",
    consumerColumns: [
      { name: "item_id", type: "string" },
      { name: "updated_at", type: "timestamp" },
    ],
  };
  const table = "glue-runtime-test-items";
  boto3(`
ddb = client("dynamodb")
ddb.create_table(TableName="${table}", KeySchema=[{"AttributeName": "item_id", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "item_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
ddb.update_continuous_backups(TableName="${table}", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
for i, ts in (("i-1", "2024-05-01T10:00:00.000000Z"), ("i-2", "2024-05-02T11:00:00.000000Z")):
    ddb.put_item(TableName="${table}", Item={"item_id": {"S": i}, "updated_at": {"S": ts}, "qty": {"N": "3"}})
`);
  const work = mkdtempSync(join(tmpdir(), "glue-runtime-pkg-"));
  const built = spawnSync(
    PYTHON,
    [join(ROOT, "glue-jobs", "build_package.py"), "--out", join(work, "dataplat_glue.zip")],
    { encoding: "utf8" },
  );
  expect(built.status).toBe(0);
  await s3.send(
    new PutObjectCommand({
      Bucket: ARTIFACTS,
      Key: "glue/packages/dataplat_glue.zip",
      Body: readFileSync(join(work, "dataplat_glue.zip")),
    }),
  );
  rmSync(work, { recursive: true, force: true });
  const script = await put(
    ARTIFACTS,
    "glue/scripts/dynamodb_extract.py",
    readFileSync(join(ROOT, "glue-jobs", "jobs", "dynamodb_extract.py"), "utf8"),
  );
  await createJob("items-extract", script, {
    "--extra-py-files": `s3://${ARTIFACTS}/glue/packages/dataplat_glue.zip`,
    "--job-bookmark-option": "job-bookmark-disable",
    "--dataset_contract": JSON.stringify(contract),
    "--output_path": `s3://${LAKE}/raw/items/`,
    "--table_arn": `arn:aws:dynamodb:us-east-1:${EMULATOR_ACCOUNT}:table/${table}`,
    "--export_bucket": LAKE,
    "--export_prefix": "dynamodb-exports/items/",
    // Where the next export starts (the first run has none: a full export).
    "--state_path": `s3://${LAKE}/state/items/dynamodb-extract/exports.json`,
  });
  const { JobRunId } = await glue.send(new StartJobRunCommand({ JobName: "items-extract" }));
  const run = await finished("items-extract", defined(JobRunId, "the items-extract run's id"));
  expect(run.ErrorMessage).toBeUndefined();
  expect(run.JobRunState).toBe("SUCCEEDED");
  const safeId = defined(JobRunId, "the items-extract run's id").replace(/[^A-Za-z0-9_.-]/g, "_");
  // Staged, then committed by rename (copy + delete) through the file system: only the final files remain.
  expect(await keys(LAKE, "raw/items/")).toEqual([
    `raw/items/dt=2024-05-01/part-${safeId}-00000.json.gz`,
    `raw/items/dt=2024-05-02/part-${safeId}-00000.json.gz`,
  ]);
  const body = await s3.send(
    new GetObjectCommand({ Bucket: LAKE, Key: `raw/items/dt=2024-05-01/part-${safeId}-00000.json.gz` }),
  );
  const lines = gunzipSync(Buffer.from(await defined(body.Body, "the raw object's body").transformToByteArray()))
    .toString("utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(lines).toEqual([{ item_id: "i-1", updated_at: "2024-05-01T10:00:00.000000Z", qty: 3 }]);
  // The run recorded its full export as the history the next run's incremental export starts from.
  const state = await s3.send(new GetObjectCommand({ Bucket: LAKE, Key: "state/items/dynamodb-extract/exports.json" }));
  expect(JSON.parse(await defined(state.Body, "the state object's body").transformToString()).exportedTo).toEqual(
    expect.any(String),
  );
  // The export's data files were read through the s3:// file system, as the job's own storage figures say.
  const output = logEvents("/aws-glue/jobs/output", defined(JobRunId, "the items-extract run's id"));
  const storage = JSON.parse(
    defined(
      output.find((l) => l.startsWith("dataplat-glue-storage ")),
      "the dataplat-glue-storage output line",
    ).slice("dataplat-glue-storage ".length),
  );
  expect(storage.distinctObjectsOpened).toBeGreaterThanOrEqual(1);
}, 300_000);

describe("JDBC reads through a Glue connection, with bookmarks", () => {
  let pg: Postgres;
  beforeAll(async () => {
    pg = await Postgres.start(emulator);
    pg.sql("CREATE TABLE items (id int PRIMARY KEY, updated_at timestamptz NOT NULL)");
    pg.sql("INSERT INTO items VALUES (1, '2024-05-01T10:00:00Z'), (2, '2024-05-01T11:00:00Z')");
    const common = {
      endpoint: emulator.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: emulatorAccessKey(), secretAccessKey: "emulator" },
      requestHandler: { httpsAgent: emulator.httpsAgent() },
    };
    const secret = await new SecretsManagerClient(common).send(
      new CreateSecretCommand({
        Name: "glue-runtime-test-db",
        SecretString: JSON.stringify({ username: pg.user, password: pg.password }),
      }),
    );
    await glue.send(
      new CreateConnectionCommand({
        ConnectionInput: {
          Name: "test-db",
          ConnectionType: "JDBC",
          ConnectionProperties: {
            JDBC_CONNECTION_URL: `jdbc:postgresql://127.0.0.1:${pg.port}/postgres`,
            SECRET_ID: defined(secret.Name, "the secret's name"),
            JDBC_ENFORCE_SSL: "true",
          },
        },
      }),
    );
    await createJob("extract", await put(ARTIFACTS, "glue/scripts/extract.py", jdbcScript), {
      "--connection_name": "test-db",
      "--output_path": `s3://${LAKE}/extract/`,
      "--job-bookmark-option": "job-bookmark-enable",
    });
  }, 120_000);
  afterAll(() => pg?.stop());

  async function extract(): Promise<number[]> {
    const { JobRunId } = await glue.send(new StartJobRunCommand({ JobName: "extract" }));
    const run = await finished("extract", defined(JobRunId, "the extract run's id"));
    expect(run.ErrorMessage).toBeUndefined();
    expect(run.JobRunState).toBe("SUCCEEDED");
    const [file] = (await keys(LAKE, `extract/${JobRunId}/`)).filter((k) => k.includes("part-"));
    return JSON.parse(await text(LAKE, file));
  }

  test("a second run reads only new and changed rows; the bookmark persists per job and resets", async () => {
    await expect(glue.send(new GetJobBookmarkCommand({ JobName: "extract" }))).rejects.toThrow(/not found/);
    expect(await extract()).toEqual([1, 2]);
    const first = defined(
      (await glue.send(new GetJobBookmarkCommand({ JobName: "extract" }))).JobBookmarkEntry,
      "the extract job's bookmark after the first run",
    );
    expect(JSON.parse(defined(first.JobBookmark, "the first bookmark")).items_source.jobBookmarkKeys).toEqual([
      "updated_at",
    ]);

    pg.sql(
      "INSERT INTO items VALUES (3, '2024-05-02T09:00:00Z'); UPDATE items SET updated_at = '2024-05-02T10:00:00Z' WHERE id = 1",
    );
    expect(await extract()).toEqual([1, 3]);
    const second = defined(
      (await glue.send(new GetJobBookmarkCommand({ JobName: "extract" }))).JobBookmarkEntry,
      "the extract job's bookmark after the second run",
    );
    expect(second.Run).toBe(defined(first.Run, "the first bookmark's run number") + 1);
    expect(second.PreviousRunId).toBe(first.RunId);

    await glue.send(new ResetJobBookmarkCommand({ JobName: "extract" }));
    expect(
      defined(
        (await glue.send(new GetJobBookmarkCommand({ JobName: "extract" }))).JobBookmarkEntry,
        "the extract job's bookmark after the reset",
      ).JobBookmark,
    ).toBe("{}");
    expect(await extract()).toEqual([1, 2, 3]);
  }, 600_000);
});

/** A throwaway PostgreSQL server (TLS on, with the emulator's certificate) on a free port. */
class Postgres {
  readonly user = "glue_reader";
  readonly password = "glue-reader-password";
  private constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly asUser: string[],
  ) {}

  static async start(emu: Emulator): Promise<Postgres> {
    const bin = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"].find((d) =>
      existsSync(join(d, "initdb")),
    );
    if (!bin)
      throw new Error(
        "PostgreSQL is not installed: apt-get install postgresql (the JDBC connector's tests run a real server)",
      );
    const dir = mkdtempSync(join(tmpdir(), "glue-runtime-pg-"));
    chmodSync(dir, 0o777);
    // initdb refuses to run as root; the server then runs as Debian's postgres user.
    const asUser = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
    const run = (args: string[]) => {
      const done = spawnSync(asUser[0] ?? args[0], [...asUser.slice(1), ...(asUser.length ? args : args.slice(1))], {
        encoding: "utf8",
      });
      if (done.status !== 0) throw new Error(`${args.join(" ")}: ${done.stderr || done.stdout}`);
      return done.stdout;
    };
    const data = join(dir, "data");
    run([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]);
    const tls = join(emu.caBundle, "..");
    for (const [from, to] of [
      ["server.pem", "server.crt"],
      ["server-key.pem", "server.key"],
    ])
      copyFileSync(join(tls, from), join(data, to));
    spawnSync("chown", ["postgres", join(data, "server.crt"), join(data, "server.key")]);
    chmodSync(join(data, "server.key"), 0o600);
    const port = await freePort();
    run([
      join(bin, "pg_ctl"),
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c ssl=on -c listen_addresses=127.0.0.1`,
      "start",
    ]);
    const pg = new Postgres(dir, port, asUser);
    pg.sql(`CREATE ROLE ${pg.user} LOGIN PASSWORD '${pg.password}'; GRANT pg_read_all_data TO ${pg.user}`);
    return pg;
  }

  sql(statement: string): void {
    const done = spawnSync(
      "psql",
      [
        "-h",
        this.dir,
        "-p",
        String(this.port),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        statement,
      ],
      { encoding: "utf8" },
    );
    if (done.status !== 0) throw new Error(`psql: ${done.stderr}`);
  }

  stop(): void {
    const [cmd, ...rest] = this.asUser.length ? this.asUser : ["pg_ctl"];
    spawnSync(
      cmd,
      this.asUser.length
        ? [...rest, "/usr/lib/postgresql/15/bin/pg_ctl", "-D", join(this.dir, "data"), "-m", "immediate", "stop"]
        : ["-D", join(this.dir, "data"), "-m", "immediate", "stop"],
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}
