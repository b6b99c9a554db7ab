/**
 * The pipeline's synthesized pieces, run for real in the project's emulator (moto behind
 * scripts/emulator):
 *
 * 1. The raw-zone rule's event pattern, evaluated by EventBridge's TestEventPattern against an S3
 *    "Object Created" event in the shape AWS documents, and routed for real: objects put into S3
 *    reach the rule's target only for the dataset's prefix in the raw bucket.
 * 2. The `local` environment's `orders` pipeline, triggered by an object landing in the raw bucket:
 *    a failing step lands in the Catch → SNS alert path and fails the execution; with the job in
 *    place the same state machine succeeds and emits its success event, which the synthesized
 *    success rule routes.
 *
 * 3. What a run reads: two successive landings start two executions; each one's manifest (in the
 *    quarantine bucket, under the synthesized bucket policy and key) holds exactly the input that
 *    started it — the one raw event, or a Pipe's batch — and the raw → processed job run got that
 *    manifest's path (GetJobRun Arguments), processed → consumer that run's summary path. There the
 *    raw → processed job is the deployed one (its synthesized script, package and default arguments,
 *    through UpdateJob), run on valid rows of the dataset's contract: its run summary lists exactly
 *    that execution's landed object, and its storage figures show it opened no other raw object.
 *
 *    `npm run pipeline:rerun` starts the same deployed state machine with an operator's reprocess
 *    request, which becomes the run's manifest, and refuses to start anything without a range or `--all`.
 *    A run that fails for a real reason (the deployed job's package missing) alerts with a recovery
 *    command; Step Functions' RedriveExecution would only re-enter PipelineFailed (the Catch handled
 *    the error), and the alert's `pipeline:rerun --redrive`, once the cause is fixed, processes the landing.
 *
 * 4. A subscriber's dead letters: a consumer that keeps failing sends a message to the DLQ after
 *    `maxReceiveCount` receives, and the operator guide's redrive puts it back.
 *
 * The state machine, rules, patterns and queues are taken from the synthesized Terraform JSON; only the
 * Terraform references in them are replaced by the names and ARNs of what the test creates, and
 * the crawler poll interval is shortened.
 */
import {
  CreateDatabaseCommand,
  CreateCrawlerCommand,
  CreateJobCommand,
  GetJobCommand,
  GetJobRunsCommand,
  GlueClient,
  UpdateJobCommand,
  type JobRun,
} from "@aws-sdk/client-glue";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
  TestEventPatternCommand,
} from "@aws-sdk/client-eventbridge";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutBucketEncryptionCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DATASETS } from "../../datasets";
import { loadEnvironments } from "../../environments";
import { local } from "../../environments/local";
import {
  PIPE_RECORD_TEMPLATE,
  PIPELINE_SUCCEEDED,
  STEPS,
  type StateMachineDefinition,
} from "../../modules/orchestration";
import { gluePackage } from "../../modules/ingestion/glue";
import { runLayout } from "../../modules/shared/run-layout";
import { Emulator, emulatorAccessKey } from "../../scripts/emulator";
import { sampleRows } from "../../scripts/local/postgres";
import { synthWithIngestion } from "../helpers/pipelines";
import { byPath, refOf, resources, type SynthesizedResource, type TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

// `local` batches landings through a Pipe (emulator-pipes tests); this file keeps the unbatched
// trigger under test: the raw-created rule starting the state machine itself.
const [config] = loadEnvironments([
  {
    ...local,
    orchestration: {
      ...local.orchestration,
      batching: { enabled: false, disabledReason: "the unbatched trigger under test" },
    },
  },
]);
const { json } = synthWithIngestion(config);
const prefix = `dataplat-${config.name}`;
const byName = (type: string, name: string): SynthesizedResource => {
  const found = resources(json, type).find((r) => r.body.name === name || r.body.bucket === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
};
const rawBucket = defined(
  resources(json, "aws_s3_bucket").find((b) => b.body.bucket.startsWith(`${prefix}-raw-`)),
  "the raw bucket",
).body.bucket as string;
const processedBucket = defined(
  resources(json, "aws_s3_bucket").find((b) => b.body.bucket.startsWith(`${prefix}-processed-`)),
  "the processed bucket",
).body.bucket as string;
const quarantineBucket = byPath(json, "aws_s3_bucket", "lake/quarantine/bucket").body.bucket as string;
const ordersRule = byName("aws_cloudwatch_event_rule", `${prefix}-orders-raw-created`);
const ordersPattern: string = ordersRule.body.event_pattern;

let emulator: Emulator;
const clients = {} as {
  s3: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
  events: EventBridgeClient;
  glue: GlueClient;
  sfn: SFNClient;
  kms: KMSClient;
};

/** The quarantine zone's synthesized bucket policy (TLS only, its own key only), for the bucket and key created here. */
function quarantinePolicy(keyArn: string): string {
  const bucketRef = `\${aws_s3_bucket.${byPath(json, "aws_s3_bucket", "lake/quarantine/bucket").name}.arn}`;
  const keyRef = `\${aws_kms_key.${byPath(json, "aws_kms_key", "lake/quarantine-key").name}.arn}`;
  const policy: string = byPath(json, "aws_s3_bucket_policy", "lake/quarantine/policy").body.policy;
  const concrete = policy.split(bucketRef).join(`arn:aws:s3:::${quarantineBucket}`).split(keyRef).join(keyArn);
  if (concrete.includes("${")) throw new Error(`unresolved reference in the quarantine bucket policy: ${concrete}`);
  return concrete;
}

beforeAll(async () => {
  emulator = await Emulator.start({ executeStateMachines: true, startTimeoutMs: 180_000 }); // slow to import moto on a loaded machine
  const common = {
    endpoint: emulator.endpoint,
    region: config.region,
    credentials: { accessKeyId: emulatorAccessKey(config.accountId), secretAccessKey: "emulator" },
    requestHandler: { httpsAgent: emulator.httpsAgent() },
  };
  clients.s3 = new S3Client({ ...common, forcePathStyle: true });
  clients.sqs = new SQSClient(common);
  clients.sns = new SNSClient(common);
  clients.events = new EventBridgeClient(common);
  clients.glue = new GlueClient(common);
  clients.sfn = new SFNClient(common);
  clients.kms = new KMSClient(common);
  // The quarantine zone as the lake module makes it: runs keep their manifests and summaries there.
  const { KeyMetadata } = await clients.kms.send(new CreateKeyCommand({ Description: "quarantine" }));
  await clients.s3.send(new CreateBucketCommand({ Bucket: quarantineBucket }));
  await clients.s3.send(
    new PutBucketVersioningCommand({ Bucket: quarantineBucket, VersioningConfiguration: { Status: "Enabled" } }),
  );
  await clients.s3.send(
    new PutBucketEncryptionCommand({
      Bucket: quarantineBucket,
      ServerSideEncryptionConfiguration: {
        Rules: [
          {
            ApplyServerSideEncryptionByDefault: {
              SSEAlgorithm: "aws:kms",
              KMSMasterKeyID: defined(KeyMetadata, "the quarantine key's metadata").Arn,
            },
            BucketKeyEnabled: true,
          },
        ],
      },
    }),
  );
  await clients.s3.send(
    new PutBucketPolicyCommand({
      Bucket: quarantineBucket,
      Policy: quarantinePolicy(defined(KeyMetadata?.Arn, "the quarantine key's ARN")),
    }),
  );
  // The emulator runs a job's script for real: these jobs' scripts do nothing but succeed.
  await clients.s3.send(new CreateBucketCommand({ Bucket: "scripts" }));
  for (const key of ["a.py", "b.py"])
    await clients.s3.send(new PutObjectCommand({ Bucket: "scripts", Key: key, Body: 'print("done")\n' }));
  for (const bucket of [rawBucket, processedBucket]) {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    // What the lake module sets on the raw bucket (and, here, on processed too: a bucket that sends events, but not ours).
    await clients.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: { EventBridgeConfiguration: {} },
      }),
    );
  }
}, 300_000);
afterAll(() => emulator?.stop(), 30_000); // the emulator may take its full SIGTERM grace to stop under load

