/**
 * Faults through the deployed chain, in the run's shared local cloud (`local` applied once by the
 * `cloud` jest project's global setup): each fault made to happen and followed to where AWS would
 * put it. What a fault breaks is put back in place afterwards, so the cloud stays as deployed:
 *
 * 1. A Glue job that raises → the state machine's Catch → the alert on the SNS alerts topic → the
 *    alerts-log queue, through the subscription terraform created.
 * 2. A batch the Pipe cannot deliver (its target state machine is gone) → back on the landing
 *    buffer after its visibility timeout (scaled, EMULATOR_SCALE) → the buffer's dead-letter queue
 *    after maxReceiveCount.
 * 3. An API Lambda whose async invocation fails → Lambda's retries (the event invoke config) → its
 *    on-failure destination, as Lambda's invocation record.
 *
 * The datasets are taken from DATASETS (the first with a batched pipeline, the first API source):
 * nothing here names one.
 */
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ListTagsForResourceCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { DATASETS } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { STEPS } from "../../modules/orchestration";
import { emulatorAccessKey } from "../../scripts/emulator";
import { planLine } from "../../scripts/lib/emulated";
import { terraform } from "../../scripts/lib/terraform";
import { sharedLocalCloud } from "../helpers/local-cloud";
import { defined } from "../../modules/shared/defined";

const config = loadEnvironment("local");
const prefix = `${config.project}-${config.name}`;
const cloud = sharedLocalCloud();
const emulator = cloud.emulator;
let json: { resource: Record<string, Record<string, Record<string, unknown>>> };
const clients = {} as { sfn: SFNClient; sqs: SQSClient; s3: S3Client };

/** An async `lambda invoke`, with boto3 (the project's Node dependencies have no Lambda client); returns its StatusCode. */
function invokeAsync(functionName: string, payload: unknown): number {
  const code = `import boto3, json, sys\nprint(boto3.client("lambda").invoke(FunctionName=sys.argv[1], InvocationType="Event", Payload=sys.argv[2].encode())["StatusCode"])`;
  const done = spawnSync(
    join(__dirname, "..", "..", ".venv", "bin", "python"),
    ["-c", code, functionName, JSON.stringify(payload)],
    {
      env: { ...process.env, ...emulator.env(config.accountId, config.region) },
      encoding: "utf8",
    },
  );
  if (done.status !== 0) throw new Error(`boto3 lambda invoke: ${done.stderr}`);
  return Number(done.stdout.trim());
}

/** The address (`type.name`) and body of the one resource of a type the predicate picks. */
function find(
  type: string,
  pick: (body: Record<string, unknown>) => boolean,
): { address: string; body: Record<string, unknown> } {
  const found = Object.entries(json.resource[type] ?? {}).filter(([, body]) => pick(body));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return { address: `${type}.${found[0][0]}`, body: found[0][1] };
}
const refersTo = (value: unknown, address: string) => typeof value === "string" && value.includes(`\${${address}.`);

// The first dataset with a batched pipeline, and the API function with an async destination.
let pipelineDataset: string;
let apiFunction: string;

async function queueUrl(name: string): Promise<string> {
  return defined(
    (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl,
    `the URL of queue ${name}`,
  );
}

/** A queue message's parsed body: the fields the tests' matchers read (alerts, S3 events, Lambda failures). */
interface QueueMessageBody {
  execution?: string;
  detail?: { object?: { key?: string } };
  requestPayload?: unknown;
}

/**
 * The messages of a queue that `match`, waiting up to `seconds` for the first: the shared cloud's
 * queues may hold what other tests left, which stays where it is (it becomes visible again).
 */
async function receive(
  url: string,
  seconds: number,
  match: (body: QueueMessageBody) => boolean,
): Promise<{ Body?: string; Attributes?: Record<string, string> }[]> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const { Messages } = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        AttributeNames: ["All"],
      }),
    );
    const matching = (Messages ?? []).filter((m) => match(JSON.parse(defined(m.Body, "the message body"))));
    if (matching.length) return matching;
    if (Date.now() > deadline) return [];
  }
}

beforeAll(async () => {
  json = JSON.parse(readFileSync(join(cloud.stackDir, "cdk.tf.json"), "utf8"));
  const common = {
    endpoint: emulator.endpoint,
    region: config.region,
    credentials: { accessKeyId: emulatorAccessKey(config.accountId), secretAccessKey: "emulator" },
    requestHandler: { httpsAgent: emulator.httpsAgent() },
  };
  clients.sfn = new SFNClient(common);
  clients.sqs = new SQSClient(common);
  clients.s3 = new S3Client({ ...common, forcePathStyle: true });

  // What the three chains need, found in the synthesized stack (all of it deployed).
  const pipe = Object.values(json.resource.aws_pipes_pipe ?? {}).map((b) => b.name as string);
  const pipelined = DATASETS.map((d) => d.name).find((name) => pipe.includes(`${prefix}-${name}-pipeline`));
  if (!pipelined) throw new Error(`${config.name} deploys no batched pipeline`);
  pipelineDataset = pipelined;
  const invokeConfig = find("aws_lambda_function_event_invoke_config", () => true);
  const fn = defined(
    Object.entries(json.resource.aws_lambda_function).find(([name]) =>
      refersTo(invokeConfig.body.function_name, `aws_lambda_function.${name}`),
    ),
    "the API function with the event invoke config",
  );
  apiFunction = fn[1].function_name as string;
}, 60_000);