async function queue(name: string): Promise<{ url: string; arn: string }> {
  const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  return {
    url: defined(QueueUrl, `the URL of queue ${name}`),
    arn: defined(Attributes?.QueueArn, `the ARN of queue ${name}`),
  };
}

/** Every message a queue holds now (the emulator delivers synchronously). */
async function drain(
  url: string,
): Promise<{ Body?: string; MessageAttributes?: Record<string, { StringValue?: string }> }[]> {
  const out = [];
  for (;;) {
    const { Messages } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ["All"] }),
    );
    if (!Messages?.length) return out;
    out.push(...Messages);
    // Deleted, not left to come back after the visibility timeout into a later test's drain.
    for (const m of Messages)
      await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
  }
}

/** An S3 "Object Created" event in the shape the S3 documentation gives for EventBridge. */
function objectCreated(bucket: string, key: string, detailType = "Object Created") {
  return {
    version: "0",
    id: "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": detailType,
    source: "aws.s3",
    account: config.accountId,
    time: "2024-05-01T10:15:30Z",
    region: config.region,
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: "0",
      bucket: { name: bucket },
      object: {
        key,
        size: 5,
        etag: "b1946ac92492d2347c6235b4d2611184",
        "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mc8cs",
        sequencer: "00617F08299329D189",
      },
      "request-id": "N4N7GDK58NMKJ12R",
      requester: config.accountId,
      "source-ip-address": "1.2.3.4",
      reason: "PutObject",
    },
  };
}

describe("the raw-zone trigger pattern", () => {
  const matches = async (event: object) =>
    (
      await clients.events.send(
        new TestEventPatternCommand({ EventPattern: ordersPattern, Event: JSON.stringify(event) }),
      )
    ).Result;

  it.each([
    [
      "an object under the dataset's prefix in the raw bucket",
      rawBucket,
      "orders/dt=2024-05-01/region=eu/part-00000.json",
      true,
    ],
    ["the dataset's folder marker itself", rawBucket, "orders/", true],
    ["another dataset's object in the raw bucket", rawBucket, "customers/dt=2024-05-01/part-00000.json", false],
    ["a folder that only starts with the dataset's name", rawBucket, "orders_archive/part-00000.json", false],
    ["the dataset's name deeper in the key", rawBucket, "backfill/orders/part-00000.json", false],
    ["the dataset's prefix in the processed bucket", processedBucket, "orders/dt=2024-05-01/part-00000.parquet", false],
    [
      "the dataset's prefix in another environment's raw bucket",
      rawBucket.replace(`${prefix}-`, "dataplat-dev-"),
      "orders/part-00000.json",
      false,
    ],
  ])("%s", async (_case, bucket, key, expected) => {
    expect(await matches(objectCreated(bucket, key))).toBe(expected);
  });

  it("matches only Object Created, not other S3 events for the same object", async () => {
    expect(await matches(objectCreated(rawBucket, "orders/x.json", "Object Deleted"))).toBe(false);
    expect(await matches({ ...objectCreated(rawBucket, "orders/x.json"), source: "custom.s3" })).toBe(false);
  });

  it("routes what S3 itself emits: only objects under the prefix in the raw bucket reach the rule's target", async () => {
    const target = await queue("pattern-probe");
    await clients.events.send(new PutRuleCommand({ Name: "pattern-probe", EventPattern: ordersPattern }));
    await clients.events.send(
      new PutTargetsCommand({ Rule: "pattern-probe", Targets: [{ Id: "probe", Arn: target.arn }] }),
    );
    await clients.s3.send(
      new PutObjectCommand({ Bucket: rawBucket, Key: "customers/dt=2024-05-01/a.json", Body: "{}" }),
    );
    await clients.s3.send(
      new PutObjectCommand({ Bucket: processedBucket, Key: "orders/dt=2024-05-01/a.parquet", Body: "x" }),
    );
    await clients.s3.send(
      new PutObjectCommand({ Bucket: rawBucket, Key: "orders/dt=2024-05-01/region=eu/a.json", Body: "{}" }),
    );
    const delivered = (await drain(target.url)).map((m) => JSON.parse(defined(m.Body, "the delivered message's body")));
    expect(delivered.map((e) => [e.source, e["detail-type"], e.detail.bucket.name, e.detail.object.key])).toEqual([
      ["aws.s3", "Object Created", rawBucket, "orders/dt=2024-05-01/region=eu/a.json"],
    ]);
  });
});

describe("the orders pipeline, run in the emulator", () => {
  const arns = new Map<string, string>();
  let alerts: { url: string; arn: string };
  let successes: { url: string; arn: string };
  let stateMachineArn: string;
  const machine = byName("aws_sfn_state_machine", `${prefix}-orders-pipeline`);
  const rawToProcessed = byName("aws_glue_job", `${prefix}-orders-raw-to-processed`).body.name as string;
  const processedToConsumer = byName("aws_glue_job", `${prefix}-orders-processed-to-consumer`).body.name as string;

  /** Replaces "${type.name.attr}" references with what was created here (names are literal in the JSON). */
  function resolve(text: string, source: TerraformJson): string {
    return text.replace(
      /\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}/g,
      (whole, type: string, name: string, attr: string) => {
        const body = source.resource[type]?.[name];
        if (!body) throw new Error(`unknown reference ${whole}`);
        // Names, bucket names and object keys are literal in the JSON.
        if ((attr === "name" || attr === "bucket" || attr === "key") && typeof body[attr] === "string")
          return body[attr];
        if (attr === "arn" && arns.has(`${type}.${name}`))
          return defined(arns.get(`${type}.${name}`), `the ARN of ${type}.${name}`);
        throw new Error(`the test does not create ${whole}`);
      },
    );
  }

  beforeAll(async () => {
    // The crawler the pipeline starts, in the raw database.
    const crawler = byName("aws_glue_crawler", `${prefix}-raw-orders`).body;
    const database = resolve(crawler.database_name, json);
    await clients.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
    await clients.glue.send(
      new CreateCrawlerCommand({
        Name: crawler.name,
        Role: "arn:aws:iam::123456789012:role/crawler",
        DatabaseName: database,
        Targets: { S3Targets: [{ Path: `s3://${rawBucket}/orders/` }] },
      }),
    );
    // Only the first job exists: the second step fails.
    await clients.glue.send(
      new CreateJobCommand({
        Name: rawToProcessed,
        Role: "arn:aws:iam::123456789012:role/jobs",
        Command: { Name: "glueetl", ScriptLocation: "s3://scripts/a.py" },
      }),
    );

    // The alerts topic, with a queue subscribed the way the alerts-log subscriber is (raw delivery).
    const alertsTopic = byName("aws_sns_topic", `${prefix}-alerts`);
    const { TopicArn } = await clients.sns.send(new CreateTopicCommand({ Name: alertsTopic.body.name }));
    arns.set(`aws_sns_topic.${alertsTopic.name}`, defined(TopicArn, "the alerts topic's ARN"));
    alerts = await queue(`${prefix}-alerts-log`);
    await clients.sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: "sqs",
        Endpoint: alerts.arn,
        Attributes: { RawMessageDelivery: "true" },
      }),
    );

    // The synthesized success rule, delivering to a queue.
    const successRule = byName("aws_cloudwatch_event_rule", `${prefix}-pipeline-succeeded`).body;
    successes = await queue("success-probe");
    await clients.events.send(new PutRuleCommand({ Name: successRule.name, EventPattern: successRule.event_pattern }));
    await clients.events.send(
      new PutTargetsCommand({ Rule: successRule.name, Targets: [{ Id: "probe", Arn: successes.arn }] }),
    );

    // The state machine, as synthesized (crawler polled every second instead of every 30).
    const definition: StateMachineDefinition = JSON.parse(resolve(machine.body.definition, json));
    const fast = {
      ...definition,
      States: { ...definition.States, WaitForCrawl: { ...definition.States.WaitForCrawl, Seconds: 1 } },
    };
    ({ stateMachineArn } = (await clients.sfn.send(
      new CreateStateMachineCommand({
        name: machine.body.name,
        definition: JSON.stringify(fast),
        roleArn: "arn:aws:iam::123456789012:role/pipeline",
        type: "STANDARD",
      }),
    )) as { stateMachineArn: string });
    arns.set(`aws_sfn_state_machine.${machine.name}`, stateMachineArn);

    // Unbatched: the raw-created rule starts the pipeline itself.
    const [target] = resources(json, "aws_cloudwatch_event_target").filter(
      (t) => t.body.rule === `${refOf(ordersRule)}.name}`,
    );
    await clients.events.send(new PutRuleCommand({ Name: ordersRule.body.name, EventPattern: ordersPattern }));
    await clients.events.send(
      new PutTargetsCommand({
        Rule: ordersRule.body.name,
        Targets: [{ Id: target.body.target_id, Arn: resolve(target.body.arn, json) }],
      }),
    );
  }, 60_000);

  async function landAndRun(
    key: string,
    body = '{"order_id": "o-1"}',
  ): Promise<{ status: string; error?: string; cause?: string; executionArn: string }> {
    const before = (await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
    await clients.s3.send(new PutObjectCommand({ Bucket: rawBucket, Key: key, Body: body }));
    for (let i = 0; i < 300; i++) {
      const executions = (await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
      const started = executions.filter((e) => !before.some((b) => b.executionArn === e.executionArn));
      if (started.length > 1) throw new Error(`one object started ${started.length} executions`);
      if (started.length === 1 && started[0].status !== "RUNNING") {
        const d = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: started[0].executionArn }));
        return {
          status: defined(d.status, "the execution's status"),
          error: d.error,
          cause: d.cause,
          executionArn: defined(d.executionArn, "the execution's ARN"),
        };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const running = ((await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? []).filter(
      (e) => !before.some((b) => b.executionArn === e.executionArn),
    );
    const last = running.length
      ? (
          (
            await clients.sfn.send(
              new GetExecutionHistoryCommand({ executionArn: running[0].executionArn, maxResults: 1000 }),
            )
          ).events ?? []
        ).slice(-12)
      : [];
    throw new Error(
      `the landed object did not start and finish an execution (started ${running.length}; last events: ${JSON.stringify(last.map((e) => [e.type, e.stateEnteredEventDetails?.name, e.taskFailedEventDetails?.error]))})`,
    );
  }

  it("a failing step lands in its Catch, alerts through SNS with the dataset, step and error, and fails the execution", async () => {
    const run = await landAndRun("orders/dt=2024-05-01/region=eu/part-00000.json");
    expect(run).toMatchObject({ status: "FAILED", error: "PipelineFailed" });
    expect(run.cause).toContain(processedToConsumer);

    const [alert, ...more] = await drain(alerts.url);
    expect(more).toEqual([]);
    const message = JSON.parse(defined(alert.Body, "the alert's body"));
    expect(message).toMatchObject({
      dataset: "orders",
      step: STEPS.processedToConsumer,
      error: "Glue.EntityNotFoundException",
      execution: run.executionArn,
    });
    expect(message.redrive).toBe(`npm run pipeline:rerun -- --redrive ${run.executionArn}`);
    expect(alert.MessageAttributes?.step?.StringValue).toBe(STEPS.processedToConsumer);

    // The steps before it ran for real: the first job's run succeeded and the crawl finished.
    const runs = (await clients.glue.send(new GetJobRunsCommand({ JobName: rawToProcessed }))).JobRuns ?? [];
    expect(runs.map((r) => r.JobRunState)).toEqual(["SUCCEEDED"]);
    const history =
      (await clients.sfn.send(new GetExecutionHistoryCommand({ executionArn: run.executionArn, maxResults: 1000 })))
        .events ?? [];
    const entered = history
      .filter((e) => e.type?.endsWith("StateEntered"))
      .map((e) => e.stateEnteredEventDetails?.name);
    expect(entered).toEqual(
      expect.arrayContaining([
        STEPS.rawToProcessed,
        STEPS.startCrawler,
        STEPS.getCrawler,
        "CrawlSucceeded?",
        STEPS.processedToConsumer,
        `${STEPS.processedToConsumer}Failed`,
        STEPS.notifyFailure,
        STEPS.failed,
      ]),
    );
    expect(entered).not.toContain(STEPS.publishSucceeded);
    expect(await drain(successes.url)).toEqual([]);
  }, 120_000);

  it("with both jobs in place the same state machine succeeds and emits the success event the success rule routes", async () => {
    await clients.glue.send(
      new CreateJobCommand({
        Name: processedToConsumer,
        Role: "arn:aws:iam::123456789012:role/jobs",
        Command: { Name: "glueetl", ScriptLocation: "s3://scripts/b.py" },
      }),
    );
    const run = await landAndRun("orders/dt=2024-05-02/region=us/part-00000.json");
    expect(run.status).toBe("SUCCEEDED");
    const [event, ...more] = (await drain(successes.url)).map((m) =>
      JSON.parse(defined(m.Body, "the success event's body")),
    );
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      source: `${prefix}.pipelines`,
      "detail-type": PIPELINE_SUCCEEDED,
      detail: { dataset: "orders", status: "SUCCEEDED", execution: run.executionArn },
    });
    expect(event.detail.processedToConsumerRunId).toMatch(/^jr_/);
    expect(await drain(alerts.url)).toEqual([]);
  }, 120_000);

  /** What a run kept and what its jobs were given: its manifest, and each job's run (found by its --run_id). */
  async function runRecords(executionArn: string): Promise<{
    name: string;
    input: unknown;
    manifest: unknown;
    rawToProcessed?: JobRun;
    processedToConsumer?: JobRun;
  }> {
    const name = defined(executionArn.split(":").pop(), "the execution's name");
    const { input } = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const object = await clients.s3.send(
      new GetObjectCommand({ Bucket: quarantineBucket, Key: runLayout.manifestKey("orders/", name) }),
    );
    const manifest = JSON.parse(await defined(object.Body, "the run manifest's body").transformToString());
    const runOf = async (job: string) =>
      ((await clients.glue.send(new GetJobRunsCommand({ JobName: job }))).JobRuns ?? []).find(
        (r) => r.Arguments?.["--run_id"] === name,
      );
    return {
      name,
      input: JSON.parse(defined(input, "the execution's input")),
      manifest,
      rawToProcessed: await runOf(rawToProcessed),
      processedToConsumer: await runOf(processedToConsumer),
    };
  }

  /** The deployed raw → processed job as synthesized: its script and package uploaded under the synthesized keys, its default arguments resolved. */
  async function deployRawToProcessed(): Promise<{
    restore: () => Promise<void>;
    packageObject: { Bucket: string; Key: string };
  }> {
    const deployed = byName("aws_glue_job", rawToProcessed).body;
    const s3Uri = (uri: string) =>
      defined(/^s3:\/\/([^/]+)\/(.+)$/.exec(uri), `the bucket and key of ${uri}`).slice(1) as [string, string];
    const scriptLocation = resolve(deployed.command.script_location, json);
    const defaults: Record<string, string> = Object.fromEntries(
      Object.entries(deployed.default_arguments as Record<string, string>).map(([k, v]) => [k, resolve(v, json)]),
    );
    const [artifacts, scriptKey] = s3Uri(scriptLocation);
    const [, packageKey] = s3Uri(defaults["--extra-py-files"]);
    await clients.s3.send(new CreateBucketCommand({ Bucket: artifacts }));
    await clients.s3.send(new CreateBucketCommand({ Bucket: s3Uri(defaults["--TempDir"])[0] }));
    const script = readFileSync(
      join(__dirname, "..", "..", "glue-jobs", "jobs", defined(scriptKey.split("/").pop(), "the script's file name")),
    );
    // The synthesized key names the script's sha256: these are the bytes terraform would upload.
    expect(scriptKey).toContain(`/${createHash("sha256").update(script).digest("hex")}/`);
    await clients.s3.send(new PutObjectCommand({ Bucket: artifacts, Key: scriptKey, Body: script }));
    const pkg = gluePackage();
    expect(packageKey).toContain(`/${pkg.sha256}/`);
    await clients.s3.send(new PutObjectCommand({ Bucket: artifacts, Key: packageKey, Body: readFileSync(pkg.path) }));
    const before = defined(
      (await clients.glue.send(new GetJobCommand({ JobName: rawToProcessed }))).Job,
      "the raw-to-processed job",
    );
    await clients.glue.send(
      new UpdateJobCommand({
        JobName: rawToProcessed,
        JobUpdate: {
          Role: `arn:aws:iam::${config.accountId}:role/${rawToProcessed}`,
          Command: {
            Name: deployed.command.name,
            PythonVersion: deployed.command.python_version,
            ScriptLocation: scriptLocation,
          },
          DefaultArguments: defaults,
          GlueVersion: deployed.glue_version,
          Timeout: deployed.timeout,
          ExecutionProperty: { MaxConcurrentRuns: deployed.execution_property.max_concurrent_runs },
        },
      }),
    );
    const restore = async () => {
      await clients.glue.send(
        new UpdateJobCommand({
          JobName: rawToProcessed,
          JobUpdate: { Role: before.Role, Command: before.Command, DefaultArguments: before.DefaultArguments ?? {} },
        }),
      );
    };
    return { restore, packageObject: { Bucket: artifacts, Key: packageKey } };
  }

  /** Log lines of a job run, read with boto3 (the project's Node dependencies have no CloudWatch Logs client). */
  function logEvents(group: string, stream: string): string[] {
    const code = `import boto3, json\nprint(json.dumps([e["message"] for e in boto3.client("logs").get_log_events(logGroupName=${JSON.stringify(group)}, logStreamName=${JSON.stringify(stream)})["events"]]))`;
    const done = spawnSync(join(__dirname, "..", "..", ".venv", "bin", "python"), ["-c", code], {
      env: { ...process.env, ...emulator.env(config.accountId, config.region) },
      encoding: "utf8",
    });
    if (done.status !== 0) throw new Error(`boto3: ${done.stderr}`);
    return JSON.parse(done.stdout);
  }

  /** Valid NDJSON for the dataset's contract: generated rows, keyed apart per landing and dated on the landing's day. */
  function landingRows(index: number, day: string): Record<string, unknown>[] {
    const contract = defined(
      DATASETS.find((d) => d.name === "orders"),
      "the orders dataset",
    );
    return sampleRows(contract, { count: 3, seed: index + 1, partitioning: config.partitioning }).map((row, n) => {
      const at = `${day}T10:0${n}:00Z`;
      const keyed = Object.fromEntries(contract.primaryKey.map((k) => [k, `${row[k]}-${index}`]));
      return {
        ...row,
        ...keyed,
        [contract.eventTimeColumn]: at,
        [contract.versionColumn ?? contract.eventTimeColumn]: at,
      };
    });
  }

  it("two successive landings: the second execution's manifest names only the second landing, and its raw → processed run (the deployed job) read only that landing", async () => {
    const { restore } = await deployRawToProcessed();
    try {
      const landed = [
        "orders/dt=2024-05-03/region=eu/part-00000.json",
        "orders/dt=2024-05-04/region=apac/part-00000.json",
      ];
      const days = landed.map((key) => defined(/dt=(\d{4}-\d{2}-\d{2})/.exec(key), `the day of ${key}`)[1]);
      const rows = landed.map((_, i) => landingRows(i, days[i]));
      const bodies = rows.map((lines) => lines.map((r) => JSON.stringify(r)).join("\n") + "\n");
      const runs = [];
      for (const [i, key] of landed.entries()) {
        const run = await landAndRun(key, bodies[i]);
        expect(run).toMatchObject({ status: "SUCCEEDED" });
        runs.push(await runRecords(run.executionArn));
      }
      const [first, second] = runs;
      expect(second.name).not.toBe(first.name);
      for (const [i, run] of runs.entries()) {
        // Unbatched (local): the manifest is the raw "Object Created" event that started the execution, verbatim.
        expect(run.manifest).toEqual(run.input);
        expect(run.manifest).toMatchObject({
          source: "aws.s3",
          "detail-type": "Object Created",
          detail: { bucket: { name: rawBucket }, object: { key: landed[i] } },
        });
        const manifestUri = `s3://${quarantineBucket}/${runLayout.manifestKey("orders/", run.name)}`;
        const summaryKey = runLayout.summaryKey("orders/", "raw_to_processed", run.name);
        const summaryUri = `s3://${quarantineBucket}/${summaryKey}`;
        // The emulator's JobRun.Arguments are the merged arguments the script got (the deployed defaults under the run's).
        expect(run.rawToProcessed?.Arguments).toMatchObject({
          "--manifest_path": manifestUri,
          "--run_id": run.name,
          "--summary_path": summaryUri,
        });
        expect(run.rawToProcessed?.Arguments).not.toHaveProperty("--input_path"); // the job takes one of the two, never both
        expect(run.processedToConsumer?.Arguments).toEqual({
          "--partitions_path": summaryUri,
          "--run_id": run.name,
          "--summary_path": `s3://${quarantineBucket}/${runLayout.summaryKey("orders/", "processed_to_consumer", run.name)}`,
        });

        // The job's own record: it ran, and its summary names exactly this execution's landing.
        expect(run.rawToProcessed).toMatchObject({ JobRunState: "SUCCEEDED" });
        const summary = JSON.parse(
          await defined(
            (await clients.s3.send(new GetObjectCommand({ Bucket: quarantineBucket, Key: summaryKey }))).Body,
            "the run summary's body",
          ).transformToString(),
        );
        expect(summary).toMatchObject({
          runId: run.name,
          input: { manifest: manifestUri, objects: 1, records: 3 },
          processed: { records: 3 },
          quarantined: { records: 0 },
        });
        expect(summary.objects.byObject).toEqual([
          { key: landed[i], size: Buffer.byteLength(bodies[i]), status: "read", records: 3, quarantined: 0 },
        ]);
        expect(JSON.stringify(summary)).not.toContain(landed[1 - i]);
        // Touched: exactly the partitions of this landing's rows (its day; the other keys from the rows' columns).
        const partition = (value: (key: string) => string) =>
          JSON.stringify(config.partitioning.keys.map((k) => [k.name, value(k.name)]));
        const touched = summary.touched.map((t: Record<string, string>) => partition((k) => t[k]));
        // Enum keys take the row's same-named column; the date key the event's day.
        const expected = rows[i].map((r) =>
          partition((k) =>
            defined(
              config.partitioning.keys.find((p) => p.name === k),
              `the partition key ${k}`,
            ).type === "enum"
              ? String(r[k])
              : days[i],
          ),
        );
        expect([...touched].sort()).toEqual([...new Set(expected)].sort());

        // The storage layer: what the run opened.
        const output = logEvents(
          defined(run.rawToProcessed?.LogGroupName, "the raw-to-processed run's log group") + "output",
          defined(run.rawToProcessed?.Id, "the raw-to-processed run's id"),
        );
        const storage = JSON.parse(
          defined(
            output.find((l) => l.startsWith("dataplat-glue-storage ")),
            "the dataplat-glue-storage output line",
          ).slice("dataplat-glue-storage ".length),
        );
        // Distinct objects opened: the manifest, the one landed object, and the Parquet files the run committed
        // (read back to count their rows). One more would be another raw object, e.g. the first landing.
        const committed = summary.processed.partitions.flatMap((p: { files: string[] }) => p.files);
        expect(committed.length).toBeGreaterThan(0);
        expect(storage.distinctObjectsOpened).toBe(1 + 1 + committed.length);
        expect(storage.bytesRead).toBeGreaterThanOrEqual(Buffer.byteLength(bodies[i])); // the landing read whole
      }
      expect(JSON.stringify(second.manifest)).not.toContain(landed[0]);
      expect(JSON.stringify(first.manifest)).not.toContain(landed[1]);
    } finally {
      await restore();
      await drain(successes.url);
    }
  }, 600_000);

  it("a Pipe's batch (the batched trigger's input) becomes the run's manifest as it came", async () => {
    const keys = ["orders/dt=2024-05-05/region=eu/part-00000.json", "orders/dt=2024-05-05/region=us/part-00000.json"];
    // What the pipe starts an execution with: one PIPE_RECORD_TEMPLATE record per buffered event.
    const batch = keys.map((key) => JSON.parse(PIPE_RECORD_TEMPLATE.replace("<$.body.detail.object.key>", key)));
    const { executionArn } = await clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: "pipe-batch-1", input: JSON.stringify(batch) }),
    );
    for (let i = 0; i < 300; i++) {
      const { status } = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (status !== "RUNNING") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await clients.sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe("SUCCEEDED");
    const run = await runRecords(defined(executionArn, "the started execution's ARN"));
    expect(run.manifest).toEqual([{ key: keys[0] }, { key: keys[1] }]);
    expect(run.rawToProcessed?.Arguments?.["--manifest_path"]).toBe(
      `s3://${quarantineBucket}/pipeline-manifests/orders/pipe-batch-1.json`,
    );
    await drain(successes.url);
  }, 120_000);

  /** Waits for an execution to finish and returns its status. */
  async function finished(executionArn: string): Promise<string> {
    for (let i = 0; i < 300; i++) {
      const { status } = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (status !== "RUNNING") return defined(status, "the execution's status");
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${executionArn} is still running`);
  }

  /** `npm run pipeline:rerun -- <args>` against the emulator, as an operator's shell runs it (endpoint and credentials from the environment). */
  async function rerun(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const root = join(__dirname, "..", "..");
    const child = spawn(
      join(root, "node_modules", ".bin", "tsx"),
      [join(root, "scripts", "pipeline-rerun.ts"), ...args],
      {
        cwd: root,
        env: { ...process.env, ...emulator.env(config.accountId, config.region) },
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, stdout, stderr };
  }

  it("npm run pipeline:rerun reprocesses a day range or, explicitly, everything through the deployed pipeline; its request is the run's manifest", async () => {
    const runs = [];
    for (const [args, request] of [
      [["--from", "2024-05-01", "--to", "2024-05-31"], { from: "2024-05-01", to: "2024-05-31" }],
      [["--all"], { all: true }],
    ] as const) {
      const result = await rerun("--env", config.name, "--dataset", "orders", ...args);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const executionArn = /^started (arn:aws:states:\S+):/m.exec(result.stdout)?.[1];
      expect(executionArn).toMatch(new RegExp(`^${stateMachineArn.replace(":stateMachine:", ":execution:")}:rerun-`));
      expect(await finished(defined(executionArn, "the rerun execution's ARN"))).toBe("SUCCEEDED");
      const run = await runRecords(defined(executionArn, "the rerun execution's ARN"));
      expect(run.manifest).toEqual({ reprocess: request });
      const manifestUri = `s3://${quarantineBucket}/${runLayout.manifestKey("orders/", run.name)}`;
      expect(result.stdout).toContain(`manifest: ${manifestUri}`);
      expect(run.rawToProcessed?.Arguments?.["--manifest_path"]).toBe(manifestUri);
      runs.push(run.name);
    }
    expect(new Set(runs).size).toBe(2);
    await drain(successes.url);
  }, 180_000);

  it("npm run pipeline:rerun without a range or --all, or with a broken one, starts nothing and says why", async () => {
    const before = (await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions?.length;
    const cases: [string[], string][] = [
      [[], "nothing to do: give a day range (--from and --to), --all for a full rebuild, or --redrive <execution-arn>"],
      [["--from", "2024-05-01"], "a day range needs both --from and --to"],
      [["--from", "2024-05-31", "--to", "2024-05-01"], "--from (2024-05-31) is after --to (2024-05-01)"],
      [
        ["--from", "2024-05-01", "--to", "2024-05-31", "--all"],
        "give only one of a day range (--from/--to), --all or --redrive",
      ],
    ];
    for (const [args, message] of cases) {
      const result = await rerun("--env", config.name, "--dataset", "orders", ...args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain("usage: npm run pipeline:rerun");
    }
    const unknown = await rerun("--env", config.name, "--dataset", "nonexistent", "--all");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown dataset "nonexistent"');
    expect((await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions?.length).toBe(before);
  }, 120_000);

  it("a run that failed for a real reason: once the cause is fixed, `pipeline:rerun --redrive` (the alert's command) processes its landing", async () => {
    // Both jobs exist (the tests before this one create the second; alone, this one does).
    await clients.glue.send(new GetJobCommand({ JobName: processedToConsumer })).catch(() =>
      clients.glue.send(
        new CreateJobCommand({
          Name: processedToConsumer,
          Role: "arn:aws:iam::123456789012:role/jobs",
          Command: { Name: "glueetl", ScriptLocation: "s3://scripts/b.py" },
        }),
      ),
    );
    const { restore, packageObject } = await deployRawToProcessed();
    try {
      // The cause: the deployed job's package (--extra-py-files) is missing, so its import fails and the Glue run FAILS.
      const pkg = await defined(
        (await clients.s3.send(new GetObjectCommand(packageObject))).Body,
        "the package object's body",
      ).transformToByteArray();
      await clients.s3.send(new DeleteObjectCommand(packageObject));
      const key = "orders/dt=2024-05-06/region=eu/part-00000.json";
      const body =
        landingRows(7, "2024-05-06")
          .map((r) => JSON.stringify(r))
          .join("\n") + "\n";
      const failed = await landAndRun(key, body);
      expect(failed).toMatchObject({ status: "FAILED", error: "PipelineFailed" });
      const [alert, ...more] = await drain(alerts.url);
      expect(more).toEqual([]);
      const message = JSON.parse(defined(alert.Body, "the alert's body"));
      expect(message).toMatchObject({
        step: STEPS.rawToProcessed,
        error: "States.TaskFailed",
        execution: failed.executionArn,
      });
      const [failedRun] = (
        (await clients.glue.send(new GetJobRunsCommand({ JobName: rawToProcessed }))).JobRuns ?? []
      ).filter((r) => r.Arguments?.["--run_id"] === failed.executionArn.split(":").pop());
      expect(failedRun).toMatchObject({ JobRunState: "FAILED" });

      // Why the command does not just redrive: the Catch handled the error, so Step Functions' redrive
      // continues at the state the execution stopped in, PipelineFailed, and fails again at once.
      await clients.sfn.send(new RedriveExecutionCommand({ executionArn: failed.executionArn }));
      expect(await finished(failed.executionArn)).toBe("FAILED");
      const redriven = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: failed.executionArn }));
      expect(redriven).toMatchObject({ redriveCount: 1, error: "PipelineFailed" });
      const history =
        (
          await clients.sfn.send(
            new GetExecutionHistoryCommand({ executionArn: failed.executionArn, maxResults: 1000 }),
          )
        ).events ?? [];
      const afterRedrive = history.slice(history.findIndex((e) => e.type === "ExecutionRedriven"));
      expect(
        afterRedrive.filter((e) => e.type?.endsWith("StateEntered")).map((e) => e.stateEnteredEventDetails?.name),
      ).toEqual([STEPS.failed]);

      // The fix (the package deployed again), then the alert's command.
      await clients.s3.send(new PutObjectCommand({ ...packageObject, Body: pkg }));
      expect(message.redrive).toMatch(/^npm run pipeline:rerun -- /);
      const result = await rerun(...message.redrive.replace(/^npm run pipeline:rerun -- /, "").split(" "));
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`${failed.executionArn} failed in ${STEPS.rawToProcessed}`);
      const executionArn = /started (arn:aws:states:\S+) with the same input/.exec(result.stdout)?.[1];
      expect(executionArn).toMatch(new RegExp(`^${failed.executionArn}-rerun-\\d{8}T\\d{6}Z$`));
      const status = await finished(defined(executionArn, "the rerun execution's ARN"));
      const { error, cause } = await clients.sfn.send(
        new DescribeExecutionCommand({ executionArn: defined(executionArn, "the rerun execution's ARN") }),
      );
      expect({ status, error, cause }).toEqual({ status: "SUCCEEDED", error: undefined, cause: undefined });

      // It processed the failed execution's landing: same input as manifest, and the job's summary reads that object.
      const run = await runRecords(defined(executionArn, "the rerun execution's ARN"));
      expect(run.input).toEqual(
        JSON.parse(
          defined(
            (await clients.sfn.send(new DescribeExecutionCommand({ executionArn: failed.executionArn }))).input,
            "the failed execution's input",
          ),
        ),
      );
      expect(run.manifest).toEqual(run.input);
      expect(run.rawToProcessed).toMatchObject({ JobRunState: "SUCCEEDED" });
      const summaryKey = runLayout.summaryKey("orders/", "raw_to_processed", run.name);
      const summary = JSON.parse(
        await defined(
          (await clients.s3.send(new GetObjectCommand({ Bucket: quarantineBucket, Key: summaryKey }))).Body,
          "the run summary's body",
        ).transformToString(),
      );
      expect(summary.objects.byObject).toEqual([
        { key, size: Buffer.byteLength(body), status: "read", records: 3, quarantined: 0 },
      ]);
      expect(summary).toMatchObject({ processed: { records: 3 }, quarantined: { records: 0 } });
      expect(await drain(alerts.url)).toEqual([]);
    } finally {
      await restore();
      await drain(successes.url);
    }
  }, 1_500_000); // two Spark runs of the deployed job on a shared machine
});