it("a Glue job that raises: the state machine's Catch alerts on SNS, and the deployed subscription puts the alert in the alerts-log queue", async () => {
  const stateMachineArn = `arn:aws:states:${config.region}:${config.accountId}:stateMachine:${prefix}-${pipelineDataset}-pipeline`;
  // A reprocess request the deployed raw → processed job refuses: it raises before it reads anything.
  const input = JSON.stringify({ reprocess: { from: "2024-05-31", to: "2024-05-01" } });
  const { executionArn } = await clients.sfn.send(
    new StartExecutionCommand({ stateMachineArn, name: "job-raises", input }),
  );
  let execution;
  for (let i = 0; i < 600; i++) {
    execution = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== "RUNNING") break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(execution).toMatchObject({ status: "FAILED", error: "PipelineFailed" });
  expect(execution?.cause).toContain("reprocess.from 2024-05-31 is after reprocess.to 2024-05-01");

  const [alert, ...more] = await receive(
    await queueUrl(`${prefix}-alerts-log`),
    30,
    (body) => body.execution === executionArn,
  );
  expect(more).toEqual([]);
  expect(JSON.parse(defined(alert.Body, "the alert's body"))).toMatchObject({
    dataset: pipelineDataset,
    step: STEPS.rawToProcessed,
    error: "States.TaskFailed",
    execution: executionArn,
  });
}, 900_000);

it("a batch the Pipe cannot deliver (its target state machine is gone) ends in the landing buffer's dead-letter queue", async () => {
  const name = `${prefix}-${pipelineDataset}-pipeline`;
  const stateMachineArn = `arn:aws:states:${config.region}:${config.accountId}:stateMachine:${name}`;
  const machine = await clients.sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
  const raw = defined(
    Object.values(json.resource.aws_s3_bucket)
      .map((b) => b.bucket as string)
      .find((b) => b.startsWith(`${prefix}-raw-`)),
    "the raw bucket",
  );
  const key = `${pipelineDataset}/dt=2024-05-01/undeliverable.json`;
  const { tags } = await clients.sfn.send(new ListTagsForResourceCommand({ resourceArn: stateMachineArn }));
  await clients.sfn.send(new DeleteStateMachineCommand({ stateMachineArn }));
  try {
    await clients.s3.send(new PutObjectCommand({ Bucket: raw, Key: key, Body: "{}\n" }));
    // Each try holds the batch for the Pipe's batching window before the failed delivery returns it;
    // SQS moves it on the receive after maxReceiveCount. Slack per try for a loaded 2-core machine.
    const tries = config.orchestration.maxReceiveCount + 1;
    const wait = tries * (config.orchestration.batching.windowSeconds + 15) + 60;
    const [dead, ...more] = await receive(
      await queueUrl(`${prefix}-${pipelineDataset}-landed-dlq`),
      wait,
      (body) => body.detail?.object?.key === key,
    );
    if (!dead) throw new Error(`nothing reached ${prefix}-${pipelineDataset}-landed-dlq in ${wait} s (${tries} tries)`);
    expect(more).toEqual([]);
    const event = JSON.parse(defined(dead.Body, "the dead-lettered message's body"));
    expect(event).toMatchObject({
      source: "aws.s3",
      "detail-type": "Object Created",
      detail: { bucket: { name: raw }, object: { key } },
    });
    expect(
      Number(defined(dead.Attributes, "the dead-lettered message's attributes").ApproximateReceiveCount),
    ).toBeGreaterThanOrEqual(config.orchestration.maxReceiveCount);
  } finally {
    // Back as terraform deployed it, for the test files that run after this one: the object is not
    // at the dataset's partition depth, and the raw crawler of later runs would refuse the mix.
    await clients.s3.send(new DeleteObjectCommand({ Bucket: raw, Key: key }));
    await clients.sfn.send(
      new CreateStateMachineCommand({
        name,
        definition: machine.definition,
        roleArn: machine.roleArn,
        type: machine.type,
        loggingConfiguration: machine.loggingConfiguration,
        tracingConfiguration: machine.tracingConfiguration,
        encryptionConfiguration: machine.encryptionConfiguration,
        tags,
      }),
    );
  }
  const address = find("aws_sfn_state_machine", (b) => b.name === name).address;
  const plan = terraform(
    ["plan", "-input=false", "-detailed-exitcode", `-target=${address}`],
    cloud.stack.dir,
    cloud.stack.env,
  );
  expect({ status: plan.status, line: planLine(plan) }).toEqual({
    status: 0,
    line: expect.stringMatching(/^No changes\./),
  });
}, 900_000);

it("an async Lambda invocation that fails goes, after Lambda's retries, to the function's on-failure destination", async () => {
  const payload = { startUrl: 42 }; // the handler refuses it: startUrl must be a URL string
  expect(invokeAsync(apiFunction, payload)).toBe(202);
  const [record, ...more] = await receive(await queueUrl(`${prefix}-ingest-dlq`), 120, (body) =>
    isDeepStrictEqual(body.requestPayload, payload),
  );
  expect(more).toEqual([]);
  const body = JSON.parse(defined(record.Body, "the dead-lettered record's body"));
  expect(body).toMatchObject({
    requestContext: { condition: "RetriesExhausted", functionArn: expect.stringContaining(`:function:${apiFunction}`) },
    requestPayload: payload,
    responseContext: { functionError: "Unhandled" },
  });
  expect(JSON.stringify(body.responsePayload)).toContain("event.startUrl must be a URL string");
}, 300_000);