describe("a subscriber's dead letters and the documented redrive", () => {
  it("a message its consumer keeps failing moves to the DLQ after maxReceiveCount receives; start-message-move-task puts it back", async () => {
    const topicBody = byName("aws_sns_topic", `${prefix}-pipeline-events`).body;
    const queueBody = byName("aws_sqs_queue", `${prefix}-pipeline-events`).body;
    const dlqBody = byName("aws_sqs_queue", `${prefix}-pipeline-events-dlq`).body;
    const dlq = await queue(dlqBody.name);
    const redrive = JSON.parse(queueBody.redrive_policy);
    expect(redrive.maxReceiveCount).toBe(config.orchestration.maxReceiveCount);
    const { QueueUrl } = await clients.sqs.send(
      new CreateQueueCommand({
        QueueName: queueBody.name,
        Attributes: { RedrivePolicy: JSON.stringify({ ...redrive, deadLetterTargetArn: dlq.arn }) },
      }),
    );
    const { Attributes } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
    );
    const { TopicArn } = await clients.sns.send(new CreateTopicCommand({ Name: topicBody.name }));
    await clients.sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: "sqs",
        Endpoint: defined(Attributes, "the queue's attributes").QueueArn,
        Attributes: { RawMessageDelivery: "true", RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn }) },
      }),
    );
    await clients.sns.send(
      new PublishCommand({
        TopicArn,
        Message: JSON.stringify({ "detail-type": PIPELINE_SUCCEEDED, detail: { dataset: "orders" } }),
      }),
    );

    // The consumer fails every time: it gives the message back instead of deleting it.
    for (let attempt = 1; attempt <= redrive.maxReceiveCount; attempt++) {
      const { Messages } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl }));
      expect(Messages).toHaveLength(1);
      await clients.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl,
          ReceiptHandle: defined(Messages, "the received messages")[0].ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    expect((await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl }))).Messages ?? []).toEqual([]);
    const waiting = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq.url, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    expect(defined(waiting.Attributes, "the dead-letter queue's attributes").ApproximateNumberOfMessages).toBe("1");

    // docs/operator-guide.md, "Redrive a dead-letter queue", step 2.
    await clients.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: dlq.arn,
        DestinationArn: defined(Attributes, "the queue's attributes").QueueArn,
      }),
    );
    const [task] = (await clients.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlq.arn }))).Results ?? [];
    expect(task).toMatchObject({ Status: "COMPLETED", ApproximateNumberOfMessagesMoved: 1 });
    const [back] = (await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl }))).Messages ?? [];
    expect(JSON.parse(defined(back.Body, "the redriven message's body"))).toEqual({
      "detail-type": PIPELINE_SUCCEEDED,
      detail: { dataset: "orders" },
    });
  }, 30_000);

  it("a DLQ whose source is not a queue cannot be redriven with start-message-move-task (the guide's step 3 applies)", async () => {
    const deliveryDlq = await queue(byName("aws_sqs_queue", `${prefix}-event-delivery-dlq`).body.name);
    await expect(clients.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: deliveryDlq.arn }))).rejects.toThrow(
      "Source queue must be configured as a Dead Letter Queue.",
    );
  });
});
